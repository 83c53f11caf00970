// `llcuda serve`: the OpenAI-compatible server. It binds first (so /health can say "loading"),
// loads the model, then serves until SIGINT or SIGTERM.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "app/commands.hpp"
#include "app/engine_options.hpp"
#include "core/error.hpp"
#include "server/http_server.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"

namespace llcuda {
namespace {

struct ServeArguments {
    EngineOptions engine;
    ServerOptions server;
    std::string chat_template_path, store;
    size_t timeout_seconds = 600, read_timeout_seconds = 30, shutdown_grace_seconds = 10;
    bool verbose = false;
};

// After the grace period the generations are told to stop and do at the next token; this is
// how long that may take before the process exits without them (a stuck forward pass or
// render must not keep a stopped server alive).
constexpr std::chrono::seconds kExitAfterStop{5};

// Waits for SIGINT or SIGTERM on its own thread and stops the server; if the serving thread
// has not finished kExitAfterStop after that, ends the process.
class SignalWatcher {
  public:
    SignalWatcher(HttpServer& server, sigset_t signals)
        : thread_([this, &server, signals] { watch(server, signals); }) {}
    // The serving thread finished on its own (the model failed to load, or it stopped).
    void finished() {
        {
            std::lock_guard lock(mutex_);
            finished_ = true;
        }
        done_.notify_all();
        pthread_kill(thread_.native_handle(), SIGTERM);  // ends a sigwait with no signal sent
        thread_.join();
    }

  private:
    void watch(HttpServer& server, sigset_t signals) {
        int received = 0;
        sigwait(&signals, &received);
        {
            std::lock_guard lock(mutex_);
            if (finished_) return;
        }
        std::fprintf(stderr, "llcuda serve: stopping (signal %d)\n", received);
        server.stop();
        std::unique_lock lock(mutex_);
        if (!done_.wait_for(lock, kExitAfterStop, [&] { return finished_; })) {
            std::fprintf(stderr,
                         "llcuda serve: requests still running %lld s after stopping; exiting "
                         "without them\n",
                         static_cast<long long>(kExitAfterStop.count()));
            std::_Exit(1);
        }
    }

    std::mutex mutex_;
    std::condition_variable done_;
    bool finished_ = false;
    std::thread thread_;
};

std::string read_text(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw Error(fmt::format("cannot read the chat template {}", path));
    std::stringstream content;
    content << file.rdbuf();
    return content.str();
}

// What the ready line says about chat: nothing when there is a template, else why chat
// completions are refused (a missing template, or one that failed to parse, with its line).
std::string chat_template_note(const Engine& engine) {
    if (!engine.summary().chat_template.empty()) return "";
    try {
        // The engine keeps the reason for the refusal; rendering is how it tells it.
        engine.render_chat(R"([{"role": "user", "content": "x"}])");
    } catch (const Error& error) {
        return fmt::format("; chat completions refused: {}", error.what());
    }
    return "";
}

void serve(ServeArguments& arguments) {
    if (arguments.server.api_key.empty()) {
        if (const char* key = std::getenv("LLCUDA_API_KEY")) arguments.server.api_key = key;
    }
    if (!arguments.chat_template_path.empty())
        arguments.engine.chat_template = read_text(arguments.chat_template_path);
    arguments.server.timeout = std::chrono::seconds(arguments.timeout_seconds);
    arguments.server.read_timeout = std::chrono::seconds(arguments.read_timeout_seconds);
    arguments.server.shutdown_grace = std::chrono::seconds(arguments.shutdown_grace_seconds);
    arguments.engine.model_path = resolve_model_argument(
        arguments.engine.model_path, ModelStore::root_or_default(arguments.store));

    // SIGINT and SIGTERM reach one thread that stops the server (no work in a signal handler).
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    HttpServer server(arguments.server);
    std::thread http([&server] { server.run(); });
    SignalWatcher watcher(server, signals);
    std::fprintf(stderr, "llcuda serve: listening on http://%s:%d (loading the model)\n",
                 arguments.server.host.c_str(), server.port());
    std::unique_ptr<Engine> engine;
    try {
        engine = std::make_unique<Engine>(arguments.engine);
    } catch (...) {
        server.stop();
        http.join();
        watcher.finished();
        throw;
    }
    const auto& summary = engine->summary();
    if (arguments.verbose) print_placement(summary);
    server.attach(*engine);
    std::fprintf(stderr,
                 "llcuda serve: ready on http://%s:%d: %s on %s, %zu parallel sequences of %zu "
                 "tokens%s%s\n",
                 arguments.server.host.c_str(), server.port(), summary.source.c_str(),
                 summary.device_description.c_str(), summary.parallel, summary.context_size,
                 arguments.server.api_key.empty() ? "" : ", API key required",
                 chat_template_note(*engine).c_str());
    std::fflush(stderr);
    http.join();
    server.detach();  // the generation thread ends before the engine it uses is freed
    watcher.finished();
}

}  // namespace

void register_serve_command(CLI::App& app) {
    auto arguments = std::make_shared<ServeArguments>();
    arguments->engine.parallel = 4;
    auto* command =
        app.add_subcommand("serve",
                           "OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, "
                           "/v1/models, /health, /metrics) with continuous batching");
    command->add_option("-m,--model", arguments->engine.model_path,
                        "GGUF file or store name (default: the embedded stories260K)");
    command->add_option("--store", arguments->store, "Model store directory");
    command->add_option("--host", arguments->server.host, "Address to listen on")
        ->capture_default_str();
    command->add_option("--port", arguments->server.port, "Port (0: any free one)")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    command->add_option("--api-key", arguments->server.api_key,
                        "Require 'Authorization: Bearer KEY' (also LLCUDA_API_KEY)");
    command->add_option("--alias", arguments->server.model_name,
                        "Model id in responses and /v1/models (default: the file name)");
    command
        ->add_option("--parallel", arguments->engine.parallel,
                     "Sequences decoded together (each gets its own --ctx-size)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{1024}));
    command
        ->add_option("--max-queue", arguments->server.max_queue,
                     "Generations that may wait for a slot; more get 429")
        ->capture_default_str();
    command
        ->add_option("--max-body-bytes", arguments->server.max_body_bytes,
                     "Largest request body; larger ones get 413")
        ->capture_default_str();
    command->add_option("--max-prompt-tokens", arguments->server.max_prompt_tokens,
                        "Longest prompt (default: the context size less one)");
    command
        ->add_option("--max-tokens-limit", arguments->server.limits.max_tokens,
                     "Largest max_tokens a request may ask for")
        ->capture_default_str();
    command
        ->add_option("--timeout", arguments->timeout_seconds,
                     "Seconds a request may take before it is cut off")
        ->capture_default_str();
    command
        ->add_option("--read-timeout", arguments->read_timeout_seconds,
                     "Seconds a request's bytes may stop coming before it is answered 400")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{3600}));
    command
        ->add_option("--shutdown-grace", arguments->shutdown_grace_seconds,
                     "Seconds generations in flight may finish after SIGTERM; then they end "
                     "with an error")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{3600}));
    command->add_option("--chat-template", arguments->chat_template_path,
                        "Jinja chat template file replacing the model's");
    add_engine_options(*command, arguments->engine);
    add_prefix_cache_option(*command, arguments->engine);
    command->add_flag("-v,--verbose", arguments->verbose, "Print where each layer runs");
    command->callback([arguments] { serve(*arguments); });
}

}  // namespace llcuda
