// `llcuda quantize IN OUT TYPE`: convert a model's weight matrices to another storage type.
#include <fmt/format.h>

#include <cstdio>

#include "app/commands.hpp"
#include "core/error.hpp"
#include "model/model_quantizer.hpp"

namespace llcuda {
namespace {

struct QuantizeArguments {
    std::string input;
    std::string output;
    std::string type;
};

void quantize(const QuantizeArguments& arguments) {
    const auto target = dtype_from_name(arguments.type);
    if (!target || *target == DType::Q8_K) {
        throw Error(fmt::format(
            "unknown target type '{}'; use one of F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K "
            "Q3_K Q4_K Q5_K Q6_K",
            arguments.type));
    }
    if (arguments.input == arguments.output)
        throw Error("input and output must be different files");
    const auto source = GgufFile::open(arguments.input);
    GgufWriter writer;
    const auto report = quantize_model(source, *target, writer);
    writer.write(arguments.output);
    std::printf("%s: %zu tensors converted to %s, %zu kept; %.2f MiB -> %.2f MiB\n",
                arguments.output.c_str(), report.converted.size(),
                std::string(dtype_name(*target)).c_str(), report.kept.size(),
                static_cast<double>(report.bytes_before) / (1 << 20),
                static_cast<double>(report.bytes_after) / (1 << 20));
    for (const auto& kept : report.kept) std::printf("  kept %s\n", kept.c_str());
}

}  // namespace

void register_quantize_command(CLI::App& app) {
    auto arguments = std::make_shared<QuantizeArguments>();
    auto* command =
        app.add_subcommand("quantize", "Write a copy of a GGUF model with quantized weights");
    command->add_option("input", arguments->input, "Source GGUF file")->required();
    command->add_option("output", arguments->output, "Destination GGUF file")->required();
    command->add_option("type", arguments->type, "Target type, e.g. Q8_0, Q4_K, F16")->required();
    command->callback([arguments] { quantize(*arguments); });
}

}  // namespace llcuda
