#!/usr/bin/env python3
"""The official `openai` npm package (pinned in openai_client/package-lock.json, installed from
the npm registry with `npm ci`) drives `llcuda serve`: chat, streaming, completions, models,
and errors.

Then tools (tools.mjs) on the llama3 and qwen2 fixtures of SHARED_MODELS_DIR/arch with their
real templates, when that directory is there.

Usage: test_openai_client.py PATH_TO_LLCUDA [SHARED_MODELS_DIR]
"""
import os
import shutil
import subprocess
import sys
import tempfile

from server_harness import KEY, Server

HERE = os.path.dirname(os.path.abspath(__file__))


TOOL_FIXTURES = [("llama3-tiny.gguf", "meta-llama-Llama-3.1-8B-Instruct.jinja"),
                 ("qwen2-tiny.gguf", "Qwen-Qwen2.5-7B-Instruct.jinja")]


def main(llcuda, models=None):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        print("node and npm are needed (scripts/install-deps.sh installs them)")
        return 1
    with tempfile.TemporaryDirectory() as directory:
        for name in ("package.json", "package-lock.json", "test.mjs", "tools.mjs"):
            shutil.copy(os.path.join(HERE, "openai_client", name), directory)
        installed = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory,
                                   capture_output=True, text=True, timeout=300)
        if installed.returncode != 0:
            print(installed.stdout, installed.stderr)
            return 1
        with Server(llcuda, "--parallel", "2") as server:
            env = dict(os.environ, LLCUDA_URL=f"http://127.0.0.1:{server.port}/v1", LLCUDA_KEY=KEY)
            result = subprocess.run([node, "test.mjs"], cwd=directory, env=env, capture_output=True,
                                    text=True, timeout=120)
            print(result.stdout, result.stderr)
            if result.returncode != 0:
                return result.returncode
        if not models or not os.path.isdir(os.path.join(models, "arch")):
            print("tools: SKIP (no shared models)")
            return 0
        for fixture, template_name in TOOL_FIXTURES:
            with open(os.path.join(models, "templates", template_name), encoding="utf-8") as file:
                template = file.read()
            with Server(llcuda, "-m", os.path.join(models, "arch", fixture), template=template) as server:
                env = dict(os.environ, LLCUDA_URL=f"http://127.0.0.1:{server.port}/v1", LLCUDA_KEY=KEY)
                result = subprocess.run([node, "tools.mjs"], cwd=directory, env=env,
                                        capture_output=True, text=True, timeout=120)
                print(result.stdout, result.stderr)
                if result.returncode != 0:
                    return result.returncode
        return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
