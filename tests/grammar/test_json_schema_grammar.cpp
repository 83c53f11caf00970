// JSON schema conversion: for each schema, JSON texts its grammar must accept and refuse, and
// the keywords that must be refused by name.
#include <gtest/gtest.h>

#include <memory>

#include "grammar/grammar.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar/json_schema_grammar.hpp"

namespace llcuda::grammar {
namespace {

struct SchemaCase {
    const char* schema;
    std::vector<std::string> accepted;
    std::vector<std::string> refused;
};

const std::vector<SchemaCase> kSchemaCases = {
    {R"({"type":"integer"})", {"0", "-12", "123"}, {"01", "1.5", "\"1\"", " 1"}},
    {R"({"type":"number"})", {"1.5", "-0.25e+3", "7"}, {"1.", ".5", "1e"}},
    {R"({"type":"boolean"})", {"true", "false"}, {"True", "1"}},
    {R"({"type":["string","null"]})", {"\"x\"", "null"}, {"1"}},
    {R"({"type":"string","minLength":2,"maxLength":3})",
     {"\"ab\"", "\"a\\nb\"", "\"日本語\""},
     {"\"a\"", "\"abcd\""}},
    {R"({"type":"string","nullable":true})", {"\"\"", "null"}, {"0"}},
    {R"({"enum":["red","green",3]})", {"\"red\"", "3"}, {"\"blue\"", "red"}},
    {R"({"const":{"a":1}})", {"{\"a\":1}"}, {"{\"a\": 1}"}},
    {R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})",
     {"[1]", "[1, 2,3]", "[ 1 ]"},
     {"[]", "[1,2,3,4]", "[\"a\"]"}},
    {R"({"type":"array"})", {"[]", "[1,\"a\",{\"b\":null}]"}, {"[1,]"}},
    {R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name"],"additionalProperties":false})",
     {"{\"name\":\"x\"}", "{\"age\": 3, \"name\": \"x\"}", "{ \"name\" : \"x\" }"},
     {"{}", "{\"age\":3}", "{\"name\":\"x\",\"age\":3}", "{\"name\":\"x\",\"other\":1}",
      "{\"name\":\"x\",}"}},
    {R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}}})",
     {"{}", "{\"b\":1}", "{\"a\":1,\"c\":2}", "{\"a\":1,\"b\":2,\"c\":3}"},
     {"{,\"b\":1}", "{\"c\":1,\"a\":2}"}},
    {R"({"type":"object"})", {"{}", "{\"any\":[1,{\"x\":true}]}"}, {"[]"}},
    {R"({"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]})",
     {"5", "\"a\""},
     {"\"ab\"", "true"}},
    {R"({"$defs":{"node":{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["next"]}},"$ref":"#/$defs/node"})",
     {"{\"next\":null}", "{\"next\":{\"next\":null}}"},
     {"{}", "{\"next\":1}"}},
    {R"({"type":"string","format":"date"})", {"\"2026-12-03\""}, {"\"2026-12-3\""}},
};

TEST(JsonSchemaGrammar, EveryTableSchemaAcceptsAndRefusesItsTexts) {
    for (const SchemaCase& test : kSchemaCases) {
        std::string gbnf = json_schema_to_gbnf(nlohmann::json::parse(test.schema));
        GrammarMatcher matcher(std::make_shared<Grammar>(parse_gbnf(gbnf)));
        for (const std::string& text : test.accepted) {
            EXPECT_TRUE(matcher.matches(text)) << test.schema << " should accept " << text << "\n"
                                               << gbnf;
        }
        for (const std::string& text : test.refused) {
            EXPECT_FALSE(matcher.matches(text)) << test.schema << " should refuse " << text << "\n"
                                                << gbnf;
        }
    }
}

TEST(JsonSchemaGrammar, JsonObjectModeTakesAnyObjectOnly) {
    GrammarMatcher matcher(std::make_shared<Grammar>(parse_gbnf(json_object_gbnf())));
    EXPECT_TRUE(matcher.matches(R"({"a": [1, 2.5, "x", null, true], "b": {}})"));
    EXPECT_FALSE(matcher.matches("[1]"));
    EXPECT_FALSE(matcher.matches("\"text\""));
    EXPECT_FALSE(matcher.matches(R"({"a": 1} trailing)"));
}

TEST(JsonSchemaGrammar, EveryUnsupportedKeywordIsNamed) {
    const std::vector<std::pair<const char*, const char*>> cases = {
        {R"({"type":"string","pattern":"^a+$"})", "pattern"},
        {R"({"type":"string","format":"email"})", "format"},
        {R"({"type":"integer","minimum":3})", "minimum"},
        {R"({"type":"object","additionalProperties":true})", "additionalProperties"},
        {R"({"allOf":[{"type":"integer"}]})", "allOf"},
        {R"({"$ref":"https://example.com/schema"})", "$ref"},
        {R"({"type":"object","properties":{"a":{"type":"array","items":{"uniqueItems":true}}}})",
         "uniqueItems"},
    };
    for (const auto& [schema, keyword] : cases) {
        try {
            json_schema_to_gbnf(nlohmann::json::parse(schema));
            ADD_FAILURE() << schema << " converted";
        } catch (const UnsupportedSchemaKeyword& error) {
            EXPECT_EQ(error.keyword(), keyword) << error.what();
            EXPECT_NE(std::string(error.what()).find(keyword), std::string::npos);
        }
    }
}

}  // namespace
}  // namespace llcuda::grammar
