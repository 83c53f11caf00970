#!/usr/bin/env python3
"""Time to first token of a long chat's second turn with the prompt (prefix) cache and with
--no-prefix-cache (issue 22). For each mode: start `llcuda serve` with the given flags, then
per repetition send a first turn of about --history-words words (a fresh conversation each time:
a numbered header keeps repetitions from sharing a prefix), and a second turn of that prompt,
its reply and a short new message. Prompts go to /v1/completions as text, so no chat template
is needed (synthesized models have none). TTFT is measured by the client: from sending the
request to the first streamed text. Greedy replies are compared across the modes.

Usage: bench/prefix_cache_ttft.py LLCUDA MODEL|embedded OUT_DIR [--repetitions 5] [--history-words 3000]
           [--max-tokens 32] -- [serve flags, e.g. --device cuda -c 8192]
Writes OUT_DIR/prefix_cache_ttft.json and .md.
"""
import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

WORDS = ("the little girl walked to the old house by the river and saw a dog that wanted to play "
         "with a red ball so they ran together under the tall trees until the sun went down").split()


class Serve:
    def __init__(self, llcuda, model, flags):
        model_flags = [] if model == "embedded" else ["-m", model]
        args = [llcuda, "serve", *model_flags, "--port", "0", "--parallel", "1", *flags]
        self.process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        self.port, self.log, ready = None, [], threading.Event()

        def read():
            for line in self.process.stderr:
                self.log.append(line)
                found = re.search(r"listening on http://[\d.]+:(\d+)", line)
                if found:
                    self.port = int(found.group(1))
                if "ready on" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(600) or self.port is None or self.process.poll() is not None:
            raise RuntimeError("llcuda serve did not start:\n" + "".join(self.log))

    def close(self):
        self.process.terminate()
        self.process.wait(60)

    def complete(self, prompt, max_tokens):
        """(text, client TTFT in ms, total seconds, usage) of one streamed greedy completion."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                "stream_options": {"include_usage": True}}
        start = time.perf_counter()
        connection.request("POST", "/v1/completions", body=json.dumps(body),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}: {response.read()[:500]}")
        text, first, usage, buffer = "", None, None, b""
        while True:
            chunk = response.read1(65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                data = event.decode().removeprefix("data: ")
                if data == "[DONE]":
                    continue
                parsed = json.loads(data)
                if parsed.get("usage"):
                    usage = parsed["usage"]
                for choice in parsed["choices"]:
                    if choice.get("text") and first is None:
                        first = (time.perf_counter() - start) * 1000.0
                    text += choice.get("text", "")
        connection.close()
        return text, first, time.perf_counter() - start, usage


def history(repetition, words):
    body = " ".join(WORDS[i % len(WORDS)] for i in range(words))
    return f"Story {repetition}.\nUser: {body}\nAssistant:"


def run_mode(options, flags):
    server = Serve(options.llcuda, options.model, flags)
    turns = []
    try:
        server.complete("Warm up.", 4)
        for repetition in range(options.repetitions):
            first_prompt = history(repetition, options.history_words)
            reply, ttft1, _, usage1 = server.complete(first_prompt, options.max_tokens)
            second_prompt = first_prompt + reply + "\nUser: And then what happened?\nAssistant:"
            reply2, ttft2, _, usage2 = server.complete(second_prompt, options.max_tokens)
            turns.append({"first_ttft_ms": ttft1, "second_ttft_ms": ttft2,
                          "first_prompt_tokens": usage1["prompt_tokens"],
                          "second_prompt_tokens": usage2["prompt_tokens"],
                          "second_cached_tokens":
                              usage2.get("prompt_tokens_details", {}).get("cached_tokens", 0),
                          "replies": [reply, reply2]})
    finally:
        server.close()
    return turns


def summary(turns, key):
    values = [t[key] for t in turns if t[key] is not None]
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("llcuda")
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--history-words", type=int, default=3000)
    parser.add_argument("--max-tokens", type=int, default=32)
    arguments = sys.argv[1:]
    split = arguments.index("--") if "--" in arguments else len(arguments)
    options = parser.parse_args(arguments[:split])
    options.serve_flags = arguments[split + 1:]
    os.makedirs(options.out, exist_ok=True)
    modes = {"prefix_cache": run_mode(options, options.serve_flags),
             "no_prefix_cache": run_mode(options, [*options.serve_flags, "--no-prefix-cache"])}
    cached, uncached = modes["prefix_cache"], modes["no_prefix_cache"]
    identical = [a["replies"] == b["replies"] for a, b in zip(cached, uncached)]
    result = {"model": options.model, "serve_flags": options.serve_flags,
              "history_words": options.history_words, "max_tokens": options.max_tokens,
              "repetitions": options.repetitions, "modes": modes,
              "identical_replies": identical}
    for name, turns in modes.items():
        result[name + "_median"] = {key: summary(turns, key) for key in
                                    ("first_ttft_ms", "second_ttft_ms", "second_prompt_tokens",
                                     "second_cached_tokens")}
    with open(os.path.join(options.out, "prefix_cache_ttft.json"), "w") as f:
        json.dump(result, f, indent=2)
    lines = [f"# Second-turn TTFT with and without the prefix cache",
             f"model {options.model}, serve {' '.join(options.serve_flags) or '(defaults)'}, "
             f"{options.repetitions} repetitions, medians", "",
             "| mode | turn 1 TTFT ms | turn 2 TTFT ms | turn 2 prompt tokens | cached |",
             "|---|---|---|---|---|"]
    for name in modes:
        m = result[name + "_median"]
        lines.append(f"| {name} | {m['first_ttft_ms']:.1f} | {m['second_ttft_ms']:.1f} | "
                     f"{m['second_prompt_tokens']:.0f} | {m['second_cached_tokens']:.0f} |")
    lines += ["", f"identical greedy replies: {sum(identical)}/{len(identical)}"]
    with open(os.path.join(options.out, "prefix_cache_ttft.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
