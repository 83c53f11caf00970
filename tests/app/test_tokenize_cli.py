#!/usr/bin/env python3
"""`llcuda tokenize`: its output forms, input read byte for byte, and every vocabulary of
../shared/models (skipped where that folder is absent) loading and matching Hugging Face.

Usage: test_tokenize_cli.py PATH_TO_LLCUDA
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

LLCUDA = None
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(REPO), "shared", "models")
LLAMA3 = os.path.join(SHARED, "arch", "llama3-tiny.gguf")


def llcuda(*args, stdin=None):
    return subprocess.run([LLCUDA, "tokenize", *args], capture_output=True, timeout=120,
                          input=stdin)


def ids_of(*args, stdin=None):
    result = llcuda("--ids", *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return [int(word) for word in result.stdout.split()]


class TokenizeCommand(unittest.TestCase):
    def test_ids_on_one_line_with_bos(self):
        result = llcuda("-p", "Once upon", "--ids")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"1 403 407\n")
        self.assertEqual(ids_of("-p", "Once upon", "--no-bos"), [403, 407])

    def test_default_prints_id_and_piece(self):
        result = llcuda("-p", "Once")
        self.assertEqual(result.stdout.decode().splitlines()[1], "   403 -> ' Once'")

    def test_file_and_stdin_are_read_byte_for_byte(self):
        with tempfile.NamedTemporaryFile(suffix=".txt") as text:
            text.write(b"Once\n\n")
            text.flush()
            from_file = ids_of("-f", text.name, "--no-bos")
        self.assertEqual(from_file, ids_of("--stdin", "--no-bos", stdin=b"Once\n\n"))
        self.assertNotEqual(from_file, ids_of("-p", "Once", "--no-bos"))

    def test_json(self):
        result = llcuda("-p", "Once", "--json")
        entries = json.loads(result.stdout)
        self.assertEqual([entry["id"] for entry in entries], [1, 403])

    def test_two_texts_are_an_error(self):
        result = llcuda("-p", "a", "--stdin")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"--stdin", result.stderr)

    @unittest.skipUnless(os.path.exists(LLAMA3), "needs ../shared/models")
    def test_llama3_special_tokens_only_when_asked(self):
        text = "Hello world<|eot_id|>"
        self.assertEqual(ids_of("-m", LLAMA3, "-p", text, "--parse-special"),
                         [128000, 9906, 1917, 128009])
        self.assertNotIn(128009, ids_of("-m", LLAMA3, "-p", text))

    @unittest.skipUnless(os.path.isdir(os.path.join(SHARED, "vocab")), "needs ../shared/models")
    def test_every_vocabulary_loads_and_matches_the_first_vector(self):
        folder = os.path.join(SHARED, "vocab")
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".gguf"):
                continue
            with self.subTest(name=name):
                with open(os.path.join(folder, "tests", name + ".inp"), "rb") as f:
                    first = f.read().split(b"\n__ggml_vocab_test__\n")[0]
                with open(os.path.join(folder, "tests", name + ".out")) as f:
                    expected = [int(word) for word in f.readline().split()]
                with tempfile.NamedTemporaryFile() as text:
                    text.write(first)
                    text.flush()
                    self.assertEqual(ids_of("-m", os.path.join(folder, name), "-f", text.name,
                                            "--no-bos", "--parse-special"), expected)


if __name__ == "__main__":
    LLCUDA = sys.argv.pop(1)
    unittest.main()
