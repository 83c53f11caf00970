#pragma once
// Tool calls in a model's reply, in the format its chat template teaches it, turned into
// OpenAI's tool_calls: Llama 3.x JSON ({"name": ..., "parameters": {...}}, after
// <|python_tag|> or as the whole reply), Hermes <tool_call>{"name", "arguments"}</tool_call>
// (Qwen 2.5/3), Mistral [TOOL_CALLS][{...}] or [TOOL_CALLS]name[ARGS]{...}, and Gemma's
// <|tool_call>call:name{key:<|"|>text<|"|>}<tool_call|>. A reply that does not parse
// completely is plain content (never half a call).
#include <string>
#include <string_view>
#include <vector>

namespace llcuda {

enum class ToolCallFormat { None, Llama3, Hermes, Mistral, Gemma };

// The format a chat template teaches, from the markers it writes (each is what that family's
// template puts around a tool call; see the .cpp); None when it writes none of them.
ToolCallFormat tool_call_format(std::string_view chat_template);
const char* tool_call_format_name(ToolCallFormat format);

struct ToolCall {
    std::string name;
    std::string arguments;  // a JSON object as text, as OpenAI's function.arguments
};

struct ParsedReply {
    std::string content;
    std::vector<ToolCall> calls;
};

// `known_names`: the request's functions; a call to another name leaves the reply as content.
ParsedReply parse_tool_calls(ToolCallFormat format, std::string_view text,
                             const std::vector<std::string>& known_names);

// Streaming: text is passed on as content until the format's opening marker could start;
// from there it is held, and finish() parses it (calls, or the held text as content when it
// does not parse).
class ToolCallStream {
  public:
    ToolCallStream(ToolCallFormat format, std::vector<std::string> known_names)
        : format_(format), known_names_(std::move(known_names)) {}
    // The content that can be sent now.
    std::string feed(std::string_view delta);
    // The rest: content not sent yet and the calls.
    ParsedReply finish();

  private:
    ToolCallFormat format_;
    std::vector<std::string> known_names_;
    std::string pending_;  // held back: could be (or is) the start of a call
    bool in_call_ = false;
    bool sent_any_ = false;  // content already sent (a Llama 3 JSON reply must come first)
};

}  // namespace llcuda
