#!/usr/bin/env python3
"""`llcuda pull`, `models` and `-m NAME` against fake_hub.py on loopback.

Usage: test_pull.py PATH_TO_LLCUDA
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

LLCUDA = None
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(os.path.dirname(os.path.dirname(HERE)), "models", "stories260K.gguf")
MODEL_SHA = hashlib.sha256(open(MODEL, "rb").read()).hexdigest()


class PullTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_hub.py"), MODEL],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        cls.endpoint = f"http://127.0.0.1:{cls.server.stdout.readline().strip()}"

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.server.wait()

    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="llcuda-pull-")
        self.store = os.path.join(self.directory, "store")
        self.env = dict(os.environ, HF_ENDPOINT=self.endpoint, LLCUDA_STORE=self.store,
                        HF_HUB_CACHE=os.path.join(self.directory, "hf-cache"))
        self.env.pop("HF_TOKEN", None)

    def tearDown(self):
        shutil.rmtree(self.directory, ignore_errors=True)

    def llcuda(self, *args, env=None):
        return subprocess.run([LLCUDA, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                              env=env or self.env)

    def stats(self):
        with urllib.request.urlopen(self.endpoint + "/_stats") as response:
            return json.load(response)

    def blobs(self):
        return sorted(os.listdir(os.path.join(self.store, "blobs")))

    def assert_fails(self, result, fragment):
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(fragment, result.stderr)

    def test_full_download_then_use_by_name(self):
        result = self.llcuda("pull", "org/model", "stories260K.gguf")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("downloaded", result.stdout)
        self.assertIn(MODEL_SHA, result.stdout)
        self.assertIn("%", result.stderr)  # progress lines when not on a terminal
        self.assertEqual(self.blobs(), ["sha256-" + MODEL_SHA])
        run = self.llcuda("run", "-m", "org/model/stories260K.gguf", "-n", "8", "--temp", "0")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertTrue(run.stdout.startswith("Once upon a time"))
        inspect = self.llcuda("inspect", "--json", "org/model/stories260K.gguf")
        self.assertEqual(inspect.returncode, 0, inspect.stderr)
        self.assertEqual(json.loads(inspect.stdout)["file"], os.path.join(self.store, "blobs", "sha256-" + MODEL_SHA))
        gets = self.stats()["cdn_gets"]
        again = self.llcuda("pull", "org/model", "stories260K.gguf")
        self.assertIn("already in the store", again.stdout)
        self.assertEqual(self.stats()["cdn_gets"], gets)

    def test_quant_tag_picks_the_file_and_dedups(self):
        self.assertEqual(self.llcuda("pull", "-q", "org/model", "stories260K.gguf").returncode, 0)
        result = self.llcuda("pull", "org/model:Q4_K_M")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("org/model/model-Q4_K_M.gguf", result.stdout)
        self.assertEqual(len(self.blobs()), 1)  # same bytes, one blob
        listing = json.loads(self.llcuda("models", "--json").stdout)
        self.assertEqual(sorted(entry["name"] for entry in listing),
                         ["org/model/model-Q4_K_M.gguf", "org/model/stories260K.gguf", "org/model:Q4_K_M"])
        self.assertEqual(self.llcuda("run", "-m", "org/model:Q4_K_M", "-n", "2").returncode, 0)
        ambiguous = self.llcuda("pull", "org/model:Q4_K")
        self.assert_fails(ambiguous, "no GGUF file tagged Q4_K")
        self.assertIn("model-Q4_K_S.gguf", ambiguous.stderr)

    def test_bytes_the_store_has_are_not_downloaded_again(self):
        self.assertEqual(self.llcuda("pull", "-q", "org/model", "stories260K.gguf").returncode, 0)
        gets = self.stats()["cdn_gets"]
        result = self.llcuda("pull", "org/model", "model-Q4_K_M.gguf")  # the same bytes
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("already in the store under another name", result.stdout)
        self.assertEqual(self.stats()["cdn_gets"], gets)
        self.assertEqual(len(self.blobs()), 1)

    def test_no_network_is_an_error_not_an_internal_one(self):
        env = dict(self.env, HF_ENDPOINT="http://127.0.0.1:9")  # nothing listens on port 9
        result = self.llcuda("pull", "--retries", "1", "org/model", "stories260K.gguf", env=env)
        self.assert_fails(result, "network: ")
        self.assertNotIn("internal error", result.stderr)

    def test_resume_after_a_cut_connection(self):
        result = self.llcuda("pull", "flaky/model", "model-Q8_0.gguf")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("retrying", result.stderr)
        self.assertTrue(any(r.startswith("bytes=") and r != "bytes=0-" for r in self.stats()["ranges"]))
        self.assertEqual(self.blobs(), ["sha256-" + MODEL_SHA])

    def test_resume_in_a_later_process(self):
        first = self.llcuda("pull", "--retries", "1", "flaky/second", "stories260K.gguf")
        self.assert_fails(first, "the next pull resumes it")
        partial = os.listdir(os.path.join(self.store, "partial"))
        self.assertEqual(len(partial), 1)
        self.assertGreater(os.path.getsize(os.path.join(self.store, "partial", partial[0])), 0)
        second = self.llcuda("pull", "flaky/second", "stories260K.gguf")
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn("resumed", second.stdout)
        self.assertEqual(os.listdir(os.path.join(self.store, "partial")), [])

    def test_not_found_and_unauthorized(self):
        self.assert_fails(self.llcuda("pull", "org/missing", "stories260K.gguf"), "not found (404)")
        self.assert_fails(self.llcuda("pull", "org/model", "nope.gguf"), "not found (404)")
        self.assert_fails(self.llcuda("pull", "private/model", "stories260K.gguf"), "HF_TOKEN")
        with_token = self.llcuda("pull", "private/model", "stories260K.gguf", env=dict(self.env, HF_TOKEN="secret"))
        self.assertEqual(with_token.returncode, 0, with_token.stderr)

    def test_corrupt_body_is_not_stored(self):
        result = self.llcuda("pull", "corrupt/model", "stories260K.gguf")
        self.assert_fails(result, "was not stored")
        self.assertEqual(self.blobs(), [])
        self.assertEqual(os.listdir(os.path.join(self.store, "manifests")), [])
        self.assertEqual(os.listdir(os.path.join(self.store, "partial")), [])

    def test_concurrent_pulls_of_one_file(self):
        command = [LLCUDA, "pull", "-q", "slow/model", "stories260K.gguf"]
        processes = [subprocess.Popen(command, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(2)]
        outputs = [process.communicate(timeout=120) for process in processes]
        for process, (out, err) in zip(processes, outputs):
            self.assertEqual(process.returncode, 0, err)
        how = sorted("downloaded" if "downloaded" in out else "already" for out, _ in outputs)
        self.assertEqual(how, ["already", "downloaded"])
        self.assertEqual(self.blobs(), ["sha256-" + MODEL_SHA])

    def test_hugging_face_cache_is_reused_in_place(self):
        repo = os.path.join(self.env["HF_HUB_CACHE"], "models--org--cached")
        os.makedirs(os.path.join(repo, "blobs"))
        os.makedirs(os.path.join(repo, "refs"))
        os.makedirs(os.path.join(repo, "snapshots", "abc123"))
        shutil.copy(MODEL, os.path.join(repo, "blobs", MODEL_SHA))
        with open(os.path.join(repo, "refs", "main"), "w") as ref:
            ref.write("abc123")
        os.symlink(os.path.join("..", "..", "blobs", MODEL_SHA), os.path.join(repo, "snapshots", "abc123", "m.gguf"))
        requests = len(self.stats()["requests"])
        result = self.llcuda("pull", "org/cached", "m.gguf")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("reused from the Hugging Face cache", result.stdout)
        self.assertEqual(len(self.stats()["requests"]), requests + 1)  # only our own /_stats call
        self.assertEqual(self.blobs(), [])
        self.assertEqual(self.llcuda("run", "-m", "org/cached/m.gguf", "-n", "2").returncode, 0)

    def test_full_disk(self):
        mount_point = os.path.join(self.directory, "tiny")
        os.makedirs(mount_point)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", mount_point], stdin=subprocess.DEVNULL,
                                 capture_output=True).returncode == 0
        if not mounted:
            self.skipTest("cannot mount a tmpfs here (needs root)")
        try:
            env = dict(self.env, LLCUDA_STORE=mount_point)
            self.assert_fails(self.llcuda("pull", "org/model", "stories260K.gguf", env=env), "not enough disk space")
            # Without a size from the hub, the write itself runs out of space.
            result = self.llcuda("pull", "nosize/model", "stories260K.gguf", env=env)
            self.assert_fails(result, "No space left on device")
            self.assertEqual(os.listdir(os.path.join(mount_point, "blobs")), [])
        finally:
            subprocess.run(["umount", mount_point], stdin=subprocess.DEVNULL)

    def test_models_verify_rm_gc(self):
        self.assertEqual(self.llcuda("pull", "-q", "org/model", "stories260K.gguf").returncode, 0)
        listing = self.llcuda("models")
        self.assertIn("org/model/stories260K.gguf", listing.stdout)
        self.assertIn("F32", listing.stdout)
        self.assertIn("llama", listing.stdout)
        self.assertIn("all 1 model(s) verified", self.llcuda("models", "verify").stdout)
        blob = os.path.join(self.store, "blobs", "sha256-" + MODEL_SHA)
        os.chmod(blob, 0o644)
        with open(blob, "r+b") as damaged:
            damaged.seek(1000)
            damaged.write(b"\xff\xff")
        verify = self.llcuda("models", "verify")
        self.assert_fails(verify, "failed verification")
        self.assertIn("CORRUPT org/model/stories260K.gguf: SHA-256", verify.stdout)
        self.assertEqual(self.llcuda("models", "rm", "org/model/stories260K.gguf").returncode, 0)
        self.assert_fails(self.llcuda("models", "rm", "org/model/stories260K.gguf"), "no model named")
        self.assertIn("removed 1 unused blob(s)", self.llcuda("models", "gc").stdout)
        self.assertEqual(self.blobs(), [])
        self.assert_fails(self.llcuda("run", "-m", "org/model/stories260K.gguf"), "llcuda pull")


if __name__ == "__main__":
    LLCUDA = sys.argv.pop(1)
    unittest.main(verbosity=2)
