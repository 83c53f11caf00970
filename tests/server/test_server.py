#!/usr/bin/env python3
"""`llcuda serve` over real HTTP on loopback: the endpoints, streaming, auth, limits, bad
requests (each with its status and an OpenAI error object, the server serving on), the queue's
429 and cancellation when a client leaves.

Usage: test_server.py PATH_TO_LLCUDA
"""
import concurrent.futures
import socket
import subprocess
import sys
import unittest

from server_harness import KEY, Server, wait_until

LLCUDA = None


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(LLCUDA, "--parallel", "4", "--max-tokens-limit", "512")

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def complete(self, **body):
        return self.server.request("POST", "/v1/completions", dict({"prompt": "Once upon a time"}, **body))

    def assert_still_serving(self):
        status, _, body = self.complete(max_tokens=3, temperature=0)
        self.assertEqual(status, 200, body)

    def assert_error(self, status, response, fragment, kind=None):
        code, _, body = response
        self.assertEqual(code, status, body)
        self.assertIn("error", body)
        self.assertIn(fragment, body["error"]["message"])
        if kind:
            self.assertEqual(body["error"]["type"], kind)
        self.assert_still_serving()

    def test_health_models_and_metrics(self):
        status, _, body = self.server.request("GET", "/health", key=None)
        self.assertEqual((status, body), (200, {"status": "ok"}))
        status, _, body = self.server.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        self.assertEqual(body["object"], "list")
        self.assertEqual(body["data"][0]["id"], "embedded:stories260K")
        _, headers, text = self.server.request("GET", "/metrics")
        self.assertIn("text/plain", headers["Content-Type"])
        for name in ("llcuda_requests_total", "llcuda_time_to_first_token_seconds_bucket",
                     "llcuda_inter_token_latency_seconds_count", "llcuda_queue_depth",
                     "llcuda_active_sequences", "llcuda_kv_cache_slots 4", "llcuda_gpu_memory_held_bytes"):
            self.assertIn(name, text)

    def test_tokenize_and_detokenize_like_llama_server(self):
        status, _, body = self.server.request("POST", "/tokenize", {"content": "Once upon</s>"})
        self.assertEqual(status, 200, body)
        tokens = body["tokens"]
        self.assertEqual(tokens[:2], [403, 407])
        self.assertEqual(tokens[-1], 2)  # parse_special is on by default, as in llama-server
        status, _, body = self.server.request(
            "POST", "/tokenize", {"content": "Once", "add_special": True, "with_pieces": True})
        self.assertEqual(body["tokens"], [{"id": 1, "piece": ""}, {"id": 403, "piece": " Once"}])
        status, _, body = self.server.request("POST", "/detokenize", {"tokens": tokens[:2]})
        self.assertEqual((status, body), (200, {"content": "Once upon"}))
        self.assert_error(400, self.server.request("POST", "/detokenize", {"tokens": [99999]}),
                          "99999")
        self.assert_error(400, self.server.request("POST", "/tokenize", {"content": 3}), "content")

    def test_completion_and_its_stream_agree(self):
        status, _, body = self.complete(max_tokens=24, temperature=0)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["object"], "text_completion")
        text = body["choices"][0]["text"]
        self.assertTrue(text.startswith(", there was a little girl"), text)
        self.assertEqual(body["usage"], {"prompt_tokens": 5, "completion_tokens": 24, "total_tokens": 29})
        events = list(self.server.stream("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 24,
                                                             "temperature": 0}))
        self.assertEqual(events[-1], "[DONE]")
        self.assertEqual("".join(e["choices"][0]["text"] for e in events[:-1]), text)
        self.assertEqual(events[-2]["choices"][0]["finish_reason"], "length")

    def test_chat_completion_uses_the_template(self):
        request = {"messages": [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Tell me a story"}],
                   "max_tokens": 16, "temperature": 0}
        status, _, body = self.server.request("POST", "/v1/chat/completions", request)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["object"], "chat.completion")
        self.assertEqual(body["choices"][0]["message"]["role"], "assistant")
        # The template turned the two messages into one prompt (roles and newlines included).
        self.assertGreater(body["usage"]["prompt_tokens"], 15)
        events = list(self.server.stream("/v1/chat/completions", dict(request, stream_options={"include_usage": True})))
        self.assertEqual(events[0]["choices"][0]["delta"]["role"], "assistant")
        streamed = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-2])
        self.assertEqual(streamed, body["choices"][0]["message"]["content"])
        self.assertEqual(events[-2]["usage"], body["usage"])

    def test_choices_stop_and_seed(self):
        body = {"max_tokens": 20, "temperature": 0.9, "seed": 5, "n": 3}
        status, _, first = self.complete(**body)
        self.assertEqual(status, 200, first)
        self.assertEqual([c["index"] for c in first["choices"]], [0, 1, 2])
        _, _, again = self.complete(**body)
        self.assertEqual([c["text"] for c in first["choices"]], [c["text"] for c in again["choices"]])
        self.assertLessEqual(first["usage"]["completion_tokens"], 60)
        status, _, stopped = self.complete(max_tokens=60, temperature=0, stop=["Lily"])
        self.assertEqual(stopped["choices"][0]["text"], ", there was a little girl named ")
        self.assertEqual(stopped["choices"][0]["finish_reason"], "stop")

    def test_logprobs(self):
        status, _, body = self.complete(max_tokens=10, temperature=0, logprobs=3)
        self.assertEqual(status, 200, body)
        logprobs = body["choices"][0]["logprobs"]
        self.assertEqual(len(logprobs["tokens"]), 10)
        self.assertEqual("".join(logprobs["tokens"]), body["choices"][0]["text"])
        for token, logprob, top in zip(logprobs["tokens"], logprobs["token_logprobs"], logprobs["top_logprobs"]):
            self.assertLessEqual(logprob, 0.0)
            self.assertEqual(len(top), 3)
            # Greedy: the chosen token is the most likely one.
            best = max(top.items(), key=lambda item: item[1])
            self.assertEqual(best[0], token)
            self.assertAlmostEqual(best[1], logprob, places=5)
        self.assertEqual(logprobs["text_offset"][0], 0)
        status, _, chat = self.server.request("POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "temperature": 0,
            "logprobs": True, "top_logprobs": 2})
        self.assertEqual(status, 200, chat)
        content = chat["choices"][0]["logprobs"]["content"]
        self.assertEqual(len(content), 4)
        self.assertEqual(len(content[0]["top_logprobs"]), 2)
        self.assertEqual(bytes(content[0]["bytes"]).decode(), content[0]["token"])
        _, _, plain = self.complete(max_tokens=4, temperature=0)
        self.assertIsNone(plain["choices"][0]["logprobs"])

    def test_bad_requests_get_the_right_status_and_the_server_serves_on(self):
        self.assert_error(400, self.server.request("POST", "/v1/completions", raw="{not json"), "not valid JSON",
                          "invalid_request_error")
        self.assert_error(400, self.complete(max_tokens="ten"), "'max_tokens' must be an integer")
        self.assert_error(400, self.complete(max_tokens=-1), "'max_tokens' must be between 0 and 512")
        self.assert_error(400, self.complete(max_tokens=100000), "'max_tokens' must be between")
        self.assert_error(400, self.complete(temperature="hot"), "'temperature' must be a number")
        self.assert_error(400, self.complete(stop=[1]), "'stop' entries")
        self.assert_error(400, self.complete(logprobs=9), "'logprobs' must be between 0 and 5")
        self.assert_error(400, self.complete(logprobs=2, stream=True), "not available with stream")
        self.assert_error(400, self.server.request("POST", "/v1/chat/completions",
                                                   {"messages": [{"role": "user", "content": "x"}],
                                                    "logprobs": True, "top_logprobs": 21}),
                          "'top_logprobs' must be between 0 and 20")
        self.assert_error(400, self.complete(n=99), "'n' must be between 1 and 8")
        self.assert_error(400, self.server.request("POST", "/v1/completions", {"max_tokens": 3}), "'prompt' is required")
        self.assert_error(400, self.server.request("POST", "/v1/chat/completions", {"messages": []}),
                          "'messages' must be a non-empty list")
        self.assert_error(400, self.server.request("POST", "/v1/chat/completions",
                                                   {"messages": [{"role": "wizard", "content": "x"}]}),
                          "unknown role 'wizard'")
        self.assert_error(400, self.complete(prompt="word " * 3000), "the prompt is")
        self.assert_error(413, self.server.request("POST", "/v1/completions", raw="x" * (10 * 1024 * 1024)),
                          "larger than")
        self.assert_error(401, self.server.request("GET", "/v1/models", key=None), "missing API key",
                          "authentication_error")
        self.assert_error(401, self.server.request("POST", "/v1/completions", {"prompt": "x"}, key="wrong"),
                          "invalid API key")
        self.assert_error(404, self.server.request("GET", "/v1/nothing"), "no route", "not_found_error")

    def test_a_client_that_leaves_stops_its_generation(self):
        connection = socket.create_connection(("127.0.0.1", self.server.port))
        body = '{"prompt": "Once upon a time", "max_tokens": 512, "temperature": 0.8, "stream": true}'
        connection.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())
        received = b""
        while b"data:" not in received:
            received += connection.recv(4096)
        self.assertTrue(wait_until(lambda: self.server.metric("llcuda_active_sequences") == 1, 5))
        connection.close()
        self.assertTrue(wait_until(lambda: self.server.metric("llcuda_active_sequences") == 0, 10),
                        "the generation went on after its client left")
        self.assert_still_serving()


class QueueTest(unittest.TestCase):
    def test_a_full_queue_answers_429_and_recovers(self):
        with Server(LLCUDA, "--parallel", "1", "--max-queue", "1") as server:
            body = {"prompt": "Once upon a time", "max_tokens": 400, "temperature": 0.8}
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                results = list(pool.map(lambda _: server.request("POST", "/v1/completions", body), range(6)))
            statuses = sorted(status for status, _, _ in results)
            self.assertIn(200, statuses)
            self.assertIn(429, statuses)
            busy = next(r for r in results if r[0] == 429)
            self.assertEqual(busy[1].get("Retry-After"), "1")
            self.assertEqual(busy[2]["error"]["type"], "rate_limit_error")
            status, _, _ = server.request("POST", "/v1/completions", dict(body, max_tokens=4))
            self.assertEqual(status, 200)

    def test_stopping_with_requests_in_flight_answers_them_and_exits(self):
        server = Server(LLCUDA, "--parallel", "1")
        body = {"prompt": "Once upon a time", "max_tokens": 400, "temperature": 0.8}
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(server.request, "POST", "/v1/completions", body) for _ in range(3)]
            wait_until(lambda: server.metric("llcuda_active_sequences") == 1, 5)
            server.close()  # SIGTERM; close() fails if the process does not exit within 20 s
            for future in futures:
                try:
                    status, _, _ = future.result(timeout=30)
                    self.assertIn(status, (200, 500, 503))
                except (ConnectionError, OSError):
                    pass  # the connection was closed by the stopping server: also an answer

    def test_binds_loopback_and_reports_a_taken_port(self):
        with Server(LLCUDA, key=None) as server:
            self.assertIn("http://127.0.0.1:", "".join(server.log))
            status, _, _ = server.request("GET", "/v1/models", key=None)
            self.assertEqual(status, 200)  # no key configured: open
            taken = subprocess.run([LLCUDA, "serve", "--port", str(server.port)], capture_output=True,
                                   text=True, timeout=60)
            self.assertEqual(taken.returncode, 1)
            self.assertIn("cannot listen on 127.0.0.1", taken.stderr)


if __name__ == "__main__":
    LLCUDA = sys.argv.pop(1)
    unittest.main(verbosity=2)
