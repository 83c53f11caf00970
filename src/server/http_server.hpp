#pragma once
// `llcuda serve`: the OpenAI-compatible HTTP API (cpp-httplib) in front of one engine.
// It listens before the model is loaded (GET /health says "loading" until then), checks the
// Bearer key on everything but /health, limits body size, prompt length and max_tokens,
// answers every error with an OpenAI error object, and streams with server-sent events.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "llcuda/engine.hpp"
#include "server/openai_protocol.hpp"

namespace llcuda {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;  // 0: any free port (printed)
    std::string api_key;
    std::string model_name;  // shown by /v1/models; default: the model file's name
    size_t max_queue = 64;   // generations waiting beyond the --parallel running ones
    size_t max_body_bytes = size_t{1} << 20;
    size_t max_prompt_tokens = 0;  // 0: the context size less one
    std::chrono::seconds timeout{600};
    // A read of a request that gets no bytes for this long is answered 400 (--read-timeout).
    std::chrono::seconds read_timeout{30};
    // How long generations in flight may finish after SIGTERM (--shutdown-grace).
    std::chrono::seconds shutdown_grace{10};
    size_t http_threads = 64;
    ServerLimits limits;
};

class HttpServer {
  public:
    explicit HttpServer(const ServerOptions& options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    int port() const;  // the bound port
    // Serves requests with this engine from now on (until then: 503 "loading").
    void attach(Engine& engine);
    void run();  // blocks until stop()
    // Refuses new generations, gives those in flight --shutdown-grace, ends the rest with an
    // error, and stops listening; returns when that is done (run() returns soon after).
    void stop();
    // Waits for the generation thread to finish and lets go of the engine (before it is freed).
    void detach();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace llcuda
