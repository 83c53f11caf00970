#include "chat/tool_calls.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/json_text.hpp"

namespace llcuda {
namespace {

using nlohmann::ordered_json;

constexpr std::string_view kHermesOpen = "<tool_call>", kHermesClose = "</tool_call>";
constexpr std::string_view kMistralOpen = "[TOOL_CALLS]", kMistralArguments = "[ARGS]";
constexpr std::string_view kLlamaPythonTag = "<|python_tag|>";
constexpr std::string_view kGemmaOpen = "<|tool_call>call:", kGemmaClose = "<tool_call|>";
constexpr std::string_view kGemmaQuote = "<|\"|>";

std::string_view opening_marker(ToolCallFormat format) {
    switch (format) {
        case ToolCallFormat::Hermes:
            return kHermesOpen;
        case ToolCallFormat::Mistral:
            return kMistralOpen;
        case ToolCallFormat::Llama3:
            return kLlamaPythonTag;
        case ToolCallFormat::Gemma:
            return kGemmaOpen;
        case ToolCallFormat::None:
            break;
    }
    return {};
}

bool blank(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

size_t skip_blanks(std::string_view text, size_t at) {
    while (at < text.size() && blank(text[at])) ++at;
    return at;
}

// The end (one past) of the JSON object or array that starts at `at`, by bracket depth
// outside strings; npos when it does not close.
size_t json_value_end(std::string_view text, size_t at) {
    if (at >= text.size() || (text[at] != '{' && text[at] != '[')) return std::string_view::npos;
    int depth = 0;
    bool in_string = false;
    for (size_t i = at; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[')
            ++depth;
        else if ((c == '}' || c == ']') && --depth == 0)
            return i + 1;
    }
    return std::string_view::npos;
}

std::optional<ordered_json> parse_json(std::string_view text) {
    auto value = ordered_json::parse(text.begin(), text.end(), nullptr, false);
    if (value.is_discarded()) return std::nullopt;
    return value;
}

// A call from {"name": ..., "arguments"/"parameters": {...} or "{...}"}.
std::optional<ToolCall> call_from_object(const ordered_json& object,
                                         const std::vector<std::string>& known_names) {
    if (!object.is_object() || !object.contains("name") || !object["name"].is_string())
        return std::nullopt;
    ordered_json arguments = ordered_json::object();
    for (const char* key : {"arguments", "parameters"}) {
        if (!object.contains(key)) continue;
        arguments = object[key];
        if (arguments.is_string()) {
            const auto parsed = parse_json(arguments.get<std::string>());
            if (!parsed) return std::nullopt;
            arguments = *parsed;
        }
    }
    if (!arguments.is_object()) return std::nullopt;
    ToolCall call{object["name"].get<std::string>(), json_text(arguments)};
    if (!known_names.empty() &&
        std::find(known_names.begin(), known_names.end(), call.name) == known_names.end())
        return std::nullopt;
    return call;
}

using Calls = std::vector<ToolCall>;

// <tool_call>{...}</tool_call>, any number; text around them is content. The last closing
// tag may be missing (a reply that ends at the end-of-turn token right after the JSON).
std::optional<ParsedReply> parse_hermes(std::string_view text,
                                        const std::vector<std::string>& names) {
    ParsedReply reply;
    size_t at = 0;
    for (;;) {
        const size_t open = text.find(kHermesOpen, at);
        if (open == std::string_view::npos) break;
        // The newlines Qwen's template writes between calls (and after the last) are no
        // content of their own.
        if (reply.calls.empty() || skip_blanks(text, at) < open)
            reply.content += text.substr(at, open - at);
        const size_t start = skip_blanks(text, open + kHermesOpen.size());
        const size_t end = json_value_end(text, start);
        if (end == std::string_view::npos) return std::nullopt;
        const auto object = parse_json(text.substr(start, end - start));
        if (!object) return std::nullopt;
        auto call = call_from_object(*object, names);
        if (!call) return std::nullopt;
        reply.calls.push_back(std::move(*call));
        const size_t after = skip_blanks(text, end);
        if (text.substr(after).starts_with(kHermesClose))
            at = after + kHermesClose.size();
        else if (after == text.size())
            at = after;
        else
            return std::nullopt;
    }
    if (reply.calls.empty()) return std::nullopt;
    if (skip_blanks(text, at) != text.size()) reply.content += text.substr(at);
    return reply;
}

// [TOOL_CALLS][{"name", "arguments"}, ...] (Mistral Nemo) or [TOOL_CALLS]name[ARGS]{...}
// repeated (Mistral Small 3.2, Devstral, Ministral).
std::optional<ParsedReply> parse_mistral(std::string_view text,
                                         const std::vector<std::string>& names) {
    const size_t open = text.find(kMistralOpen);
    if (open == std::string_view::npos) return std::nullopt;
    ParsedReply reply;
    reply.content = std::string(text.substr(0, open));
    size_t at = skip_blanks(text, open + kMistralOpen.size());
    if (at < text.size() && text[at] == '[') {
        const size_t end = json_value_end(text, at);
        if (end == std::string_view::npos) return std::nullopt;
        const auto list = parse_json(text.substr(at, end - at));
        if (!list || !list->is_array() || list->empty()) return std::nullopt;
        for (const auto& entry : *list) {
            auto call = call_from_object(entry, names);
            if (!call) return std::nullopt;
            reply.calls.push_back(std::move(*call));
        }
        if (skip_blanks(text, end) != text.size()) return std::nullopt;
        return reply;
    }
    for (;;) {
        const size_t arguments = text.find(kMistralArguments, at);
        if (arguments == std::string_view::npos) return std::nullopt;
        ordered_json object = {{"name", std::string(text.substr(at, arguments - at))}};
        const size_t start = skip_blanks(text, arguments + kMistralArguments.size());
        const size_t end = json_value_end(text, start);
        if (end == std::string_view::npos) return std::nullopt;
        const auto parsed = parse_json(text.substr(start, end - start));
        if (!parsed) return std::nullopt;
        object["arguments"] = *parsed;
        auto call = call_from_object(object, names);
        if (!call) return std::nullopt;
        reply.calls.push_back(std::move(*call));
        at = skip_blanks(text, end);
        if (at == text.size()) return reply;
        if (!text.substr(at).starts_with(kMistralOpen)) return std::nullopt;
        at = skip_blanks(text, at + kMistralOpen.size());
    }
}

// Llama 3.1-3.3: <|python_tag|>{"name": ..., "parameters": {...}}, or the reply as that JSON
// (the templates ask for it without the tag); several separated by ';'.
std::optional<ParsedReply> parse_llama3(std::string_view text,
                                        const std::vector<std::string>& names) {
    ParsedReply reply;
    size_t at = 0;
    const size_t tag = text.find(kLlamaPythonTag);
    if (tag != std::string_view::npos) {
        reply.content = std::string(text.substr(0, tag));
        at = tag + kLlamaPythonTag.size();
    }
    at = skip_blanks(text, at);
    while (at < text.size()) {
        const size_t end = json_value_end(text, at);
        if (end == std::string_view::npos) return std::nullopt;
        const auto object = parse_json(text.substr(at, end - at));
        if (!object) return std::nullopt;
        auto call = call_from_object(*object, names);
        if (!call) return std::nullopt;
        reply.calls.push_back(std::move(*call));
        at = skip_blanks(text, end);
        if (at < text.size() && text[at] == ';') at = skip_blanks(text, at + 1);
    }
    if (reply.calls.empty()) return std::nullopt;
    return reply;
}

// Gemma's arguments: {key:value,...} with bare keys and strings between <|"|> quotes.
std::optional<ordered_json> gemma_arguments(std::string_view text) {
    std::string json;
    for (size_t i = 0; i < text.size();) {
        if (text.substr(i).starts_with(kGemmaQuote)) {
            const size_t close = text.find(kGemmaQuote, i + kGemmaQuote.size());
            if (close == std::string_view::npos) return std::nullopt;
            json += json_text(ordered_json(
                std::string(text.substr(i + kGemmaQuote.size(), close - i - kGemmaQuote.size()))));
            i = close + kGemmaQuote.size();
            continue;
        }
        const char c = text[i];
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            size_t end = i;
            while (end < text.size() &&
                   (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_'))
                ++end;
            const std::string word(text.substr(i, end - i));
            const size_t after = skip_blanks(text, end);
            if (after < text.size() && text[after] == ':')
                json += json_text(ordered_json(word));  // a key
            else
                json += word;  // true, false, null
            i = end;
            continue;
        }
        json += c;
        ++i;
    }
    return parse_json(json);
}

// Gemma 4: <|tool_call>call:name{arguments}<tool_call|>, any number.
std::optional<ParsedReply> parse_gemma(std::string_view text,
                                       const std::vector<std::string>& names) {
    ParsedReply reply;
    size_t at = 0;
    for (;;) {
        const size_t open = text.find(kGemmaOpen, at);
        if (open == std::string_view::npos) break;
        reply.content += text.substr(at, open - at);
        const size_t name_start = open + kGemmaOpen.size();
        const size_t brace = text.find('{', name_start);
        const size_t close = text.find(kGemmaClose, name_start);
        if (brace == std::string_view::npos || close == std::string_view::npos || close < brace)
            return std::nullopt;
        const auto arguments = gemma_arguments(text.substr(brace, close - brace));
        if (!arguments) return std::nullopt;
        auto call =
            call_from_object({{"name", std::string(text.substr(name_start, brace - name_start))},
                              {"arguments", *arguments}},
                             names);
        if (!call) return std::nullopt;
        reply.calls.push_back(std::move(*call));
        at = close + kGemmaClose.size();
    }
    if (reply.calls.empty()) return std::nullopt;
    reply.content += text.substr(at);
    return reply;
}

}  // namespace

// Markers each family's template writes (checked in this order: a Llama 3.1 template that
// mentions <tool_call> does not exist, but Hermes-on-Llama templates use <tool_call> and
// Llama's header tokens, and their models answer in the Hermes format).
ToolCallFormat tool_call_format(std::string_view chat_template) {
    if (chat_template.find(kHermesOpen) != std::string_view::npos) return ToolCallFormat::Hermes;
    if (chat_template.find(kMistralOpen) != std::string_view::npos) return ToolCallFormat::Mistral;
    if (chat_template.find("<|tool_call>") != std::string_view::npos) return ToolCallFormat::Gemma;
    if (chat_template.find(kLlamaPythonTag) != std::string_view::npos ||
        (chat_template.find("<|start_header_id|>") != std::string_view::npos &&
         chat_template.find("tools") != std::string_view::npos))
        return ToolCallFormat::Llama3;
    return ToolCallFormat::None;
}

const char* tool_call_format_name(ToolCallFormat format) {
    switch (format) {
        case ToolCallFormat::Llama3:
            return "llama3";
        case ToolCallFormat::Hermes:
            return "hermes";
        case ToolCallFormat::Mistral:
            return "mistral";
        case ToolCallFormat::Gemma:
            return "gemma";
        case ToolCallFormat::None:
            break;
    }
    return "none";
}

ParsedReply parse_tool_calls(ToolCallFormat format, std::string_view text,
                             const std::vector<std::string>& known_names) {
    std::optional<ParsedReply> parsed;
    switch (format) {
        case ToolCallFormat::Hermes:
            parsed = parse_hermes(text, known_names);
            break;
        case ToolCallFormat::Mistral:
            parsed = parse_mistral(text, known_names);
            break;
        case ToolCallFormat::Llama3:
            parsed = parse_llama3(text, known_names);
            break;
        case ToolCallFormat::Gemma:
            parsed = parse_gemma(text, known_names);
            break;
        case ToolCallFormat::None:
            break;
    }
    if (parsed) return std::move(*parsed);
    return {std::string(text), {}};
}

std::string ToolCallStream::feed(std::string_view delta) {
    pending_ += delta;
    if (in_call_ || format_ == ToolCallFormat::None) {
        if (format_ == ToolCallFormat::None) return std::exchange(pending_, {});
        return {};
    }
    const std::string_view marker = opening_marker(format_);
    if (const size_t found = pending_.find(marker); found != std::string::npos) {
        in_call_ = true;
        std::string content = pending_.substr(0, found);
        pending_.erase(0, found);
        return content;
    }
    if (format_ == ToolCallFormat::Llama3 && !sent_any_) {
        // A reply that is (or may become) a bare JSON call is held until the end.
        const size_t first = pending_.find_first_not_of(" \t\r\n");
        if (first == std::string::npos) return {};
        if (pending_[first] == '{') {
            in_call_ = true;
            return {};
        }
    }
    // Hold back an ending that could be the marker's beginning.
    size_t keep = 0;
    for (size_t length = std::min(marker.size() - 1, pending_.size()); length > 0; --length) {
        if (std::string_view(pending_).substr(pending_.size() - length) ==
            marker.substr(0, length)) {
            keep = length;
            break;
        }
    }
    std::string content = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    sent_any_ |= !content.empty();
    return content;
}

ParsedReply ToolCallStream::finish() {
    std::string held = std::exchange(pending_, {});
    if (!in_call_) return {std::move(held), {}};
    return parse_tool_calls(format_, held, known_names_);
}

}  // namespace llcuda
