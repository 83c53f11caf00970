#!/usr/bin/env python3
"""Soak test of `llcuda serve` (issue 17): for a bounded time (LLCUDA_SOAK_SECONDS, default 30),
clients send a seeded mix of good requests (whole and streamed), bad ones (bad JSON, unknown
fields, bad keys, bad framing) and requests whose client leaves mid-answer. Afterwards /health
must answer, no sequence may still run, the resident memory may not have grown more than
LLCUDA_SOAK_RSS_GROWTH_MB (default 64) past its level after a warm-up, and every good request's
text must equal its solo run (greedy, or sampled with a fixed seed). Standard library only.

Usage: soak.py PATH_TO_LLCUDA
"""
import concurrent.futures
import json
import os
import random
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from server_harness import KEY, Server, wait_until  # noqa: E402

PROMPTS = ["Once upon a time", "The little dog", "Lily and Tom went", "One day, a big", "The sun was"]
# The good requests: greedy and seeded sampling, short and longer, both endpoints.
GOOD = ([{"prompt": p, "max_tokens": n, "temperature": 0} for p in PROMPTS for n in (8, 40)] +
        [{"prompt": p, "max_tokens": 24, "temperature": 0.9, "top_p": 0.9, "seed": s}
         for p in PROMPTS[:3] for s in (1, 7)] +
        [{"messages": [{"role": "user", "content": p}], "max_tokens": 16, "temperature": 0} for p in PROMPTS[:2]])


def endpoint(body):
    return "/v1/chat/completions" if "messages" in body else "/v1/completions"


def text_of(answer):
    choice = answer["choices"][0]
    return choice["message"]["content"] if "message" in choice else choice["text"]


def streamed_text(server, body):
    pieces = []
    for event in server.stream(endpoint(body), body, timeout=60):
        if event == "[DONE]":
            break
        choice = event["choices"][0]
        pieces.append(choice["delta"].get("content") or "" if "delta" in choice else choice["text"])
    return "".join(pieces)


def resident_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def leave_mid_answer(server, generator):
    """A streamed request whose client closes the connection after the first event (or at once)."""
    body = json.dumps({"prompt": generator.choice(PROMPTS), "max_tokens": 200, "temperature": 0.8,
                       "stream": generator.random() < 0.7})
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    connection.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())
    if generator.random() < 0.5:
        connection.recv(1024)
    connection.close()


def bad_request(server, generator):
    kind = generator.randrange(5)
    if kind == 0:
        status, _, _ = server.request("POST", "/v1/completions", raw="{not json")
        expected = 400
    elif kind == 1:
        status, _, _ = server.request("POST", "/v1/completions", {"prompt": "x", "frobnicate": 1})
        expected = 400
    elif kind == 2:
        status, _, _ = server.request("POST", "/v1/completions", {"prompt": "x"}, key="wrong")
        expected = 401
    elif kind == 3:
        status, _, _ = server.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": -4})
        expected = 400
    else:
        answer = server.raw(b"POST /v1/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n", timeout=10)
        status, expected = int(answer.split()[1]) if answer else 0, 400
    if status != expected:
        raise AssertionError(f"bad request kind {kind}: status {status}, expected {expected}")


def client(server, solo, seed, deadline, counts, lock):
    generator = random.Random(seed)
    while time.time() < deadline:
        action = generator.random()
        if action < 0.5:
            index = generator.randrange(len(GOOD))
            body = GOOD[index]
            if generator.random() < 0.5:
                status, _, answer = server.request("POST", endpoint(body), body, timeout=60)
                if status != 200:
                    raise AssertionError(f"good request {index}: status {status}: {answer}")
                text = text_of(answer)
            else:
                text = streamed_text(server, body)
            if text != solo[index]:
                raise AssertionError(f"good request {index} (seed {seed}): {text!r} differs from its solo "
                                     f"run {solo[index]!r}")
            name = "good"
        elif action < 0.8:
            bad_request(server, generator)
            name = "bad"
        else:
            leave_mid_answer(server, generator)
            name = "left"
        with lock:
            counts[name] = counts.get(name, 0) + 1


def soak(server, solo, seconds, seed, clients=6):
    counts, lock = {}, threading.Lock()
    deadline = time.time() + seconds
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, server, solo, seed + i, deadline, counts, lock) for i in range(clients)]
        for future in futures:
            future.result()
    return counts


def main():
    llcuda = os.path.abspath(sys.argv[1])
    seconds = float(os.environ.get("LLCUDA_SOAK_SECONDS", "30"))
    growth_limit = float(os.environ.get("LLCUDA_SOAK_RSS_GROWTH_MB", "64")) * 1024 * 1024
    seed = int(os.environ.get("LLCUDA_SOAK_SEED", str(int(time.time()))))
    print(f"soak: {seconds:.0f} s, replay with LLCUDA_SOAK_SEED={seed}", flush=True)
    # Under AddressSanitizer freed memory waits in a quarantine (256 MB by default), which would
    # read as growth; a small one still catches use after free.
    asan = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=16"
    with Server(llcuda, "--parallel", "4", "--max-queue", "64", "-c", "512") as server:
        solo = []
        for body in GOOD:  # one at a time: the solo runs
            status, _, answer = server.request("POST", endpoint(body), body, timeout=60)
            assert status == 200, answer
            solo.append(text_of(answer))
        warm_up = soak(server, solo, min(5.0, seconds / 4), seed + 1000)
        baseline = resident_bytes(server.process.pid)
        counts = soak(server, solo, seconds, seed)
        assert wait_until(lambda: server.metric("llcuda_active_sequences") == 0, 30), "sequences still running"
        status, _, _ = server.request("GET", "/health", key=None, timeout=10)
        assert status == 200, f"/health answered {status} after the soak"
        final = resident_bytes(server.process.pid)
        for index, body in enumerate(GOOD):  # and alone again afterwards
            status, _, answer = server.request("POST", endpoint(body), body, timeout=60)
            assert status == 200 and text_of(answer) == solo[index], (index, answer)
        print(f"soak: warm-up {warm_up}, soak {counts}; resident {baseline / 2**20:.1f} MB after the warm-up, "
              f"{final / 2**20:.1f} MB after the soak", flush=True)
        assert counts.get("good", 0) > 0 and counts.get("bad", 0) > 0 and counts.get("left", 0) > 0, counts
        assert final - baseline <= growth_limit, \
            f"resident memory grew {(final - baseline) / 2**20:.1f} MB, more than {growth_limit / 2**20:.0f} MB"
    print("soak: passed")


if __name__ == "__main__":
    main()
