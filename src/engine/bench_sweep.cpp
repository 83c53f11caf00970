#include "engine/bench_sweep.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "core/error.hpp"

namespace llcuda {
namespace {

size_t count_value(const std::string& key, const std::string& value, bool zero_allowed = false) {
    size_t parsed = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (error != std::errc() || end != value.data() + value.size() ||
        (parsed == 0 && !zero_allowed))
        throw Error(fmt::format("--sweep {}: '{}' is not a {} whole number", key, value,
                                zero_allowed ? "non-negative" : "positive"));
    return parsed;
}

bool on_off(const std::string& key, const std::string& value) {
    if (value == "on" || value == "1" || value == "true") return true;
    if (value == "off" || value == "0" || value == "false") return false;
    throw Error(fmt::format("--sweep {}: '{}' is not on or off", key, value));
}

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    size_t begin = 0;
    for (;;) {
        const size_t end = text.find(separator, begin);
        parts.push_back(text.substr(begin, end - begin));
        if (end == std::string::npos) return parts;
        begin = end + 1;
    }
}

}  // namespace

const std::vector<std::string>& sweep_keys() {
    static const std::vector<std::string> keys = {"model",
                                                  "gpu-layers",
                                                  "batch-size",
                                                  "ubatch-size",
                                                  "kv-type",
                                                  "threads",
                                                  "cuda-graphs",
                                                  "kernel-overlap",
                                                  "l2-prefetch",
                                                  "rope-fusion",
                                                  "row-parallel-attention",
                                                  "flash-attn",
                                                  "prompt",
                                                  "gen",
                                                  "depth",
                                                  "parallel"};
    return keys;
}

std::vector<SweepAxis> parse_sweep(const std::vector<std::string>& specifications) {
    std::vector<SweepAxis> axes;
    std::set<std::string> seen;
    for (const auto& specification : specifications) {
        const size_t equals = specification.find('=');
        if (equals == std::string::npos)
            throw Error(fmt::format("--sweep '{}': expected KEY=V1,V2,...", specification));
        SweepAxis axis{specification.substr(0, equals),
                       split(specification.substr(equals + 1), ',')};
        const auto& keys = sweep_keys();
        if (std::find(keys.begin(), keys.end(), axis.key) == keys.end()) {
            std::string known;
            for (const auto& key : keys) known += (known.empty() ? "" : ", ") + key;
            throw Error(fmt::format("--sweep: unknown key '{}' (known: {})", axis.key, known));
        }
        if (!seen.insert(axis.key).second)
            throw Error(fmt::format("--sweep: '{}' is given twice", axis.key));
        for (const auto& value : axis.values) {
            if (value.empty()) throw Error(fmt::format("--sweep {}: an empty value", axis.key));
        }
        axes.push_back(std::move(axis));
    }
    return axes;
}

std::vector<SweepPoint> sweep_grid(const std::vector<SweepAxis>& axes) {
    std::vector<SweepPoint> grid(1);
    for (const auto& axis : axes) {
        std::vector<SweepPoint> extended;
        for (const auto& point : grid) {
            for (const auto& value : axis.values) {
                auto next = point;
                next.emplace_back(axis.key, value);
                extended.push_back(std::move(next));
            }
        }
        grid = std::move(extended);
    }
    return grid;
}

void apply_sweep_setting(BenchmarkOptions& options, const std::string& key,
                         const std::string& value) {
    auto& engine = options.engine;
    if (key == "model") {
        engine.model_path = value;
    } else if (key == "gpu-layers") {
        engine.gpu_layers = value;
    } else if (key == "batch-size") {
        engine.batch_size = count_value(key, value);
    } else if (key == "ubatch-size") {
        engine.ubatch_size = count_value(key, value);
    } else if (key == "kv-type") {
        engine.kv_type = value;
    } else if (key == "threads") {
        engine.threads = count_value(key, value);
    } else if (key == "cuda-graphs") {
        engine.cuda_graphs = on_off(key, value);
    } else if (key == "kernel-overlap") {
        engine.kernel_overlap = on_off(key, value);
    } else if (key == "l2-prefetch") {
        engine.l2_prefetch = on_off(key, value);
    } else if (key == "rope-fusion") {
        engine.rope_fusion = on_off(key, value);
    } else if (key == "row-parallel-attention") {
        engine.row_parallel_attention = on_off(key, value);
    } else if (key == "flash-attn") {
        engine.flash_attention = on_off(key, value);
    } else if (key == "prompt") {
        options.prompt_tokens = count_value(key, value);
    } else if (key == "gen") {
        options.generated_tokens = count_value(key, value);
    } else if (key == "depth") {
        options.depth = count_value(key, value, true);
    } else if (key == "parallel") {
        options.parallel = count_value(key, value);
    } else {
        throw Error(fmt::format("--sweep: unknown key '{}'", key));
    }
}

}  // namespace llcuda
