#include "server/openai_protocol.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "grammar/structured_output.hpp"

namespace llcuda {
namespace {

// An object's "type" is the string `expected`; a "type" that is not a string is no match
// (json::value would throw a type_error: libFuzzer found `"type": {}` in CI's run of 64323b6).
bool type_is(const nlohmann::json& entry, const char* expected) {
    const auto type = entry.find("type");
    return type != entry.end() && type->is_string() && type->get<std::string>() == expected;
}

using nlohmann::json;

[[noreturn]] void invalid(const std::string& param, const std::string& message) {
    throw ApiError(400, message, param);
}

// Every request field the completions endpoints accept: one list, so that a field nobody
// handles is a 400 naming it instead of being silently ignored. A field that gains handling
// is added here in the same change; the parsing below reads what each one means.
enum class Endpoints { Both, Chat, Completions };
struct RequestField {
    const char* name;
    Endpoints endpoints;
    const char* what;  // what it does here; "ignored: ..." says why ignoring it is harmless
};
constexpr RequestField kRequestFields[] = {
    {"model", Endpoints::Both, "echoed back; the server serves one model"},
    {"messages", Endpoints::Chat, "the conversation, rendered by the model's template"},
    {"prompt", Endpoints::Completions, "a string, [string], [token ids] or [[token ids]]"},
    {"max_tokens", Endpoints::Both, "the most tokens generated"},
    {"max_completion_tokens", Endpoints::Both, "the same as max_tokens (OpenAI's newer name)"},
    {"temperature", Endpoints::Both, "sampling"},
    {"top_p", Endpoints::Both, "sampling"},
    {"top_k", Endpoints::Both, "sampling (llama.cpp's field)"},
    {"min_p", Endpoints::Both, "sampling (llama.cpp's field)"},
    {"repeat_penalty", Endpoints::Both, "sampling (llama.cpp's field)"},
    {"seed", Endpoints::Both, "the sampler's seed"},
    {"frequency_penalty", Endpoints::Both, "only 0 (no penalty) is accepted"},
    {"presence_penalty", Endpoints::Both, "only 0 (no penalty) is accepted"},
    {"logprobs", Endpoints::Both, "chat: true/false; completions: 0..5 alternatives"},
    {"top_logprobs", Endpoints::Chat, "0..20 alternatives with logprobs: true"},
    {"n", Endpoints::Both, "choices per prompt"},
    {"stop", Endpoints::Both, "stop strings"},
    {"stream", Endpoints::Both, "server-sent events"},
    {"stream_options", Endpoints::Both, "include_usage: a final usage chunk"},
    {"response_format", Endpoints::Both,
     "text, json_object or json_schema: generation constrained to valid JSON (the schema)"},
    {"grammar", Endpoints::Both, "GBNF (llama.cpp's field): generation constrained to it"},
    {"tools", Endpoints::Chat, "rendered by the template, replies parsed into tool_calls"},
    {"tool_choice", Endpoints::Chat,
     "auto, none, required or a named function (a grammar holds the reply to calls)"},
    {"parallel_tool_calls", Endpoints::Chat, "false: at most one call (exactly one when required)"},
    {"user", Endpoints::Both, "ignored: an end-user id for OpenAI's abuse monitoring"},
    {"store", Endpoints::Both, "ignored: asks OpenAI to keep the completion; nothing is kept"},
    {"metadata", Endpoints::Both, "ignored: tags for stored completions; nothing is stored"},
};

void reject_unknown_fields(const json& body, bool chat) {
    for (const auto& item : body.items()) {
        // A plain name, not a structured binding: clang 14 (CI's fuzzer build) refuses to
        // capture bindings in the lambda below.
        const std::string& key = item.key();
        const auto known =
            std::find_if(std::begin(kRequestFields), std::end(kRequestFields),
                         [&](const RequestField& field) { return key == field.name; });
        if (known == std::end(kRequestFields))
            invalid(key,
                    fmt::format("the field '{}' is unknown or not supported by this server", key));
        const Endpoints other = chat ? Endpoints::Completions : Endpoints::Chat;
        if (known->endpoints == other)
            invalid(key, fmt::format("the field '{}' belongs to {}", key,
                                     chat ? "/v1/completions" : "/v1/chat/completions"));
    }
}

// "prompt": a string, [string], [ids] or [[ids]]. Several prompts in one request (one choice
// per prompt) are not served yet: a 400 that says to send one request per prompt.
void parse_prompt(const json& prompt, CompletionRequest& request) {
    const auto one_prompt_only = [] {
        invalid("prompt",
                "several prompts in one request are not supported yet; send one request per "
                "prompt");
    };
    if (prompt.is_string()) {
        request.prompt = prompt.get<std::string>();
        return;
    }
    if (!prompt.is_array() || prompt.empty())
        invalid("prompt",
                "'prompt' must be a string, a list of strings, a list of token ids or a list "
                "of lists of token ids");
    if (prompt[0].is_string()) {
        for (size_t i = 0; i < prompt.size(); ++i)
            if (!prompt[i].is_string())
                invalid(fmt::format("prompt[{}]", i), "a list of prompts must be all strings");
        if (prompt.size() > 1) one_prompt_only();
        request.prompt = prompt[0].get<std::string>();
    } else if (prompt[0].is_array()) {
        for (size_t i = 0; i < prompt.size(); ++i)
            if (!prompt[i].is_array())
                invalid(fmt::format("prompt[{}]", i),
                        "a list of token-id prompts must be all lists of integers");
        if (prompt.size() > 1) one_prompt_only();
        request.prompt_ids = parse_token_ids(prompt[0], "prompt[0]");
    } else {
        request.prompt_ids = parse_token_ids(prompt, "prompt");
    }
}

double number(const json& body, const char* name, double fallback, double low, double high) {
    const auto found = body.find(name);
    if (found == body.end() || found->is_null()) return fallback;
    if (!found->is_number()) invalid(name, fmt::format("'{}' must be a number", name));
    const double value = found->get<double>();
    if (!(value >= low && value <= high))
        invalid(name,
                fmt::format("'{}' must be between {} and {}, got {}", name, low, high, value));
    return value;
}

int64_t integer(const json& body, const char* name, int64_t fallback, int64_t low, int64_t high) {
    const auto found = body.find(name);
    if (found == body.end() || found->is_null()) return fallback;
    if (!found->is_number_integer()) invalid(name, fmt::format("'{}' must be an integer", name));
    const int64_t value = found->is_number_unsigned() && found->get<uint64_t>() > INT64_MAX
                              ? INT64_MAX
                              : found->get<int64_t>();
    if (value < low || value > high)
        invalid(name,
                fmt::format("'{}' must be between {} and {}, got {}", name, low, high, value));
    return value;
}

std::string content_text(const json& content, size_t index) {
    if (content.is_null()) return "";
    if (content.is_string()) return content.get<std::string>();
    if (content.is_array()) {  // [{"type": "text", "text": ...}, ...]
        std::string text;
        for (const auto& part : content) {
            if (!part.is_object() || !type_is(part, "text") || !part.contains("text") ||
                !part["text"].is_string())
                invalid(fmt::format("messages[{}].content", index),
                        "only text content parts ({\"type\": \"text\", \"text\": ...}) are "
                        "supported");
            text += part["text"].get<std::string>();
        }
        return text;
    }
    invalid(fmt::format("messages[{}].content", index), "content must be a string or a list");
}

// An assistant message's tool_calls as templates read them (transformers' convention):
// function.arguments as an object, where OpenAI sends a JSON string.
json assistant_tool_calls(const json& calls, size_t index) {
    const std::string param = fmt::format("messages[{}].tool_calls", index);
    if (!calls.is_array()) invalid(param, "'tool_calls' must be a list");
    json out = json::array();
    for (const auto& call : calls) {
        if (!call.is_object() || !call.contains("function") || !call["function"].is_object() ||
            !call["function"].contains("name") || !call["function"]["name"].is_string())
            invalid(param, "every tool call needs function.name");
        json copy = call;
        json& arguments = copy["function"]["arguments"];
        if (arguments.is_string()) {
            json parsed = json::parse(arguments.get<std::string>(), nullptr, false);
            if (parsed.is_discarded() || !parsed.is_object())
                invalid(param, "function.arguments must be a JSON object (as a string)");
            arguments = std::move(parsed);
        } else if (arguments.is_null()) {
            arguments = json::object();
        } else if (!arguments.is_object()) {
            invalid(param, "function.arguments must be a JSON object (as a string)");
        }
        out.push_back(std::move(copy));
    }
    return out;
}

void parse_tools(const json& body, CompletionRequest& request) {
    std::vector<std::string> names;
    if (const auto tools = body.find("tools"); tools != body.end() && !tools->is_null()) {
        if (!tools->is_array()) invalid("tools", "'tools' must be a list");
        for (size_t i = 0; i < tools->size(); ++i) {
            const json& tool = (*tools)[i];
            if (!tool.is_object() || !type_is(tool, "function") || !tool.contains("function") ||
                !tool["function"].is_object() || !tool["function"].contains("name") ||
                !tool["function"]["name"].is_string())
                invalid(fmt::format("tools[{}]", i),
                        "every tool must be {\"type\": \"function\", \"function\": {\"name\": "
                        "...}}");
            names.push_back(tool["function"]["name"].get<std::string>());
        }
        if (!tools->empty()) request.tools = *tools;
    }
    if (const auto choice = body.find("tool_choice"); choice != body.end() && !choice->is_null()) {
        if (choice->is_string()) {
            request.tool_choice = choice->get<std::string>();
            if (request.tool_choice != "auto" && request.tool_choice != "none" &&
                request.tool_choice != "required")
                invalid("tool_choice",
                        "'tool_choice' must be \"auto\", \"none\", \"required\" "
                        "or {\"type\": \"function\", \"function\": {\"name\": ...}}");
        } else if (choice->is_object() && type_is(*choice, "function") &&
                   choice->contains("function") && (*choice)["function"].is_object() &&
                   (*choice)["function"].contains("name") &&
                   (*choice)["function"]["name"].is_string()) {
            request.tool_choice = "function";
            request.tool_choice_function = (*choice)["function"]["name"].get<std::string>();
            if (std::find(names.begin(), names.end(), request.tool_choice_function) == names.end())
                invalid("tool_choice",
                        fmt::format("tool_choice names '{}', which is not in 'tools'",
                                    request.tool_choice_function));
        } else {
            invalid("tool_choice",
                    "'tool_choice' must be \"auto\", \"none\", \"required\" or "
                    "{\"type\": \"function\", \"function\": {\"name\": ...}}");
        }
        if (request.tool_choice != "auto" && request.tool_choice != "none" &&
            request.tools.is_null())
            invalid("tool_choice", "'tool_choice' needs 'tools'");
    }
    if (const auto parallel = body.find("parallel_tool_calls");
        parallel != body.end() && !parallel->is_null()) {
        if (!parallel->is_boolean())
            invalid("parallel_tool_calls", "'parallel_tool_calls' must be true or false");
        request.parallel_tool_calls = parallel->get<bool>();
    }
    // "none": the model is not told about the tools and its reply is not parsed for calls.
    if (request.tool_choice == "none") request.tools = json();
}

}  // namespace

std::vector<int32_t> parse_token_ids(const json& list, const std::string& param) {
    if (list.empty()) invalid(param, fmt::format("{} is an empty list of token ids", param));
    std::vector<int32_t> ids;
    for (size_t k = 0; k < list.size(); ++k) {
        const json& id = list[k];
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
            invalid(fmt::format("{}[{}]", param, k), "token ids must be non-negative integers");
        ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    return ids;
}

nlohmann::ordered_json chat_template_inputs(const std::string& body_text,
                                            const CompletionRequest& request) {
    using ordered = nlohmann::ordered_json;
    const ordered body = ordered::parse(body_text, nullptr, false);
    if (!body.is_object() || !body.contains("messages") || !body["messages"].is_array())
        invalid("messages", "'messages' is required");
    ordered messages = ordered::array();
    for (const auto& message : body["messages"]) {
        ordered copy = message;
        const ordered content = message.value("content", ordered());
        if (content.is_array()) {
            std::string text;
            for (const auto& part : content) text += part.value("text", "");
            copy["content"] = text;
        } else if (!content.is_string()) {
            copy["content"] = "";
        }
        if (copy.contains("tool_calls") && copy["tool_calls"].is_array()) {
            for (auto& call : copy["tool_calls"]) {
                ordered& arguments = call["function"]["arguments"];
                if (arguments.is_string())
                    arguments = ordered::parse(arguments.get<std::string>(), nullptr, false);
                if (!arguments.is_object()) arguments = ordered::object();
            }
        }
        messages.push_back(std::move(copy));
    }
    ordered inputs = {{"messages", std::move(messages)}};
    if (!request.tools.is_null()) inputs["tools"] = body["tools"];
    return inputs;
}

std::string tool_call_id(ToolCallFormat format) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    thread_local std::mt19937_64 random{std::random_device{}()};
    const bool mistral = format == ToolCallFormat::Mistral;
    std::string id = mistral ? "" : "call_";
    for (int i = 0; i < (mistral ? 9 : 24); ++i) id += kAlphabet[random() % (sizeof kAlphabet - 1)];
    return id;
}

json tool_call_chunk(const CompletionRequest& /*request*/, const std::string& id, long created,
                     const std::string& model, size_t choice, size_t index,
                     const std::string& call_id, const ToolCall& call, bool first) {
    json entry = {{"index", index}};
    if (!call_id.empty()) {
        entry["id"] = call_id;
        entry["type"] = "function";
        entry["function"] = {{"name", call.name}, {"arguments", ""}};
    } else {
        entry["function"] = {{"arguments", call.arguments}};
    }
    json delta = {{"tool_calls", json::array({std::move(entry)})}};
    if (first) delta["role"] = "assistant";
    return {{"id", id},
            {"object", "chat.completion.chunk"},
            {"created", created},
            {"model", model},
            {"choices",
             json::array(
                 {{{"index", choice}, {"delta", std::move(delta)}, {"finish_reason", nullptr}}})}};
}

json error_body(int status, const std::string& message, const std::string& param) {
    const char* type = status == 401   ? "authentication_error"
                       : status == 404 ? "not_found_error"
                       : status == 429 ? "rate_limit_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    return {{"error",
             {{"message", message},
              {"type", type},
              {"param", param.empty() ? json(nullptr) : json(param)},
              {"code", status == 413 ? json("request_too_large") : json(nullptr)}}}};
}

CompletionRequest parse_completion_request(const json& body, bool chat,
                                           const ServerLimits& limits) {
    if (!body.is_object()) invalid("", "the request body must be a JSON object");
    reject_unknown_fields(body, chat);
    CompletionRequest request;
    request.chat = chat;
    if (const auto model = body.find("model"); model != body.end() && !model->is_null()) {
        if (!model->is_string()) invalid("model", "'model' must be a string");
        request.model = model->get<std::string>();
    }
    if (chat) {
        const auto messages = body.find("messages");
        if (messages == body.end()) invalid("messages", "'messages' is required");
        if (!messages->is_array() || messages->empty())
            invalid("messages", "'messages' must be a non-empty list");
        request.messages = json::array();
        for (size_t i = 0; i < messages->size(); ++i) {
            const auto& message = (*messages)[i];
            if (!message.is_object() || !message.contains("role") || !message["role"].is_string())
                invalid(fmt::format("messages[{}].role", i), "every message needs a 'role' string");
            const std::string role = message["role"].get<std::string>();
            if (role != "system" && role != "user" && role != "assistant" && role != "tool" &&
                role != "developer")
                invalid(fmt::format("messages[{}].role", i),
                        fmt::format("unknown role '{}'", role));
            json copy = message;
            copy["content"] = content_text(message.value("content", json()), i);
            if (const auto calls = message.find("tool_calls"); calls != message.end()) {
                copy["tool_calls"] = assistant_tool_calls(*calls, i);
            }
            request.messages.push_back(std::move(copy));
        }
        parse_tools(body, request);
    } else {
        const auto prompt = body.find("prompt");
        if (prompt == body.end()) invalid("prompt", "'prompt' is required");
        parse_prompt(*prompt, request);
    }

    auto& options = request.options;
    auto& sampling = options.sampling;
    const auto max_limit = static_cast<int64_t>(limits.max_tokens);
    int64_t max_tokens =
        integer(body, "max_tokens", static_cast<int64_t>(limits.default_max_tokens), 0, max_limit);
    max_tokens = integer(body, "max_completion_tokens", max_tokens, 0, max_limit);
    options.max_tokens = static_cast<size_t>(max_tokens);
    sampling.temperature = static_cast<float>(number(body, "temperature", 1.0, 0.0, 2.0));
    sampling.top_p = static_cast<float>(number(body, "top_p", 1.0, 0.0, 1.0));
    if (sampling.top_p == 0.0f) sampling.top_p = 1e-6f;  // 0 means "only the best": keep one
    sampling.top_k = static_cast<int>(integer(body, "top_k", 0, 0, 1 << 20));
    sampling.min_p = static_cast<float>(number(body, "min_p", 0.0, 0.0, 1.0));
    sampling.repeat_penalty = static_cast<float>(number(body, "repeat_penalty", 1.0, 0.01, 10.0));
    const int64_t seed = integer(body, "seed", -1, INT64_MIN, INT64_MAX);
    sampling.seed = seed >= 0 ? static_cast<uint64_t>(seed) : std::random_device{}();
    try {
        options.grammar = grammar::structured_output_grammar(body.value("response_format", json()),
                                                             body.value("grammar", json()));
    } catch (const grammar::StructuredOutputError& error) {
        invalid(error.field(), error.what());
    }
    for (const char* unsupported : {"frequency_penalty", "presence_penalty"}) {
        if (number(body, unsupported, 0.0, -2.0, 2.0) != 0.0)
            invalid(unsupported, fmt::format("'{}' is not supported (only 0)", unsupported));
    }
    // Chat: "logprobs": true with "top_logprobs": 0..20; completions: "logprobs": 0..5.
    if (const auto logprobs = body.find("logprobs");
        logprobs != body.end() && !logprobs->is_null()) {
        if (chat) {
            if (!logprobs->is_boolean()) invalid("logprobs", "'logprobs' must be true or false");
            if (logprobs->get<bool>())
                options.logprobs = static_cast<int>(integer(body, "top_logprobs", 0, 0, 20));
        } else {
            options.logprobs = static_cast<int>(integer(body, "logprobs", 0, 0, 5));
        }
    }
    if (chat && options.logprobs < 0 && body.contains("top_logprobs") &&
        !body["top_logprobs"].is_null())
        invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    request.choices =
        static_cast<size_t>(integer(body, "n", 1, 1, static_cast<int64_t>(limits.max_choices)));
    if (const auto stop = body.find("stop"); stop != body.end() && !stop->is_null()) {
        if (stop->is_string()) {
            options.stop = {stop->get<std::string>()};
        } else if (stop->is_array() && stop->size() <= 4) {
            for (const auto& entry : *stop) {
                if (!entry.is_string() || entry.get<std::string>().empty())
                    invalid("stop", "'stop' entries must be non-empty strings");
                options.stop.push_back(entry.get<std::string>());
            }
        } else {
            invalid("stop", "'stop' must be a string or a list of up to 4 strings");
        }
    }
    if (const auto stream = body.find("stream"); stream != body.end() && !stream->is_null()) {
        if (!stream->is_boolean()) invalid("stream", "'stream' must be true or false");
        request.stream = stream->get<bool>();
    }
    if (request.stream && options.logprobs >= 0)
        invalid("logprobs", "logprobs are not available with stream yet; ask without streaming");
    if (const auto stream_options = body.find("stream_options");
        stream_options != body.end() && !stream_options->is_null()) {
        if (!stream_options->is_object())
            invalid("stream_options", "'stream_options' must be an object");
        for (const auto& [key, value] : stream_options->items()) {
            if (key != "include_usage")
                invalid("stream_options." + key,
                        fmt::format("the field 'stream_options.{}' is unknown or not supported "
                                    "(only include_usage is)",
                                    key));
            if (!value.is_boolean())
                invalid("stream_options.include_usage", "'include_usage' must be true or false");
            request.include_usage = value.get<bool>();
        }
    }
    // Chat prompts carry their own special tokens (the template put them there).
    options.add_bos = !chat;
    options.parse_special = chat;
    return request;
}

json logprobs_json(const CompletionRequest& request, const std::vector<TokenLogprob>& logprobs,
                   const std::function<std::string(int32_t)>& token_text) {
    const auto bytes = [](const std::string& text) {
        json list = json::array();
        for (const unsigned char c : text) list.push_back(static_cast<int>(c));
        return list;
    };
    if (request.chat) {
        json content = json::array();
        for (const auto& entry : logprobs) {
            json top = json::array();
            for (const auto& [id, logprob] : entry.top) {
                const std::string text = token_text(id);
                top.push_back({{"token", text}, {"logprob", logprob}, {"bytes", bytes(text)}});
            }
            const std::string text = token_text(entry.token);
            content.push_back({{"token", text},
                               {"logprob", entry.logprob},
                               {"bytes", bytes(text)},
                               {"top_logprobs", std::move(top)}});
        }
        return {{"content", std::move(content)}};
    }
    json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(),
         offsets = json::array();
    size_t offset = 0;
    for (const auto& entry : logprobs) {
        const std::string text = token_text(entry.token);
        tokens.push_back(text);
        token_logprobs.push_back(entry.logprob);
        offsets.push_back(offset);
        offset += text.size();
        json top = json::object();
        for (const auto& [id, logprob] : entry.top) top[token_text(id)] = logprob;
        top_logprobs.push_back(std::move(top));
    }
    return {{"tokens", tokens},
            {"token_logprobs", token_logprobs},
            {"top_logprobs", top_logprobs},
            {"text_offset", offsets}};
}

std::string openai_finish_reason(const std::string& ours) {
    if (ours == "length" || ours == "stop" || ours == "tool_calls") return ours;
    // A generation cut short ("cancelled") is an error for its client, never a finish reason
    // that would make a cut look like a natural end.
    throw Error(fmt::format("internal error: the finish reason '{}' is not one to send", ours));
}

// OpenAI's usage object; cached_tokens: prompt tokens whose keys and values were already in
// the KV cache (the prefix cache), as OpenAI reports its own prompt caching.
json usage_json(size_t prompt_tokens, size_t completion_tokens, size_t cached_tokens) {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

json completion_response(const CompletionRequest& request, const std::string& id, long created,
                         const std::string& model, const std::vector<ChoiceResult>& choices) {
    json out = {{"id", id},
                {"object", request.chat ? "chat.completion" : "text_completion"},
                {"created", created},
                {"model", model},
                {"choices", json::array()}};
    size_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
    for (size_t i = 0; i < choices.size(); ++i) {
        const auto& choice = choices[i];
        json entry = {{"index", i}, {"finish_reason", openai_finish_reason(choice.finish_reason)}};
        if (request.chat && !choice.tool_calls.empty()) {
            json calls = json::array();
            for (const auto& call : choice.tool_calls)
                calls.push_back(
                    {{"id", tool_call_id(request.tool_format)},
                     {"type", "function"},
                     {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
            entry["message"] = {
                {"role", "assistant"},
                {"content", choice.text.empty() ? json(nullptr) : json(choice.text)},
                {"tool_calls", std::move(calls)}};
            entry["finish_reason"] = "tool_calls";
        } else if (request.chat) {
            entry["message"] = {{"role", "assistant"}, {"content", choice.text}};
        } else {
            entry["text"] = choice.text;
        }
        entry["logprobs"] = choice.logprobs;
        out["choices"].push_back(std::move(entry));
        prompt_tokens = choice.prompt_tokens;
        completion_tokens += choice.completion_tokens;
        // The prompt is counted once; n choices each run it in a slot of their own.
        cached_tokens = std::max(cached_tokens, choice.cached_tokens);
    }
    out["usage"] = usage_json(prompt_tokens, completion_tokens, cached_tokens);
    return out;
}

json stream_chunk(const CompletionRequest& request, const std::string& id, long created,
                  const std::string& model, size_t choice, const std::string& text,
                  const std::string& finish_reason, bool first) {
    json entry = {
        {"index", choice},
        {"finish_reason",
         finish_reason.empty() ? json(nullptr) : json(openai_finish_reason(finish_reason))}};
    if (request.chat) {
        json delta = json::object();
        if (first) delta["role"] = "assistant";
        if (!text.empty() || finish_reason.empty()) delta["content"] = text;
        entry["delta"] = std::move(delta);
    } else {
        entry["text"] = text;
        entry["logprobs"] = nullptr;
    }
    return {{"id", id},
            {"object", request.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model},
            {"choices", json::array({std::move(entry)})}};
}

json usage_chunk(const CompletionRequest& request, const std::string& id, long created,
                 const std::string& model, size_t prompt_tokens, size_t completion_tokens,
                 size_t cached_tokens) {
    return {{"id", id},
            {"object", request.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model},
            {"choices", json::array()},
            {"usage", usage_json(prompt_tokens, completion_tokens, cached_tokens)}};
}

}  // namespace llcuda
