#!/usr/bin/env python3
"""The prompt (prefix) cache through `serve`: a three-turn chat on stories260K (greedy, and
seeded sampling), each turn sending the conversation so far, gives the same replies with the
cache and with --no-prefix-cache; later turns report usage.prompt_tokens_details.cached_tokens
> 0 (whole and streamed responses) and /metrics counts the hits and the tokens.

Usage: test_prefix_cache.py PATH_TO_LLCUDA
"""
import sys

from server_harness import Server


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def conversation(server, stream, temperature):
    """The replies of three turns and the usage of each."""
    messages = [{"role": "system", "content": "You tell short stories."},
                {"role": "user", "content": "Once upon a time, there was a little girl."}]
    replies, usages = [], []
    for turn in range(3):
        body = {"messages": messages, "max_tokens": 16, "temperature": temperature, "seed": 7}
        if stream:
            text, usage = "", None
            for event in server.stream("/v1/chat/completions",
                                       dict(body, stream_options={"include_usage": True})):
                if event == "[DONE]":
                    break
                if event.get("usage"):
                    usage = event["usage"]
                for choice in event["choices"]:
                    text += choice["delta"].get("content", "")
        else:
            status, _, response = server.request("POST", "/v1/chat/completions", body)
            check(status == 200, response)
            text, usage = response["choices"][0]["message"]["content"], response["usage"]
        check(usage is not None, "no usage")
        replies.append(text)
        usages.append(usage)
        messages += [{"role": "assistant", "content": text},
                     {"role": "user", "content": f"And then, turn {turn}?"}]
    return replies, usages


def run(llcuda, *flags):
    results = {}
    with Server(llcuda, "--parallel", "2", *flags) as server:
        for stream in (False, True):
            for temperature in (0.0, 0.9):
                results[(stream, temperature)] = conversation(server, stream, temperature)
        hits = server.metric("llcuda_prompt_cache_hits_total")
        cached = server.metric("llcuda_prompt_cached_tokens_total")
    return results, hits, cached


def main():
    llcuda = sys.argv[1]
    with_cache, hits, cached = run(llcuda)
    without, hits_off, cached_off = run(llcuda, "--no-prefix-cache")
    total = 0
    for key, (replies, usages) in with_cache.items():
        check(replies == without[key][0], f"{key}: {replies} != {without[key][0]}")
        for turn, usage in enumerate(usages):
            details = usage["prompt_tokens_details"]
            check(without[key][1][turn]["prompt_tokens_details"]["cached_tokens"] == 0,
                  f"{key} turn {turn}: cached without the cache")
            check(usage["prompt_tokens"] == without[key][1][turn]["prompt_tokens"], usage)
            if turn > 0:
                check(0 < details["cached_tokens"] < usage["prompt_tokens"], f"{key} turn {turn}: {usage}")
            total += details["cached_tokens"]
    check(hits >= 8 and cached == total, f"metrics: {hits} hits, {cached} tokens, usage {total}")
    check(hits_off == 0 and cached_off == 0, f"metrics without the cache: {hits_off}, {cached_off}")
    print(f"ok: {int(hits)} hits, {int(cached)} cached tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
