#!/usr/bin/env python3
"""End-to-end checks of the llcuda binary: the main job, and clear errors for bad input.

Usage: test_cli.py PATH_TO_LLCUDA
"""
import csv as csv_module
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

LLCUDA = None
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(REPO, "models", "stories260K.gguf")


def llcuda(*args, timeout=120, input=None, env=None):
    # stdin is never inherited: `run` without -p reads a stdin that is not a terminal.
    stdin = None if input is not None else subprocess.DEVNULL
    return subprocess.run([LLCUDA, *args], capture_output=True, text=True, timeout=timeout,
                          input=input, stdin=stdin, env=env)


class RunCommand(unittest.TestCase):
    def test_embedded_model_greedy(self):
        result = llcuda("run", "-n", "30", "--temp", "0")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith("Once upon a time, there was a little girl named Lily."))
        for fragment in ("tokens/s", "time to first token", "device: CPU", "embedded:stories260K"):
            self.assertIn(fragment, result.stderr)

    def test_a_context_past_the_trained_length_is_warned_about(self):
        longer = llcuda("run", "-c", "4096", "-n", "2", "--temp", "0")
        self.assertEqual(longer.returncode, 0, longer.stderr)
        self.assertIn("warning: context 4096 is longer than the 2048 positions the model was trained on",
                      longer.stderr)
        self.assertIn("-c/--ctx-size", longer.stderr)
        for args in ([], ["-c", "2048"]):
            self.assertNotIn("warning: context", llcuda("run", *args, "-n", "2").stderr, args)
        too_long = llcuda("run", "-c", "2000000")
        self.assertEqual(too_long.returncode, 1)
        self.assertIn("context size 2000000 is too large (at most 1048576); lower -c/--ctx-size", too_long.stderr)

    def test_prompt_is_echoed_then_continued(self):
        result = llcuda("run", "-p", "Once upon a time", "-n", "10", "--temp", "0")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith("Once upon a time"))
        self.assertGreater(len(result.stdout), len("Once upon a time") + 10)

    def test_prompt_from_file_and_stdin(self):
        expected = llcuda("run", "-p", "Once upon a time", "-n", "10", "--temp", "0")
        self.assertEqual(expected.returncode, 0, expected.stderr)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "prompt.txt")
            with open(path, "w") as file:
                file.write("Once upon a time")
            from_file = llcuda("run", "-f", path, "-n", "10", "--temp", "0")
            self.assertEqual(from_file.returncode, 0, from_file.stderr)
            self.assertEqual(from_file.stdout, expected.stdout)
            both = llcuda("run", "-f", path, "-p", "x")
            self.assertEqual(both.returncode, 1, both.stderr)
            self.assertIn("--file", both.stderr)
            self.assertIn("--prompt", both.stderr)
        for args in (["-f", "-"], []):
            piped = llcuda("run", *args, "-n", "10", "--temp", "0", input="Once upon a time")
            self.assertEqual(piped.returncode, 0, piped.stderr)
            self.assertEqual(piped.stdout, expected.stdout, args)
        self.assert_fails(["run", "-f", "/nonexistent/prompt.txt"], "cannot read the prompt file")

    def test_seed_reproduces_sampling(self):
        first = llcuda("run", "-s", "7", "--temp", "1.0", "-n", "40")
        second = llcuda("run", "-s", "7", "--temp", "1.0", "-n", "40")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(first.stdout, second.stdout)

    def test_verbose_reports_placement(self):
        result = llcuda("run", "-n", "1", "-v")
        self.assertIn("layer 4: CPU", result.stderr)

    def assert_fails(self, args, fragment, code=1):
        result = llcuda(*args)
        self.assertEqual(result.returncode, code, result.stderr)
        self.assertIn(fragment, result.stderr)
        self.assertNotIn("internal error", result.stderr)

    def test_bad_input_gets_clear_errors(self):
        self.assert_fails(["run", "--bogus"], "--bogus", code=1)
        self.assert_fails(["run", "-m", "/nonexistent/model.gguf"], "is neither a file nor a model in the store")
        self.assert_fails(["run", "--device", "tpu"], "unknown device 'tpu'")
        self.assert_fails(["run", "--device", "cuda:7"], "cannot use cuda:7")
        self.assert_fails(["run", "--temp", "-1"], "temperature")
        self.assert_fails(["run", "--gpu-layers", "3", "--device", "cpu"], "--device is cpu")
        self.assert_fails(["run", "--gpu-layers", "lots"], "not a number of layers")
        self.assert_fails(["run", "--gpu-layers", "2"], "cannot use cuda:0")  # no GPU in CI
        self.assert_fails(["run", "--kv-type", "q4_0"], "use auto, f32, f16 or q8_0")
        # the embedded model's heads are 8 wide, not whole Q8_0 blocks
        self.assert_fails(["run", "--kv-type", "q8_0", "-p", "a"], "use --kv-type f16")
        self.assert_fails(["bench", "-r", "0"], "--repetitions", code=1)
        self.assert_fails(["synth", "--shape", "gpt5", "-o", "/tmp/x.gguf"], "unknown model shape")
        self.assert_fails(["run", "-p", "word " * 5000], "--ctx-size")
        self.assert_fails(["run", "-m", REPO + "/CMakeLists.txt"], "not a GGUF file")

    def test_truncated_model(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "cut.gguf")
            with open(MODEL, "rb") as source, open(path, "wb") as cut:
                cut.write(source.read()[:700000])
            self.assert_fails(["run", "-m", path], "truncated or corrupt")
            self.assert_fails(["inspect", path], "truncated or corrupt")


class ChatCommand(unittest.TestCase):
    """`chat` over a pipe, on the embedded model with a plain template (it has none of its own)."""

    TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                "{% if add_generation_prompt %}assistant:{% endif %}")

    def chat(self, lines, *args):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "template.jinja")
            with open(path, "w") as file:
                file.write(self.TEMPLATE)
            return llcuda("chat", "--chat-template", path, "-n", "12", "--temp", "0", *args,
                          input="".join(line + "\n" for line in lines))

    def replies(self, result):
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.split("\n")

    def test_history_reset_and_system(self):
        with_history = self.replies(self.chat(["Once upon a time", "The cat sat"]))
        reset = self.replies(self.chat(["Once upon a time", "/reset", "The cat sat"]))
        self.assertEqual(with_history[0], reset[0])
        self.assertEqual(reset[1], "(conversation cleared)")
        # the second reply sees the first turn only when the history is kept
        self.assertNotEqual("\n".join(with_history[1:]), "\n".join(reset[2:]))
        alone = self.replies(self.chat(["The cat sat"]))
        self.assertEqual(reset[2], alone[0])
        system = self.replies(self.chat(["/system Be kind", "The cat sat", "/exit", "ignored"]))
        self.assertEqual(system[0], "(system prompt set; conversation cleared)")
        self.assertEqual(system[1:], self.replies(self.chat(["The cat sat"], "--system", "Be kind")))

    def test_second_interrupt_at_the_prompt_exits(self):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        path = os.path.join(directory.name, "template.jinja")
        with open(path, "w") as file:
            file.write(self.TEMPLATE)
        process = subprocess.Popen([LLCUDA, "chat", "--chat-template", path],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1)  # the model is loaded and the prompt waits for a line
            process.send_signal(signal.SIGINT)
            time.sleep(0.3)
            self.assertIsNone(process.poll(), "one Ctrl-C at the prompt must not exit")
            process.send_signal(signal.SIGINT)
            _, error = process.communicate(timeout=10)
        finally:
            process.kill()
        self.assertEqual(process.returncode, 130, error)
        self.assertIn("Ctrl-C again or /exit to quit", error)

    def test_context_overflow_and_errors(self):
        result = self.chat(["word " * 300, "The cat sat"], "-c", "128")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("no longer fits the context of 128 tokens", result.stderr)
        self.assertIn("--ctx-size", result.stderr)
        self.assertGreater(len(result.stdout.strip()), 0)  # the turn after the overflow is answered
        no_template = llcuda("chat", input="hi\n")
        self.assertEqual(no_template.returncode, 1)
        self.assertIn("--chat-template", no_template.stderr)


class DoctorCommand(unittest.TestCase):
    """On a machine without a usable GPU (CI) doctor says so and exits with code 2."""

    def setUp(self):
        if os.path.exists("/dev/nvidia0"):
            self.skipTest("this machine has a GPU; the gpu-labelled doctor test covers it")

    def test_no_gpu(self):
        result = llcuda("doctor")
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertIn("result: exit code 2 (no usable NVIDIA GPU)", result.stdout)
        self.assertIn("problem: ", result.stdout)
        self.assertIn("CPU:", result.stdout)

    def test_json_and_model_estimate(self):
        result = llcuda("doctor", "--json", "-m", MODEL, "-c", "512")
        self.assertEqual(result.returncode, 2, result.stderr)
        report = json.loads(result.stdout)
        self.assertEqual(report["exit_code"], 2)
        self.assertEqual(report["gpus"], [])
        self.assertEqual(report["model"]["layers"], 5)
        self.assertGreater(len(report["problems"]), 0)
        # The CPU path: the ISA the fast kernels use, each ISA's types, the read bandwidth.
        cpu = report["cpu"]
        self.assertIn(cpu["selected_isa"], ("scalar", "avx2", "avx512vnni"))
        scalar = next(isa for isa in cpu["isas"] if isa["isa"] == "scalar")
        self.assertTrue(scalar["runs_here"])
        self.assertIn("Q4_K", scalar["weight_types"])
        self.assertGreater(cpu["memory_read_bytes_per_second"], 1e8)

    def test_a_pinned_isa_is_reported(self):
        result = llcuda("doctor", env={**os.environ, "LLCUDA_CPU_ISA": "scalar"})
        self.assertIn("fast kernels use scalar (pinned by LLCUDA_CPU_ISA)", result.stdout)
        result = llcuda("doctor", env={**os.environ, "LLCUDA_CPU_ISA": "sse9"})
        self.assertIn("LLCUDA_CPU_ISA must be scalar, avx2 or avx512vnni, not 'sse9'", result.stdout)

    def test_bad_model(self):
        result = llcuda("doctor", "-m", "/nonexistent.gguf")
        self.assertEqual(result.returncode, 1)
        self.assertIn("is neither a file nor a model in the store", result.stderr)


class InspectCommand(unittest.TestCase):
    def test_text(self):
        result = llcuda("inspect", MODEL)
        self.assertEqual(result.returncode, 0, result.stderr)
        for fragment in ("llama.embedding_length", "blk.0.attn_q.weight", "parameters:", "memory to load"):
            self.assertIn(fragment, result.stdout)

    def test_json(self):
        result = llcuda("inspect", "--json", "-c", "512", MODEL)
        self.assertEqual(result.returncode, 0, result.stderr)
        info = json.loads(result.stdout)
        self.assertEqual(info["gguf_version"], 3)
        self.assertEqual(len(info["tensors"]), 48)
        self.assertEqual(info["metadata"]["llama.block_count"], 5)
        self.assertEqual(info["types"]["F32"]["tensors"], 48)
        self.assertEqual(info["memory"]["kv_cache"], 2 * 5 * 512 * 32 * 4)
        self.assertGreater(info["memory"]["total"], info["memory"]["weights"])


class QuantizeCommand(unittest.TestCase):
    def test_q8_0_copy_runs(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "q8.gguf")
            result = llcuda("quantize", MODEL, path, "Q8_0")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("blk.0.ffn_down.weight: rows of 172 are not whole Q8_0 blocks of 32, so F16", result.stdout)
            info = json.loads(llcuda("inspect", "--json", path).stdout)
            self.assertEqual(info["metadata"]["general.file_type"], 7)
            self.assertIn("Q8_0", info["types"])
            run = llcuda("run", "-m", path, "-n", "12", "--temp", "0")
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertTrue(run.stdout.startswith("Once upon a time"))

    def test_bad_type(self):
        with tempfile.TemporaryDirectory() as directory:
            result = llcuda("quantize", MODEL, os.path.join(directory, "x.gguf"), "Q9_9")
            self.assertEqual(result.returncode, 1)
            self.assertIn("unknown target type 'Q9_9'", result.stderr)
            self.assertEqual(os.listdir(directory), [])


class BenchAndSynth(unittest.TestCase):
    def test_bench_reports_every_format(self):
        table = llcuda("bench", "-p", "16", "-n", "8", "-r", "2", "-t", "2")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("| pp16 |", table.stdout)
        self.assertIn("| tg8 |", table.stdout)
        # The embedded model records no general.file_type: the type comes from its tensors.
        self.assertIn("| F32 |", table.stdout)
        report = json.loads(llcuda("bench", "-p", "16", "-n", "8", "-r", "3", "-o", "json").stdout)
        self.assertEqual(report["file_type"], "F32")
        self.assertEqual(report["tg_tokens_per_second"]["count"], 3)
        self.assertEqual(report["inter_token_ms"]["count"], 24)
        self.assertGreater(report["pp_tokens_per_second"]["mean"], 0)
        self.assertEqual(report["layer_devices"], ["CPU"] * 5)
        # All on the CPU: the memory read bandwidth of this run and decode's share of it.
        self.assertGreater(report["cpu_read_bandwidth_bytes_per_second"], 1e8)
        self.assertGreater(report["cpu_bytes_read_per_token"], 0)
        self.assertAlmostEqual(report["tg_fraction_of_cpu_read_bandwidth"],
                               report["tg_tokens_per_second"]["mean"] *
                               report["cpu_bytes_read_per_token"] /
                               report["cpu_read_bandwidth_bytes_per_second"], places=6)
        self.assertIn("CPU decode reads", table.stdout)
        self.assertIn("(the weights fit in the caches)", table.stdout)
        csv = llcuda("bench", "-p", "8", "-n", "4", "-r", "1", "-o", "csv").stdout.splitlines()
        self.assertEqual(len(csv), 2)
        self.assertEqual(len(csv[0].split(",")), len(csv[1].split(",")))
        row = dict(zip(csv[0].split(","), csv[1].split(",")))
        self.assertEqual(row["file_type"], "F32")
        self.assertEqual(row["settings"], "")  # as the JSON's settings {}, not the model's name

    def test_bench_csv_settings_agree_with_json(self):
        sweep = ["bench", "-p", "4", "-n", "2", "-r", "1", "--sweep", "threads=1,2"]
        rows = json.loads(llcuda(*sweep, "-o", "json").stdout)
        table = list(csv_module.DictReader(io.StringIO(llcuda(*sweep, "-o", "csv").stdout)))
        self.assertEqual([r["settings"] for r in table],
                         [" ".join(f"{k}={v}" for k, v in r["settings"].items()) for r in rows])
        self.assertEqual([r["settings"] for r in table], ["threads=1", "threads=2"])

    def test_bench_sweep_chart_auto_tune_and_compare(self):
        with tempfile.TemporaryDirectory() as directory:
            chart = os.path.join(directory, "sweep.svg")
            sweep = llcuda("bench", "-p", "16", "-n", "8", "-r", "2", "--sweep", "threads=1,2",
                           "--sweep", "ubatch-size=4,16", "--chart", chart, "--metric", "pp",
                           "-o", "json")
            self.assertEqual(sweep.returncode, 0, sweep.stderr)
            rows = json.loads(sweep.stdout)
            self.assertEqual([r["settings"] for r in rows],
                             [{"threads": t, "ubatch-size": u} for t in ("1", "2")
                              for u in ("4", "16")])
            self.assertEqual([r["ubatch_size"] for r in rows], [4, 16, 4, 16])
            for row in rows:
                self.assertEqual(row["end_to_end_ms"]["count"], 2)
                self.assertGreater(row["peak_ram_bytes"], 0)
            with open(chart) as f:
                svg = f.read()
            self.assertTrue(svg.startswith("<svg"))
            self.assertEqual(svg.count("<rect"), 1 + 4)  # background and one bar per row
            self.assertIn("(best)", svg)
            self.assertIn("threads=2 ubatch-size=16", svg)

            saved = os.path.join(directory, "rows.json")
            with open(saved, "w") as f:
                f.write(sweep.stdout)
            compared = llcuda("bench", "--compare", saved, saved, "--chart", chart)
            self.assertEqual(compared.returncode, 0, compared.stderr)
            self.assertIn("| 1.00x |", compared.stdout)
            self.assertEqual(compared.stdout.count("run=rows.json threads="), 8)
            with open(chart) as f:
                self.assertEqual(f.read().count("<rect"), 1 + 8)

        tuned = llcuda("bench", "-p", "16", "-n", "4", "-r", "1", "--auto-tune")
        self.assertEqual(tuned.returncode, 0, tuned.stderr)
        self.assertIn("auto-tune: best generation, tokens/s", tuned.stdout)
        self.assertIn("--ubatch-size", tuned.stdout)
        self.assert_bench_error(["--sweep", "flash-attn=maybe"], "flash-attn")
        self.assert_bench_error(["--sweep", "speed=1"], "unknown key 'speed'")

    def assert_bench_error(self, args, fragment):
        result = llcuda("bench", "-p", "4", "-n", "2", "-r", "1", *args)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(fragment, result.stderr)

    def test_synthetic_model_loads_and_runs(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "tiny.gguf")
            made = llcuda("synth", "--shape", "tiny", "--type", "Q4_K_M", "-o", path)
            self.assertEqual(made.returncode, 0, made.stderr)
            info = json.loads(llcuda("inspect", "--json", path).stdout)
            types = {t["name"]: t["type"] for t in info["tensors"]}
            self.assertEqual(types["blk.2.attn_v.weight"], "Q6_K")  # every third layer: more bits
            self.assertEqual(types["blk.1.attn_v.weight"], "Q4_K")
            self.assertEqual(types["output.weight"], "Q6_K")
            run = llcuda("run", "-m", path, "-n", "4", "--temp", "0")
            self.assertEqual(run.returncode, 0, run.stderr)



class PerplexityCommand(unittest.TestCase):
    TEXT = ("Once upon a time, there was a little girl named Lily. She loved to play outside. " * 40)

    def test_perplexity_and_kl_divergence_against_a_base(self):
        with tempfile.TemporaryDirectory() as folder:
            text = os.path.join(folder, "text.txt")
            with open(text, "w", encoding="utf-8") as out:
                out.write(self.TEXT)
            base = os.path.join(folder, "base.bin")
            saved = llcuda("perplexity", "-f", text, "-c", "64", "--chunks", "3",
                           "--kl-divergence-base", base)
            self.assertEqual(saved.returncode, 0, saved.stderr)
            self.assertRegex(saved.stdout, r"perplexity: [0-9.]+ \+/- [0-9.]+ over 3 chunks of 64 tokens \(93 scored\)")
            same = llcuda("perplexity", "-f", text, "-c", "64", "--chunks", "3",
                          "--kl-divergence-base", base, "--kl-divergence")
            self.assertEqual(same.returncode, 0, same.stderr)
            self.assertIn("mean KL divergence: 0.000000", same.stdout)
            self.assertIn("top-1 agreement with the base: 100.000%", same.stdout)
            quantized = os.path.join(folder, "q8.gguf")
            self.assertEqual(llcuda("quantize", MODEL, quantized, "Q8_0").returncode, 0)
            compared = llcuda("perplexity", "-m", quantized, "-f", text, "-c", "64", "--chunks", "3",
                              "--kl-divergence-base", base, "--kl-divergence")
            self.assertEqual(compared.returncode, 0, compared.stderr)
            divergence = float(compared.stdout.split("mean KL divergence: ")[1].split()[0])
            self.assertGreater(divergence, 0.0)
            self.assertLess(divergence, 0.01)
            other_context = llcuda("perplexity", "-f", text, "-c", "32", "--kl-divergence-base", base,
                                   "--kl-divergence")
            self.assertNotEqual(other_context.returncode, 0)
            self.assertIn("same vocabulary and -c needed", other_context.stderr)

    def test_bad_inputs_are_named(self):
        with tempfile.TemporaryDirectory() as folder:
            short = os.path.join(folder, "short.txt")
            with open(short, "w", encoding="utf-8") as out:
                out.write("Once upon a time")
            result = llcuda("perplexity", "-f", short, "-c", "64")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("fewer than one chunk of 64 (-c)", result.stderr)
            missing = llcuda("perplexity", "-f", os.path.join(folder, "absent.txt"))
            self.assertIn("is not a regular file", missing.stderr)
            garbage = os.path.join(folder, "garbage.bin")
            with open(garbage, "wb") as out:
                out.write(b"not logits at all")
            with open(short, "w", encoding="utf-8") as out:
                out.write(self.TEXT)
            result = llcuda("perplexity", "-f", short, "-c", "64", "--kl-divergence-base", garbage,
                            "--kl-divergence")
            self.assertIn("is not a file of base logits", result.stderr)


class BadArguments(unittest.TestCase):
    """Absurd options and inputs end in an error naming the word, exit 1, never a hang."""

    def test_thread_counts_are_bounded(self):
        negative = llcuda("run", "-t", "-3", "-n", "2")
        self.assertEqual(negative.returncode, 1)
        self.assertIn("--threads: must be zero or more, not -3", negative.stderr)
        huge = llcuda("run", "-t", "100000", "-n", "2", timeout=30)
        self.assertEqual(huge.returncode, 1)
        self.assertIn("-t/--threads 100000 is more than", huge.stderr)

    def test_negative_seed_is_refused(self):
        result = llcuda("run", "-s", "-1", "-n", "2")
        self.assertEqual(result.returncode, 1)
        self.assertIn("--seed: must be zero or more, not -1", result.stderr)

    def test_a_fifo_is_not_opened_and_waited_on(self):
        with tempfile.TemporaryDirectory() as folder:
            fifo = os.path.join(folder, "model.gguf")
            os.mkfifo(fifo)
            result = llcuda("run", "-m", fifo, "-n", "2", timeout=20)
            self.assertEqual(result.returncode, 1)
            self.assertIn("is not a regular file", result.stderr)

    def test_usage_errors_exit_1_and_name_the_word(self):
        unknown = llcuda("talk")
        self.assertEqual(unknown.returncode, 1)
        self.assertIn("'talk' is not a command (commands: run, chat,", unknown.stderr)
        bad_option = llcuda("run", "--bogus")
        self.assertEqual(bad_option.returncode, 1)
        self.assertIn("--bogus", bad_option.stderr)
        bad_value = llcuda("run", "-n", "abc")
        self.assertEqual(bad_value.returncode, 1)
        self.assertIn("abc", bad_value.stderr)
        self.assertEqual(llcuda("--help").returncode, 0)

    def test_a_failed_run_prints_nothing_on_stdout(self):
        result = llcuda("run", "-p", "Once upon a time " * 100, "-c", "32", "-n", "2")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertIn("context", result.stderr)

    def test_quantize_falls_back_per_tensor_and_offers_mixes(self):
        with tempfile.TemporaryDirectory() as folder:
            # stories260K's rows of 64 and 172 are not whole 256-element K-quant blocks.
            out = os.path.join(folder, "q4km.gguf")
            result = llcuda("quantize", MODEL, out, "Q4_K_M")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("are not whole Q4_K blocks of 256, so Q5_0", result.stdout)
            self.assertIn("are not whole Q6_K blocks of 256, so F16", result.stdout)
            run = llcuda("run", "-m", out, "-n", "8", "--temp", "0")
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertTrue(run.stdout.startswith("Once upon a time"), run.stdout)
            again = llcuda("quantize", out, os.path.join(folder, "again.gguf"), "Q4_K_M")
            self.assertEqual(again.returncode, 1)
            self.assertIn("nothing written", again.stderr)
            unknown = llcuda("quantize", MODEL, os.path.join(folder, "x.gguf"), "Q7_K")
            self.assertIn("Q3_K_M Q4_K_M Q5_K_M", unknown.stderr)


if __name__ == "__main__":
    LLCUDA = sys.argv.pop(1)
    unittest.main(verbosity=2)
