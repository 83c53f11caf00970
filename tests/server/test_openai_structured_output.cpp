// response_format and grammar on both endpoints: the grammar each asks for, and a 400 naming
// the field (and the schema keyword, the parser's problem) for anything that cannot be enforced.
#include <gtest/gtest.h>

#include "grammar/grammar_matcher.hpp"
#include "server/openai_protocol.hpp"

namespace llcuda {
namespace {

using nlohmann::json;

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

// The 400's param and message, or ("(accepted)", grammar).
std::pair<std::string, std::string> outcome(const json& body, bool is_chat) {
    try {
        return {"(accepted)",
                parse_completion_request(body, is_chat, ServerLimits{}).options.grammar};
    } catch (const ApiError& error) {
        EXPECT_EQ(error.status(), 400);
        return {error.param(), error.what()};
    }
}

bool grammar_matches(const std::string& gbnf, const std::string& text) {
    grammar::GrammarMatcher matcher(std::make_shared<grammar::Grammar>(grammar::parse_gbnf(gbnf)));
    return matcher.matches(text);
}

TEST(OpenAiStructuredOutput, EachFormatGivesItsGrammar) {
    for (const bool is_chat : {true, false}) {
        const auto body = [&](json extra) { return is_chat ? chat(extra) : completion(extra); };
        EXPECT_EQ(outcome(body({{"response_format", {{"type", "text"}}}}), is_chat),
                  std::make_pair(std::string("(accepted)"), std::string()));
        auto [param, gbnf] =
            outcome(body({{"response_format", {{"type", "json_object"}}}}), is_chat);
        ASSERT_EQ(param, "(accepted)") << gbnf;
        EXPECT_TRUE(grammar_matches(gbnf, R"({"a": [1, true]})"));
        EXPECT_FALSE(grammar_matches(gbnf, "[1]"));
        const json schema = {{"type", "object"},
                             {"properties", {{"n", {{"type", "integer"}}}}},
                             {"required", {"n"}}};
        std::tie(param, gbnf) = outcome(
            body({{"response_format",
                   {{"type", "json_schema"},
                    {"json_schema", {{"name", "n"}, {"schema", schema}, {"strict", true}}}}}}),
            is_chat);
        ASSERT_EQ(param, "(accepted)") << gbnf;
        EXPECT_TRUE(grammar_matches(gbnf, R"({"n": 12})"));
        EXPECT_FALSE(grammar_matches(gbnf, R"({"n": "12"})"));
        std::tie(param, gbnf) = outcome(body({{"grammar", "root ::= \"yes\" | \"no\""}}), is_chat);
        ASSERT_EQ(param, "(accepted)");
        EXPECT_TRUE(grammar_matches(gbnf, "no"));
    }
}

TEST(OpenAiStructuredOutput, WhatCannotBeEnforcedIsA400NamingIt) {
    const auto schema_format = [](json schema) {
        return json{
            {"response_format",
             {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", schema}}}}}};
    };
    auto [param, message] =
        outcome(chat(schema_format({{"type", "string"}, {"pattern", "^a+$"}})), true);
    EXPECT_EQ(param, "response_format.json_schema.schema");
    EXPECT_NE(message.find("'pattern'"), std::string::npos) << message;
    std::tie(param, message) = outcome(completion({{"grammar", "root ::= (\"a\""}}), false);
    EXPECT_EQ(param, "grammar");
    EXPECT_NE(message.find("line 1 column"), std::string::npos) << message;
    EXPECT_EQ(outcome(chat({{"response_format", {{"type", "yaml"}}}}), true).first,
              "response_format.type");
    EXPECT_EQ(outcome(chat({{"response_format", "json"}}), true).first, "response_format");
    EXPECT_EQ(outcome(chat({{"response_format", {{"type", "json_schema"}}}}), true).first,
              "response_format.json_schema");
    EXPECT_EQ(outcome(chat({{"response_format",
                             {{"type", "json_schema"}, {"json_schema", {{"name", "x"}}}}}}),
                      true)
                  .first,
              "response_format.json_schema.schema");
    EXPECT_EQ(
        outcome(chat({{"response_format", {{"type", "json_object"}, {"schema", json::object()}}}}),
                true)
            .first,
        "response_format.schema");
    EXPECT_EQ(outcome(chat({{"grammar", "root ::= \"a\""},
                            {"response_format", {{"type", "json_object"}}}}),
                      true)
                  .first,
              "grammar");
    EXPECT_EQ(outcome(chat({{"grammar", 5}}), true).first, "grammar");
}

}  // namespace
}  // namespace llcuda
