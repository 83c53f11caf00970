#!/usr/bin/env python3
"""POST /v1/embeddings on the embedded stories260K model (mean pooling): OpenAI's request and
response shapes over http.client, unit-length vectors, a list of inputs equal to each input
alone, token ids equal to their text, base64 equal to the floats, every bad field a 400 naming it.

Usage: test_embeddings.py PATH_TO_LLCUDA
"""
import base64
import math
import struct
import sys
import threading
import unittest

from server_harness import Server

LLCUDA = sys.argv.pop(1) if __name__ == "__main__" else None


class EmbeddingsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(LLCUDA, "-c", "128")

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def embed(self, **body):
        status, _, reply = self.server.request("POST", "/v1/embeddings", dict({"model": "m"}, **body))
        self.assertEqual(status, 200, reply)
        return reply

    def vectors(self, **body):
        return [item["embedding"] for item in self.embed(**body)["data"]]

    def assert_refused(self, param, fragment, **body):
        status, _, reply = self.server.request("POST", "/v1/embeddings", body)
        self.assertEqual(status, 400, reply)
        self.assertEqual(reply["error"]["param"], param, reply)
        self.assertIn(fragment, reply["error"]["message"])

    def tokens(self, text):
        status, _, reply = self.server.request(
            "POST", "/tokenize", {"content": text, "add_special": True, "parse_special": False})
        self.assertEqual(status, 200, reply)
        return reply["tokens"]

    def test_one_input_is_a_unit_vector_with_its_token_count(self):
        reply = self.embed(input="Once upon a time")
        self.assertEqual(reply["object"], "list")
        _, _, models = self.server.request("GET", "/v1/models")
        self.assertEqual(reply["model"], models["data"][0]["id"])  # the served model, as chat's
        [item] = reply["data"]
        self.assertEqual((item["object"], item["index"]), ("embedding", 0))
        self.assertEqual(len(item["embedding"]), 64)  # stories260K's embedding_dim
        self.assertAlmostEqual(math.sqrt(sum(v * v for v in item["embedding"])), 1.0, places=5)
        count = len(self.tokens("Once upon a time"))
        self.assertEqual(reply["usage"], {"prompt_tokens": count, "total_tokens": count})

    def test_a_list_of_inputs_equals_each_input_alone(self):
        texts = ["Once upon a time", "The cat sat on the mat.", "Lily liked to play."]
        together = self.embed(input=texts)
        self.assertEqual([item["index"] for item in together["data"]], [0, 1, 2])
        self.assertEqual([item["embedding"] for item in together["data"]],
                         [self.vectors(input=text)[0] for text in texts])
        self.assertEqual(together["usage"]["prompt_tokens"], sum(len(self.tokens(t)) for t in texts))
        self.assertNotEqual(together["data"][0]["embedding"], together["data"][1]["embedding"])

    def test_token_ids_equal_their_text(self):
        ids = self.tokens("The cat sat on the mat.")
        text = self.vectors(input="The cat sat on the mat.")
        self.assertEqual(self.vectors(input=ids), text)
        self.assertEqual(self.vectors(input=[ids, ids[:3]]), text + self.vectors(input=ids[:3]))

    def test_base64_is_the_little_endian_floats(self):
        floats = self.vectors(input="A big dog.")[0]
        encoded = self.vectors(input="A big dog.", encoding_format="base64")[0]
        decoded = struct.unpack(f"<{len(floats)}f", base64.b64decode(encoded))
        self.assertEqual(list(decoded), floats)
        self.assertEqual(self.vectors(input="A big dog.", encoding_format="float")[0], floats)

    def test_dimensions_only_the_models_own(self):
        self.assertEqual(len(self.vectors(input="Hi", dimensions=64)[0]), 64)
        self.assert_refused("dimensions", "not supported", input="Hi", dimensions=32)

    def test_bad_requests_name_the_field(self):
        self.assert_refused("temperature", "unknown", input="Hi", temperature=0)
        self.assert_refused("input", "required", model="m")
        self.assert_refused("input", "empty string", input="")
        self.assert_refused("input", "must be a string", input=[])
        self.assert_refused("input", "must be a string", input=3)
        self.assert_refused("input[1]", "all strings", input=["a", [1, 2]])
        self.assert_refused("input[1]", "empty string", input=["a", ""])
        self.assert_refused("input[0][1]", "non-negative", input=[[1, -2]])
        self.assert_refused("input", "not in the vocabulary", input=[1, 99999])
        self.assert_refused("input[1]", "--ctx-size", input=[[1], [5] * 129])
        self.assert_refused("encoding_format", "base64", input="Hi", encoding_format="int8")
        self.assert_refused("model", "string", input="Hi", model=5)
        self.assertEqual(len(self.vectors(input="Hi", user="someone")), 1)

    def test_embeddings_wait_for_a_running_generation_and_both_finish(self):
        results = {}

        def generate():
            results["completion"] = self.server.request(
                "POST", "/v1/completions", {"prompt": "Once", "max_tokens": 60, "temperature": 0})

        thread = threading.Thread(target=generate)
        thread.start()
        alone = self.vectors(input="Once upon a time")
        thread.join(60)
        self.assertEqual(results["completion"][0], 200, results["completion"])
        self.assertEqual(self.vectors(input="Once upon a time"), alone)


if __name__ == "__main__":
    unittest.main(verbosity=2)
