#!/usr/bin/env python3
"""The official `openai` npm package (pinned in openai_client/package-lock.json, installed from
the npm registry with `npm ci`) drives `llcuda serve`: chat, streaming, completions, models,
and errors.

Usage: test_openai_client.py PATH_TO_LLCUDA
"""
import os
import shutil
import subprocess
import sys
import tempfile

from server_harness import KEY, Server

HERE = os.path.dirname(os.path.abspath(__file__))


def main(llcuda):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        print("node and npm are needed (scripts/install-deps.sh installs them)")
        return 1
    with tempfile.TemporaryDirectory() as directory:
        for name in ("package.json", "package-lock.json", "test.mjs"):
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
            return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
