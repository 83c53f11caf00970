"""Starts `llcuda serve` on a free port for a test and talks HTTP to it (standard library only)."""
import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time

KEY = "test-key"
TEMPLATE = ("{% for message in messages %}{{ '<|' + message['role'] + '|>' + message['content'] + '\\n' }}"
            "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")


class Server:
    def __init__(self, llcuda, *extra, key=KEY, template=TEMPLATE):
        self.key = key
        self.template = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"llcuda_tpl_{os.getpid()}.jinja")
        with open(self.template, "w") as f:
            f.write(template)
        # LLCUDA_TEST_SERVE_ARGS adds options, e.g. "--device cuda -m model.gguf" on a GPU machine.
        more = os.environ.get("LLCUDA_TEST_SERVE_ARGS", "").split()
        args = [llcuda, "serve", "--port", "0", "-t", "2", "--chat-template", self.template, *extra, *more]
        if key:
            args += ["--api-key", key]
        self.process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        ready = threading.Event()

        def read():
            for line in self.process.stderr:
                self.log.append(line)
                found = re.search(r"listening on http://[\d.]+:(\d+)", line)
                if found:
                    self.port = int(found.group(1))
                if "ready on" in line:
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not ready.wait(60) or self.port is None or self.process.poll() is not None:
            raise RuntimeError("llcuda serve did not start:\n" + "".join(self.log))

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self.reader.join(5)
        self.process.stderr.close()
        os.unlink(self.template)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, method, path, body=None, key="default", raw=None, timeout=120,
                content_type="application/json", authorization=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": content_type}
        key = self.key if key == "default" else key
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if authorization is not None:
            headers["Authorization"] = authorization
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return response.status, dict(response.getheaders()), parsed

    def stream(self, path, body, timeout=120):
        """Yields each server-sent event's data (parsed JSON, or the string "[DONE]")."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        connection.request("POST", path, body=json.dumps(dict(body, stream=True)), headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}: {response.read()}")
        buffer = b""
        try:
            while True:
                chunk = response.read1(65536) if hasattr(response, "read1") else response.read(1)
                if not chunk:
                    return
                buffer += chunk
                while b"\n\n" in buffer:
                    event, buffer = buffer.split(b"\n\n", 1)
                    data = event.decode().removeprefix("data: ")
                    yield data if data == "[DONE]" else json.loads(data)
        finally:
            connection.close()

    def raw(self, data, timeout=10, responses=None):
        """Sends bytes as they are and returns what comes back until the server closes the
        connection, `responses` responses have arrived, or `timeout` seconds pass."""
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        connection.sendall(data)
        received = b""
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                if responses is not None and len(split_responses(received)) >= responses:
                    break
                chunk = connection.recv(65536)
                if not chunk:
                    break
                received += chunk
        except socket.timeout:
            pass
        finally:
            connection.close()
        return received

    def metric(self, name):
        _, _, text = self.request("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None


def split_responses(data):
    """(status, body bytes) of each whole HTTP/1.1 response (Content-Length framed) in data."""
    responses = []
    while data.startswith(b"HTTP/1.1 ") and b"\r\n\r\n" in data:
        head, rest = data.split(b"\r\n\r\n", 1)
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        size = int(length.group(1)) if length else 0
        if len(rest) < size:
            break
        responses.append((int(head.split()[1]), rest[:size]))
        data = rest[size:]
    return responses


def wait_until(condition, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
