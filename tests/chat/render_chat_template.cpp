// Test-only: renders chat templates with llcuda's engine for the jinja2 parity test
// (test_template_parity.py). Reads one JSON object per line on stdin, {"template": TEXT,
// "context": {messages, tools?, add_generation_prompt, bos_token, eos_token}}, and writes one
// per line on stdout: {"text": RENDERED} or {"error": MESSAGE}.
#include <iostream>
#include <string>

#include "chat/chat_template.hpp"

int main() {
    using llcuda::jinja::Json;
    std::string line;
    while (std::getline(std::cin, line)) {
        Json answer;
        try {
            const Json request = Json::parse(line);
            Json context = request.at("context");
            const llcuda::ChatTemplate chat_template(request.at("template").get<std::string>(),
                                                     context.value("bos_token", ""),
                                                     context.value("eos_token", ""));
            const Json messages = context.at("messages");
            const bool add_generation_prompt = context.value("add_generation_prompt", false);
            context.erase("messages");
            answer["text"] = chat_template.render(messages, add_generation_prompt, context);
        } catch (const std::exception& error) {
            answer["error"] = error.what();
        }
        std::cout << answer.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n'
                  << std::flush;
    }
}
