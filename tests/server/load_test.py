#!/usr/bin/env python3
"""Load test on loopback: 32 concurrent streaming clients on stories260K. None may be lost and
none mixed up: each stream's text must equal what the same greedy request gives alone. Reports
total tokens/s against one client alone (the same requests one after another).

Usage: load_test.py PATH_TO_LLCUDA [CLIENTS]
"""
import concurrent.futures
import sys
import time

from server_harness import Server

CLIENTS = 32
TOKENS = 48
STARTS = ["Once upon a time", "Lily went to the park", "The big dog", "Tom had a red ball",
          "One day, a little bird", "Sue and her mom", "The sun was hot", "A cat sat on"]


def prompt(i):
    return f"{STARTS[i % len(STARTS)]} {i}"


def stream_text(server, i):
    pieces, finish = [], None
    for event in server.stream("/v1/completions", {"prompt": prompt(i), "max_tokens": TOKENS, "temperature": 0},
                               timeout=120):
        if event == "[DONE]":
            return "".join(pieces), finish
        pieces.append(event["choices"][0]["text"])
        finish = event["choices"][0]["finish_reason"] or finish
    raise RuntimeError(f"stream {i} ended without [DONE]")


def main(llcuda, clients):
    with Server(llcuda, "--parallel", str(clients), "-c", "256", "--max-queue", str(4 * clients)) as server:
        alone = {}
        started = time.time()
        tokens_alone = 0
        for i in range(clients):
            status, _, body = server.request("POST", "/v1/completions",
                                             {"prompt": prompt(i), "max_tokens": TOKENS, "temperature": 0})
            assert status == 200, body
            alone[i] = body["choices"][0]["text"]
            tokens_alone += body["usage"]["completion_tokens"]
        seconds_alone = time.time() - started

        started = time.time()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            futures = {pool.submit(stream_text, server, i): i for i in range(clients)}
            together = {futures[f]: f.result(timeout=300) for f in concurrent.futures.as_completed(futures)}
        seconds_together = time.time() - started

        lost = [i for i in range(clients) if i not in together]
        mixed = [i for i in together if together[i][0] != alone[i]]
        alone_rate = tokens_alone / seconds_alone
        together_rate = tokens_alone / seconds_together
        print(f"{clients} streaming clients: {len(together)} finished, {len(lost)} lost, {len(mixed)} differ "
              f"from the same request alone")
        print(f"one client at a time: {tokens_alone} tokens in {seconds_alone:.2f} s = {alone_rate:.0f} tokens/s")
        print(f"{clients} at once: {tokens_alone} tokens in {seconds_together:.2f} s = {together_rate:.0f} tokens/s "
              f"({together_rate / alone_rate:.2f}x)")
        if lost or mixed:
            for i in mixed[:3]:
                print(f"  {i}: alone {alone[i]!r}\n      together {together[i][0]!r}")
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else CLIENTS))
