#pragma once
// A context-free grammar in llama.cpp's GBNF syntax, parsed into flat rules the matcher walks.
//
//   root   ::= object
//   object ::= "{" ws ( pair ( "," ws pair )* )? "}"
//   char   ::= [^"\\\x7F\x00-\x1F] | "\\" ["\\/bfnrt]
//   digits ::= [0-9]{1,16}
//
// Rules, alternatives (|), groups, `*` `+` `?` `{m}` `{m,}` `{m,n}`, string literals,
// character classes with ranges and negation, `.` (any character), escapes \n \r \t \\ \"
// \xHH \uHHHH \UHHHHHHHH, # comments. Repetitions become generated rules, as in llama.cpp.
// parse_gbnf throws llcuda::Error naming the line, the column and the problem; left
// recursion (which would never end) and undefined rules are errors.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llcuda::grammar {

enum class ElementKind : uint8_t {
    End,             // end of a rule
    Alternate,       // end of one alternative of a rule; the next one follows
    RuleReference,   // value: rule index
    Char,            // value: code point; starts a character class (one or more ranges)
    CharNot,         // as Char, but the class is negated
    CharRangeUpper,  // value: upper end of a range whose lower end is the previous element
    CharAlternate,   // value: one more code point of the same class
    CharAny,         // `.`: any code point
};

struct Element {
    ElementKind kind;
    uint32_t value;
};

struct Grammar {
    // rules[i] is alternatives separated by Alternate and closed by End.
    std::vector<std::vector<Element>> rules;
    std::vector<std::string> rule_names;  // generated rules get "name_N"
    uint32_t root = 0;
};

// The bound on rules and elements that `{m,n}` expansion may create (a hostile `x{1000000}`
// would otherwise take the memory).
constexpr size_t kMaxGrammarElements = 1u << 20;

// Parses GBNF text whose start rule is `root_rule`; throws llcuda::Error on any problem.
Grammar parse_gbnf(std::string_view text, std::string_view root_rule = "root");

// True when element `kind` begins or continues a character class.
inline bool is_char_element(ElementKind kind) {
    return kind == ElementKind::Char || kind == ElementKind::CharNot ||
           kind == ElementKind::CharAny;
}

}  // namespace llcuda::grammar
