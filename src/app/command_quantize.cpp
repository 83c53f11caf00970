// `llcuda quantize IN OUT TYPE`: convert a model's weight matrices to another storage type.
#include <fmt/format.h>

#include <cstdio>

#include "app/commands.hpp"
#include "core/error.hpp"
#include "model/model_quantizer.hpp"
#include "model/quant_mix.hpp"

namespace llcuda {
namespace {

struct QuantizeArguments {
    std::string input;
    std::string output;
    std::string type;
};

void quantize(const QuantizeArguments& arguments) {
    const auto target = QuantTarget::parse(arguments.type);
    if (arguments.input == arguments.output)
        throw Error("input and output must be different files");
    const auto source = GgufFile::open(arguments.input);
    GgufWriter writer;
    const auto report = quantize_model(source, target, writer);
    if (report.converted.empty()) {
        throw Error(fmt::format(
            "{}: no tensor can be converted to {} (each is already of the type it would get, "
            "or not a matrix); nothing written",
            arguments.input, target.name()));
    }
    writer.write(arguments.output);
    std::printf(
        "%s: %zu tensors converted to %s (%zu to another type, see below), %zu kept; "
        "%.2f MiB -> %.2f MiB\n",
        arguments.output.c_str(), report.converted.size(), target.name().c_str(),
        report.fell_back.size(), report.kept.size(),
        static_cast<double>(report.bytes_before) / (1 << 20),
        static_cast<double>(report.bytes_after) / (1 << 20));
    for (const auto& line : report.fell_back) std::printf("  %s\n", line.c_str());
    for (const auto& kept : report.kept) std::printf("  kept %s\n", kept.c_str());
}

}  // namespace

void register_quantize_command(CLI::App& app) {
    auto arguments = std::make_shared<QuantizeArguments>();
    auto* command =
        app.add_subcommand("quantize", "Write a copy of a GGUF model with quantized weights");
    command->add_option("input", arguments->input, "Source GGUF file")->required();
    command->add_option("output", arguments->output, "Destination GGUF file")->required();
    command
        ->add_option("type", arguments->type,
                     "Target type (Q8_0, Q4_K, F16, ...) or mix (Q3_K_M, Q4_K_M, Q5_K_M)")
        ->required();
    command->callback([arguments] { quantize(*arguments); });
}

}  // namespace llcuda
