#!/usr/bin/env python3
"""The web chat page end to end in Debian's headless Chromium (scripts/install-deps.sh installs
it), driven by playwright-core (pinned in web_chat/package-lock.json, installed from the npm
registry with `npm ci`): model picker, a streamed reply with tokens/s, Stop on a long reply, a
screenshot whose path, size in pixels and bytes the log shows.

Usage: test_web_chat_browser.py PATH_TO_LLCUDA SCREENSHOT.png
"""
import os
import shutil
import subprocess
import sys
import tempfile

from server_harness import KEY, Server

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = "/usr/bin/chromium"


def main(llcuda, screenshot):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm or not os.access(CHROMIUM, os.X_OK):
        print(f"node, npm and {CHROMIUM} are needed (scripts/install-deps.sh installs them)")
        return 1
    with tempfile.TemporaryDirectory() as directory:
        for name in ("package.json", "package-lock.json", "chat.mjs"):
            shutil.copy(os.path.join(HERE, "web_chat", name), directory)
        installed = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory,
                                   capture_output=True, text=True, timeout=120)
        if installed.returncode != 0:
            print(installed.stdout, installed.stderr)
            return 1
        with Server(llcuda, "--alias", "stories") as server:
            env = dict(os.environ, LLCUDA_BASE=f"http://127.0.0.1:{server.port}", LLCUDA_KEY=KEY,
                       LLCUDA_MODEL="stories", SCREENSHOT=os.path.abspath(screenshot),
                       CHROMIUM=CHROMIUM)
            result = subprocess.run([node, "chat.mjs"], cwd=directory, env=env,
                                    capture_output=True, text=True, timeout=50)
            print(result.stdout, result.stderr)
            return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
