// Request fields of the OpenAI protocol without a model: every field outside the allow-list is
// a 400 naming it, the harmless ones are accepted, and the prompt's forms (string, [string],
// token ids, [[token ids]]) parse or are refused naming the element.
#include <gtest/gtest.h>

#include "server/openai_protocol.hpp"

namespace llcuda {
namespace {

using nlohmann::json;

// The 400's param, or "(accepted)".
std::string param_of(const json& body, bool chat) {
    try {
        parse_completion_request(body, chat, ServerLimits{});
    } catch (const ApiError& error) {
        EXPECT_EQ(error.status(), 400);
        return error.param();
    }
    return "(accepted)";
}

json completion(json extra) {
    json body = {{"prompt", "Once"}};
    body.update(extra);
    return body;
}

json chat(json extra) {
    json body = {{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
    body.update(extra);
    return body;
}

TEST(OpenAiRequests, UnknownAndUnsupportedFieldsAreNamed) {
    for (const char* field : {"logit_bias", "echo", "best_of", "suffix", "no_such_field"})
        EXPECT_EQ(param_of(completion({{field, 1}}), false), field);
    EXPECT_EQ(param_of(chat({{"functions", json::array()}}), true), "functions");
    // A field of the other endpoint is named too.
    EXPECT_EQ(param_of(chat({{"prompt", "x"}}), true), "prompt");
    EXPECT_EQ(param_of(completion({{"messages", json::array()}}), false), "messages");
    EXPECT_EQ(param_of(completion({{"tools", json::array()}}), false), "tools");
    EXPECT_EQ(
        param_of(completion({{"stream_options", {{"include_usage", true}, {"x", 1}}}}), false),
        "stream_options.x");
    EXPECT_EQ(param_of(completion({{"stream_options", 3}}), false), "stream_options");
}

TEST(OpenAiRequests, HarmlessAndHandledFieldsAreAccepted) {
    const json harmless = {{"user", "u-1"}, {"store", false}, {"metadata", {{"k", "v"}}}};
    EXPECT_EQ(param_of(completion(harmless), false), "(accepted)");
    EXPECT_EQ(param_of(chat(harmless), true), "(accepted)");
    EXPECT_EQ(param_of(completion({{"model", "m"},
                                   {"max_tokens", 3},
                                   {"max_completion_tokens", 3},
                                   {"temperature", 0},
                                   {"top_p", 1},
                                   {"top_k", 4},
                                   {"min_p", 0.1},
                                   {"repeat_penalty", 1.1},
                                   {"seed", 3},
                                   {"frequency_penalty", 0},
                                   {"presence_penalty", 0},
                                   {"logprobs", 2},
                                   {"n", 2},
                                   {"stop", "x"},
                                   {"stream", true},
                                   {"stream_options", {{"include_usage", true}}}}),
                       false),
              "logprobs");  // logprobs with stream: refused for its own reason, not as unknown
    EXPECT_EQ(param_of(chat({{"logprobs", true},
                             {"top_logprobs", 2},
                             {"tools", json::array()},
                             {"tool_choice", "auto"},
                             {"parallel_tool_calls", true}}),
                       true),
              "(accepted)");
}

TEST(OpenAiRequests, PromptForms) {
    const auto parse = [](json prompt) {
        return parse_completion_request({{"prompt", std::move(prompt)}}, false, ServerLimits{});
    };
    EXPECT_EQ(parse("Once").prompt, "Once");
    EXPECT_EQ(parse(json::array({"Once"})).prompt, "Once");
    EXPECT_EQ(parse(json::array({1, 403, 407})).prompt_ids, (std::vector<int32_t>{1, 403, 407}));
    EXPECT_EQ(parse(json::array({json::array({403})})).prompt_ids, (std::vector<int32_t>{403}));
    EXPECT_TRUE(parse("Once").prompt_ids.empty());

    const auto param = [](json prompt) { return param_of({{"prompt", std::move(prompt)}}, false); };
    EXPECT_EQ(param(json::array()), "prompt");
    EXPECT_EQ(param(3), "prompt");
    EXPECT_EQ(param(json::array({"a", 3})), "prompt[1]");
    EXPECT_EQ(param(json::array({1, "a"})), "prompt[1]");
    EXPECT_EQ(param(json::array({1, -2})), "prompt[1]");
    EXPECT_EQ(param(json::array({1, 2.5})), "prompt[1]");
    EXPECT_EQ(param(json::array({json::array({1}), 2})), "prompt[1]");
    EXPECT_EQ(param(json::array({json::array({1, "x"})})), "prompt[0][1]");
    EXPECT_EQ(param(json::array({json::array()})), "prompt[0]");
    // Several prompts in one request: a clear 400 until they are served.
    EXPECT_EQ(param(json::array({"a", "b"})), "prompt");
    EXPECT_EQ(param(json::array({json::array({1}), json::array({2})})), "prompt");
}

}  // namespace
}  // namespace llcuda
