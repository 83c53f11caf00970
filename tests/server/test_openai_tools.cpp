// The tool parts of the OpenAI protocol without a model: requests' tools and tool_choice
// validated, assistant tool calls normalised for templates in the client's key order, and
// responses and stream chunks carrying tool_calls as OpenAI's clients read them.
#include <gtest/gtest.h>

#include "server/openai_protocol.hpp"

namespace llcuda {
namespace {

using nlohmann::json;

const char* const kBody = R"({
  "messages": [
    {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"zone\": \"UTC\", \"city\": \"Bern\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
  ],
  "tools": [{"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {"zone": {}, "city": {}}}}}],
  "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
  "parallel_tool_calls": false
})";

std::string param_of(const json& body) {
    try {
        parse_completion_request(body, true, ServerLimits{});
    } catch (const ApiError& error) {
        return error.param();
    }
    return "(accepted)";
}

TEST(OpenAiTools, RequestFieldsAndTemplateInputsInTheClientsOrder) {
    const auto request = parse_completion_request(json::parse(kBody), true, ServerLimits{});
    EXPECT_EQ(request.tool_choice, "function");
    EXPECT_EQ(request.tool_choice_function, "get_weather");
    EXPECT_FALSE(request.parallel_tool_calls);
    const auto inputs = chat_template_inputs(kBody, request);
    EXPECT_EQ(inputs["messages"][0]["content"], "Weather?");
    EXPECT_EQ(inputs["messages"][1]["content"], "");
    // Arguments as an object, keys as written (zone before city), as is the tool's schema.
    EXPECT_EQ(inputs["messages"][1]["tool_calls"][0]["function"]["arguments"].dump(),
              R"({"zone":"UTC","city":"Bern"})");
    EXPECT_EQ(inputs["tools"][0].dump().substr(0, 18), R"({"type":"function")");

    json body = json::parse(kBody);
    body["tool_choice"] = "none";
    const auto none = parse_completion_request(body, true, ServerLimits{});
    EXPECT_TRUE(none.tools.is_null());  // the model is not shown the tools
    EXPECT_FALSE(chat_template_inputs(body.dump(), none).contains("tools"));
}

TEST(OpenAiTools, EveryWrongFieldIsNamed) {
    const json base = json::parse(kBody);
    const auto with = [&](const char* key, json value) {
        json body = base;
        body[key] = std::move(value);
        return param_of(body);
    };
    EXPECT_EQ(with("tools", "x"), "tools");
    EXPECT_EQ(with("tools", json::array({{{"type", "function"}}})), "tools[0]");
    EXPECT_EQ(with("tool_choice", "sometimes"), "tool_choice");
    EXPECT_EQ(with("tool_choice", {{"type", "function"}, {"function", {{"name", "other"}}}}),
              "tool_choice");
    EXPECT_EQ(with("parallel_tool_calls", 1), "parallel_tool_calls");
    json bad_arguments = base;
    bad_arguments["messages"][1]["tool_calls"][0]["function"]["arguments"] = "[1]";
    EXPECT_EQ(param_of(bad_arguments), "messages[1].tool_calls");
    json no_tools = base;
    no_tools.erase("tools");
    no_tools["tool_choice"] = "required";
    EXPECT_EQ(param_of(no_tools), "tool_choice");
}

TEST(OpenAiTools, ResponsesAndChunksCarryToolCalls) {
    CompletionRequest request;
    request.chat = true;
    ChoiceResult choice;
    choice.finish_reason = "stop";
    choice.tool_calls = {{"get_weather", R"({"city":"Bern"})"}, {"get_time", "{}"}};
    const json response = completion_response(request, "chatcmpl-1", 0, "m", {choice});
    const json& message = response["choices"][0]["message"];
    EXPECT_EQ(response["choices"][0]["finish_reason"], "tool_calls");
    EXPECT_TRUE(message["content"].is_null());
    ASSERT_EQ(message["tool_calls"].size(), 2u);
    EXPECT_EQ(message["tool_calls"][0]["type"], "function");
    EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], R"({"city":"Bern"})");
    EXPECT_EQ(message["tool_calls"][1]["function"]["name"], "get_time");
    const std::string id = message["tool_calls"][0]["id"];
    EXPECT_TRUE(id.starts_with("call_") && id.size() == 29) << id;
    EXPECT_NE(id, message["tool_calls"][1]["id"].get<std::string>());
    EXPECT_EQ(tool_call_id(ToolCallFormat::Mistral).size(), 9u);

    const json opening = tool_call_chunk(request, "c", 0, "m", 0, 1, "call_x", choice.tool_calls[1],
                                         true)["choices"][0]["delta"];
    EXPECT_EQ(opening["role"], "assistant");
    EXPECT_EQ(opening["tool_calls"][0]["index"], 1);
    EXPECT_EQ(opening["tool_calls"][0]["id"], "call_x");
    EXPECT_EQ(opening["tool_calls"][0]["function"]["name"], "get_time");
    EXPECT_EQ(opening["tool_calls"][0]["function"]["arguments"], "");
    const json fragment = tool_call_chunk(request, "c", 0, "m", 0, 1, "", choice.tool_calls[1],
                                          false)["choices"][0]["delta"];
    EXPECT_FALSE(fragment.contains("role"));
    EXPECT_FALSE(fragment["tool_calls"][0].contains("id"));
    EXPECT_EQ(fragment["tool_calls"][0]["function"]["arguments"], "{}");
    EXPECT_EQ(stream_chunk(request, "c", 0, "m", 0, "", "tool_calls",
                           false)["choices"][0]["finish_reason"],
              "tool_calls");
}

}  // namespace
}  // namespace llcuda
