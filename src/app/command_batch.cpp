// `llcuda batch -i prompts.jsonl -o results.jsonl`: every prompt of a JSONL file through
// continuous batching, results in input order, resumable; under mpirun the items are shared
// between the ranks.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "app/engine_options.hpp"
#include "app/progress_bar.hpp"
#include "backend/cuda/cuda_device.hpp"
#include "batch/batch_job.hpp"
#include "batch/mpi_batch.hpp"
#include "core/error.hpp"
#include "engine/statistics.hpp"
#include "store/atomic_file.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"

namespace llcuda {
namespace {

struct BatchArguments {
    EngineOptions engine;
    GenerationOptions generation;
    std::string input, output, summary_path, store;
    bool quiet = false;
    bool verbose = false;
};

nlohmann::json percentiles(const std::vector<double>& values) {
    const auto s = summarize(values);
    return {{"p50", s.p50}, {"p95", s.p95}, {"p99", s.p99}, {"mean", s.mean}, {"count", s.count}};
}

nlohmann::json make_summary(const BatchJob& job, double seconds,
                            const std::vector<RankReport>& ranks) {
    const auto& t = job.totals();
    nlohmann::json summary = {
        {"output", job.output_path()},
        {"items", t.items},
        {"skipped_already_done", t.skipped},
        {"succeeded", t.succeeded},
        {"failed", t.failed},
        {"invalid", t.invalid},
        {"seconds", seconds},
        {"prompt_tokens", t.prompt_tokens},
        {"completion_tokens", t.completion_tokens},
        {"completion_tokens_per_second",
         seconds > 0 ? static_cast<double>(t.completion_tokens) / seconds : 0.0},
        {"time_to_first_token_ms", percentiles(t.time_to_first_token_ms)},
        {"latency_ms", percentiles(t.latency_ms)}};
    for (const auto& rank : ranks) {
        summary["ranks"].push_back({{"rank", rank.rank},
                                    {"items", rank.items},
                                    {"completion_tokens", rank.completion_tokens},
                                    {"seconds", rank.seconds},
                                    {"device", rank.device}});
    }
    return summary;
}

void print_summary(const nlohmann::json& s) {
    std::fprintf(stderr,
                 "batch: %zu items: %zu succeeded, %zu failed, %zu invalid lines, %zu done "
                 "earlier -> %s\n",
                 s["items"].get<size_t>(), s["succeeded"].get<size_t>(), s["failed"].get<size_t>(),
                 s["invalid"].get<size_t>(), s["skipped_already_done"].get<size_t>(),
                 s["output"].get<std::string>().c_str());
    const auto& ttft = s["time_to_first_token_ms"];
    const auto& latency = s["latency_ms"];
    std::fprintf(stderr,
                 "  %.2f s, %llu tokens generated (%.1f tokens/s); time to first token p50 %.1f "
                 "p95 %.1f p99 %.1f ms; latency p50 %.1f p95 %.1f p99 %.1f ms\n",
                 s["seconds"].get<double>(), s["completion_tokens"].get<unsigned long long>(),
                 s["completion_tokens_per_second"].get<double>(), ttft["p50"].get<double>(),
                 ttft["p95"].get<double>(), ttft["p99"].get<double>(), latency["p50"].get<double>(),
                 latency["p95"].get<double>(), latency["p99"].get<double>());
    for (const auto& rank : s.value("ranks", nlohmann::json::array())) {
        std::fprintf(stderr, "  rank %d: %zu items, %llu tokens in %.2f s on %s\n",
                     rank["rank"].get<int>(), rank["items"].get<size_t>(),
                     rank["completion_tokens"].get<unsigned long long>(),
                     rank["seconds"].get<double>(), rank["device"].get<std::string>().c_str());
    }
}

void batch(BatchArguments& arguments) {
    arguments.generation.sampling.validate();
    arguments.engine.model_path = resolve_model_argument(
        arguments.engine.model_path, ModelStore::root_or_default(arguments.store));
    std::unique_ptr<MpiSession> mpi;
    if (launched_by_mpi()) {
        mpi = std::make_unique<MpiSession>();
        // The ranks of a machine take its GPUs in turn (several share one when there are
        // more ranks than GPUs).
        if (arguments.engine.device == "cuda") {
            const int gpus = query_cuda_system().device_count;
            if (gpus > 0) arguments.engine.device = fmt::format("cuda:{}", mpi_local_rank() % gpus);
        }
    }
    const bool writer = !mpi || mpi->rank() == 0;
    const auto start = std::chrono::steady_clock::now();

    // Rank 0 reads the input before loading the model, so a bad path fails fast.
    std::unique_ptr<BatchJob> job;
    if (writer) job = std::make_unique<BatchJob>(arguments.input, arguments.output);
    Engine engine(arguments.engine);
    if (arguments.verbose) print_placement(engine.summary());

    ProgressBar progress("batch");
    std::vector<RankReport> ranks;
    if (job) {
        if (!arguments.quiet) {
            job->on_progress = [&progress](size_t done, size_t total) {
                progress.update(done, total);
            };
        }
    }
    if (mpi) {
        ranks = run_batch_over_mpi(*mpi, engine, arguments.generation, job.get());
    } else {
        run_batch_items(
            engine, arguments.generation, [&] { return job->take(); },
            [&](const BatchItemResult& result) { job->complete(result); });
    }
    if (!writer) return;
    progress.finish();
    job->finish();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto summary = make_summary(*job, seconds, ranks);
    if (!arguments.quiet) print_summary(summary);
    if (!arguments.summary_path.empty())
        write_file_atomically(arguments.summary_path, summary.dump(2) + "\n");
    const auto& totals = job->totals();
    if (totals.failed + totals.invalid > 0) {
        throw Error(fmt::format(
            "{} of {} items did not succeed (their \"error\" fields in {} say why); the others "
            "are done, and a rerun tries only the failed ones again",
            totals.failed + totals.invalid, totals.items, arguments.output));
    }
}

}  // namespace

void register_batch_command(CLI::App& app) {
    auto arguments = std::make_shared<BatchArguments>();
    arguments->engine.parallel = 8;
    arguments->generation.sampling.seed = 0;
    auto* command = app.add_subcommand(
        "batch",
        "Run every prompt of a JSONL file ({\"id\", \"prompt\", optional max_tokens, "
        "temperature, top_k, top_p, min_p, repeat_penalty, seed, stop, and grammar (GBNF), "
        "json_schema (a schema) or response_format as the server takes it}) with continuous "
        "batching; results in input order. A rerun skips finished ids. Under mpirun -np N the "
        "ranks share the items and rank 0 writes. Exit status 1 when any item failed.");
    command->add_option("-i,--input", arguments->input, "Prompts, one JSON object per line")
        ->required();
    command->add_option("-o,--output", arguments->output, "Results, one JSON object per line")
        ->required();
    command->add_option("-m,--model", arguments->engine.model_path,
                        "GGUF file or store name (default: the embedded stories260K)");
    command->add_option("--store", arguments->store, "Model store directory");
    command
        ->add_option("--parallel", arguments->engine.parallel,
                     "Sequences decoded together (each gets its own --ctx-size)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{1024}));
    add_sampling_options(*command, arguments->generation);
    command
        ->add_option("-s,--seed", arguments->generation.sampling.seed,
                     "Seed for items without their own (fixed, so reruns agree)")
        ->capture_default_str()
        ->check(non_negative());
    add_engine_options(*command, arguments->engine);
    add_prefix_cache_option(*command, arguments->engine);
    command->add_option("--summary", arguments->summary_path,
                        "Also write the summary (counts, tokens/s, latency percentiles) as JSON");
    command->add_flag("-q,--quiet", arguments->quiet, "No progress bar or summary on stderr");
    command->add_flag("-v,--verbose", arguments->verbose, "Print where each layer runs");
    command->callback([arguments] { batch(*arguments); });
}

}  // namespace llcuda
