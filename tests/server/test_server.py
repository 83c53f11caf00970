#!/usr/bin/env python3
"""`llcuda serve` over real HTTP on loopback: the endpoints, streaming, auth, limits, bad
requests (each with its status and an OpenAI error object, the server serving on), the queue's
429 and cancellation when a client leaves.

Usage: test_server.py PATH_TO_LLCUDA
"""
import concurrent.futures
import json
import re
import socket
import subprocess
import sys
import time
import unittest

from server_harness import KEY, Server, split_responses, wait_until


def counts(usage):
    """A usage object's token counts, without prompt_tokens_details (the prefix cache's share
    depends on what ran before)."""
    return {key: value for key, value in usage.items() if key != "prompt_tokens_details"}


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

    def test_one_model_by_id_and_an_unknown_id_is_a_404(self):
        status, _, body = self.server.request("GET", "/v1/models/embedded:stories260K")
        self.assertEqual((status, body["id"], body["object"]), (200, "embedded:stories260K", "model"))
        self.assert_error(404, self.server.request("GET", "/v1/models/gpt-4o"), "'gpt-4o' does not exist",
                          "not_found_error")

    def test_a_prompt_of_token_ids_is_the_same_as_its_text(self):
        status, _, tokens = self.server.request("POST", "/tokenize", {"content": "Once upon a time",
                                                                      "add_special": True})
        self.assertEqual(status, 200, tokens)
        text = self.complete(max_tokens=8, temperature=0)[2]
        for prompt in (tokens["tokens"], [tokens["tokens"]]):
            status, _, ids = self.complete(prompt=prompt, max_tokens=8, temperature=0)
            self.assertEqual(status, 200, ids)
            self.assertEqual(ids["choices"][0]["text"], text["choices"][0]["text"])
            self.assertEqual(counts(ids["usage"]), counts(text["usage"]))
        self.assert_error(400, self.complete(prompt=[1, 99999]), "token id 99999 is not in the vocabulary")
        self.assert_error(400, self.complete(prompt=[1, "x"]), "token ids must be")
        self.assert_error(400, self.complete(logit_bias={"1": 5}), "'logit_bias' is unknown or not supported")
        self.assertEqual(self.complete(max_tokens=2, user="u", store=False, metadata={})[0], 200)

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
        self.assertEqual(counts(body["usage"]), {"prompt_tokens": 5, "completion_tokens": 24, "total_tokens": 29})
        self.assertLess(body["usage"]["prompt_tokens_details"]["cached_tokens"], 5)
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
        self.assertEqual(counts(events[-2]["usage"]), counts(body["usage"]))
        # The same prompt again: all but its last token were in the KV cache.
        self.assertEqual(events[-2]["usage"]["prompt_tokens_details"]["cached_tokens"],
                         body["usage"]["prompt_tokens"] - 1)

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

    def post_bytes(self, length, body=b""):
        return (f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode() + body

    def test_bad_framing_is_answered_at_once_and_pipelined_requests_in_order(self):
        cases = [("-5", 400, "the Content-Length header '-5' is not a byte count"),
                 ("9" * 20, 400, "is not a byte count"), ("12abc", 400, "is not a byte count"),
                 ("0x10", 400, "is not a byte count"),
                 ("1" * 20, 413, "the request body is 11111111111111111111 bytes")]
        for length, expected, message in cases:
            started = time.time()
            responses = split_responses(self.server.raw(self.post_bytes(length), timeout=10, responses=1))
            self.assertLess(time.time() - started, 5, length)
            self.assertEqual(len(responses), 1, length)
            status, body = responses[0]
            self.assertEqual(status, expected, body)
            self.assertIn(message, json.loads(body)["error"]["message"])
        # Two requests in one write: both answered, in order.
        first, second = (json.dumps({"prompt": "Once upon a time", "max_tokens": n, "temperature": 0}).encode()
                         for n in (2, 5))
        data = self.post_bytes(len(first), first) + self.post_bytes(len(second), second)
        responses = split_responses(self.server.raw(data, timeout=30, responses=2))
        self.assertEqual([status for status, _ in responses], [200, 200], responses)
        self.assertEqual([json.loads(body)["usage"]["completion_tokens"] for _, body in responses], [2, 5])
        self.assert_still_serving()

    def test_metrics_labels_are_escaped_and_unknown_paths_are_one_series(self):
        self.server.raw(b'GET /q"uote\\back HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ' + KEY.encode() +
                        b"\r\nConnection: close\r\n\r\n")
        for i in range(3000):  # found and not, with the key and without
            self.server.request("GET", f"/unknown/{i}", key="wrong" if i % 2 else "default")
        _, _, text = self.server.request("GET", "/metrics")
        series = [line for line in text.splitlines() if line.startswith("llcuda_requests_total{")]
        label = re.compile(r'^llcuda_requests_total\{endpoint="((?:[^"\\\n]|\\["\\n])*)",status="\d{3}"\} \d+$')
        for line in series:
            self.assertRegex(line, label)
        endpoints = {label.match(line).group(1) for line in series}
        self.assertIn("other", endpoints)
        self.assertFalse([e for e in endpoints if "unknown" in e or "uote" in e], endpoints)
        self.assertLess(len(series), 40, series)
        self.assertLess(len(text), 20000)

    def test_a_json_body_is_accepted_whatever_its_content_type(self):
        # Over the 8 KB that httplib allows a form body, which it refused with a false 413.
        body = json.dumps({"prompt": "Once upon a time", "max_tokens": 3, "temperature": 0}) + " " * 9000
        for content_type in ("application/x-www-form-urlencoded", "text/plain", ""):
            status, _, answer = self.server.request("POST", "/v1/completions", raw=body, content_type=content_type)
            self.assertEqual(status, 200, (content_type, answer))
            self.assertEqual(answer["usage"]["completion_tokens"], 3)
        self.assert_error(400, self.server.request("POST", "/v1/completions", raw="prompt=hello&max_tokens=3",
                                                   content_type="application/x-www-form-urlencoded"),
                          "sent as Content-Type: application/x-www-form-urlencoded")

    def test_the_bearer_scheme_is_case_insensitive_and_a_malformed_header_is_named(self):
        for header in (f"bearer {KEY}", f"BEARER  {KEY}"):
            status, _, body = self.server.request("GET", "/v1/models", authorization=header)
            self.assertEqual(status, 200, (header, body))
        for header in (KEY, f"Basic {KEY}", "Bearer", f"Bearer{KEY}"):
            self.assert_error(401, self.server.request("GET", "/v1/models", authorization=header),
                              "malformed Authorization header: expected 'Bearer KEY'")
        self.assert_error(401, self.server.request("GET", "/v1/models", authorization="Bearer nope"), "invalid API key")

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


class SlowClientTest(unittest.TestCase):
    def test_a_body_shorter_than_its_length_is_answered_after_the_read_timeout(self):
        with Server(LLCUDA, "--read-timeout", "1") as server:
            request = (f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                       'Content-Length: 100\r\n\r\n{"prompt": ').encode()
            started = time.time()
            responses = split_responses(server.raw(request, timeout=15, responses=1))
            self.assertLess(time.time() - started, 8)
            self.assertEqual(len(responses), 1)
            status, body = responses[0]
            self.assertIn(status, (400, 408), body)
            self.assertIn("shorter than its Content-Length", json.loads(body)["error"]["message"])
            status, _, _ = server.request("GET", "/v1/models")
            self.assertEqual(status, 200)


# Long generations (4000 tokens of stories260K take seconds), so that there is time to leave.
LONG = ("--parallel", "2", "-c", "4096", "--max-tokens-limit", "4000")
LONG_BODY = {"prompt": "Once upon a time", "max_tokens": 4000, "temperature": 0.8}


class CancellationTest(unittest.TestCase):
    def test_clients_that_leave_stop_their_generation_and_its_tokens_are_counted(self):
        with Server(LLCUDA, *LONG) as server:
            for stream in (False, True):
                before = server.metric("llcuda_generated_tokens_total")
                connection = socket.create_connection(("127.0.0.1", server.port))
                body = json.dumps(dict(LONG_BODY, stream=stream))
                connection.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                                    f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
                self.assertTrue(wait_until(lambda: server.metric("llcuda_active_sequences") == 1, 5))
                time.sleep(0.3)
                connection.close()
                self.assertTrue(wait_until(lambda: server.metric("llcuda_active_sequences") == 0, 3),
                                f"stream={stream}: the generation went on after its client left")
                generated = server.metric("llcuda_generated_tokens_total") - before
                self.assertGreater(generated, 0, f"stream={stream}: the cancelled tokens were not counted")
                self.assertLess(generated, 4000)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_ends_what_the_grace_does_not_cover_with_an_error_never_a_stop(self):
        server = Server(LLCUDA, *LONG, "--shutdown-grace", "1")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            streamed = pool.submit(lambda: list(server.stream("/v1/completions", LONG_BODY)))
            whole = pool.submit(server.request, "POST", "/v1/completions", LONG_BODY)
            self.assertTrue(wait_until(lambda: server.metric("llcuda_active_sequences") == 2, 5))
            started = time.time()
            server.process.terminate()
            time.sleep(0.2)
            status, _, body = server.request("POST", "/v1/completions", dict(LONG_BODY, max_tokens=3))
            self.assertEqual(status, 503, body)  # refused while draining
            status, _, body = whole.result(timeout=30)
            self.assertEqual(status, 503, body)
            self.assertIn("--shutdown-grace", body["error"]["message"])
            events = streamed.result(timeout=30)
            errors = [e for e in events if isinstance(e, dict) and "error" in e]
            self.assertEqual(len(errors), 1, events[-3:])
            self.assertIn("shutting down", errors[0]["error"]["message"])
            reasons = [c.get("finish_reason") for e in events if isinstance(e, dict) for c in e.get("choices", [])]
            self.assertEqual([r for r in reasons if r], [])
        server.process.wait(15)
        self.assertGreaterEqual(time.time() - started, 1.0)  # the grace was given
        server.close()

    def test_sigterm_lets_a_generation_within_the_grace_finish(self):
        server = Server(LLCUDA, *LONG, "--shutdown-grace", "30")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            whole = pool.submit(server.request, "POST", "/v1/completions", dict(LONG_BODY, max_tokens=600))
            self.assertTrue(wait_until(lambda: server.metric("llcuda_active_sequences") == 1, 5))
            server.process.terminate()
            status, _, body = whole.result(timeout=30)
            self.assertEqual(status, 200, body)
            self.assertEqual(body["usage"]["completion_tokens"], 600)
        server.process.wait(15)
        server.close()

    def test_a_template_that_never_ends_is_refused_and_sigterm_still_stops_the_server(self):
        endless = "{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}"
        server = Server(LLCUDA, template=endless)
        started = time.time()
        status, _, body = server.request("POST", "/v1/chat/completions",
                                         {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3},
                                         timeout=30)
        self.assertLess(time.time() - started, 10)
        self.assertEqual(status, 400, body)
        self.assertIn("steps", body["error"]["message"])
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for _ in range(4):
                pool.submit(server.request, "POST", "/v1/chat/completions",
                            {"messages": [{"role": "user", "content": "hi"}]}, timeout=30)
            time.sleep(0.3)
            started = time.time()
            server.close()  # fails if the process does not exit within 20 s
        self.assertLess(time.time() - started, 15)


class TemplateTest(unittest.TestCase):
    def test_a_template_that_fails_to_parse_is_named_at_startup(self):
        with Server(LLCUDA, template="hello {% if %}") as server:
            log = "".join(server.log)
            self.assertNotIn("no chat template", log)
            self.assertIn("chat completions refused: ", log)
            self.assertIn("line 1", log)
            status, _, body = server.request("POST", "/v1/chat/completions",
                                             {"messages": [{"role": "user", "content": "hi"}]})
            self.assertEqual(status, 400, body)
            self.assertIn("line 1", body["error"]["message"])


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
