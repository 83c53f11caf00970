// libFuzzer target for the OpenAI request parser, which reads what any client sends: any bytes
// as a request body (completions or chat, by the first byte), parsed as the server parses
// them; a request that passes is turned into a response as the server would. Errors (a 400
// naming the field) are fine; crashes, hangs, leaks and other exceptions are not.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.hpp"
#include "server/openai_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const bool chat = (data[0] & 1) != 0;
    const auto body = nlohmann::json::parse(data + 1, data + size, nullptr, false);
    if (body.is_discarded()) return 0;
    try {
        const auto request = llcuda::parse_completion_request(body, chat, llcuda::ServerLimits{});
        std::vector<llcuda::ChoiceResult> choices(request.choices);
        for (auto& choice : choices) choice.finish_reason = "length";
        llcuda::completion_response(request, "id", 0, "model", choices).dump();
        llcuda::stream_chunk(request, "id", 0, "model", 0, "text", "", true).dump();
    } catch (const llcuda::Error&) {
    }
    return 0;
}
