// `llcuda bench`: prompt-processing and generation speed, as a table, markdown, JSON or CSV.
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "app/engine_options.hpp"
#include "engine/benchmark.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"

namespace llcuda {
namespace {

struct BenchArguments {
    BenchmarkOptions bench;
    std::string output = "table";
    std::string store;
};

double gib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

nlohmann::json to_json(const Summary& s) {
    return {{"mean", s.mean}, {"stddev", s.stddev}, {"min", s.min}, {"max", s.max},
            {"p50", s.p50},   {"p95", s.p95},       {"p99", s.p99}, {"count", s.count}};
}

nlohmann::json to_json(const BenchmarkResult& r) {
    return {{"model", r.model},
            {"file_type", r.file_type},
            {"model_bytes", r.model_bytes},
            {"placement", r.placement},
            {"layers", r.layers},
            {"gpu_layers", r.gpu_layers},
            {"layer_devices", r.layer_devices},
            {"kv_type", r.kv_type},
            {"cuda_graphs", r.cuda_graphs},
            {"prompt_tokens", r.prompt_tokens},
            {"generated_tokens", r.generated_tokens},
            {"repetitions", r.repetitions},
            {"pp_tokens_per_second", to_json(r.prompt_tokens_per_second)},
            {"tg_tokens_per_second", to_json(r.generation_tokens_per_second)},
            {"time_to_first_token_ms", to_json(r.time_to_first_token_ms)},
            {"inter_token_ms", to_json(r.inter_token_ms)},
            {"gpu_bytes_held", r.gpu_bytes_held},
            {"gpu_memory_in_use", r.gpu_memory_in_use},
            {"bytes_read_per_token", r.bytes_read_per_token},
            {"copy_bandwidth_bytes_per_second", r.copy_bandwidth},
            {"tg_fraction_of_copy_bandwidth", r.bandwidth_fraction}};
}

void print_markdown(const BenchmarkResult& r) {
    std::printf(
        "| model | type | size GiB | GPU layers | KV | test | tokens/s | TTFT ms | ITL p50/p99 ms "
        "|\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    const auto row = [&](const std::string& test, const Summary& speed, const std::string& ttft,
                         const std::string& itl) {
        std::printf("| %s | %s | %.2f | %zu/%zu | %s | %s | %.2f ± %.2f | %s | %s |\n",
                    r.model.c_str(), r.file_type.c_str(), gib(r.model_bytes), r.gpu_layers,
                    r.layers, r.kv_type.c_str(), test.c_str(), speed.mean, speed.stddev,
                    ttft.c_str(), itl.c_str());
    };
    if (r.prompt_tokens > 0) {
        row(fmt::format("pp{}", r.prompt_tokens), r.prompt_tokens_per_second,
            fmt::format("{:.2f}", r.time_to_first_token_ms.mean), "");
    }
    if (r.generated_tokens > 0) {
        row(fmt::format("tg{}", r.generated_tokens), r.generation_tokens_per_second, "",
            fmt::format("{:.3f}/{:.3f}", r.inter_token_ms.p50, r.inter_token_ms.p99));
    }
    std::printf("\nplacement: %s\n", r.placement.c_str());
    if (r.gpu_layers > 0) {
        std::printf(
            "GPU memory: %.2f GiB held by this run, %.2f GiB in use on the device\n"
            "decode reads %.2f GiB per token; device-to-device copy: %.1f GB/s (read + write); "
            "tg at %.1f%% of that bound\n",
            gib(r.gpu_bytes_held), gib(r.gpu_memory_in_use), gib(r.bytes_read_per_token),
            r.copy_bandwidth / 1e9, 100.0 * r.bandwidth_fraction);
    }
}

void print_csv(const BenchmarkResult& r) {
    std::printf(
        "model,file_type,model_bytes,gpu_layers,layers,kv_type,cuda_graphs,pp_tokens,tg_tokens,"
        "repetitions,pp_tps_mean,pp_tps_stddev,tg_tps_mean,tg_tps_stddev,ttft_ms_p50,ttft_ms_p95,"
        "ttft_ms_p99,itl_ms_p50,itl_ms_p95,itl_ms_p99,gpu_bytes_held,bytes_read_per_token,"
        "copy_bandwidth,tg_bandwidth_fraction\n");
    std::printf(
        "%s,%s,%llu,%zu,%zu,%s,%d,%zu,%zu,%zu,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.4f,%.4f,"
        "%.4f,%llu,%llu,%.0f,%.4f\n",
        r.model.c_str(), r.file_type.c_str(), static_cast<unsigned long long>(r.model_bytes),
        r.gpu_layers, r.layers, r.kv_type.c_str(), r.cuda_graphs ? 1 : 0, r.prompt_tokens,
        r.generated_tokens, r.repetitions, r.prompt_tokens_per_second.mean,
        r.prompt_tokens_per_second.stddev, r.generation_tokens_per_second.mean,
        r.generation_tokens_per_second.stddev, r.time_to_first_token_ms.p50,
        r.time_to_first_token_ms.p95, r.time_to_first_token_ms.p99, r.inter_token_ms.p50,
        r.inter_token_ms.p95, r.inter_token_ms.p99,
        static_cast<unsigned long long>(r.gpu_bytes_held),
        static_cast<unsigned long long>(r.bytes_read_per_token), r.copy_bandwidth,
        r.bandwidth_fraction);
}

void bench(BenchArguments& arguments) {
    auto& engine = arguments.bench.engine;
    engine.model_path =
        resolve_model_argument(engine.model_path, ModelStore::root_or_default(arguments.store));
    const auto result = run_benchmark(arguments.bench);
    if (arguments.output == "json")
        std::printf("%s\n", to_json(result).dump(2).c_str());
    else if (arguments.output == "csv")
        print_csv(result);
    else
        print_markdown(result);
}

}  // namespace

void register_bench_command(CLI::App& app) {
    auto arguments = std::make_shared<BenchArguments>();
    auto* command = app.add_subcommand("bench", "Measure prompt processing and generation speed");
    command->add_option("-m,--model", arguments->bench.engine.model_path,
                        "GGUF file or store name (default: the embedded stories260K)");
    command->add_option("--store", arguments->store, "Model store directory");
    command
        ->add_option("-p,--prompt-tokens", arguments->bench.prompt_tokens,
                     "Prompt length of the pp test (0: skip)")
        ->capture_default_str();
    command
        ->add_option("-n,--gen-tokens", arguments->bench.generated_tokens,
                     "Tokens of the tg test (0: skip)")
        ->capture_default_str();
    command->add_option("-r,--repetitions", arguments->bench.repetitions, "Measured repetitions")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{10000}));
    command->add_option("--warmup", arguments->bench.warmup, "Unmeasured repetitions first")
        ->capture_default_str();
    command->add_option("-o,--output", arguments->output, "table (markdown), json or csv")
        ->capture_default_str()
        ->check(CLI::IsMember({"table", "md", "json", "csv"}));
    add_engine_options(*command, arguments->bench.engine);
    command->callback([arguments] { bench(*arguments); });
}

}  // namespace llcuda
