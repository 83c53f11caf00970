#!/usr/bin/env python3
"""Structured output on `llcuda serve` with the embedded stories260K model: 100 json_schema
requests validated by the ajv JSON-schema validator (pinned in structured_output/
package-lock.json, installed from the npm registry with `npm ci`), and the 400s for schemas and
grammars that cannot be enforced.

Usage: test_structured_output.py PATH_TO_LLCUDA
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
        for name in ("package.json", "package-lock.json", "validate.mjs"):
            shutil.copy(os.path.join(HERE, "structured_output", name), directory)
        installed = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory,
                                   capture_output=True, text=True, timeout=300)
        if installed.returncode != 0:
            print(installed.stdout, installed.stderr)
            return 1
        with Server(llcuda, "--parallel", "4") as server:
            env = dict(os.environ, LLCUDA_URL=f"http://127.0.0.1:{server.port}/v1", LLCUDA_KEY=KEY)
            result = subprocess.run([node, "validate.mjs"], cwd=directory, env=env,
                                    capture_output=True, text=True, timeout=120)
            print(result.stdout, result.stderr)
            return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
