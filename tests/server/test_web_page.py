#!/usr/bin/env python3
"""GET / serves the web chat page from the binary: HTML, no key needed (the page asks for it
and sends it), no external assets, the API behind it still guarded by --api-key.

Usage: test_web_page.py PATH_TO_LLCUDA
(The page's behaviour in a browser: test_web_chat_browser.py, in headless Chromium.)
"""
import os
import re
import sys

from server_harness import Server

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "server", "web",
                    "chat.html")


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def main():
    with open(PAGE, encoding="utf-8") as file:
        expected = file.read()
    # no assets from elsewhere: no src=, no stylesheet links, no absolute URLs fetched
    check(not re.search(r"\bsrc\s*=|<link\b|fetch\(\s*[\"']https?:", expected), "external asset in chat.html")
    with Server(sys.argv[1]) as server:
        status, headers, body = server.request("GET", "/", key=None)
        check(status == 200, status)
        check(headers.get("Content-Type") == "text/html; charset=utf-8", headers)
        check(body == expected, "GET / differs from src/server/web/chat.html")
        status, _, _ = server.request("GET", "/v1/models", key=None)
        check(status == 401, f"/v1/models without the key: {status}")
        status, _, _ = server.request("POST", "/", key=None, body={})
        check(status == 401, f"POST / without the key: {status}")
        status, _, body = server.request("GET", "/v1/models")
        check(status == 200 and body["data"], body)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
