// `llcuda chat`: an interactive conversation in the terminal, rendered with the model's chat
// template, the reply streamed as it is generated.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "app/commands.hpp"
#include "app/engine_options.hpp"
#include "core/error.hpp"
#include "llcuda/engine.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"

namespace llcuda {
namespace {

struct ChatArguments {
    EngineOptions engine;
    GenerationOptions generation;
    std::string system;
    std::string chat_template_path;
    bool seed_given = false;
    std::string store;
};

// Ctrl-C while a reply is generated stops that reply; at the prompt the first one says how to
// leave and the second exits.
std::atomic<bool> generating{false};
std::atomic<bool> stop_requested{false};
std::atomic<int> interrupts_at_prompt{0};

void on_interrupt(int) {
    if (generating.load()) {
        stop_requested.store(true);
        return;
    }
    if (interrupts_at_prompt.fetch_add(1) >= 1) _exit(130);
    static const char hint[] = "\n(Ctrl-C again or /exit to quit)\n> ";
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, hint, sizeof hint - 1);
}

void install_interrupt_handler() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    action.sa_flags = SA_RESTART;  // the prompt's read goes on after the hint
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
}

std::string read_text(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw Error(fmt::format("cannot read the chat template {} (--chat-template)", path));
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

nlohmann::json fresh_history(const std::string& system) {
    auto history = nlohmann::json::array();
    if (!system.empty()) history.push_back({{"role", "system"}, {"content", system}});
    return history;
}

void chat(ChatArguments& arguments) {
    if (!arguments.seed_given) arguments.generation.sampling.seed = std::random_device{}();
    arguments.generation.sampling.validate();
    arguments.engine.model_path = resolve_model_argument(
        arguments.engine.model_path, ModelStore::root_or_default(arguments.store));
    if (!arguments.chat_template_path.empty())
        arguments.engine.chat_template = read_text(arguments.chat_template_path);
    Engine engine(arguments.engine);
    // Fail before the first prompt when the model has no usable template.
    engine.render_chat(R"([{"role":"user","content":"hi"}])");

    const bool terminal = ::isatty(STDIN_FILENO) != 0;
    install_interrupt_handler();
    if (terminal)
        std::fprintf(stderr,
                     "llcuda chat: %s | /reset clears the conversation, /system TEXT sets the "
                     "system prompt, /exit or Ctrl-D quits, Ctrl-C stops a reply\n",
                     engine.summary().source.c_str());
    std::string system = arguments.system;
    auto history = fresh_history(system);
    const size_t context = engine.summary().context_size;
    std::string line;
    while (true) {
        if (terminal) std::fputs("> ", stdout);
        std::fflush(stdout);
        if (!std::getline(std::cin, line)) break;
        interrupts_at_prompt.store(0);
        if (line.empty()) continue;
        if (line == "/exit") break;
        if (line == "/reset") {
            history = fresh_history(system);
            std::fputs("(conversation cleared)\n", stdout);
            continue;
        }
        if (line.rfind("/system", 0) == 0 && (line.size() == 7 || line[7] == ' ')) {
            system = line.size() > 8 ? line.substr(8) : "";
            history = fresh_history(system);
            std::fputs("(system prompt set; conversation cleared)\n", stdout);
            continue;
        }
        history.push_back({{"role", "user"}, {"content", line}});
        // Each turn renders the whole conversation and generates from it; the prefix cache
        // (engine/prefix_cache.hpp) finds the history the KV cache already holds, so only the
        // new message and the template's markers around it are prefilled (all of it with
        // --no-prefix-cache).
        const auto prompt = engine.render_chat(history.dump());
        // The template writes its own BOS where it wants one.
        auto options = arguments.generation;
        options.add_bos = false;
        options.parse_special = true;
        const auto prompt_length = engine.prompt_tokens(prompt, options).size();
        if (prompt_length >= context) {
            history.erase(history.end() - 1);
            std::fprintf(stderr,
                         "llcuda chat: the conversation (%zu tokens) no longer fits the context "
                         "of %zu tokens; /reset it or restart with a larger -c/--ctx-size\n",
                         prompt_length, context);
            continue;
        }
        options.max_tokens = std::min(options.max_tokens, context - prompt_length);
        stop_requested.store(false);
        options.should_stop = [] { return stop_requested.load(); };
        generating.store(true);
        std::string reply;
        GenerationResult result;
        try {
            result = engine.generate(prompt, options, [&](std::string_view text) {
                reply.append(text);
                std::fwrite(text.data(), 1, text.size(), stdout);
                std::fflush(stdout);
            });
        } catch (...) {
            generating.store(false);
            throw;
        }
        generating.store(false);
        std::fputs("\n", stdout);
        if (result.finish_reason == "cancelled") std::fputs("(reply stopped)\n", stdout);
        std::fflush(stdout);
        history.push_back({{"role", "assistant"}, {"content", reply}});
        if (terminal)
            std::fprintf(stderr, "(%zu tokens, %.1f tokens/s, first token %.0f ms)\n",
                         result.tokens.size(), result.decode_tokens_per_second(),
                         result.time_to_first_token_ms);
    }
}

}  // namespace

void register_chat_command(CLI::App& app) {
    auto arguments = std::make_shared<ChatArguments>();
    auto* command = app.add_subcommand("chat", "Chat with a model in the terminal");
    command->add_option("-m,--model", arguments->engine.model_path,
                        "GGUF file or store name (default: the embedded stories260K)");
    command->add_option("--store", arguments->store,
                        "Model store directory (default: LLCUDA_STORE or ~/.cache/llcuda)");
    command->add_option("--system", arguments->system, "System prompt");
    command->add_option("--chat-template", arguments->chat_template_path,
                        "Jinja chat template file replacing the model's");
    add_sampling_options(*command, arguments->generation);
    command
        ->add_option_function<uint64_t>(
            "-s,--seed",
            [arguments](uint64_t seed) {
                arguments->generation.sampling.seed = seed;
                arguments->seed_given = true;
            },
            "Random seed (default: random)")
        ->check(non_negative());
    add_engine_options(*command, arguments->engine);
    add_prefix_cache_option(*command, arguments->engine);
    command->callback([arguments] { chat(*arguments); });
}

}  // namespace llcuda
