#pragma once
// The OpenAI completions and chat completions protocol: requests validated into generation
// options (every wrong field is a 400 naming it), and response, chunk and usage objects.
#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/tool_calls.hpp"
#include "llcuda/engine.hpp"
#include "server/api_error.hpp"

namespace llcuda {

struct ServerLimits {
    size_t max_tokens = 4096;  // largest max_tokens a request may ask for
    size_t max_choices = 8;    // largest n
    size_t default_max_tokens = 256;
};

struct CompletionRequest {
    bool chat = false;
    std::string prompt;  // completions, given as text
    // completions, given as token ids ("prompt": [ids] or [[ids]]): used instead of `prompt`
    // when not empty; the server checks the ids against the vocabulary.
    std::vector<int32_t> prompt_ids;
    nlohmann::json messages;  // chat
    nlohmann::json tools;     // chat, passed to the template (null with tool_choice "none")
    // tool_choice: "auto", "none", "required" or "function" (then tool_choice_function).
    std::string tool_choice = "auto";
    std::string tool_choice_function;
    bool parallel_tool_calls = true;  // false: at most one call is returned
    // Set by the server from the model's template: how its reply is parsed for tool calls
    // (None: not parsed) and the names it may call.
    ToolCallFormat tool_format = ToolCallFormat::None;
    std::vector<std::string> tool_names;
    GenerationOptions options;
    size_t choices = 1;
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    std::string model;
};

// A prompt or input given as token ids: a non-empty list of non-negative integers (checked
// against the vocabulary by the caller, which knows it). ApiError(400) names `param` (or the
// bad entry, "prompt[3]").
std::vector<int32_t> parse_token_ids(const nlohmann::json& list, const std::string& param);

// Throws ApiError(400) naming the field for anything invalid, and for any field that is not in
// the allow-list of openai_protocol.cpp (kRequestFields).

CompletionRequest parse_completion_request(const nlohmann::json& body, bool chat,
                                           const ServerLimits& limits);

struct ChoiceResult {
    std::string text;
    std::string finish_reason;
    size_t prompt_tokens = 0, completion_tokens = 0;
    size_t cached_tokens = 0;          // of the prompt, found in the KV cache
    nlohmann::json logprobs;           // null unless asked for
    std::vector<ToolCall> tool_calls;  // parsed from the reply (text is then the rest)
};

// The chat template's variables {messages, tools?} from a request body that
// parse_completion_request accepted, in the order the client wrote keys (the tools' JSON
// schemas reach the prompt as written, as transformers renders them): content parts joined
// into text, null content as "", tool calls' arguments strings as objects.
nlohmann::ordered_json chat_template_inputs(const std::string& body_text,
                                            const CompletionRequest& request);

// OpenAI's id of a tool call: "call_" and 24 random letters and digits; for Mistral's format
// 9 letters and digits, the only ids Mistral's templates accept when the call is sent back.
std::string tool_call_id(ToolCallFormat format);
// A chunk whose delta opens tool call `index` (id, type, function name, empty arguments), or
// (when `id` is empty) appends `arguments` to it.
nlohmann::json tool_call_chunk(const CompletionRequest& request, const std::string& id,
                               long created, const std::string& model, size_t choice, size_t index,
                               const std::string& call_id, const ToolCall& call, bool first);

// OpenAI's logprobs object: chat's {"content": [{token, logprob, bytes, top_logprobs}]} or
// completions' {tokens, token_logprobs, top_logprobs, text_offset}.
nlohmann::json logprobs_json(const CompletionRequest& request,
                             const std::vector<TokenLogprob>& logprobs,
                             const std::function<std::string(int32_t)>& token_text);

nlohmann::json completion_response(const CompletionRequest& request, const std::string& id,
                                   long created, const std::string& model,
                                   const std::vector<ChoiceResult>& choices);
// One server-sent event's JSON: a text delta (finish_reason empty) or a choice's end.
nlohmann::json stream_chunk(const CompletionRequest& request, const std::string& id, long created,
                            const std::string& model, size_t choice, const std::string& text,
                            const std::string& finish_reason, bool first);
nlohmann::json usage_chunk(const CompletionRequest& request, const std::string& id, long created,
                           const std::string& model, size_t prompt_tokens, size_t completion_tokens,
                           size_t cached_tokens);
// OpenAI's finish reason for ours; "cancelled" throws (a cut short generation is an error).
std::string openai_finish_reason(const std::string& ours);

}  // namespace llcuda
