#pragma once
// The OpenAI completions and chat completions protocol: requests validated into generation
// options (every wrong field is a 400 naming it), and response, chunk and usage objects.
#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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
    std::string prompt;       // completions
    nlohmann::json messages;  // chat
    nlohmann::json tools;     // chat, passed to the template
    GenerationOptions options;
    size_t choices = 1;
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    std::string model;
};

// Throws ApiError(400) naming the field for anything invalid.
CompletionRequest parse_completion_request(const nlohmann::json& body, bool chat,
                                           const ServerLimits& limits);

struct ChoiceResult {
    std::string text;
    std::string finish_reason;
    size_t prompt_tokens = 0, completion_tokens = 0;
    nlohmann::json logprobs;  // null unless asked for
};

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
                           const std::string& model, size_t prompt_tokens,
                           size_t completion_tokens);
// OpenAI's finish reason for ours; "cancelled" throws (a cut short generation is an error).
std::string openai_finish_reason(const std::string& ours);

}  // namespace llcuda
