#include "server/http_server.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "chat/tool_call_grammar.hpp"
#include "core/error.hpp"
#include "core/json_text.hpp"
#include "grammar/structured_output.hpp"
#include "server/bearer_key.hpp"
#include "server/embeddings_endpoint.hpp"
#include "server/metrics.hpp"
#include "server/persistent_connection_server.hpp"
#include "server/request_framing.hpp"
#include "server/request_scheduler.hpp"
#include "server/tokenize_endpoints.hpp"
#include "server/web_page.hpp"

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

// Why a generation ended before its natural end, as the error its client gets: a cut never
// reaches a client as a finish_reason, which would make it look like a complete answer.
ApiError cut_short(const RequestChannel& channel, std::chrono::seconds timeout) {
    if (const auto reason = channel.abort_reason()) return ApiError(503, *reason);
    if (channel.timed_out())
        return ApiError(
            504, fmt::format("the request took longer than {} s (--timeout)", timeout.count()));
    return ApiError(500, "the generation was cancelled");
}

using BodyHandler =
    std::function<void(const httplib::Request&, const std::string& body, httplib::Response&)>;

}  // namespace

struct HttpServer::Impl {
    explicit Impl(const ServerOptions& options_) : options(options_) {}

    void routes();
    void get(const std::string& path, httplib::Server::Handler handler);
    void post(const std::string& path, BodyHandler handler);
    httplib::Server::HandlerResponse check_request(const httplib::Request& req,
                                                   httplib::Response& res);
    void completion(const httplib::Request& req, const std::string& body_text,
                    httplib::Response& res, bool chat);
    void prepare_tool_calls(const Engine& loaded, CompletionRequest& request);
    void constrain_to_tool_calls(const Engine& loaded, CompletionRequest& request);
    void apply_template(const httplib::Request& req, const std::string& body_text,
                        httplib::Response& res);
    void embeddings(const httplib::Request& req, const std::string& body_text,
                    httplib::Response& res);
    void tokenizer_endpoint(const httplib::Request& req, const std::string& body_text,
                            httplib::Response& res, json (*respond)(const Engine&, const json&));
    void respond_whole(const httplib::Request& req, httplib::Response& res,
                       const CompletionRequest& request,
                       const std::shared_ptr<RequestChannel>& channel, size_t prompt_tokens,
                       const std::string& endpoint);
    void respond_stream(httplib::Response& res, const CompletionRequest& request,
                        const std::shared_ptr<RequestChannel>& channel, size_t prompt_tokens,
                        const std::string& endpoint);
    void record_result(const GenerationResult& result);
    void drain_then_stop();
    GaugeValues gauges() const;

    ServerOptions options;
    PersistentConnectionServer server;
    int bound_port = 0;
    std::atomic<Engine*> engine{nullptr};
    std::unique_ptr<RequestScheduler> scheduler;
    std::atomic<bool> stopping{false};
    // httplib's stop() does nothing before listen_after_bind() has begun, so a stop that came
    // first would leave run() listening for ever (CI saw `serve` hang 30 s when the model
    // failed to load that quickly). run() starts only while not stopping, under this mutex.
    std::mutex run_mutex;
    bool run_started = false;
    std::atomic<bool> run_ended{false};
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
        values.gpu_segments = loaded->summary().gpu_segments;
    }
    return values;
}

void HttpServer::Impl::record_result(const GenerationResult& result) {
    metrics.count_tokens(result.prompt_tokens.size(), result.tokens.size());
    metrics.count_prompt_cache(result.cached_tokens);
    if (!result.tokens.empty())
        metrics.observe_latency(result.time_to_first_token_ms / 1000.0, result.decode_seconds,
                                result.tokens.size());
}

void HttpServer::Impl::get(const std::string& path, httplib::Server::Handler handler) {
    metrics.add_endpoint(path);
    server.Get(path, std::move(handler));
}

// POST bodies are read through a content reader: httplib's own body reading parses a body
// sent as application/x-www-form-urlencoded (curl's default) and refuses one over 8 KB with a
// false 413. The API takes JSON whatever the Content-Type says.
void HttpServer::Impl::post(const std::string& path, BodyHandler handler) {
    metrics.add_endpoint(path);
    server.Post(path, [this, path, handler](const httplib::Request& req, httplib::Response& res,
                                            const httplib::ContentReader& reader) {
        if (req.is_multipart_form_data()) {
            server.close_after_response(req, res);
            send_error(res, 415,
                       "the request body is multipart/form-data; send the JSON object itself "
                       "(Content-Type: application/json)");
            return metrics.count_request(path, 415);
        }
        std::string body;
        if (!reader([&](const char* data, size_t size) {
                body.append(data, size);
                return true;
            })) {
            if (res.status < 400) res.status = 400;  // the error handler says what
            return;
        }
        handler(req, body, res);
    });
}

// Before the body is read: the framing headers, then the key.
httplib::Server::HandlerResponse HttpServer::Impl::check_request(const httplib::Request& req,
                                                                 httplib::Response& res) {
    const auto header = [&](const char* name) -> const std::string* {
        const auto found = req.headers.find(name);
        return found == req.headers.end() ? nullptr : &found->second;
    };
    // Content-Length headers that disagree leave the end of the body ambiguous (RFC 9112 6.3: a
    // proxy and this server could split the stream differently), so the request is refused.
    const auto [first, end] = req.headers.equal_range("Content-Length");
    if (std::any_of(first, end, [&](const auto& entry) { return entry.second != first->second; })) {
        server.close_after_response(req, res);
        send_error(res, 400, "the request has Content-Length headers that disagree; send one");
        metrics.count_request(req.path, 400);
        return httplib::Server::HandlerResponse::Handled;
    }
    const auto framing = framing_error(header("Content-Length"), header("Transfer-Encoding"),
                                       {.max_body_bytes = options.max_body_bytes,
                                        .max_discarded_bytes = 16 * options.max_body_bytes});
    if (framing) {
        server.close_after_response(req, res);
        send_error(res, framing->status(), framing->what());
        metrics.count_request(req.path, framing->status());
        return httplib::Server::HandlerResponse::Handled;
    }
    // The web page is public: it asks for the key and sends it with its API calls.
    if (options.api_key.empty() || req.path == "/health" ||
        (req.path == "/" && req.method == "GET"))
        return httplib::Server::HandlerResponse::Unhandled;
    const auto verdict = check_bearer_key(req.get_header_value("Authorization"), options.api_key);
    if (verdict == BearerCheck::Accepted) return httplib::Server::HandlerResponse::Unhandled;
    // The body is not read: what follows on the connection is not a request.
    if (header("Content-Length") != nullptr || header("Transfer-Encoding") != nullptr)
        server.close_after_response(req, res);
    send_error(res, 401,
               verdict == BearerCheck::Missing ? "missing API key: send 'Authorization: Bearer KEY'"
               : verdict == BearerCheck::Malformed
                   ? "malformed Authorization header: expected 'Bearer KEY'"
                   : "invalid API key");
    metrics.count_request(req.path, 401);
    return httplib::Server::HandlerResponse::Handled;
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
    server.set_request_read_timeout(options.read_timeout);
    server.set_write_timeout(60, 0);

    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        return check_request(req, res);
    });
    // Errors httplib produces itself (no route, body too large, a request it could not read)
    // get OpenAI error objects too.
    server.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        if (res.status == 404) {
            send_error(res, 404, fmt::format("no route for {} {}", req.method, req.path));
        } else if (res.status == 413) {
            send_error(res, 413,
                       fmt::format("the request body is larger than {} bytes (--max-body-bytes)",
                                   options.max_body_bytes));
        } else if (res.status == 400) {
            // httplib could not read the request: what follows on the connection is unknown.
            server.close_after_response(req, res);
            send_error(res, 400,
                       fmt::format("the request could not be read: a malformed request line or "
                                   "header, or a body shorter than its Content-Length (no bytes "
                                   "came for {} s, --read-timeout; a header line is at most 8 KB)",
                                   options.read_timeout.count()));
        } else {
            send_error(res, res.status, fmt::format("HTTP error {}", res.status));
        }
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

    get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(std::string(web_chat_page()), "text/html; charset=utf-8");
    });
    get("/health", [this](const httplib::Request&, httplib::Response& res) {
        if (stopping.load()) return send_json(res, 503, {{"status", "stopping"}});
        if (engine.load() == nullptr) return send_json(res, 503, {{"status", "loading"}});
        send_json(res, 200, {{"status", "ok"}});
    });
    get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics.render(gauges()), "text/plain; version=0.0.4");
    });
    get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
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
    // OpenAI's GET /v1/models/{model}: the one model served, or a 404 in OpenAI's error shape.
    // Registered by hand: the metrics label is the route's name, not its pattern.
    metrics.add_endpoint("/v1/models/{model}");
    server.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        if (engine.load() == nullptr || id != options.model_name) {
            send_error(res, 404,
                       fmt::format("The model '{}' does not exist (this server serves '{}')", id,
                                   options.model_name),
                       "model");
            metrics.count_request("/v1/models/{model}", 404);
            return;
        }
        send_json(res, 200,
                  {{"id", options.model_name},
                   {"object", "model"},
                   {"created", static_cast<long>(std::time(nullptr))},
                   {"owned_by", "llcuda"}});
        metrics.count_request("/v1/models/{model}", 200);
    });
    post("/v1/completions", [this](const httplib::Request& req, const std::string& body,
                                   httplib::Response& res) { completion(req, body, res, false); });
    post("/tokenize",
         [this](const httplib::Request& req, const std::string& body, httplib::Response& res) {
             tokenizer_endpoint(req, body, res, tokenize_response);
         });
    post("/detokenize",
         [this](const httplib::Request& req, const std::string& body, httplib::Response& res) {
             tokenizer_endpoint(req, body, res, detokenize_response);
         });
    post("/apply-template", [this](const httplib::Request& req, const std::string& body,
                                   httplib::Response& res) { apply_template(req, body, res); });
    post("/v1/embeddings", [this](const httplib::Request& req, const std::string& body,
                                  httplib::Response& res) { embeddings(req, body, res); });
    post("/v1/chat/completions",
         [this](const httplib::Request& req, const std::string& body, httplib::Response& res) {
             completion(req, body, res, true);
         });
}

// /tokenize and /detokenize: the tokenizer alone, answered at once (no generation slot).
void HttpServer::Impl::tokenizer_endpoint(const httplib::Request& req, const std::string& body_text,
                                          httplib::Response& res,
                                          json (*respond)(const Engine&, const json&)) {
    try {
        const Engine* loaded = engine.load();
        if (loaded == nullptr) throw ApiError(503, "the model is still loading; retry shortly");
        const auto body = json::parse(body_text, nullptr, false);
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

// POST /v1/embeddings on the HTTP thread: Engine::embed waits while a generation holds the
// engine (they share the KV cache), then runs each input.
void HttpServer::Impl::embeddings(const httplib::Request& req, const std::string& body_text,
                                  httplib::Response& res) {
    try {
        Engine* loaded = engine.load();
        if (stopping.load()) throw ApiError(503, "the server is shutting down");
        if (loaded == nullptr) throw ApiError(503, "the model is still loading; retry shortly");
        const auto body = json::parse(body_text, nullptr, false);
        if (body.is_discarded()) throw ApiError(400, "the request body is not valid JSON");
        const auto request = parse_embeddings_request(body);
        send_json(res, 200, embeddings_response(*loaded, request, options.model_name));
        metrics.count_request(req.path, 200);
    } catch (const ApiError& error) {
        send_error(res, error.status(), error.what(), error.param());
        metrics.count_request(req.path, error.status());
    } catch (const Error& error) {
        send_error(res, 400, error.what());
        metrics.count_request(req.path, 400);
    }
}

// POST /apply-template (llama-server's shape): a chat request's messages and tools through the
// model's template, {"prompt": TEXT}, without generating. add_generation_prompt defaults to true.
void HttpServer::Impl::apply_template(const httplib::Request& req, const std::string& body_text,
                                      httplib::Response& res) {
    try {
        const Engine* loaded = engine.load();
        if (loaded == nullptr) throw ApiError(503, "the model is still loading; retry shortly");
        auto body = json::parse(body_text, nullptr, false);
        if (body.is_discarded()) throw ApiError(400, "the request body is not valid JSON");
        bool add_generation_prompt = true;
        if (body.is_object() && body.contains("add_generation_prompt")) {
            if (!body["add_generation_prompt"].is_boolean())
                throw ApiError(400, "'add_generation_prompt' must be true or false",
                               "add_generation_prompt");
            add_generation_prompt = body["add_generation_prompt"].get<bool>();
            body.erase("add_generation_prompt");
        }
        auto request = parse_completion_request(body, true, options.limits);
        if (!request.tools.is_null()) prepare_tool_calls(*loaded, request);
        auto inputs = chat_template_inputs(body_text, request);
        const auto messages = inputs["messages"].dump();
        inputs.erase("messages");
        std::string prompt;
        try {
            prompt = loaded->render_chat(messages, add_generation_prompt, inputs.dump());
        } catch (const Error& error) {
            throw ApiError(400, error.what(), "messages");
        }
        send_json(res, 200, {{"prompt", prompt}});
        metrics.count_request(req.path, 200);
    } catch (const ApiError& error) {
        send_error(res, error.status(), error.what(), error.param());
        metrics.count_request(req.path, error.status());
    } catch (const Error& error) {
        send_error(res, 400, error.what());
        metrics.count_request(req.path, 400);
    }
}

// The reply's tool-call format is the one the model's template teaches (tool_call_format reads
// its markers: <tool_call> Hermes/Qwen, [TOOL_CALLS] Mistral, <|tool_call> Gemma,
// <|python_tag|> or Llama 3 headers with tools: Llama 3.x JSON). A template with none of them
// would not show the model the tools, so such a request is refused rather than run blind.
void HttpServer::Impl::prepare_tool_calls(const Engine& loaded, CompletionRequest& request) {
    request.tool_format = tool_call_format(loaded.summary().chat_template);
    if (request.tool_format == ToolCallFormat::None)
        throw ApiError(400,
                       "this model's chat template has no tool-call format llcuda knows (Llama "
                       "3.x, Hermes/Qwen, Mistral, Gemma); start the server with --chat-template "
                       "FILE naming one that has, or send no 'tools'",
                       "tools");
    for (const auto& tool : request.tools)
        request.tool_names.push_back(tool["function"]["name"].get<std::string>());
}

// tool_choice "required" or a named function: the reply is held by a grammar to calls in the
// template's format (tool_call_grammar), so it always parses, with arguments that fit the
// tool's schema; parallel_tool_calls false allows exactly one.
void HttpServer::Impl::constrain_to_tool_calls(const Engine& loaded, CompletionRequest& request) {
    if (!request.options.grammar.empty())
        throw ApiError(400,
                       "give either tool_choice \"required\" (or a named function) or a "
                       "response_format/grammar, not both: each constrains the whole reply",
                       "tool_choice");
    const std::string& chat_template = loaded.summary().chat_template;
    try {
        request.options.grammar = tool_call_grammar(ToolCallGrammarRequest{
            .format = request.tool_format,
            .tools = &request.tools,
            .only_function = request.tool_choice_function,
            .parallel = request.parallel_tool_calls,
            .mistral_arguments_marker = chat_template.find("[ARGS]") != std::string::npos,
        });
    } catch (const grammar::StructuredOutputError& error) {
        throw ApiError(400, error.what(), error.field());
    }
}

void HttpServer::Impl::completion(const httplib::Request& req, const std::string& body_text,
                                  httplib::Response& res, bool chat) {
    const std::string endpoint = req.path;
    try {
        Engine* loaded = engine.load();
        if (stopping.load()) throw ApiError(503, "the server is shutting down");
        if (loaded == nullptr) throw ApiError(503, "the model is still loading; retry shortly");
        const auto body = json::parse(body_text, nullptr, false);
        if (body.is_discarded()) {
            const auto type = req.get_header_value("Content-Type");
            throw ApiError(400, type.empty() || type.starts_with("application/json")
                                    ? "the request body is not valid JSON"
                                    : fmt::format("the request body is not valid JSON (it was "
                                                  "sent as Content-Type: {}; the API takes a "
                                                  "JSON object whatever the Content-Type)",
                                                  type.substr(0, 80)));
        }
        auto request = parse_completion_request(body, chat, options.limits);
        std::string prompt = request.prompt;
        if (chat && !request.tools.is_null()) prepare_tool_calls(*loaded, request);
        if (request.tool_choice == "required" || request.tool_choice == "function")
            constrain_to_tool_calls(*loaded, request);
        if (chat) {
            auto inputs = chat_template_inputs(body_text, request);
            const auto messages = inputs["messages"].dump();
            inputs.erase("messages");
            try {
                prompt = loaded->render_chat(messages, true, inputs.dump());
            } catch (const Error& error) {
                throw ApiError(400, error.what(), "messages");
            }
        }
        // Tokenized once: the length checked here is the length generation starts from.
        // A prompt of token ids is taken as it is (no BOS added: the client chose the ids).
        const auto tokens = request.prompt_ids.empty()
                                ? loaded->prompt_tokens(prompt, request.options)
                                : request.prompt_ids;
        const size_t vocabulary = loaded->summary().vocab_size;
        for (size_t i = 0; i < request.prompt_ids.size(); ++i)
            if (static_cast<size_t>(request.prompt_ids[i]) >= vocabulary)
                throw ApiError(400,
                               fmt::format("token id {} is not in the vocabulary (0..{})",
                                           request.prompt_ids[i], vocabulary - 1),
                               fmt::format("prompt[{}]", i));
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
            respond_whole(req, res, request, channel, prompt_tokens, endpoint);
    } catch (const ApiError& error) {
        send_error(res, error.status(), error.what(), error.param());
        metrics.count_request(endpoint, error.status());
    } catch (const Error& error) {
        send_error(res, 400, error.what());
        metrics.count_request(endpoint, 400);
    }
}

void HttpServer::Impl::respond_whole(const httplib::Request& req, httplib::Response& res,
                                     const CompletionRequest& request,
                                     const std::shared_ptr<RequestChannel>& channel,
                                     size_t prompt_tokens, const std::string& endpoint) {
    std::vector<ChoiceResult> choices(request.choices);
    size_t finished = 0;
    std::string failure;
    bool cut = false;
    auto next_check = std::chrono::steady_clock::now();
    while (finished < request.choices) {
        // The deadline ends generation and its result still arrives; a client that went away
        // ends it here, as a stream's does (checked by time: text events keep coming).
        if (std::chrono::steady_clock::now() >= next_check) {
            if (PersistentConnectionServer::client_gone(req)) {
                channel->cancel();
                metrics.count_request(endpoint, 499);
                return;
            }
            next_check = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
        }
        const auto event = channel->pop(std::chrono::milliseconds(100));
        if (!event) continue;
        if (event->kind == ChannelEvent::Kind::Text) continue;
        ++finished;
        if (event->kind == ChannelEvent::Kind::Failed) {
            failure = event->error;
            continue;
        }
        if (event->result.finish_reason == "cancelled") cut = true;
        auto& choice = choices[event->choice];
        choice.text = event->result.text;
        if (request.tool_format != ToolCallFormat::None) {
            ParsedReply parsed =
                parse_tool_calls(request.tool_format, choice.text, request.tool_names);
            if (!request.parallel_tool_calls && parsed.calls.size() > 1) parsed.calls.resize(1);
            if (!parsed.calls.empty()) {
                choice.text = std::move(parsed.content);
                choice.tool_calls = std::move(parsed.calls);
            }
        }
        choice.finish_reason = event->result.finish_reason;
        choice.prompt_tokens = prompt_tokens;
        choice.completion_tokens = event->result.tokens.size();
        choice.cached_tokens = event->result.cached_tokens;
        if (request.options.logprobs >= 0) {
            Engine* loaded = engine.load();
            choice.logprobs = logprobs_json(request, event->result.logprobs, [loaded](int32_t id) {
                return loaded->token_text(id);
            });
        }
    }
    if (cut || channel->timed_out()) throw cut_short(*channel, options.timeout);
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
        std::vector<ToolCallStream> tool_streams;  // one per choice (format None: text as is)
        size_t finished = 0, completion_tokens = 0, cached_tokens = 0;
    };
    auto state = std::make_shared<StreamState>();
    state->id = request_id(request.chat ? "chatcmpl" : "cmpl");
    state->created = static_cast<long>(std::time(nullptr));
    state->started.assign(request.choices, false);
    state->tool_streams.assign(request.choices,
                               ToolCallStream(request.tool_format, request.tool_names));
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
                    const std::string text = state->tool_streams[choice].feed(event->text);
                    if (text.empty()) continue;
                    chunk = sse(stream_chunk(request, state->id, state->created, options.model_name,
                                             choice, text, "", !state->started[choice]));
                    state->started[choice] = true;
                } else if (event->kind == ChannelEvent::Kind::Finished &&
                           event->result.finish_reason == "cancelled") {
                    ++state->finished;
                    const auto error = cut_short(*channel, options.timeout);
                    chunk = sse(error_body(error.status(), error.what()));
                } else if (event->kind == ChannelEvent::Kind::Finished) {
                    ++state->finished;
                    state->completion_tokens += event->result.tokens.size();
                    state->cached_tokens =
                        std::max(state->cached_tokens, event->result.cached_tokens);
                    // Held text: the calls it parses into (OpenAI's deltas: one opening each
                    // call with id and name, then its arguments), or content after all.
                    ParsedReply rest = state->tool_streams[choice].finish();
                    if (!request.parallel_tool_calls && rest.calls.size() > 1) rest.calls.resize(1);
                    if (!rest.content.empty()) {
                        chunk +=
                            sse(stream_chunk(request, state->id, state->created, options.model_name,
                                             choice, rest.content, "", !state->started[choice]));
                        state->started[choice] = true;
                    }
                    for (size_t index = 0; index < rest.calls.size(); ++index) {
                        chunk += sse(tool_call_chunk(request, state->id, state->created,
                                                     options.model_name, choice, index,
                                                     tool_call_id(request.tool_format),
                                                     rest.calls[index], !state->started[choice]));
                        state->started[choice] = true;
                        chunk += sse(tool_call_chunk(request, state->id, state->created,
                                                     options.model_name, choice, index, "",
                                                     rest.calls[index], false));
                    }
                    chunk += sse(stream_chunk(
                        request, state->id, state->created, options.model_name, choice, "",
                        rest.calls.empty() ? event->result.finish_reason : "tool_calls",
                        !state->started[choice]));
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
                tail +=
                    sse(usage_chunk(request, state->id, state->created, options.model_name,
                                    prompt_tokens, state->completion_tokens, state->cached_tokens));
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
    impl_->scheduler = std::make_unique<RequestScheduler>(
        engine, impl_->options.max_queue,
        [impl = impl_.get()](const GenerationResult& result) { impl->record_result(result); });
    if (impl_->options.model_name.empty())
        impl_->options.model_name =
            std::filesystem::path(engine.summary().source).filename().string();
    impl_->engine = &engine;
}

void HttpServer::run() {
    {
        std::lock_guard lock(impl_->run_mutex);
        if (impl_->stopping.load()) return;
        impl_->run_started = true;
    }
    impl_->server.listen_after_bind();
    impl_->run_ended = true;
}

void HttpServer::detach() {
    impl_->engine = nullptr;
    impl_->scheduler.reset();
}

void HttpServer::stop() { impl_->drain_then_stop(); }

// New generations are refused at once; those in flight get --shutdown-grace to finish, then
// end with an error (503, or an SSE error event), never a normal-looking finish.
void HttpServer::Impl::drain_then_stop() {
    stopping = true;
    if (engine.load() != nullptr && scheduler) {
        scheduler->refuse_new();
        const auto until = std::chrono::steady_clock::now() + options.shutdown_grace;
        while (!scheduler->idle() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        scheduler->shutdown(
            fmt::format("the server is shutting down; the generation did not finish within {} s "
                        "(--shutdown-grace)",
                        options.shutdown_grace.count()));
    }
    {
        std::lock_guard lock(run_mutex);
        if (!run_started) return;  // run() sees `stopping` and does not listen
    }
    while (!server.is_running() && !run_ended.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server.stop();
}

}  // namespace llcuda
