#!/usr/bin/env python3
"""Installs the pinned tokenizers.js packages (npm ci, package-lock.json) and writes their
tokenizations of generated strings: run.py OUT.json [COUNT]. The seed is LLCUDA_TOKENIZER_SEED
or a fresh one, printed so a failure replays. Without node or npm it writes nothing (the test
then skips)."""
import os
import random
import shutil
import subprocess
import sys

out = sys.argv[1]
count = sys.argv[2] if len(sys.argv) > 2 else "10000"
here = os.path.dirname(os.path.abspath(__file__))
node, npm = shutil.which("node"), shutil.which("npm")
if os.path.exists(out):
    os.remove(out)
if not node or not npm:
    print("node and npm are needed (scripts/install-deps.sh installs them); skipping")
    sys.exit(0)
if not os.path.isdir(os.path.join(here, "node_modules")):
    installed = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=here)
    if installed.returncode != 0:
        print("npm ci failed (no registry?); skipping")
        sys.exit(0)
seed = os.environ.get("LLCUDA_TOKENIZER_SEED", str(random.randrange(1, 2**31)))
print(f"tokenizers.js cases with seed {seed} (LLCUDA_TOKENIZER_SEED={seed} replays them)")
sys.exit(subprocess.run([node, os.path.join(here, "generate.mjs"), out, seed, count]).returncode)
