// `llcuda bench`: prompt-processing and generation speed, as a table, markdown, JSON or CSV.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/bench_chart.hpp"
#include "app/commands.hpp"
#include "app/engine_options.hpp"
#include "core/error.hpp"
#include "engine/bench_sweep.hpp"
#include "engine/benchmark.hpp"
#include "store/atomic_file.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"

namespace llcuda {
namespace {

struct BenchArguments {
    BenchmarkOptions bench;
    std::string output = "table";
    std::string store;
    std::vector<std::string> sweep;
    std::string chart;
    std::string metric = "tg";
    bool auto_tune = false;
    std::vector<std::string> compare;
};

double gib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

nlohmann::json to_json(const Summary& s) {
    return {{"mean", s.mean}, {"stddev", s.stddev}, {"min", s.min}, {"max", s.max},
            {"p50", s.p50},   {"p95", s.p95},       {"p99", s.p99}, {"count", s.count}};
}

nlohmann::json settings_json(const BenchmarkResult& r) {
    nlohmann::json settings = nlohmann::json::object();
    for (const auto& [key, value] : r.settings) settings[key] = value;
    return settings;
}

// The settings as "key=value key=value", the same pairs as the JSON's settings object; empty
// when the run had none (settings_label falls back to the model for tables and charts).
std::string settings_pairs(const BenchmarkResult& r) {
    std::string pairs;
    for (const auto& [key, value] : r.settings)
        pairs += (pairs.empty() ? "" : " ") + key + "=" + value;
    return pairs;
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled (a path, or
// a sweep over --devices cuda:0,cuda:1).
std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

std::string settings_label(const BenchmarkResult& r) {
    const auto label = settings_pairs(r);
    return label.empty() ? r.model : label;
}

nlohmann::json segments_json(const std::vector<GpuSegmentSummary>& segments) {
    auto list = nlohmann::json::array();
    for (const auto& segment : segments)
        list.push_back({{"device", segment.device},
                        {"first_layer", segment.first_layer},
                        {"end_layer", segment.end_layer},
                        {"bytes", segment.bytes}});
    return list;
}

nlohmann::json to_json(const BenchmarkResult& r) {
    return {{"model", r.model},
            {"file_type", r.file_type},
            {"model_bytes", r.model_bytes},
            {"placement", r.placement},
            {"cpu_kernels", r.cpu_kernels},
            {"layers", r.layers},
            {"gpu_layers", r.gpu_layers},
            {"layer_devices", r.layer_devices},
            {"gpu_segments", segments_json(r.gpu_segments)},
            {"kv_type", r.kv_type},
            {"cuda_graphs", r.cuda_graphs},
            {"kernel_overlap", r.kernel_overlap},
            {"l2_prefetch", r.l2_prefetch},
            {"rope_fusion", r.rope_fusion},
            {"row_parallel_attention", r.row_parallel_attention},
            {"flash_attention", r.flash_attention},
            {"prompt_tokens", r.prompt_tokens},
            {"generated_tokens", r.generated_tokens},
            {"repetitions", r.repetitions},
            {"tg_from_empty", r.tg_from_empty},
            {"depth", r.depth},
            {"parallel", r.parallel},
            {"pp_tokens_per_second", to_json(r.prompt_tokens_per_second)},
            {"tg_tokens_per_second", to_json(r.generation_tokens_per_second)},
            {"time_to_first_token_ms", to_json(r.time_to_first_token_ms)},
            {"inter_token_ms", to_json(r.inter_token_ms)},
            {"end_to_end_ms", to_json(r.end_to_end_ms)},
            {"peak_ram_bytes", r.peak_ram_bytes},
            {"batch_size", r.batch_size},
            {"ubatch_size", r.ubatch_size},
            {"threads", r.threads},
            {"settings", settings_json(r)},
            {"gpu_bytes_held", r.gpu_bytes_held},
            {"gpu_memory_in_use", r.gpu_memory_in_use},
            {"bytes_read_per_token", r.bytes_read_per_token},
            {"copy_bandwidth_bytes_per_second", r.copy_bandwidth},
            {"tg_fraction_of_copy_bandwidth", r.bandwidth_fraction},
            {"cpu_bytes_read_per_token", r.cpu_bytes_read_per_token},
            {"cpu_read_bandwidth_bytes_per_second", r.cpu_read_bandwidth},
            {"tg_fraction_of_cpu_read_bandwidth", r.cpu_bandwidth_fraction}};
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
    // llama-bench's names: "pp512 @ d4096"; "x8" for 8 sequences decoded together.
    const std::string at = (r.depth > 0 ? fmt::format(" @ d{}", r.depth) : "") +
                           (r.parallel > 1 ? fmt::format(" x{}", r.parallel) : "");
    if (r.prompt_tokens > 0) {
        row(fmt::format("pp{}{}", r.prompt_tokens, at), r.prompt_tokens_per_second,
            fmt::format("{:.2f}", r.time_to_first_token_ms.mean), "");
    }
    if (r.generated_tokens > 0) {
        row(fmt::format("tg{}{}", r.generated_tokens, at), r.generation_tokens_per_second, "",
            fmt::format("{:.3f}/{:.3f}", r.inter_token_ms.p50, r.inter_token_ms.p99));
    }
    std::printf("\nplacement: %s\ncpu kernels: %s\n", r.placement.c_str(), r.cpu_kernels.c_str());
    if (r.gpu_layers > 0) {
        std::printf(
            "GPU memory: %.2f GiB held by this run, %.2f GiB in use on the device\n"
            "decode reads %.2f GiB per token; device-to-device copy: %.1f GB/s (read + write); "
            "tg at %.1f%% of that bound\n",
            gib(r.gpu_bytes_held), gib(r.gpu_memory_in_use), gib(r.bytes_read_per_token),
            r.copy_bandwidth / 1e9, 100.0 * r.bandwidth_fraction);
    }
    if (r.gpu_layers < r.layers) {
        // Partly offloaded, the CPU's layers alone would allow this many tokens/s.
        std::string share =
            r.gpu_layers == 0
                ? fmt::format("tg at {:.1f}% of that bound", 100.0 * r.cpu_bandwidth_fraction)
                : fmt::format(
                      "its layers alone allow at most {:.1f} tokens/s",
                      r.cpu_read_bandwidth / static_cast<double>(r.cpu_bytes_read_per_token));
        // A model this small is read from the caches, not from memory.
        if (r.cpu_bytes_read_per_token < (uint64_t{64} << 20))
            share += " (the weights fit in the caches)";
        std::printf(
            "CPU decode reads %.2f GiB per token; memory read with %zu threads: %.1f GB/s; %s\n",
            gib(r.cpu_bytes_read_per_token), r.threads, r.cpu_read_bandwidth / 1e9, share.c_str());
    }
}

void print_csv_header() {
    std::printf(
        "model,file_type,model_bytes,gpu_layers,layers,kv_type,cuda_graphs,pp_tokens,tg_tokens,"
        "repetitions,pp_tps_mean,pp_tps_stddev,tg_tps_mean,tg_tps_stddev,ttft_ms_p50,ttft_ms_p95,"
        "ttft_ms_p99,itl_ms_p50,itl_ms_p95,itl_ms_p99,e2e_ms_p50,e2e_ms_p95,e2e_ms_p99,"
        "gpu_bytes_held,peak_ram_bytes,bytes_read_per_token,copy_bandwidth,tg_bandwidth_fraction,"
        "cpu_bytes_read_per_token,cpu_read_bandwidth,tg_cpu_bandwidth_fraction,settings\n");
}

void print_csv_row(const BenchmarkResult& r) {
    std::printf(
        "%s,%s,%llu,%zu,%zu,%s,%d,%zu,%zu,%zu,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.4f,%.4f,"
        "%.4f,%.3f,%.3f,%.3f,%llu,%llu,%llu,%.0f,%.4f,%llu,%.0f,%.4f,%s\n",
        csv_field(r.model).c_str(), r.file_type.c_str(),
        static_cast<unsigned long long>(r.model_bytes), r.gpu_layers, r.layers, r.kv_type.c_str(),
        r.cuda_graphs ? 1 : 0, r.prompt_tokens, r.generated_tokens, r.repetitions,
        r.prompt_tokens_per_second.mean, r.prompt_tokens_per_second.stddev,
        r.generation_tokens_per_second.mean, r.generation_tokens_per_second.stddev,
        r.time_to_first_token_ms.p50, r.time_to_first_token_ms.p95, r.time_to_first_token_ms.p99,
        r.inter_token_ms.p50, r.inter_token_ms.p95, r.inter_token_ms.p99, r.end_to_end_ms.p50,
        r.end_to_end_ms.p95, r.end_to_end_ms.p99, static_cast<unsigned long long>(r.gpu_bytes_held),
        static_cast<unsigned long long>(r.peak_ram_bytes),
        static_cast<unsigned long long>(r.bytes_read_per_token), r.copy_bandwidth,
        r.bandwidth_fraction, static_cast<unsigned long long>(r.cpu_bytes_read_per_token),
        r.cpu_read_bandwidth, r.cpu_bandwidth_fraction, csv_field(settings_pairs(r)).c_str());
}

struct Metric {
    std::string name, label;
    bool higher_is_better;
    double (*value)(const BenchmarkResult&);
    double (*spread)(const BenchmarkResult&);
};

Metric metric_named(const std::string& name) {
    if (name == "pp")
        return {name, "prompt processing, tokens/s", true,
                [](const BenchmarkResult& r) { return r.prompt_tokens_per_second.mean; },
                [](const BenchmarkResult& r) { return r.prompt_tokens_per_second.stddev; }};
    if (name == "tg")
        return {name, "generation, tokens/s", true,
                [](const BenchmarkResult& r) { return r.generation_tokens_per_second.mean; },
                [](const BenchmarkResult& r) { return r.generation_tokens_per_second.stddev; }};
    if (name == "ttft")
        return {name, "time to first token p50, ms", false,
                [](const BenchmarkResult& r) { return r.time_to_first_token_ms.p50; },
                [](const BenchmarkResult&) { return 0.0; }};
    if (name == "itl")
        return {name, "inter-token latency p50, ms", false,
                [](const BenchmarkResult& r) { return r.inter_token_ms.p50; },
                [](const BenchmarkResult&) { return 0.0; }};
    return {name, "end-to-end latency p50, ms", false,
            [](const BenchmarkResult& r) { return r.end_to_end_ms.p50; },
            [](const BenchmarkResult&) { return 0.0; }};
}

size_t best_row(const std::vector<BenchmarkResult>& rows, const Metric& metric) {
    size_t best = 0;
    for (size_t i = 1; i < rows.size(); ++i) {
        const double a = metric.value(rows[i]), b = metric.value(rows[best]);
        if (metric.higher_is_better ? a > b : a < b) best = i;
    }
    return best;
}

void print_sweep_table(const std::vector<BenchmarkResult>& rows, const Metric& metric) {
    std::printf(
        "| settings | GPU layers | pp t/s | tg t/s | TTFT p50/p99 ms | ITL p50/p99 ms | "
        "e2e p50 ms | VRAM GiB | RAM GiB |\n|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& r : rows) {
        std::printf(
            "| %s | %zu/%zu | %.1f ± %.1f | %.1f ± %.1f | %.1f/%.1f | %.2f/%.2f | %.1f | "
            "%.2f | %.2f |\n",
            settings_label(r).c_str(), r.gpu_layers, r.layers, r.prompt_tokens_per_second.mean,
            r.prompt_tokens_per_second.stddev, r.generation_tokens_per_second.mean,
            r.generation_tokens_per_second.stddev, r.time_to_first_token_ms.p50,
            r.time_to_first_token_ms.p99, r.inter_token_ms.p50, r.inter_token_ms.p99,
            r.end_to_end_ms.p50, gib(r.gpu_bytes_held), gib(r.peak_ram_bytes));
    }
    if (!rows.empty()) {
        const auto& best = rows[best_row(rows, metric)];
        std::printf("\nbest by %s: %s (%.4g)\n", metric.label.c_str(), settings_label(best).c_str(),
                    metric.value(best));
    }
}

void print_rows(const std::vector<BenchmarkResult>& rows, const BenchArguments& arguments) {
    if (arguments.output == "json") {
        if (rows.size() == 1 && arguments.sweep.empty() && !arguments.auto_tune) {
            std::printf("%s\n", to_json(rows[0]).dump(2).c_str());
        } else {
            auto all = nlohmann::json::array();
            for (const auto& r : rows) all.push_back(to_json(r));
            std::printf("%s\n", all.dump(2).c_str());
        }
    } else if (arguments.output == "csv") {
        print_csv_header();
        for (const auto& r : rows) print_csv_row(r);
    } else if (rows.size() == 1 && arguments.sweep.empty() && !arguments.auto_tune) {
        print_markdown(rows[0]);
    } else {
        print_sweep_table(rows, metric_named(arguments.metric));
    }
}

// The settings --auto-tune tries: as many layers on the GPU as fit (with either KV type, since
// q8_0 may fit more) and three ubatch sizes; on the CPU, ubatch sizes and thread counts.
std::vector<SweepAxis> auto_tune_axes(const EngineOptions& engine) {
    const bool gpu =
        (!engine.device.empty() && engine.device != "cpu") || !engine.gpu_layers.empty();
    if (gpu) {
        return {{"gpu-layers", {"auto"}},
                {"kv-type", {"f16", "q8_0"}},
                {"ubatch-size", {"128", "256", "512"}}};
    }
    const size_t cores = std::max<size_t>(1, std::thread::hardware_concurrency());
    std::vector<std::string> threads = {std::to_string(cores)};
    if (cores >= 2) threads.push_back(std::to_string(cores / 2));
    return {{"threads", threads}, {"ubatch-size", {"64", "128", "256"}}};
}

std::vector<BenchmarkResult> run_rows(const BenchArguments& arguments,
                                      const std::vector<SweepAxis>& axes) {
    std::vector<BenchmarkResult> rows;
    std::string failures;
    const auto root = ModelStore::root_or_default(arguments.store);
    for (const auto& point : sweep_grid(axes)) {
        auto options = arguments.bench;
        for (const auto& [key, value] : point) apply_sweep_setting(options, key, value);
        options.engine.model_path = resolve_model_argument(options.engine.model_path, root);
        try {
            auto result = run_benchmark(options);
            result.settings = point;
            rows.push_back(std::move(result));
        } catch (const Error& error) {
            // One impossible combination (too many layers for the memory, say) does not end
            // the sweep; it is reported and left out.
            BenchmarkResult label_only;
            label_only.settings = point;
            const auto message = fmt::format("{}: {}", settings_label(label_only), error.what());
            std::fprintf(stderr, "bench: skipped %s\n", message.c_str());
            failures += "\n  " + message;
        }
    }
    if (rows.empty()) throw Error("no setting could be measured:" + failures);
    return rows;
}

void write_chart(const std::vector<BenchmarkResult>& rows, const BenchArguments& arguments) {
    const auto metric = metric_named(arguments.metric);
    std::vector<ChartBar> bars;
    for (const auto& r : rows)
        bars.push_back({settings_label(r), metric.value(r), metric.spread(r)});
    const auto& first = rows.front();
    const std::string title =
        fmt::format("llcuda bench: {}{}, pp{} tg{}, {} reps",
                    std::filesystem::path(first.model).filename().string(),
                    first.file_type.empty() ? "" : " (" + first.file_type + ")",
                    first.prompt_tokens, first.generated_tokens, first.repetitions);
    write_file_atomically(arguments.chart,
                          bar_chart_svg(title, metric.label, bars, metric.higher_is_better));
    std::fprintf(stderr, "bench: chart of %s written to %s\n", metric.label.c_str(),
                 arguments.chart.c_str());
}

Summary summary_from_json(const nlohmann::json& j) {
    Summary s;
    s.count = j.value("count", size_t{0});
    s.mean = j.value("mean", 0.0);
    s.stddev = j.value("stddev", 0.0);
    s.min = j.value("min", 0.0);
    s.max = j.value("max", 0.0);
    s.p50 = j.value("p50", 0.0);
    s.p95 = j.value("p95", 0.0);
    s.p99 = j.value("p99", 0.0);
    return s;
}

// Rows written by `-o json` (one object, or an array of them from a sweep).
std::vector<BenchmarkResult> read_results(const std::string& path, bool label_with_file) {
    std::ifstream file(path);
    if (!file) throw Error(fmt::format("cannot read {}", path));
    const auto json = nlohmann::json::parse(file, nullptr, false);
    if (json.is_discarded()) throw Error(fmt::format("{} is not JSON", path));
    std::vector<BenchmarkResult> rows;
    for (const auto& e : json.is_array() ? json : nlohmann::json::array({json})) {
        if (!e.is_object() || !e.contains("tg_tokens_per_second"))
            throw Error(fmt::format("{} is not `llcuda bench -o json` output", path));
        BenchmarkResult r;
        r.model = e.value("model", "");
        r.file_type = e.value("file_type", "");
        r.layers = e.value("layers", size_t{0});
        r.gpu_layers = e.value("gpu_layers", size_t{0});
        r.prompt_tokens = e.value("prompt_tokens", size_t{0});
        r.generated_tokens = e.value("generated_tokens", size_t{0});
        r.repetitions = e.value("repetitions", size_t{0});
        r.prompt_tokens_per_second = summary_from_json(e["pp_tokens_per_second"]);
        r.generation_tokens_per_second = summary_from_json(e["tg_tokens_per_second"]);
        r.time_to_first_token_ms =
            summary_from_json(e.value("time_to_first_token_ms", nlohmann::json::object()));
        r.inter_token_ms = summary_from_json(e.value("inter_token_ms", nlohmann::json::object()));
        r.end_to_end_ms = summary_from_json(e.value("end_to_end_ms", nlohmann::json::object()));
        r.gpu_bytes_held = e.value("gpu_bytes_held", uint64_t{0});
        r.peak_ram_bytes = e.value("peak_ram_bytes", uint64_t{0});
        if (label_with_file)
            r.settings.emplace_back("run", std::filesystem::path(path).filename().string());
        const auto settings = e.value("settings", nlohmann::json::object());
        for (const auto& [key, value] : settings.items())
            r.settings.emplace_back(key,
                                    value.is_string() ? value.get<std::string>() : value.dump());
        rows.push_back(std::move(r));
    }
    return rows;
}

// --compare: earlier JSON results side by side, each as a ratio to the first.
std::vector<BenchmarkResult> compare(const std::vector<std::string>& paths) {
    std::vector<BenchmarkResult> rows;
    for (const auto& path : paths) {
        auto file_rows = read_results(path, paths.size() > 1);
        rows.insert(rows.end(), file_rows.begin(), file_rows.end());
    }
    const auto ratio = [](double value, double base) {
        return base > 0 ? fmt::format("{:.2f}x", value / base) : std::string("-");
    };
    const double base_pp = rows[0].prompt_tokens_per_second.mean;
    const double base_tg = rows[0].generation_tokens_per_second.mean;
    std::printf(
        "| run | GPU layers | pp t/s | vs first | tg t/s | vs first | TTFT p50 ms | ITL p50 ms |\n"
        "|---|---|---|---|---|---|---|---|\n");
    for (const auto& r : rows) {
        std::printf("| %s | %zu/%zu | %.1f | %s | %.1f | %s | %.2f | %.3f |\n",
                    settings_label(r).c_str(), r.gpu_layers, r.layers,
                    r.prompt_tokens_per_second.mean,
                    ratio(r.prompt_tokens_per_second.mean, base_pp).c_str(),
                    r.generation_tokens_per_second.mean,
                    ratio(r.generation_tokens_per_second.mean, base_tg).c_str(),
                    r.time_to_first_token_ms.p50, r.inter_token_ms.p50);
    }
    return rows;
}

void bench(BenchArguments& arguments) {
    if (!arguments.compare.empty()) {
        const auto rows = compare(arguments.compare);
        if (!arguments.chart.empty()) write_chart(rows, arguments);
        return;
    }
    auto axes = parse_sweep(arguments.sweep);
    if (arguments.auto_tune) {
        if (!axes.empty()) throw Error("--auto-tune picks its own settings; drop --sweep");
        axes = auto_tune_axes(arguments.bench.engine);
    }
    const auto rows = run_rows(arguments, axes);
    print_rows(rows, arguments);
    if (!arguments.chart.empty()) write_chart(rows, arguments);
    if (arguments.auto_tune) {
        const auto metric = metric_named(arguments.metric);
        const auto& best = rows[best_row(rows, metric)];
        std::string flags = fmt::format("--ubatch-size {}", best.ubatch_size);
        if (best.gpu_layers > 0)
            flags =
                fmt::format("--gpu-layers {} --kv-type {} ", best.gpu_layers, best.kv_type) + flags;
        else
            flags = fmt::format("--threads {} ", best.threads) + flags;
        std::printf("\nauto-tune: best %s is %.4g with: %s\n", metric.label.c_str(),
                    metric.value(best), flags.c_str());
    }
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
    command->add_flag("--tg-from-empty", arguments->bench.tg_from_empty,
                      "Measure tg from an empty cache, as llama-bench does (default: tg "
                      "continues after the prompt, as a request does)");
    command
        ->add_option("--depth", arguments->bench.depth,
                     "Tokens in the cache before each repetition (unmeasured): pp and tg at "
                     "that context depth")
        ->check(CLI::Range(size_t{0}, size_t{1} << 20));
    command
        ->add_option("--parallel", arguments->bench.parallel,
                     "Sequences decoded together: -p/-n requests at once, tg their total "
                     "tokens/s, ITL each sequence's (sweep several: --sweep parallel=1,8,32)")
        ->check(CLI::Range(size_t{1}, size_t{1024}));
    command->add_option("-o,--output", arguments->output, "table (markdown), json or csv")
        ->capture_default_str()
        ->check(CLI::IsMember({"table", "md", "json", "csv"}));
    command->add_option(
        "--sweep", arguments->sweep,
        "KEY=V1,V2,...: measure every combination (repeatable). Keys: model, "
        "gpu-layers, batch-size, ubatch-size, kv-type, threads, cuda-graphs, kernel-overlap, "
        "l2-prefetch, rope-fusion, row-parallel-attention, flash-attn, prompt, gen, depth, "
        "parallel");
    command->add_option("--chart", arguments->chart, "Write an SVG bar chart of --metric");
    command->add_option("--metric", arguments->metric, "What the chart and 'best' rank")
        ->capture_default_str()
        ->check(CLI::IsMember({"pp", "tg", "ttft", "itl", "e2e"}));
    command->add_flag("--auto-tune", arguments->auto_tune,
                      "Try GPU layers (as many as fit), KV types and ubatch sizes, and print "
                      "the best settings for this machine");
    command->add_option("--compare", arguments->compare,
                        "Compare earlier `-o json` results (files) instead of measuring");
    add_engine_options(*command, arguments->bench.engine);
    command->callback([arguments] { bench(*arguments); });
}

}  // namespace llcuda
