#include "server/http_server.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <random>

#include "core/error.hpp"
#include "core/json_text.hpp"
#include "server/metrics.hpp"
#include "server/request_scheduler.hpp"
#include "server/tokenize_endpoints.hpp"

namespace llcuda {
namespace {

using nlohmann::json;

std::string request_id(const char* prefix) {
    static std::atomic<uint64_t> counter{0};
    static const uint64_t salt = std::random_device{}();
    return fmt::format("{}-{:x}{:06x}", prefix, salt & 0xffffff, ++counter);
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(json_text(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message,
                const std::string& param = "") {
    send_json(res, status, error_body(status, message, param));
}

std::string sse(const json& value) { return "data: " + json_text(value) + "\n\n"; }

}  // namespace

struct HttpServer::Impl {
    explicit Impl(const ServerOptions& options_) : options(options_) {}

    void routes();
    void completion(const httplib::Request& req, httplib::Response& res, bool chat);
    void tokenizer_endpoint(const httplib::Request& req, httplib::Response& res,
                            json (*respond)(const Engine&, const json&));
    void respond_whole(httplib::Response& res, const CompletionRequest& request,
                       const std::shared_ptr<RequestChannel>& channel, size_t prompt_tokens,
                       const std::string& endpoint);
    void respond_stream(httplib::Response& res, const CompletionRequest& request,
                        const std::shared_ptr<RequestChannel>& channel, size_t prompt_tokens,
                        const std::string& endpoint);
    void record_result(const GenerationResult& result);
    GaugeValues gauges() const;

    ServerOptions options;
    httplib::Server server;
    int bound_port = 0;
    std::atomic<Engine*> engine{nullptr};
    std::unique_ptr<RequestScheduler> scheduler;
    ServerMetrics metrics;
};

GaugeValues HttpServer::Impl::gauges() const {
    GaugeValues values;
    Engine* loaded = engine.load();
    values.ready = loaded != nullptr;
    if (loaded) {
        const auto statistics = scheduler->statistics();
        values.queue_depth = statistics.queued;
        values.active_sequences = statistics.active;
        values.parallel = loaded->summary().parallel;
        values.gpu_bytes_held = loaded->summary().gpu_bytes;
    }
    return values;
}

void HttpServer::Impl::record_result(const GenerationResult& result) {
    metrics.count_tokens(result.prompt_tokens.size(), result.tokens.size());
    if (!result.tokens.empty())
        metrics.observe_latency(result.time_to_first_token_ms / 1000.0, result.decode_seconds,
                                result.tokens.size());
}

void HttpServer::Impl::routes() {
    server.new_task_queue = [threads = options.http_threads] {
        return new httplib::ThreadPool(threads);
    };
    server.set_payload_max_length(options.max_body_bytes);
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second server
    // share a port that is already taken instead of failing.
    server.set_socket_options([](int socket) {
        int yes = 1;
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    server.set_read_timeout(60, 0);
    server.set_write_timeout(60, 0);

    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (options.api_key.empty() || req.path == "/health")
            return httplib::Server::HandlerResponse::Unhandled;
        const auto header = req.get_header_value("Authorization");
        if (header == "Bearer " + options.api_key)
            return httplib::Server::HandlerResponse::Unhandled;
        send_error(res, 401,
                   header.empty() ? "missing API key: send 'Authorization: Bearer KEY'"
                                  : "invalid API key");
        metrics.count_request(req.path, 401);
        return httplib::Server::HandlerResponse::Handled;
    });
    // Errors httplib produces itself (no route, body too large) get OpenAI error objects too.
    server.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        if (res.status == 404)
            send_error(res, 404, fmt::format("no route for {} {}", req.method, req.path));
        else if (res.status == 413)
            send_error(res, 413,
                       fmt::format("the request body is larger than {} bytes (--max-body-bytes)",
                                   options.max_body_bytes));
        else
            send_error(res, res.status, fmt::format("HTTP error {}", res.status));
        metrics.count_request(req.path, res.status);
    });
    server.set_exception_handler(
        [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
            std::string message = "internal error";
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& failure) {
                message = failure.what();
            }
            send_error(res, 500, message);
            metrics.count_request(req.path, 500);
        });

    server.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
        if (engine.load() == nullptr) return send_json(res, 503, {{"status", "loading"}});
        send_json(res, 200, {{"status", "ok"}});
    });
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics.render(gauges()), "text/plain; version=0.0.4");
    });
    server.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
        json data = json::array();
        if (engine.load() != nullptr) {
            data.push_back({{"id", options.model_name},
                            {"object", "model"},
                            {"created", static_cast<long>(std::time(nullptr))},
                            {"owned_by", "llcuda"}});
        }
        send_json(res, 200, {{"object", "list"}, {"data", data}});
        metrics.count_request(req.path, 200);
    });
    server.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
        completion(req, res, false);
    });
    server.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
        tokenizer_endpoint(req, res, tokenize_response);
    });
    server.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
        tokenizer_endpoint(req, res, detokenize_response);
    });
    server.Post("/v1/chat/completions",
                [this](const httplib::Request& req, httplib::Response& res) {
                    completion(req, res, true);
                });
}

// /tokenize and /detokenize: the tokenizer alone, answered at once (no generation slot).
void HttpServer::Impl::tokenizer_endpoint(const httplib::Request& req, httplib::Response& res,
                                          json (*respond)(const Engine&, const json&)) {
    try {
        const Engine* loaded = engine.load();
        if (loaded == nullptr) throw ApiError(503, "the model is still loading; retry shortly");
        const auto body = json::parse(req.body, nullptr, false);
        if (body.is_discarded()) throw ApiError(400, "the request body is not valid JSON");
        send_json(res, 200, respond(*loaded, body));
        metrics.count_request(req.path, 200);
    } catch (const ApiError& error) {
        send_error(res, error.status(), error.what(), error.param());
        metrics.count_request(req.path, error.status());
    } catch (const Error& error) {
        send_error(res, 400, error.what());
        metrics.count_request(req.path, 400);
    }
}

void HttpServer::Impl::completion(const httplib::Request& req, httplib::Response& res, bool chat) {
    const std::string endpoint = req.path;
    try {
        Engine* loaded = engine.load();
        if (loaded == nullptr) throw ApiError(503, "the model is still loading; retry shortly");
        const auto body = json::parse(req.body, nullptr, false);
        if (body.is_discarded()) throw ApiError(400, "the request body is not valid JSON");
        const auto request = parse_completion_request(body, chat, options.limits);
        std::string prompt = request.prompt;
        if (chat) {
            json extra = json::object();
            if (!request.tools.is_null()) extra["tools"] = request.tools;
            try {
                prompt = loaded->render_chat(request.messages.dump(), true, extra.dump());
            } catch (const Error& error) {
                throw ApiError(400, error.what(), "messages");
            }
        }
        // Tokenized once: the length checked here is the length generation starts from.
        const auto tokens = loaded->prompt_tokens(prompt, request.options);
        const size_t prompt_tokens = tokens.size();
        const size_t context = loaded->summary().context_size;
        const size_t prompt_limit = options.max_prompt_tokens > 0
                                        ? std::min(options.max_prompt_tokens, context - 1)
                                        : context - 1;
        if (prompt_tokens > prompt_limit) {
            throw ApiError(400,
                           fmt::format("the prompt is {} tokens; this server takes at most {} "
                                       "(context {} per sequence)",
                                       prompt_tokens, prompt_limit, context),
                           chat ? "messages" : "prompt");
        }
        const auto channel =
            scheduler->submit(tokens, request.options, request.choices, options.timeout);
        if (!channel && scheduler->stopping()) throw ApiError(503, "the server is shutting down");
        if (!channel) {
            res.set_header("Retry-After", "1");
            throw ApiError(429, fmt::format("the server is busy ({} generations queued); retry "
                                            "later",
                                            scheduler->statistics().queued));
        }
        if (request.stream)
            respond_stream(res, request, channel, prompt_tokens, endpoint);
        else
            respond_whole(res, request, channel, prompt_tokens, endpoint);
    } catch (const ApiError& error) {
        send_error(res, error.status(), error.what(), error.param());
        metrics.count_request(endpoint, error.status());
    } catch (const Error& error) {
        send_error(res, 400, error.what());
        metrics.count_request(endpoint, 400);
    }
}

void HttpServer::Impl::respond_whole(httplib::Response& res, const CompletionRequest& request,
                                     const std::shared_ptr<RequestChannel>& channel,
                                     size_t prompt_tokens, const std::string& endpoint) {
    std::vector<ChoiceResult> choices(request.choices);
    size_t finished = 0;
    std::string failure;
    while (finished < request.choices) {
        const auto event = channel->pop(std::chrono::milliseconds(200));
        if (!event) continue;  // the deadline ends generation; its result still arrives
        if (event->kind == ChannelEvent::Kind::Text) continue;
        ++finished;
        if (event->kind == ChannelEvent::Kind::Failed) {
            failure = event->error;
            continue;
        }
        record_result(event->result);
        auto& choice = choices[event->choice];
        choice.text = event->result.text;
        choice.finish_reason = event->result.finish_reason;
        choice.prompt_tokens = prompt_tokens;
        choice.completion_tokens = event->result.tokens.size();
        if (request.options.logprobs >= 0) {
            Engine* loaded = engine.load();
            choice.logprobs = logprobs_json(request, event->result.logprobs, [loaded](int32_t id) {
                return loaded->token_text(id);
            });
        }
    }
    if (channel->timed_out()) {
        throw ApiError(504, fmt::format("the request took longer than {} s (--timeout)",
                                        options.timeout.count()));
    }
    if (!failure.empty()) throw ApiError(500, failure);
    send_json(
        res, 200,
        completion_response(request, request_id(request.chat ? "chatcmpl" : "cmpl"),
                            static_cast<long>(std::time(nullptr)), options.model_name, choices));
    metrics.count_request(endpoint, 200);
}

void HttpServer::Impl::respond_stream(httplib::Response& res, const CompletionRequest& request,
                                      const std::shared_ptr<RequestChannel>& channel,
                                      size_t prompt_tokens, const std::string& endpoint) {
    struct StreamState {
        std::string id;
        long created = 0;
        std::vector<bool> started;
        size_t finished = 0, completion_tokens = 0;
    };
    auto state = std::make_shared<StreamState>();
    state->id = request_id(request.chat ? "chatcmpl" : "cmpl");
    state->created = static_cast<long>(std::time(nullptr));
    state->started.assign(request.choices, false);
    metrics.count_request(endpoint, 200);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, request, channel, prompt_tokens, state](size_t, httplib::DataSink& sink) {
            const auto write = [&](const std::string& text) {
                return sink.is_writable() && sink.write(text.data(), text.size());
            };
            while (state->finished < request.choices) {
                const auto event = channel->pop(std::chrono::milliseconds(100));
                if (!event) {
                    if (!sink.is_writable()) {  // the client went away: stop generating
                        channel->cancel();
                        return false;
                    }
                    continue;
                }
                const size_t choice = event->choice;
                std::string chunk;
                if (event->kind == ChannelEvent::Kind::Text) {
                    chunk = sse(stream_chunk(request, state->id, state->created, options.model_name,
                                             choice, event->text, "", !state->started[choice]));
                    state->started[choice] = true;
                } else if (event->kind == ChannelEvent::Kind::Finished) {
                    ++state->finished;
                    record_result(event->result);
                    state->completion_tokens += event->result.tokens.size();
                    const std::string reason =
                        channel->timed_out() ? "length" : event->result.finish_reason;
                    chunk = sse(stream_chunk(request, state->id, state->created, options.model_name,
                                             choice, "", reason, !state->started[choice]));
                    state->started[choice] = true;
                } else {
                    ++state->finished;
                    chunk = sse(error_body(500, event->error));
                }
                if (!write(chunk)) {
                    channel->cancel();
                    return false;
                }
            }
            std::string tail;
            if (request.include_usage) {
                tail += sse(usage_chunk(request, state->id, state->created, options.model_name,
                                        prompt_tokens, state->completion_tokens));
            }
            tail += "data: [DONE]\n\n";
            write(tail);
            sink.done();
            return true;
        },
        [channel](bool success) {
            if (!success) channel->cancel();
        });
}

HttpServer::HttpServer(const ServerOptions& options) : impl_(std::make_unique<Impl>(options)) {
    impl_->routes();
    if (options.port == 0) {
        impl_->bound_port = impl_->server.bind_to_any_port(options.host);
    } else if (impl_->server.bind_to_port(options.host, options.port)) {
        impl_->bound_port = options.port;
    } else {
        impl_->bound_port = -1;
    }
    if (impl_->bound_port <= 0) {
        throw Error(
            fmt::format("cannot listen on {}:{} (in use, or not an address of this "
                        "machine); choose another --port or --host",
                        options.host, options.port));
    }
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::port() const { return impl_->bound_port; }

void HttpServer::attach(Engine& engine) {
    impl_->scheduler = std::make_unique<RequestScheduler>(engine, impl_->options.max_queue);
    if (impl_->options.model_name.empty())
        impl_->options.model_name =
            std::filesystem::path(engine.summary().source).filename().string();
    impl_->engine = &engine;
}

void HttpServer::run() { impl_->server.listen_after_bind(); }

void HttpServer::detach() {
    impl_->engine = nullptr;
    impl_->scheduler.reset();
}

void HttpServer::stop() {
    if (impl_->scheduler) impl_->scheduler->shutdown();
    if (impl_->server.is_running()) impl_->server.stop();
}

}  // namespace llcuda
