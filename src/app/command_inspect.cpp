// `llcuda inspect FILE`: what a GGUF file holds and what loading it would take.
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "core/error.hpp"
#include "core/gguf/gguf_file.hpp"
#include "engine/embedded_model.hpp"
#include "model/memory_estimate.hpp"
#include "model/model_spec.hpp"
#include "model/spec_summary.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"

namespace llcuda {
namespace {

struct InspectArguments {
    std::string path;
    bool json = false;
    size_t context_size = 0;  // 0: what run would use (context_size_to_use)
    size_t max_items = 8;
    std::string store;
};

nlohmann::json value_to_json(const GgufValue& value, size_t max_items) {
    switch (value.type()) {
        case GgufType::String:
            return value.as_string();
        case GgufType::Bool:
            return value.as_bool();
        case GgufType::Float32:
        case GgufType::Float64:
            return value.as_double();
        case GgufType::Int8:
        case GgufType::Int16:
        case GgufType::Int32:
        case GgufType::Int64:
            return value.as_int();
        case GgufType::Array: {
            const auto& contents = value.as_array();
            nlohmann::json items = nlohmann::json::array();
            for (size_t i = 0; i < contents.items.size() && i < max_items; ++i) {
                items.push_back(value_to_json(contents.items[i], max_items));
            }
            return {{"type", gguf_type_name(contents.element_type)},
                    {"length", contents.items.size()},
                    {"items", items},
                    {"truncated", contents.items.size() > max_items}};
        }
        default:
            return value.as_uint();
    }
}

std::string shape_text(const std::vector<uint64_t>& shape) {
    std::string text;
    for (const auto extent : shape) text += (text.empty() ? "" : " x ") + std::to_string(extent);
    return text;
}

// 292800 -> "292.8 K", 8.03e9 -> "8.03 B": "0.000 B" said nothing about a tiny model.
std::string parameter_count_text(uint64_t parameters) {
    const double count = static_cast<double>(parameters);
    if (count >= 1e9) return fmt::format("{:.2f} B", count / 1e9);
    if (count >= 1e6) return fmt::format("{:.1f} M", count / 1e6);
    if (count >= 1e3) return fmt::format("{:.1f} K", count / 1e3);
    return fmt::format("{}", parameters);
}

std::string gib(uint64_t bytes) {
    return fmt::format("{:.3f} GiB", static_cast<double>(bytes) / (1ull << 30));
}

void inspect(const InspectArguments& arguments) {
    const std::string path =
        resolve_model_argument(arguments.path, ModelStore::root_or_default(arguments.store));
    const auto file = path.empty()
                          ? GgufFile::from_memory(embedded_model_bytes(), kEmbeddedModelName)
                          : GgufFile::open(path);
    uint64_t parameters = 0;
    std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;  // name -> (tensors, bytes)
    for (const auto& tensor : file.tensors()) {
        parameters += tensor.element_count;
        auto& entry = by_type[std::string(dtype_name(tensor.type))];
        entry.first += 1;
        entry.second += tensor.byte_count;
    }
    std::optional<ModelSpec> spec;
    std::optional<MemoryEstimate> estimate;
    size_t context_size = arguments.context_size;
    std::string estimate_problem;
    try {
        spec = read_model_spec(file);
        context_size = context_size_to_use(arguments.context_size, spec->trained_context);
        estimate = estimate_memory(file, *spec, context_size);
    } catch (const Error& error) {
        estimate_problem = error.what();
    }

    if (arguments.json) {
        nlohmann::json out;
        out["file"] = file.description();
        out["gguf_version"] = file.version();
        out["file_size"] = file.file_size();
        out["alignment"] = file.alignment();
        out["parameters"] = parameters;
        for (const auto& [key, value] : file.metadata())
            out["metadata"][key] = value_to_json(value, arguments.max_items);
        out["tensors"] = nlohmann::json::array();
        for (const auto& tensor : file.tensors()) {
            out["tensors"].push_back({{"name", tensor.name},
                                      {"shape", tensor.shape},
                                      {"type", dtype_name(tensor.type)},
                                      {"offset", tensor.offset},
                                      {"bytes", tensor.byte_count}});
        }
        for (const auto& [name, entry] : by_type)
            out["types"][name] = {{"tensors", entry.first}, {"bytes", entry.second}};
        if (spec) out["architecture"] = spec_summary_json(*spec, context_size);
        if (estimate) {
            out["memory"] = {{"context_size", context_size},
                             {"weights", estimate->weight_bytes},
                             {"kv_cache", estimate->kv_cache_bytes},
                             {"kv_cache_without_rings", estimate->kv_cache_without_rings_bytes},
                             {"scratch", estimate->scratch_bytes},
                             {"total", estimate->total()}};
        } else {
            out["memory"] = {{"error", estimate_problem}};
        }
        std::puts(out.dump(2).c_str());
        return;
    }

    std::printf("file: %s\nGGUF version %u, %llu bytes, alignment %llu\n",
                file.description().c_str(), file.version(),
                static_cast<unsigned long long>(file.file_size()),
                static_cast<unsigned long long>(file.alignment()));
    std::printf("\nmetadata (%zu keys):\n", file.metadata().size());
    for (const auto& [key, value] : file.metadata()) {
        std::printf("  %-45s %s\n", key.c_str(),
                    value.to_display_string(arguments.max_items).c_str());
    }
    std::printf("\ntensors (%zu):\n", file.tensors().size());
    for (const auto& tensor : file.tensors()) {
        std::printf("  %-32s %-6s [%s] %llu bytes\n", tensor.name.c_str(),
                    std::string(dtype_name(tensor.type)).c_str(), shape_text(tensor.shape).c_str(),
                    static_cast<unsigned long long>(tensor.byte_count));
    }
    std::printf("\nquant types:\n");
    for (const auto& [name, entry] : by_type) {
        std::printf("  %-6s %llu tensors, %s\n", name.c_str(),
                    static_cast<unsigned long long>(entry.first), gib(entry.second).c_str());
    }
    std::printf("\nparameters: %llu (%s)\n", static_cast<unsigned long long>(parameters),
                parameter_count_text(parameters).c_str());
    if (spec) {
        std::printf("\narchitecture:\n");
        for (const auto& line : spec_summary_lines(*spec, context_size))
            std::printf("  %s\n", line.c_str());
    }
    if (estimate) {
        if (const auto warning = context_length_warning(context_size, spec->trained_context);
            !warning.empty()) {
            std::printf("%s\n", warning.c_str());
        }
        std::printf("memory to load at context %zu: %s (weights %s, KV cache %s, scratch %s)\n",
                    context_size, gib(estimate->total()).c_str(),
                    gib(estimate->weight_bytes).c_str(), gib(estimate->kv_cache_bytes).c_str(),
                    gib(estimate->scratch_bytes).c_str());
        if (estimate->window_layers > 0) {
            std::printf(
                "  (the KV cache would be %s if the %zu sliding-window layers kept every "
                "position)\n",
                gib(estimate->kv_cache_without_rings_bytes).c_str(), estimate->window_layers);
        }
    } else {
        std::printf("memory to load: cannot estimate: %s\n", estimate_problem.c_str());
    }
}

}  // namespace

void register_inspect_command(CLI::App& app) {
    auto arguments = std::make_shared<InspectArguments>();
    auto* command =
        app.add_subcommand("inspect", "Show a GGUF file's metadata, tensors and memory needs");
    command->add_option("file", arguments->path,
                        "GGUF file or store name (default: the embedded model)");
    command->add_option("--store", arguments->store,
                        "Model store directory (default: LLCUDA_STORE or ~/.cache/llcuda)");
    command->add_flag("--json", arguments->json, "Print JSON");
    command
        ->add_option("-c,--ctx-size", arguments->context_size,
                     "Context size for the memory estimate (0: the one run uses, the trained "
                     "context up to 4096)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1} << 20));
    command->add_option("--max-items", arguments->max_items, "Array items shown per metadata value")
        ->capture_default_str();
    command->callback([arguments] { inspect(*arguments); });
}

}  // namespace llcuda
