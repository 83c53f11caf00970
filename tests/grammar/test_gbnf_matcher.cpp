// GBNF parsing and matching from one table of cases: each grammar with strings it must accept
// and strings it must refuse, and grammars that must fail to parse with a named problem.
#include <gtest/gtest.h>

#include <memory>

#include "core/error.hpp"
#include "grammar/grammar.hpp"
#include "grammar/grammar_matcher.hpp"

namespace llcuda::grammar {
namespace {

struct MatchCase {
    const char* grammar;
    std::vector<std::string> accepted;
    std::vector<std::string> refused;
};

const std::vector<MatchCase> kMatchCases = {
    {R"(root ::= "abc")", {"abc"}, {"", "ab", "abcd", "abd"}},
    {R"(root ::= "a" | "b" | "")", {"a", "b", ""}, {"ab", "c"}},
    {R"(root ::= ("ab")* "c")", {"c", "abc", "ababc"}, {"ac", "ab", "abab"}},
    {R"(root ::= [a-c]+)", {"a", "abc", "cccb"}, {"", "d", "abd"}},
    {R"(root ::= [^a-c]?)", {"", "d", "é"}, {"a", "dd"}},
    {R"(root ::= "x"{2,3})", {"xx", "xxx"}, {"x", "xxxx", ""}},
    {R"(root ::= "x"{2})", {"xx"}, {"x", "xxx"}},
    {R"(root ::= "x"{2,} "y")", {"xxy", "xxxxxy"}, {"xy", "y"}},
    {R"(root ::= "x"{0,2})", {"", "x", "xx"}, {"xxx"}},
    {R"(root ::= .)", {"a", "é", "日", "😀"}, {"", "ab"}},
    // Only well-formed UTF-8: overlong forms of '{' (2, 3 and 4 bytes), a surrogate, a code
    // point past U+10FFFF and stray bytes are refused even where any character may come.
    {R"(root ::= "{" | .)",
     {"{", "\u00e9", "\U0010FFFF"},
     {"\xC1\xBB", "\xE0\x81\xBB", "\xF0\x80\x81\xBB", "\xED\xA0\x80", "\xF4\x90\x80\x80",
      "\xF5\x80\x80\x80", "\x80", "\xFF"}},
    {R"(root ::= "\x41\u00e9\n\t\"\\")", {"Aé\n\t\"\\"}, {"A"}},
    {R"(root ::= [\x00-\x1F])", {"\x01", "\x1f"}, {" "}},
    {"root ::= item (\",\" item)*\nitem ::= [0-9]+ # digits\n",
     {"1", "12,3,456"},
     {"1,", ",1", ""}},
    {"root ::= \"(\" root \")\" | \"\"", {"", "()", "((()))"}, {"(()", ")"}},
    {"root ::= (\n  \"a\"\n  | \"b\"\n)\n", {"a", "b"}, {"ab"}},
    {R"(root ::= [日本]+ "語")", {"日語", "本日本語"}, {"語語", "日"}},
    {R"(root ::= ("a" | "ab") "c")", {"ac", "abc"}, {"abbc", "a"}},
};

TEST(GbnfMatcher, EveryTableCaseAcceptsAndRefusesItsStrings) {
    for (const MatchCase& test : kMatchCases) {
        GrammarMatcher matcher(std::make_shared<Grammar>(parse_gbnf(test.grammar)));
        for (const std::string& text : test.accepted) {
            EXPECT_TRUE(matcher.matches(text)) << test.grammar << " should accept '" << text << "'";
        }
        for (const std::string& text : test.refused) {
            EXPECT_FALSE(matcher.matches(text))
                << test.grammar << " should refuse '" << text << "'";
        }
    }
}

TEST(GbnfMatcher, APrefixOfAMatchIsAdvancedByteByByteButNotAccepting) {
    GrammarMatcher matcher(std::make_shared<Grammar>(parse_gbnf(R"(root ::= "日本" [0-9]?)")));
    MatchState state = matcher.initial_state();
    ASSERT_TRUE(matcher.advance(state, "\xE6"));  // first byte of 日
    EXPECT_FALSE(GrammarMatcher::is_accepting(state));
    EXPECT_FALSE(matcher.advance(state, "\xE6\x9C\xAC"));  // 本 cannot come before 日 ends
    ASSERT_TRUE(matcher.advance(state, "\x97\xA5\xE6\x9C\xAC"));
    EXPECT_TRUE(GrammarMatcher::is_accepting(state));
    EXPECT_TRUE(GrammarMatcher::can_continue(state));
    ASSERT_TRUE(matcher.advance(state, "7"));
    EXPECT_TRUE(GrammarMatcher::is_accepting(state));
    EXPECT_FALSE(GrammarMatcher::can_continue(state));
}

TEST(GbnfMatcher, AByteNoClassCanStartIsRefusedAtOnce) {
    GrammarMatcher matcher(std::make_shared<Grammar>(parse_gbnf(R"(root ::= [a-z]+)")));
    MatchState state = matcher.initial_state();
    EXPECT_FALSE(matcher.advance(state, "\xE6"));  // no 3-byte code point is in [a-z]
}

TEST(GbnfMatcher, ALeadByteOnlyAnOverlongFormWouldFinishIsRefused) {
    // F0 80 81 BB would decode to '{': a generator that took F0 would find no next token.
    GrammarMatcher matcher(std::make_shared<Grammar>(parse_gbnf(R"(root ::= "{" "}")")));
    for (const char* lead : {"\xF0", "\xE0", "\xC1", "\xC0"}) {
        MatchState state = matcher.initial_state();
        EXPECT_FALSE(matcher.advance(state, lead)) << static_cast<int>(lead[0] & 0xFF);
    }
}

struct ErrorCase {
    const char* grammar;
    const char* message;  // a part of the error
};

const std::vector<ErrorCase> kErrorCases = {
    {R"(root ::= "abc)", "line 1 column 14: unterminated string literal"},
    {"root ::= a\n", "rule 'a' is used but never defined"},
    {"start ::= \"a\"\n", "no 'root' rule"},
    {"root ::= root \"a\" | \"b\"\n", "left-recursive"},
    {"root ::= (\"a\"?)*\n", "left-recursive"},
    {"root ::= \"a\"\nroot ::= \"b\"\n", "line 2 column 10: rule 'root' is defined twice"},
    {"root ::= [b-a]\n", "below its start"},
    {"root ::= []\n", "empty character class"},
    {"root ::= \"a\"{3,2}\n", "maximum is below its minimum"},
    {"root ::= \"a\"{1000000}{1000000}\n", "'{' with nothing before it"},
    {"root ::= (\"a\"{1000}){1000}{1000}\n", "'{' with nothing before it"},
    {"root ::= \"abc\"{400000}\n", "more than"},
    {"root ::= \"\\q\"\n", "unknown escape '\\q'"},
    {"root ::= * \"a\"\n", "'*' with nothing before it"},
    {"root := \"a\"\n", "expected '::='"},
    {"root ::= (\"a\"\n", "expected ')'"},
    {"root ::= \"\\xZZ\"\n", "expected 2 hex digits"},
};

TEST(GbnfMatcher, EveryMalformedGrammarNamesItsProblem) {
    for (const ErrorCase& test : kErrorCases) {
        try {
            parse_gbnf(test.grammar);
            ADD_FAILURE() << test.grammar << " parsed";
        } catch (const Error& error) {
            EXPECT_NE(std::string(error.what()).find(test.message), std::string::npos)
                << test.grammar << " gave: " << error.what();
        }
    }
}

TEST(GbnfMatcher, NestingDeeperThanTheBoundIsAnErrorNotACrash) {
    std::string deep = "root ::= \"(\" root \")\" | \"\"\n";
    GrammarMatcher nesting(std::make_shared<Grammar>(parse_gbnf(deep)));
    MatchState nested = nesting.initial_state();
    EXPECT_THROW(nesting.advance(nested, std::string(kMaxStackDepth + 1, '(')), Error);
}

}  // namespace
}  // namespace llcuda::grammar
