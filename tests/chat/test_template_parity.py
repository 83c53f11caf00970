#!/usr/bin/env python3
"""Every chat template of ../shared/models/templates rendered by Python's jinja2 (Debian's
python3-jinja2, set up as transformers' apply_chat_template sets it up: the README of the
templates directory) and by llcuda
(render_chat_template), over conversations with system prompts, several turns, tool
definitions, assistant tool calls and tool results, compared byte for byte.

A template that differs or fails is listed in KNOWN_DIFFERENCES with the reason; the test
asserts that list exactly, so an improvement (remove it from the list) or a regression shows.
usage: test_template_parity.py RENDER_CHAT_TEMPLATE TEMPLATES_DIR [--report]"""
import json
import os
import subprocess
import sys
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.sandbox

# Template file -> why llcuda does not render it as jinja2 does.
KNOWN_DIFFERENCES = {
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time now in a time zone.",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": []},
    },
}
TOOL_CALL = {
    "id": "abc123XYZ",
    "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}},
}

CONVERSATIONS = {
    "user": ([{"role": "user", "content": "Hello!"}], None),
    "system": (
        [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there"}],
        None,
    ),
    "multi_turn": (
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4."},
            {"role": "user", "content": "And 3+3?\nThink \"twice\"."},
        ],
        None,
    ),
    "tools": (
        [{"role": "user", "content": "Weather in Zürich?"}],
        [WEATHER_TOOL, TIME_TOOL],
    ),
    "tool_round_trip": (
        [
            {"role": "system", "content": "Use tools when needed."},
            {"role": "user", "content": "Weather in Zürich?"},
            {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
            {"role": "tool", "tool_call_id": "abc123XYZ", "name": "get_weather",
             "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
            {"role": "assistant", "content": "It is 21 °C and clear."},
            {"role": "user", "content": "Thanks"},
        ],
        [WEATHER_TOOL],
    ),
    "parallel_calls": (
        [
            {"role": "user", "content": "Weather and time in Zürich?"},
            {"role": "assistant", "content": "Checking both.", "tool_calls": [
                TOOL_CALL,
                {"id": "def456UVW", "type": "function",
                 "function": {"name": "get_time", "arguments": {"zone": "Europe/Zurich"}}},
            ]},
            {"role": "tool", "tool_call_id": "abc123XYZ", "name": "get_weather", "content": "sunny"},
            {"role": "tool", "tool_call_id": "def456UVW", "name": "get_time", "content": "14:05"},
        ],
        [WEATHER_TOOL, TIME_TOOL],
    ),
}


class AssistantTracker(jinja2.ext.Extension):
    """transformers' {% generation %} ... {% endgeneration %}: marks the assistant's part for
    training masks and renders its body unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = strftime_now
    return environment


def cases():
    for name, (messages, tools) in CONVERSATIONS.items():
        for add_generation_prompt in (False, True):
            if messages[-1]["role"] == "assistant" and add_generation_prompt:
                continue
            context = {"messages": messages, "add_generation_prompt": add_generation_prompt,
                       "bos_token": "<BOS>", "eos_token": "<EOS>"}
            if tools is not None:
                context["tools"] = tools
            yield f"{name}/{'gen' if add_generation_prompt else 'nogen'}", context


def render_python(environment, source, context):
    try:
        return {"text": environment.from_string(source).render(**context)}
    except Exception as error:  # a refusal (raise_exception) or a template error
        return {"error": f"{type(error).__name__}: {error}"}


def main():
    renderer, templates_dir = sys.argv[1], sys.argv[2]
    report = "--report" in sys.argv
    if not os.path.isdir(templates_dir):
        print(f"SKIP: {templates_dir} is not there")
        return 0
    environment = make_environment()
    names = sorted(f for f in os.listdir(templates_dir) if f.endswith(".jinja"))
    jobs = []
    for name in names:
        with open(os.path.join(templates_dir, name), encoding="utf-8") as file:
            source = file.read()
        for case, context in cases():
            jobs.append((name, case, source, context))
    requests = "".join(json.dumps({"template": source, "context": context}) + "\n"
                       for _, _, source, context in jobs)
    process = subprocess.run([renderer], input=requests, capture_output=True, text=True,
                             timeout=300, check=True)
    answers = [json.loads(line) for line in process.stdout.splitlines()]
    assert len(answers) == len(jobs), (len(answers), len(jobs))

    differences = {}  # template -> first differing case
    refused = 0  # cases both refuse (raise_exception: Gemma 2 has no system role)
    for (name, case, source, context), ours in zip(jobs, answers):
        theirs = render_python(environment, source, context)
        if "error" in theirs and "error" in ours:
            refused += 1
            if report:
                print(f"refused by both: {name} [{case}]: {theirs['error'][:100]}")
        same = ("text" in theirs and ours.get("text") == theirs["text"]) or (
            "error" in theirs and "error" in ours)
        if not same and name not in differences:
            differences[name] = (case, theirs, ours)
    matching = [n for n in names if n not in differences]
    print(f"{len(matching)} of {len(names)} templates render as jinja2 "
          f"{jinja2.__version__} does over {len(list(cases()))} conversations each "
          f"({len(jobs)} renders, {refused} of them refused by both)")
    for name, (case, theirs, ours) in sorted(differences.items()):
        print(f"DIFFERS {name} [{case}]: {KNOWN_DIFFERENCES.get(name, 'NEW')}")
        if report or name not in KNOWN_DIFFERENCES:
            print("  jinja2:", json.dumps(theirs, ensure_ascii=False)[:600])
            print("  llcuda:", json.dumps(ours, ensure_ascii=False)[:600])
    unexpected = sorted(set(differences) - set(KNOWN_DIFFERENCES))
    fixed = sorted(set(KNOWN_DIFFERENCES) - set(differences))
    if unexpected:
        print("FAIL: templates that newly differ:", unexpected)
    if fixed:
        print("FAIL: templates that now match; remove them from KNOWN_DIFFERENCES:", fixed)
    return 1 if unexpected or fixed else 0


if __name__ == "__main__":
    sys.exit(main())
