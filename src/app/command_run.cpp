// `llcuda run`: generate text from a prompt and report speed and where it ran.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>

#include "app/commands.hpp"
#include "app/engine_options.hpp"
#include "app/grammar_options.hpp"
#include "core/error.hpp"
#include "llcuda/engine.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"

namespace llcuda {
namespace {

struct RunArguments {
    EngineOptions engine;
    GenerationOptions generation;
    GrammarArguments grammar;
    std::string prompt;
    std::string prompt_file;  // "-" is stdin
    bool seed_given = false;
    bool verbose = false;
    std::string store;
};

std::string read_prompt_file(const std::string& path) {
    if (path == "-") {
        std::ostringstream text;
        text << std::cin.rdbuf();
        return text.str();
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) throw Error(fmt::format("cannot read the prompt file '{}' (-f/--file)", path));
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void run(RunArguments& arguments) {
    // Without -p, a prompt piped in (`echo hi | llcuda run`) is read; a terminal is not
    // waited on, so a bare `llcuda run` still starts from BOS at once.
    if (!arguments.prompt_file.empty())
        arguments.prompt = read_prompt_file(arguments.prompt_file);
    else if (arguments.prompt.empty() && ::isatty(STDIN_FILENO) == 0)
        arguments.prompt = read_prompt_file("-");
    if (!arguments.seed_given) arguments.generation.sampling.seed = std::random_device{}();
    arguments.generation.sampling.validate();
    arguments.generation.grammar = grammar_from_arguments(arguments.grammar);
    arguments.engine.model_path = resolve_model_argument(
        arguments.engine.model_path, ModelStore::root_or_default(arguments.store));
    Engine engine(arguments.engine);
    const auto& summary = engine.summary();
    if (arguments.verbose) print_placement(summary);
    if (!summary.context_warning.empty())
        std::fprintf(stderr, "%s\n", summary.context_warning.c_str());

    // The prompt is echoed with the first text, so that a run that fails (a prompt longer than
    // the context, ...) prints nothing on stdout.
    bool echoed = false;
    auto echo_prompt = [&] {
        if (!echoed) std::fputs(arguments.prompt.c_str(), stdout);
        echoed = true;
    };
    const auto result =
        engine.generate(arguments.prompt, arguments.generation, [&](std::string_view text) {
            echo_prompt();
            std::fwrite(text.data(), 1, text.size(), stdout);
            std::fflush(stdout);
        });
    echo_prompt();
    std::fputs("\n", stdout);
    std::fflush(stdout);
    std::fprintf(stderr,
                 "\nprompt: %zu tokens, %.1f tokens/s | generated: %zu tokens, %.1f tokens/s | "
                 "time to first token: %.2f ms | finish: %s\n"
                 "device: %s | model: %s | seed: %llu\n",
                 result.prompt_tokens.size(), result.prompt_tokens_per_second(),
                 result.tokens.size(), result.decode_tokens_per_second(),
                 result.time_to_first_token_ms, result.finish_reason.c_str(),
                 summary.device_description.c_str(), summary.source.c_str(),
                 static_cast<unsigned long long>(arguments.generation.sampling.seed));
}

}  // namespace

void register_run_command(CLI::App& app) {
    auto arguments = std::make_shared<RunArguments>();
    auto* command = app.add_subcommand("run", "Generate text from a prompt");
    command->add_option("-m,--model", arguments->engine.model_path,
                        "GGUF file or store name (default: the embedded stories260K)");
    command->add_option("--store", arguments->store,
                        "Model store directory (default: LLCUDA_STORE or ~/.cache/llcuda)");
    auto* prompt_option =
        command->add_option("-p,--prompt", arguments->prompt,
                            "Prompt text (default: stdin when it is not a terminal, else empty: "
                            "start from BOS)");
    command
        ->add_option("-f,--file", arguments->prompt_file,
                     "Read the prompt from this file ('-' for stdin)")
        ->excludes(prompt_option);
    add_sampling_options(*command, arguments->generation);
    add_grammar_options(*command, arguments->grammar);
    command
        ->add_option_function<uint64_t>(
            "-s,--seed",
            [arguments](uint64_t seed) {
                arguments->generation.sampling.seed = seed;
                arguments->seed_given = true;
            },
            "Random seed (default: random, printed at the end)")
        ->check(non_negative());
    add_engine_options(*command, arguments->engine);
    command->add_flag("--special", arguments->generation.parse_special,
                      "Parse control tokens such as <s> in the prompt");
    command->add_flag("-v,--verbose", arguments->verbose, "Print where each layer runs");
    command->callback([arguments] { run(*arguments); });
}

}  // namespace llcuda
