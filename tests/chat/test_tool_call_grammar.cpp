// The grammar of tool_choice "required" / a named function, per format: texts it must accept
// (each parses into the calls it writes) and refuse (another name, arguments off the schema,
// a second call without parallel_tool_calls, free text), and the refusals naming the field.
#include <gtest/gtest.h>

#include <memory>

#include "chat/tool_call_grammar.hpp"
#include "grammar/grammar.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar/structured_output.hpp"

namespace llcuda {
namespace {

using nlohmann::json;

const json kTools = json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
    "properties": {"city": {"enum": ["Bern", "Oslo"]}, "days": {"type": "integer"}},
    "required": ["city"], "additionalProperties": false}}},
  {"type": "function", "function": {"name": "now"}}
])");

struct FormatCase {
    ToolCallFormat format;
    bool arguments_marker;
    std::string one_call, two_calls;  // get_weather(Bern), then also now()
    std::vector<std::string> refused;
};

const std::vector<FormatCase> kFormats = {
    {ToolCallFormat::Hermes,
     false,
     "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Bern\"}}\n</tool_call>",
     "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Bern\", \"days\": "
     "3}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>",
     {"Sure! <tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>",
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>",
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>",
      "<tool_call>\n{\"name\": \"other\", \"arguments\": {}}\n</tool_call>",
      "<tool_call>\n{\"name\": \"now\", \"arguments\": {\"x\": 1}}\n</tool_call>"}},
    {ToolCallFormat::Llama3,
     false,
     "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Bern\"}}",
     "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Bern\",\"days\":3}}; {\"name\": "
     "\"now\", \"parameters\": {}}",
     {"{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Bern\"}}",
      "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Bern\", \"days\": \"3\"}}"}},
    {ToolCallFormat::Mistral,
     false,
     "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Bern\"}}]",
     "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Bern\", \"days\": "
     "3}}, {\"name\": \"now\", \"arguments\": {}}]",
     {"[TOOL_CALLS][]", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Bern\"}"}},
    {ToolCallFormat::Mistral,
     true,
     "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Bern\"}",
     "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Bern\", \"days\": 3}[TOOL_CALLS]now[ARGS]{}",
     {"[TOOL_CALLS][{\"name\": \"now\", \"arguments\": {}}]", "[TOOL_CALLS]now[ARGS]{\"a\":1}"}},
};

grammar::GrammarMatcher matcher_for(const FormatCase& test, bool parallel,
                                    const std::string& only = "") {
    const std::string gbnf = tool_call_grammar(ToolCallGrammarRequest{
        .format = test.format,
        .tools = &kTools,
        .only_function = only,
        .parallel = parallel,
        .mistral_arguments_marker = test.arguments_marker,
    });
    return grammar::GrammarMatcher(std::make_shared<grammar::Grammar>(grammar::parse_gbnf(gbnf)));
}

const std::vector<std::string> kNames = {"get_weather", "now"};

TEST(ToolCallGrammar, EveryFormatAcceptsItsCallsAndTheyParse) {
    for (const FormatCase& test : kFormats) {
        const auto format = tool_call_format_name(test.format);
        const auto parallel = matcher_for(test, true);
        EXPECT_TRUE(parallel.matches(test.one_call)) << format << ": " << test.one_call;
        EXPECT_TRUE(parallel.matches(test.two_calls)) << format << ": " << test.two_calls;
        const ParsedReply one = parse_tool_calls(test.format, test.one_call, kNames);
        ASSERT_EQ(one.calls.size(), 1u) << format;
        EXPECT_EQ(one.calls[0].name, "get_weather");
        EXPECT_EQ(json::parse(one.calls[0].arguments), json::parse(R"({"city": "Bern"})"));
        const ParsedReply two = parse_tool_calls(test.format, test.two_calls, kNames);
        ASSERT_EQ(two.calls.size(), 2u) << format;
        EXPECT_EQ(two.calls[1].name, "now");
        EXPECT_TRUE(two.content.empty()) << format;
        for (const std::string& text : test.refused)
            EXPECT_FALSE(parallel.matches(text)) << format << " should refuse " << text;
        // parallel_tool_calls false: exactly one call.
        const auto single = matcher_for(test, false);
        EXPECT_TRUE(single.matches(test.one_call)) << format;
        EXPECT_FALSE(single.matches(test.two_calls)) << format;
        EXPECT_FALSE(single.matches("")) << format;
        // A named function: only it.
        const auto named = matcher_for(test, true, "now");
        EXPECT_FALSE(named.matches(test.one_call)) << format;
    }
}

ToolCallGrammarRequest hermes_request(const json* tools, const std::string& only) {
    return ToolCallGrammarRequest{.format = ToolCallFormat::Hermes,
                                  .tools = tools,
                                  .only_function = only,
                                  .parallel = true,
                                  .mistral_arguments_marker = false};
}

std::string field_of_refusal(const ToolCallGrammarRequest& request) {
    try {
        tool_call_grammar(request);
    } catch (const grammar::StructuredOutputError& error) {
        return error.field() + ": " + error.what();
    }
    return "(accepted)";
}

TEST(ToolCallGrammar, WhatCannotBeEnforcedIsRefusedNamingTheField) {
    json tools = kTools;
    tools[1]["function"]["parameters"] = {{"type", "integer"}, {"minimum", 3}};
    const std::string keyword = field_of_refusal(hermes_request(&tools, ""));
    EXPECT_TRUE(keyword.starts_with("tools[1].function.parameters: ")) << keyword;
    EXPECT_NE(keyword.find("'minimum'"), std::string::npos) << keyword;
    // The unsupported keyword is in a tool that is not called: the grammar is still made.
    EXPECT_EQ(field_of_refusal(hermes_request(&tools, "get_weather")), "(accepted)");
    const std::string gemma =
        field_of_refusal(ToolCallGrammarRequest{.format = ToolCallFormat::Gemma,
                                                .tools = &kTools,
                                                .only_function = "",
                                                .parallel = true,
                                                .mistral_arguments_marker = false});
    EXPECT_TRUE(gemma.starts_with("tool_choice: ")) << gemma;
    EXPECT_NE(gemma.find("gemma"), std::string::npos) << gemma;
}

}  // namespace
}  // namespace llcuda
