// `llcuda synth`: write a benchmark model with random weights in a known model's shape.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "app/commands.hpp"
#include "app/engine_options.hpp"
#include "core/gguf/gguf_writer.hpp"
#include "engine/embedded_model.hpp"
#include "model/synthetic_model.hpp"

namespace llcuda {
namespace {

struct SynthArguments {
    SyntheticModelOptions model;
    std::string output;
    std::string tokenizer_from;
};

void synth(const SynthArguments& arguments) {
    const auto start = std::chrono::steady_clock::now();
    const auto tokenizer_source =
        arguments.tokenizer_from.empty()
            ? GgufFile::from_memory(embedded_model_bytes(), kEmbeddedModelName)
            : GgufFile::open(arguments.tokenizer_from);
    GgufWriter writer;
    build_synthetic_model(arguments.model, tokenizer_source, writer);
    writer.write(arguments.output);
    std::fprintf(stderr, "wrote %s: %s shape, %s, random weights (%.1f s)\n",
                 arguments.output.c_str(), arguments.model.shape.c_str(),
                 arguments.model.type.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace

void register_synth_command(CLI::App& app) {
    auto arguments = std::make_shared<SynthArguments>();
    std::string shapes;
    for (const auto& shape : known_model_shapes())
        shapes += (shapes.empty() ? "" : ", ") + shape.name;
    auto* command = app.add_subcommand(
        "synth", "Write a GGUF with random weights in a known model's shape, for benchmarks");
    command->add_option("--shape", arguments->model.shape, "Model shape: " + shapes)->required();
    command->add_option("--type", arguments->model.type, "Q4_K_M, or a type: F16, Q8_0, Q4_K, ...")
        ->capture_default_str();
    command->add_option("-o,--output", arguments->output, "GGUF file to write")->required();
    command->add_option("--tokenizer-from", arguments->tokenizer_from,
                        "GGUF whose tokenizer to copy (default: the embedded model's), padded "
                        "with unused tokens to the shape's vocabulary");
    command->add_option("--seed", arguments->model.seed, "Random seed")
        ->capture_default_str()
        ->check(non_negative());
    command->add_option("-t,--threads", arguments->model.threads, "Threads (default: all cores)")
        ->check(non_negative());
    command->callback([arguments] { synth(*arguments); });
}

}  // namespace llcuda
