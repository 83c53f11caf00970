#!/usr/bin/env python3
"""Tool calling through `llcuda serve` on the llama3 and qwen2 fixtures of
../shared/models/arch (random weights), each with its family's real template: tools and
tool_choice validated (400s naming the field), POST /apply-template rendering tools, an
assistant tool call and a tool result as the template writes them, and chat with tools
streamed and not (the same reply; random weights rarely write a call, so what is checked is
that the reply and its finish reason are consistent). tool_choice "required" and a named
function hold generation to calls, so even random weights give tool_calls that parse, with
arguments valid against the tool's schema, finish_reason "tool_calls" streamed and not, and
exactly one call with parallel_tool_calls false.

Usage: test_tools.py PATH_TO_LLCUDA SHARED_MODELS_DIR"""
import json
import os
import sys

from server_harness import Server

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]},
    },
}
ROUND_TRIP = [
    {"role": "user", "content": "Weather in Zürich?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_7", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Zürich\"}"}}]},
    {"role": "tool", "tool_call_id": "call_7", "content": "21 C, clear"},
]
# Arguments a random model finishes quickly: an enum and a bounded integer (a free string could
# run to max_tokens before its closing quote).
CLOCK = {
    "type": "function",
    "function": {
        "name": "set_alarm",
        "parameters": {"type": "object",
                       "properties": {"hour": {"type": "integer"},
                                      "zone": {"enum": ["UTC", "CET"]}},
                       "required": ["hour", "zone"], "additionalProperties": False},
    },
}
NO_ARGUMENTS = {"type": "function", "function": {"name": "now"}}
FIXTURES = [
    # fixture, template, what the template writes for the call
    ("llama3-tiny.gguf", "meta-llama-Llama-3.1-8B-Instruct.jinja",
     '{"name": "get_weather", "parameters": {"city": "Zürich"}}'),
    ("qwen2-tiny.gguf", "Qwen-Qwen2.5-7B-Instruct.jinja",
     '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call>'),
]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def collect_stream(server, body):
    """The streamed reply: content, calls assembled by index as clients do, finish reason."""
    content, calls, finish = "", {}, None
    for event in server.stream("/v1/chat/completions", body):
        if event == "[DONE]":
            break
        for entry in event["choices"]:
            delta = entry["delta"]
            content += delta.get("content") or ""
            for part in delta.get("tool_calls") or []:
                call = calls.setdefault(part["index"], {"name": "", "arguments": ""})
                call["name"] += part.get("function", {}).get("name") or ""
                call["arguments"] += part.get("function", {}).get("arguments") or ""
            finish = entry["finish_reason"] or finish
    return content, [calls[i] for i in sorted(calls)], finish


def check_call(fixture, call):
    arguments = json.loads(call["arguments"])
    if call["name"] == "set_alarm":
        check(set(arguments) == {"hour", "zone"} and isinstance(arguments["hour"], int)
              and arguments["zone"] in ("UTC", "CET"), (fixture, call))
    else:
        check(call["name"] == "now" and arguments == {}, (fixture, call))


def check_required(server, fixture):
    question = [{"role": "user", "content": "Wake me at seven."}]
    cases = [
        # tool_choice, parallel_tool_calls, the names allowed
        ("required", False, {"set_alarm", "now"}),
        ("required", True, {"set_alarm", "now"}),
        ({"type": "function", "function": {"name": "set_alarm"}}, False, {"set_alarm"}),
    ]
    # One seed: each generation here masks a 128k-token vocabulary at every step, and CI runs
    # this under ASan too (two seeds took 46 s in the release build).
    for seed in (1,):
        for choice, parallel, names in cases:
            body = {"messages": question, "tools": [CLOCK, NO_ARGUMENTS], "tool_choice": choice,
                    "parallel_tool_calls": parallel, "max_tokens": 160, "temperature": 1.0,
                    "seed": seed}
            status, _, whole = server.request("POST", "/v1/chat/completions", body)
            check(status == 200, whole)
            entry = whole["choices"][0]
            if parallel and entry["finish_reason"] == "length":
                # Random weights may keep adding calls (as the grammar lets them) until
                # max_tokens cuts the last one short: unparsed, as OpenAI returns it.
                check("tool_calls" not in entry["message"], (fixture, choice, entry))
                continue
            check(entry["finish_reason"] == "tool_calls", (fixture, choice, entry))
            calls = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                     for c in entry["message"]["tool_calls"]]
            check(len(calls) >= 1 and (parallel or len(calls) == 1), (fixture, choice, calls))
            for call in calls:
                check(call["name"] in names, (fixture, choice, call))
                check_call(fixture, call)
            content, streamed, finish = collect_stream(server, body)
            check(finish == "tool_calls" and streamed == calls and content == "",
                  (fixture, choice, content, streamed, calls))


def run_fixture(llcuda, models, fixture, template_name, call_text):
    with open(os.path.join(models, "templates", template_name), encoding="utf-8") as file:
        template = file.read()
    with Server(llcuda, "-m", os.path.join(models, "arch", fixture), template=template) as server:
        status, _, body = server.request("POST", "/apply-template",
                                         {"messages": ROUND_TRIP, "tools": [WEATHER]})
        check(status == 200, body)
        prompt = body["prompt"]
        for piece in ('"name": "get_weather"', call_text, "21 C, clear", "Current weather of a city."):
            check(piece in prompt, f"{fixture}: {piece!r} not in the prompt:\n{prompt}")
        # Key order as the client wrote it (not sorted): "type" before "function".
        check(prompt.find('"type": "function"') < prompt.find('"function": {'), prompt)

        base = {"messages": ROUND_TRIP, "tools": [WEATHER], "max_tokens": 16, "temperature": 0,
                "seed": 3}
        status, _, whole = server.request("POST", "/v1/chat/completions", base)
        check(status == 200, whole)
        choice = whole["choices"][0]
        message = choice["message"]
        if choice["finish_reason"] == "tool_calls":
            check(message["tool_calls"][0]["function"]["name"] == "get_weather", message)
        else:
            check(isinstance(message["content"], str) and "tool_calls" not in message, message)
        streamed, finish = "", None
        for event in server.stream("/v1/chat/completions", base):
            if event == "[DONE]":
                break
            for entry in event["choices"]:
                streamed += entry["delta"].get("content") or ""
                finish = entry["finish_reason"] or finish
        check(finish == choice["finish_reason"], (finish, choice))
        check(streamed == (message["content"] or ""), (streamed, message))

        check_required(server, fixture)

        errors = [
            ({"tools": [{"type": "function"}]}, "tools[0]"),
            ({"tools": "x"}, "tools"),
            ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
            ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
             "tool_choice"),
            ({"tool_choice": "required"}, "tool_choice"),
            ({"tools": [WEATHER], "tool_choice": "required",
              "response_format": {"type": "json_object"}}, "tool_choice"),
            ({"tools": [WEATHER, {"type": "function", "function": {
                "name": "f", "parameters": {"type": "integer", "minimum": 1}}}],
              "tool_choice": "required"}, "tools[1].function.parameters"),
            ({"tools": [WEATHER], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
            ({"tools": [WEATHER], "messages": [{"role": "assistant", "tool_calls": [
                {"type": "function", "function": {"name": "f", "arguments": "not json"}}]}]},
             "messages[0].tool_calls"),
        ]
        for extra, param in errors:
            request = dict({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}, **extra)
            status, _, body = server.request("POST", "/v1/chat/completions", request)
            check(status == 400 and body["error"]["param"] == param, (extra, status, body))
        print(f"{fixture} with {template_name}: ok")


def main():
    llcuda, models = sys.argv[1], sys.argv[2]
    if not os.path.isdir(os.path.join(models, "arch")):
        print(f"SKIP: {models} has no arch fixtures")
        return 0
    for fixture, template, call_text in FIXTURES:
        run_fixture(llcuda, models, fixture, template, call_text)
    # A template with no tool-call format is refused with tools, and tool_choice "none" sends
    # no tools to it.
    with Server(llcuda, "-m", os.path.join(models, "arch", "qwen2-tiny.gguf")) as server:
        request = {"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER], "max_tokens": 2}
        status, _, body = server.request("POST", "/v1/chat/completions", request)
        check(status == 400 and body["error"]["param"] == "tools"
              and "--chat-template" in body["error"]["message"], body)
        status, _, body = server.request("POST", "/v1/chat/completions",
                                         dict(request, tool_choice="none"))
        check(status == 200, body)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
