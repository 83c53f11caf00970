#!/usr/bin/env python3
"""A stand-in for the Hugging Face Hub on loopback, serving files the way the hub does.

GET/HEAD /{repo}/resolve/{revision}/{file}: 302 to /cdn/{sha256} with X-Linked-Etag (the LFS
SHA-256), X-Linked-Size and X-Repo-Commit headers. /cdn/... serves the bytes with Range
support. /api/models/{repo}/revision/{rev} lists the files. /_stats reports what was asked.
Repository owners pick a behaviour: private/ needs "Authorization: Bearer secret"; flaky/ cuts
the first body in half; corrupt/ serves altered bytes; nosize/ hides the size; slow/ trickles.

Usage: fake_hub.py FILE...   (each FILE is served under every repository as its base name,
plus as model-Q8_0.gguf and model-Q4_K_M.gguf); prints the port, then serves until killed.
"""
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FILES = {}   # name -> bytes
STATS = {"cdn_gets": 0, "ranges": [], "heads": 0, "requests": []}
LOCK = threading.Lock()
CUT_DONE = set()


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up (the cut-connection tests) are expected


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        with LOCK:
            STATS["heads"] += 1
        self.route()

    def do_GET(self):
        self.route()

    def route(self):
        with LOCK:
            STATS["requests"].append(self.command + " " + self.path)
        if self.path == "/_stats":
            return self.send(200, json.dumps(STATS).encode())
        parts = self.path.lstrip("/").split("/")
        if parts[0] == "api":
            return self.listing(parts)
        if parts[0] == "cdn":
            return self.cdn(parts[1], parts[2], parts[3])
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve(parts[0], parts[1], parts[3], "/".join(parts[4:]))
        self.send(404, b'{"error":"not found"}')

    def authorized(self, owner):
        return owner != "private" or self.headers.get("Authorization") == "Bearer secret"

    def listing(self, parts):
        owner = parts[2]
        if not self.authorized(owner):
            return self.send(401, b'{"error":"unauthorized"}')
        siblings = [{"rfilename": name} for name in sorted(FILES)] + [{"rfilename": "README.md"}]
        self.send(200, json.dumps({"siblings": siblings}).encode(), {"Content-Type": "application/json"})

    def resolve(self, owner, name, revision, file):
        if not self.authorized(owner):
            return self.send(401, b'{"error":"unauthorized"}')
        if file not in FILES or name == "missing":
            return self.send(404, b'{"error":"entry not found"}')
        data = FILES[file]
        digest = hashlib.sha256(data).hexdigest()
        headers = {"Location": f"/cdn/{owner}/{digest}/{file}", "X-Repo-Commit": "0123abcd", "ETag": f'"{digest}"'}
        if owner != "nosize":
            headers["X-Linked-Etag"] = f'"{digest}"'
            headers["X-Linked-Size"] = str(len(data))
        self.send(302, b"", headers)

    def cdn(self, owner, digest, file):
        data = FILES[file]
        if owner == "corrupt":
            data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        start = 0
        status = 200
        range_header = self.headers.get("Range")
        with LOCK:
            STATS["cdn_gets"] += 1
            if range_header:
                STATS["ranges"].append(range_header)
        if range_header and range_header.startswith("bytes="):
            start = int(range_header[6:].split("-")[0])
            if start >= len(data):
                return self.send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            status = 206
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        key = (owner, file)
        if owner == "flaky" and key not in CUT_DONE:
            CUT_DONE.add(key)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        chunk = 65536
        for offset in range(0, len(body), chunk):
            self.wfile.write(body[offset:offset + chunk])
            if owner == "slow":
                time.sleep(0.05)


def main():
    for path in sys.argv[1:]:
        data = open(path, "rb").read()
        FILES[os.path.basename(path)] = data
        FILES.setdefault("model-Q8_0.gguf", data)
        FILES.setdefault("model-Q4_K_M.gguf", data)
    FILES["model-Q4_K_S.gguf"] = b"GGUF" + b"\0" * 60
    server = QuietServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
