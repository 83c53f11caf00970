// The trie's mask equals asking the matcher about every token on its own, along a JSON text,
// and end-of-generation tokens are allowed exactly when the grammar accepts.
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "grammar/grammar.hpp"
#include "grammar/json_schema_grammar.hpp"
#include "grammar/token_mask.hpp"

namespace llcuda::grammar {
namespace {

std::vector<std::string> test_vocabulary(uint64_t seed) {
    std::vector<std::string> tokens = {"",     "{",   "}",    "\"", "\":",  "\": ", ", \"",
                                       "name", "age", "true", "1",  "12",   "-",    ".",
                                       "e",    " ",   "\n",   "é",  "\xC3", "\xA9", "日本"};
    std::mt19937_64 generator(seed);
    const std::string alphabet = "{}[]\":, \nabcnaemtruefls0123456789.-\\";
    for (int i = 0; i < 400; ++i) {
        std::string token;
        size_t length = 1 + generator() % 5;
        for (size_t k = 0; k < length; ++k) token += alphabet[generator() % alphabet.size()];
        tokens.push_back(token);
    }
    return tokens;
}

TEST(TokenMask, TheTrieMaskEqualsTestingEveryTokenAlone) {
    uint64_t seed = 20261203;
    std::cout << "seed " << seed << "\n";
    std::vector<std::string> tokens = test_vocabulary(seed);
    const int32_t end_token = 0;  // the empty control token
    TokenTrie trie(tokens, {end_token});
    auto schema = nlohmann::json::parse(
        R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]})");
    GrammarMatcher matcher(std::make_shared<Grammar>(parse_gbnf(json_schema_to_gbnf(schema))));
    const std::string text = "{\"age\": 12, \"name\": \"é日本\"}";
    MatchState state = matcher.initial_state();
    std::vector<bool> allowed;
    for (size_t prefix = 0; prefix <= text.size(); ++prefix) {
        trie.allowed_tokens(matcher, state, allowed);
        for (size_t id = 1; id < tokens.size(); ++id) {
            MatchState copy = state;
            EXPECT_EQ(allowed[id], matcher.advance(copy, tokens[id]))
                << "after '" << text.substr(0, prefix) << "' token '" << tokens[id] << "'";
        }
        EXPECT_EQ(allowed[end_token], GrammarMatcher::is_accepting(state))
            << text.substr(0, prefix);
        if (prefix < text.size()) {
            ASSERT_TRUE(matcher.advance(state, text.substr(prefix, 1)));
        }
    }
    EXPECT_TRUE(allowed[end_token]);
}

}  // namespace
}  // namespace llcuda::grammar
