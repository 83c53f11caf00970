// `llcuda pull OWNER/REPO FILE` or `llcuda pull OWNER/REPO:QUANT`: fetch a model into the store.
#include <fmt/format.h>

#include <cstdio>

#include "app/commands.hpp"
#include "store/model_puller.hpp"
#include "store/progress_reporter.hpp"

namespace llcuda {
namespace {

struct PullArguments {
    std::string repo;
    std::string file;
    std::string store;
    PullOptions options;
};

void pull(PullArguments& arguments) {
    ModelStore store(ModelStore::root_or_default(arguments.store));
    const auto result = pull_model(store, HubSettings::from_environment(), arguments.repo,
                                   arguments.file, arguments.options);
    std::printf(
        "%s: %s (%s, sha256 %s, %s%s)\n", result.entry.name.c_str(), result.how.c_str(),
        format_bytes(result.entry.size).c_str(), result.entry.sha256.c_str(),
        result.entry.quant.empty() ? "unknown quant" : result.entry.quant.c_str(),
        result.entry.architecture.empty() ? "" : (", " + result.entry.architecture).c_str());
}

}  // namespace

void register_pull_command(CLI::App& app) {
    auto arguments = std::make_shared<PullArguments>();
    auto* command =
        app.add_subcommand("pull", "Download a GGUF file from Hugging Face into the model store");
    command
        ->add_option("repo", arguments->repo,
                     "OWNER/REPO, or OWNER/REPO:QUANT to pick the file by quantization")
        ->required();
    command->add_option("file", arguments->file, "File in the repository, e.g. model-Q4_K_M.gguf");
    command->add_option("--revision", arguments->options.revision, "Branch, tag or commit")
        ->capture_default_str();
    command->add_option("--store", arguments->store,
                        "Model store directory (default: LLCUDA_STORE or ~/.cache/llcuda)");
    command->add_option("--retries", arguments->options.max_attempts, "Attempts before giving up")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    command->add_flag("-q,--quiet", arguments->options.quiet, "No progress output");
    command->callback([arguments] { pull(*arguments); });
}

}  // namespace llcuda
