#include "chat/chat_template.hpp"

#include <fmt/format.h>

#include "chat/jinja_parser.hpp"
#include "chat/jinja_renderer.hpp"
#include "core/error.hpp"

namespace llcuda {

ChatTemplate::ChatTemplate(std::string source, std::string bos_token, std::string eos_token)
    : source_(std::move(source)),
      bos_token_(std::move(bos_token)),
      eos_token_(std::move(eos_token)) {
    try {
        body_ = jinja::parse_template(source_);
    } catch (const std::exception& error) {
        throw Error(
            fmt::format("cannot use this chat template: {} (--chat-template FILE "
                        "replaces it)",
                        error.what()));
    }
}

std::string ChatTemplate::render(const jinja::Json& messages, bool add_generation_prompt,
                                 const jinja::Json& extra) const {
    if (!messages.is_array()) throw Error("the messages must be a list");
    for (const auto& message : messages) {
        if (!message.is_object() || !message.contains("role") || !message["role"].is_string())
            throw Error("every message needs a \"role\" string");
    }
    jinja::Json variables = extra.is_object() ? extra : jinja::Json::object();
    variables["messages"] = messages;
    variables["bos_token"] = bos_token_;
    variables["eos_token"] = eos_token_;
    variables["add_generation_prompt"] = add_generation_prompt;
    try {
        return jinja::render(body_, variables);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& error) {
        // A value of the wrong type deep in an expression (range('a'), tojson(indent='x')).
        throw Error(fmt::format("the chat template failed: {}", error.what()));
    }
}

}  // namespace llcuda
