// libFuzzer target for chat templates, which arrive inside model files: any bytes as a template,
// rendered against a small conversation. Errors are fine; crashes, hangs and leaks are not.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/chat_template.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string source(reinterpret_cast<const char*>(data), size);
    try {
        llcuda::ChatTemplate chat(source, "<s>", "</s>");
        const auto messages = llcuda::jinja::Json::parse(
            R"([{"role": "system", "content": "s"}, {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "yo"}])");
        chat.render(messages, true);
    } catch (const llcuda::Error&) {
    }
    return 0;
}
