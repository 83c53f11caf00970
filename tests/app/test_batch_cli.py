#!/usr/bin/env python3
"""`llcuda batch` end to end on stories260K: JSONL edge cases, output order, resume after a
kill, and the same batch under `mpirun -np 2` giving the single-process output.

Usage: test_batch_cli.py PATH_TO_LLCUDA
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

LLCUDA = None


def llcuda(*args, timeout=300):
    return subprocess.run([LLCUDA, *args], capture_output=True, text=True, timeout=timeout)


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def text(path):
    with open(path) as f:
        return f.read()


def line_count(path):
    with open(path) as f:
        return sum(1 for _ in f)


def read_records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def prompts(count, max_tokens=24):
    starts = ["Once upon a time", "Lily went to", "The sun was", "A big dog", "Tom and Sue"]
    return [json.dumps({"id": f"p{i}", "prompt": f"{starts[i % 5]} {i}",
                        "max_tokens": max_tokens + (i * 7) % 17,
                        "temperature": 0 if i % 2 else 0.8, "seed": i})
            for i in range(count)]


class BatchCommand(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_bad_lines_are_recorded_and_the_rest_runs_in_input_order(self):
        write_lines(self.path("in.jsonl"), [
            '{"id": "a", "prompt": "Once upon a time", "max_tokens": 12, "temperature": 0}',
            '{"id": 7, "prompt": "Lily", "max_tokens": 9}',
            "",
            "not json",
            '{"id": "a", "prompt": "again"}',
            '{"id": "neg", "prompt": "x", "max_tokens": -3}',
            '{"id": "wrongtype", "prompt": 42}',
            '{"id": "typo", "prompt": "x", "max_token": 3}',
            '{"id": "noprompt"}',
            '[1, 2]',
            '{"prompt": "The dog", "max_tokens": 6, "stop": "."}',
            '{"id": "long", "prompt": "' + "x " * 60 + '", "max_tokens": 5}',
        ])
        result = llcuda("batch", "-i", self.path("in.jsonl"), "-o", self.path("out.jsonl"),
                        "-c", "48", "--summary", self.path("summary.json"))
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("8 of 11 items did not succeed", result.stderr)
        records = read_records(self.path("out.jsonl"))
        self.assertEqual([r["id"] for r in records],
                         ["a", 7, "line-4", "a", "neg", "wrongtype", "typo", "noprompt", "line-10",
                          "line-11", "long"])
        self.assertEqual([r["status"] for r in records],
                         ["ok", "ok"] + ["invalid"] * 7 + ["ok", "error"])
        self.assertIn("not valid JSON", records[2]["error"])
        self.assertIn("already appeared on line 1", records[3]["error"])
        self.assertIn("must not be negative", records[4]["error"])
        self.assertIn('"prompt" must be a string', records[5]["error"])
        self.assertIn('unknown field "max_token"', records[6]["error"])
        self.assertIn('"prompt" is missing', records[7]["error"])
        self.assertIn("not a JSON object", records[8]["error"])
        self.assertIn("--ctx-size", records[10]["error"])
        self.assertEqual(records[0]["completion_tokens"], 12)
        self.assertTrue(records[0]["text"].startswith(", there was a little girl"))
        summary = json.loads(text(self.path("summary.json")))
        self.assertEqual((summary["succeeded"], summary["failed"], summary["invalid"]), (3, 1, 7))
        self.assertFalse(os.path.exists(self.path("out.jsonl.partial")))

    def test_empty_input_gives_empty_output(self):
        write_lines(self.path("in.jsonl"), [""])
        result = llcuda("batch", "-i", self.path("in.jsonl"), "-o", self.path("out.jsonl"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(text(self.path("out.jsonl")), "")
        self.assertIn("0 items", result.stderr)

    def test_missing_input_and_same_file_are_clear_errors(self):
        result = llcuda("batch", "-i", self.path("nope.jsonl"), "-o", self.path("out.jsonl"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot read", result.stderr)
        write_lines(self.path("in.jsonl"), prompts(1))
        result = llcuda("batch", "-i", self.path("in.jsonl"), "-o", self.path("in.jsonl"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("another file than the input", result.stderr)

    def test_an_output_directory_is_refused_before_anything_runs(self):
        write_lines(self.path("in.jsonl"), prompts(2))
        os.mkdir(self.path("out"))
        result = llcuda("batch", "-i", self.path("in.jsonl"), "-o", self.path("out"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("is a directory; name the output file", result.stderr)
        self.assertNotIn("p0", result.stdout + result.stderr)

    def test_a_duplicate_id_does_not_make_reruns_redo_its_first_item(self):
        lines = prompts(2) + [prompts(1)[0]]  # p0 twice: the second is invalid
        write_lines(self.path("in.jsonl"), lines)
        first = llcuda("batch", "-i", self.path("in.jsonl"), "-o", self.path("out.jsonl"), "-q")
        self.assertEqual(first.returncode, 1)  # the duplicate did not succeed
        statuses = [record["status"] for record in read_records(self.path("out.jsonl"))]
        self.assertEqual(statuses, ["ok", "ok", "invalid"])
        rerun = llcuda("batch", "-i", self.path("in.jsonl"), "-o", self.path("out.jsonl"),
                       "--summary", self.path("summary.json"), "-q")
        self.assertEqual(rerun.returncode, 1)
        with open(self.path("summary.json")) as f:
            summary = json.load(f)
        self.assertEqual(read_records(self.path("out.jsonl"))[0]["status"], "ok")
        self.assertEqual(summary["skipped_already_done"], 2)

    def test_parallel_sequences_give_the_same_results_as_one_at_a_time(self):
        write_lines(self.path("in.jsonl"), prompts(30))
        one = llcuda("batch", "-i", self.path("in.jsonl"), "-o", self.path("one.jsonl"),
                     "--parallel", "1", "-q")
        many = llcuda("batch", "-i", self.path("in.jsonl"), "-o", self.path("many.jsonl"),
                      "--parallel", "7", "-b", "5", "-q")
        self.assertEqual(one.returncode, 0, one.stderr)
        self.assertEqual(many.returncode, 0, many.stderr)
        self.assertEqual(text(self.path("one.jsonl")), text(self.path("many.jsonl")))

    def test_a_killed_run_resumes_without_losing_or_redoing_finished_items(self):
        write_lines(self.path("in.jsonl"), prompts(250, max_tokens=100))
        reference = llcuda("batch", "-i", self.path("in.jsonl"), "-o", self.path("ref.jsonl"),
                           "-q", "-t", "1", "--parallel", "2")
        self.assertEqual(reference.returncode, 0, reference.stderr)

        out = self.path("out.jsonl")
        journal = out + ".partial"
        process = subprocess.Popen([LLCUDA, "batch", "-i", self.path("in.jsonl"), "-o", out, "-q",
                                    "-t", "1", "--parallel", "2"])
        deadline = time.time() + 120
        while time.time() < deadline:
            if os.path.exists(journal) and line_count(journal) >= 20:
                break
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait()
        finished = line_count(journal)
        self.assertGreaterEqual(finished, 20)
        self.assertLess(finished, 250, "the run ended before it could be killed")
        self.assertFalse(os.path.exists(out))
        with open(journal, "a") as f:
            f.write('{"id": "p249", "status": "ok", "te')  # a line torn by the kill

        resumed = llcuda("batch", "-i", self.path("in.jsonl"), "-o", out, "-t", "1",
                         "--parallel", "2", "--summary", self.path("summary.json"))
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        summary = json.loads(text(self.path("summary.json")))
        self.assertGreaterEqual(summary["skipped_already_done"], finished - 1)
        self.assertEqual(summary["skipped_already_done"] + summary["succeeded"], 250)
        self.assertEqual(text(out), text(self.path("ref.jsonl")))
        self.assertFalse(os.path.exists(journal))

        # Once everything is done, a rerun does nothing and rewrites the same output.
        again = llcuda("batch", "-i", self.path("in.jsonl"), "-o", out, "--summary",
                       self.path("summary.json"))
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(json.loads(text(self.path("summary.json")))["skipped_already_done"], 250)
        self.assertEqual(text(out), text(self.path("ref.jsonl")))

    def test_mpirun_with_two_ranks_gives_the_single_process_output(self):
        mpirun = shutil.which("mpirun")
        if mpirun is None:
            self.skipTest("mpirun is not installed (scripts/install-deps.sh installs it)")
        write_lines(self.path("in.jsonl"), prompts(60) + ["bad line"])
        single = llcuda("batch", "-i", self.path("in.jsonl"), "-o", self.path("single.jsonl"),
                        "-q", "-t", "1")
        self.assertEqual(single.returncode, 1, single.stderr)
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   OMPI_MCA_rmaps_base_oversubscribe="1",
                   # OpenMPI keeps some allocations until exit; in the sanitizer build they
                   # are not llcuda's leaks.
                   ASAN_OPTIONS="detect_leaks=0")
        merged = subprocess.run(
            [mpirun, "-np", "2", "--oversubscribe", LLCUDA, "batch", "-i", self.path("in.jsonl"),
             "-o", self.path("mpi.jsonl"), "-t", "1", "--summary", self.path("summary.json")],
            capture_output=True, text=True, timeout=300, env=env)
        self.assertIn("1 of 61 items did not succeed", merged.stderr)
        self.assertEqual(text(self.path("mpi.jsonl")),
                         text(self.path("single.jsonl")))
        summary = json.loads(text(self.path("summary.json")))
        ranks = summary["ranks"]
        self.assertEqual([r["rank"] for r in ranks], [0, 1])
        self.assertEqual(sum(r["items"] for r in ranks), 60)
        self.assertEqual(summary["succeeded"], 60)


if __name__ == "__main__":
    LLCUDA = sys.argv.pop(1)
    unittest.main(verbosity=2)
