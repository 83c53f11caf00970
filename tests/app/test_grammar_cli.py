#!/usr/bin/env python3
"""`llcuda run --json-schema` and `--grammar-file` on the embedded stories260K: the text after
the prompt is valid JSON of the schema (inline and from a file) for several seeds and samplers,
a grammar's text is one it allows, and bad flags are errors naming the flag.

Usage: test_grammar_cli.py PATH_TO_LLCUDA
"""
import json
import os
import subprocess
import sys
import tempfile

SCHEMA = {"type": "object", "required": ["name", "count"],
          "properties": {"name": {"type": "string", "maxLength": 10},
                         "count": {"type": "integer"}}}


def run(llcuda, *args):
    return subprocess.run([llcuda, "run", "-t", "1", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def check_batch(llcuda, directory):
    """batch's per-line grammar, json_schema and response_format; bad ones fail their line."""
    lines = [{"id": "schema", "prompt": "Once", "seed": 1, "json_schema": SCHEMA},
             {"id": "grammar", "prompt": "Once", "seed": 2, "grammar": 'root ::= "yes" | "no"'},
             {"id": "format", "prompt": "Once", "seed": 3, "temperature": 0,
              "response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}},
             {"id": "pattern", "prompt": "Once", "json_schema": {"type": "string", "pattern": "a"}},
             {"id": "gbnf", "prompt": "Once", "grammar": "root ::= ("}]
    source, target = os.path.join(directory, "in.jsonl"), os.path.join(directory, "out.jsonl")
    with open(source, "w") as f:
        f.write("".join(json.dumps(line) + "\n" for line in lines))
    subprocess.run([llcuda, "batch", "-t", "1", "-n", "200", "-i", source, "-o", target],
                   capture_output=True, text=True, timeout=60)
    with open(target) as f:
        results = {entry["id"]: entry for entry in map(json.loads, f)}
    failures = 0
    for name in ("schema", "format"):
        value = json.loads(results[name]["text"])
        failures += set(value) != {"name", "count"}
    failures += results["grammar"]["text"] not in ("yes", "no")
    failures += "'pattern'" not in results["pattern"].get("error", "")
    failures += "grammar" not in results["gbnf"].get("error", "")
    print(f"batch: {'ok' if failures == 0 else 'FAIL'} {results}")
    return failures


def main(llcuda):
    failures = 0
    with tempfile.TemporaryDirectory() as directory:
        schema_file = os.path.join(directory, "schema.json")
        with open(schema_file, "w") as f:
            json.dump(SCHEMA, f)
        grammar_file = os.path.join(directory, "answer.gbnf")
        with open(grammar_file, "w") as f:
            f.write('root ::= "yes" | "no" | "maybe"\n')
        bad_file = os.path.join(directory, "bad.gbnf")
        with open(bad_file, "w") as f:
            f.write('root ::= ("a"\n')
        prompt = "The box said:"
        for seed, sampler in [(1, ["--temp", "0"]), (2, []), (3, ["--temp", "1.5", "--top-k", "0"]),
                              (4, ["--temp", "1", "--top-k", "0", "--top-p", "0.9"])]:
            for schema in (json.dumps(SCHEMA), schema_file):
                result = run(llcuda, "-p", prompt, "-n", "200", "-s", str(seed), "--json-schema",
                             schema, *sampler)
                value = json.loads(result.stdout[len(prompt):])
                ok = (result.returncode == 0 and set(value) == {"name", "count"} and
                      isinstance(value["count"], int) and len(value["name"]) <= 10)
                failures += not ok
                print(f"seed {seed} {sampler}: {'ok' if ok else 'FAIL'} {result.stdout!r}")
            result = run(llcuda, "-p", prompt, "-n", "20", "-s", str(seed), "--grammar-file",
                         grammar_file, *sampler)
            ok = result.returncode == 0 and result.stdout[len(prompt):].strip() in ("yes", "no", "maybe")
            failures += not ok
            print(f"grammar seed {seed}: {'ok' if ok else 'FAIL'} {result.stdout!r}")
        for args, words in [(["--grammar-file", bad_file], ["--grammar-file", "line 2"]),
                            (["--grammar-file", "/no/such.gbnf"], ["--grammar-file", "cannot read"]),
                            (["--json-schema", '{"type": "string", "pattern": "a"}'],
                             ["--json-schema", "'pattern'"]),
                            (["--json-schema", "{not json"], ["--json-schema", "not a JSON object"])]:
            result = run(llcuda, "-n", "4", *args)
            ok = result.returncode != 0 and all(word in result.stderr for word in words)
            failures += not ok
            print(f"{args[0]} error: {'ok' if ok else 'FAIL'} {result.stderr.strip()!r}")
        failures += check_batch(llcuda, directory)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
