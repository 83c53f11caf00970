// GBNF text into flat rules (grammar.hpp); the checks that keep matching finite (left
// recursion, undefined rules, expansion size) happen here, once, instead of while decoding.
#include <fmt/format.h>

#include <map>

#include "core/error.hpp"
#include "grammar/grammar.hpp"

namespace llcuda::grammar {
namespace {

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

class Parser {
  public:
    explicit Parser(std::string_view text) : text_(text) {}

    Grammar parse(std::string_view root_rule) {
        skip_space(true);
        while (position_ < text_.size()) {
            parse_rule();
            skip_space(true);
        }
        for (size_t rule = 0; rule < grammar_.rules.size(); ++rule) {
            if (grammar_.rules[rule].empty()) {
                position_ = first_reference_[rule];
                fail(fmt::format("rule '{}' is used but never defined", grammar_.rule_names[rule]));
            }
        }
        auto root = names_.find(std::string(root_rule));
        if (root == names_.end()) {
            throw Error(fmt::format("grammar has no '{}' rule (the start rule)", root_rule));
        }
        grammar_.root = root->second;
        check_left_recursion();
        return std::move(grammar_);
    }

  private:
    [[noreturn]] void fail(const std::string& problem) const {
        size_t line = 1, column = 1;
        for (size_t i = 0; i < position_ && i < text_.size(); ++i) {
            if (text_[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        throw Error(fmt::format("grammar line {} column {}: {}", line, column, problem));
    }

    bool at_end() const { return position_ >= text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[position_]; }

    // Spaces, tabs and # comments; newlines too when `newlines` (inside groups, after '|').
    void skip_space(bool newlines) {
        while (!at_end()) {
            char c = text_[position_];
            if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
                ++position_;
            } else if (c == '#') {
                while (!at_end() && text_[position_] != '\n') ++position_;
            } else {
                break;
            }
        }
    }

    std::string parse_name() {
        size_t start = position_;
        while (!at_end() && is_name_char(text_[position_])) ++position_;
        if (start == position_) fail("expected a rule name");
        return std::string(text_.substr(start, position_ - start));
    }

    uint32_t rule_index(const std::string& name) {
        auto found = names_.find(name);
        if (found != names_.end()) return found->second;
        uint32_t index = add_rule(name);
        names_.emplace(name, index);
        return index;
    }

    uint32_t add_rule(std::string name) {
        if (grammar_.rules.size() >= kMaxGrammarElements) fail("too many rules");
        grammar_.rules.emplace_back();
        grammar_.rule_names.push_back(std::move(name));
        first_reference_.push_back(position_);
        return static_cast<uint32_t>(grammar_.rules.size() - 1);
    }

    uint32_t add_generated_rule(const std::string& base, std::vector<Element> elements) {
        uint32_t index = add_rule(fmt::format("{}_{}", base, grammar_.rules.size()));
        count_elements(elements.size());
        grammar_.rules[index] = std::move(elements);
        return index;
    }

    void count_elements(size_t count) {
        element_count_ += count;
        if (element_count_ > kMaxGrammarElements) {
            fail(
                fmt::format("grammar expands to more than {} elements (a repetition count too "
                            "large?)",
                            kMaxGrammarElements));
        }
    }

    void parse_rule() {
        std::string name = parse_name();
        skip_space(false);
        if (text_.substr(position_, 3) != "::=")
            fail(fmt::format("expected '::=' after '{}'", name));
        position_ += 3;
        skip_space(true);
        uint32_t index = rule_index(name);
        if (!grammar_.rules[index].empty()) fail(fmt::format("rule '{}' is defined twice", name));
        std::vector<Element> elements;
        parse_alternates(name, elements, false);
        elements.push_back({ElementKind::End, 0});
        count_elements(elements.size());
        grammar_.rules[index] = std::move(elements);
        skip_space(false);
        if (!at_end() && peek() != '\n' && peek() != '\r') {
            fail(fmt::format("unexpected '{}' (expected the end of the line)", peek()));
        }
    }

    void parse_alternates(const std::string& name, std::vector<Element>& out, bool nested) {
        parse_sequence(name, out, nested);
        while (peek() == '|') {
            ++position_;
            skip_space(true);
            out.push_back({ElementKind::Alternate, 0});
            parse_sequence(name, out, nested);
        }
    }

    // One code point of a literal or class: UTF-8 or an escape.
    uint32_t parse_char() {
        if (at_end()) fail("unexpected end of the grammar");
        auto byte = static_cast<unsigned char>(text_[position_]);
        if (byte == '\\') return parse_escape();
        int length = byte < 0x80           ? 1
                     : (byte >> 5) == 0x6  ? 2
                     : (byte >> 4) == 0xE  ? 3
                     : (byte >> 3) == 0x1E ? 4
                                           : 0;
        if (length == 0 || position_ + length > text_.size()) fail("invalid UTF-8");
        uint32_t code = length == 1 ? byte : byte & (0xFF >> (length + 1));
        for (int i = 1; i < length; ++i) {
            auto next = static_cast<unsigned char>(text_[position_ + i]);
            if ((next & 0xC0) != 0x80) fail("invalid UTF-8");
            code = (code << 6) | (next & 0x3F);
        }
        position_ += length;
        return code;
    }

    uint32_t parse_hex(int digits) {
        uint32_t value = 0;
        for (int i = 0; i < digits; ++i) {
            char c = peek();
            int digit = (c >= '0' && c <= '9')   ? c - '0'
                        : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                        : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                 : -1;
            if (digit < 0) fail(fmt::format("expected {} hex digits", digits));
            value = value * 16 + static_cast<uint32_t>(digit);
            ++position_;
        }
        if (value > 0x10FFFF) fail("code point above U+10FFFF");
        return value;
    }

    uint32_t parse_escape() {
        ++position_;  // the backslash
        char c = peek();
        ++position_;
        switch (c) {
            case 'x':
                return parse_hex(2);
            case 'u':
                return parse_hex(4);
            case 'U':
                return parse_hex(8);
            case 't':
                return '\t';
            case 'r':
                return '\r';
            case 'n':
                return '\n';
            case '\\':
            case '"':
            case '[':
            case ']':
            case '-':
            case '^':
            case '/':
                return static_cast<unsigned char>(c);
            default:
                --position_;
                fail(fmt::format("unknown escape '\\{}'", c == '\0' ? ' ' : c));
        }
    }

    void parse_sequence(const std::string& name, std::vector<Element>& out, bool nested) {
        size_t last_symbol = out.size();
        bool have_symbol = false;
        while (!at_end()) {
            char c = peek();
            if (c == '"') {
                ++position_;
                last_symbol = out.size();
                while (peek() != '"') {
                    if (at_end() || peek() == '\n') fail("unterminated string literal");
                    out.push_back({ElementKind::Char, parse_char()});
                }
                ++position_;
                have_symbol = true;
            } else if (c == '[') {
                ++position_;
                last_symbol = out.size();
                ElementKind first = ElementKind::Char;
                if (peek() == '^') {
                    ++position_;
                    first = ElementKind::CharNot;
                }
                bool empty = true;
                while (peek() != ']') {
                    if (at_end() || peek() == '\n') fail("unterminated character class");
                    uint32_t low = parse_char();
                    out.push_back({empty ? first : ElementKind::CharAlternate, low});
                    empty = false;
                    if (peek() == '-' && position_ + 1 < text_.size() &&
                        text_[position_ + 1] != ']') {
                        ++position_;
                        uint32_t high = parse_char();
                        if (high < low) fail("character range's end is below its start");
                        out.push_back({ElementKind::CharRangeUpper, high});
                    }
                }
                if (empty) fail("empty character class");
                ++position_;
                have_symbol = true;
            } else if (c == '.') {
                ++position_;
                last_symbol = out.size();
                out.push_back({ElementKind::CharAny, 0});
                have_symbol = true;
            } else if (is_name_char(c)) {
                size_t save = position_;
                std::string reference = parse_name();
                // A name followed by ::= starts the next rule (a rule may end without a newline
                // only at the end of the text; this keeps the error readable).
                skip_space(false);
                if (text_.substr(position_, 3) == "::=") {
                    position_ = save;
                    fail("missing newline before the next rule");
                }
                position_ = save + reference.size();
                last_symbol = out.size();
                out.push_back({ElementKind::RuleReference, rule_index(reference)});
                have_symbol = true;
            } else if (c == '(') {
                ++position_;
                skip_space(true);
                std::vector<Element> group;
                parse_alternates(name, group, true);
                if (peek() != ')') fail("expected ')'");
                ++position_;
                group.push_back({ElementKind::End, 0});
                last_symbol = out.size();
                out.push_back(
                    {ElementKind::RuleReference, add_generated_rule(name, std::move(group))});
                have_symbol = true;
            } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                if (!have_symbol) fail(fmt::format("'{}' with nothing before it to repeat", c));
                ++position_;
                size_t min = 0, max = 0;
                bool unbounded = false;
                if (c == '*') {
                    unbounded = true;
                } else if (c == '+') {
                    min = 1;
                    unbounded = true;
                } else if (c == '?') {
                    max = 1;
                } else {
                    parse_count(min, max, unbounded);
                }
                repeat(name, out, last_symbol, min, max, unbounded);
                have_symbol = false;  // x** is an error, as in llama.cpp
            } else {
                break;
            }
            skip_space(nested);
        }
    }

    size_t parse_number() {
        size_t start = position_;
        size_t value = 0;
        while (peek() >= '0' && peek() <= '9') {
            value = value * 10 + static_cast<size_t>(peek() - '0');
            if (value > kMaxGrammarElements) fail("repetition count too large");
            ++position_;
        }
        if (start == position_) fail("expected a number");
        return value;
    }

    void parse_count(size_t& min, size_t& max, bool& unbounded) {
        skip_space(false);
        min = parse_number();
        skip_space(false);
        if (peek() == ',') {
            ++position_;
            skip_space(false);
            if (peek() == '}') {
                unbounded = true;
            } else {
                max = parse_number();
                if (max < min) fail("repetition's maximum is below its minimum");
            }
        } else {
            max = min;
        }
        skip_space(false);
        if (peek() != '}') fail("expected '}'");
        ++position_;
    }

    void repeat(const std::string& name, std::vector<Element>& out, size_t symbol_start, size_t min,
                size_t max, bool unbounded) {
        std::vector<Element> symbol(out.begin() + static_cast<std::ptrdiff_t>(symbol_start),
                                    out.end());
        out.resize(symbol_start);
        size_t optional = unbounded ? 1 : max - min;
        count_elements(symbol.size() * (min + optional) + 3 * optional);
        for (size_t i = 0; i < min; ++i) out.insert(out.end(), symbol.begin(), symbol.end());
        if (unbounded) {
            // star ::= symbol star |
            uint32_t star = add_rule(fmt::format("{}_{}", name, grammar_.rules.size()));
            std::vector<Element> body = symbol;
            body.push_back({ElementKind::RuleReference, star});
            body.push_back({ElementKind::Alternate, 0});
            body.push_back({ElementKind::End, 0});
            grammar_.rules[star] = std::move(body);
            out.push_back({ElementKind::RuleReference, star});
            return;
        }
        // up_to_k ::= symbol up_to_(k-1) | ; nested so that "a{0,3}" matches "", "a", "aa", "aaa".
        uint32_t previous = 0;
        for (size_t k = 1; k <= optional; ++k) {
            std::vector<Element> body = symbol;
            if (k > 1) body.push_back({ElementKind::RuleReference, previous});
            body.push_back({ElementKind::Alternate, 0});
            body.push_back({ElementKind::End, 0});
            previous = add_generated_rule(name, std::move(body));
        }
        if (optional > 0) out.push_back({ElementKind::RuleReference, previous});
    }

    // A rule that reaches itself before consuming a character would make the matcher's
    // expansion endless: refuse it here, naming the rule.
    void check_left_recursion() {
        const auto& rules = grammar_.rules;
        std::vector<bool> nullable(rules.size(), false);
        for (bool changed = true; changed;) {
            changed = false;
            for (size_t rule = 0; rule < rules.size(); ++rule) {
                if (nullable[rule]) continue;
                bool alternative_nullable = true;
                for (const Element& element : rules[rule]) {
                    if (element.kind == ElementKind::End ||
                        element.kind == ElementKind::Alternate) {
                        if (alternative_nullable) {
                            nullable[rule] = true;
                            changed = true;
                            break;
                        }
                        alternative_nullable = true;
                    } else if (element.kind == ElementKind::RuleReference) {
                        alternative_nullable = alternative_nullable && nullable[element.value];
                    } else if (element.kind != ElementKind::CharRangeUpper &&
                               element.kind != ElementKind::CharAlternate) {
                        alternative_nullable = false;
                    }
                }
            }
        }
        std::vector<std::vector<uint32_t>> leftmost(rules.size());
        for (size_t rule = 0; rule < rules.size(); ++rule) {
            bool still_leftmost = true;
            for (const Element& element : rules[rule]) {
                if (element.kind == ElementKind::End || element.kind == ElementKind::Alternate) {
                    still_leftmost = true;
                } else if (!still_leftmost) {
                    continue;
                } else if (element.kind == ElementKind::RuleReference) {
                    leftmost[rule].push_back(element.value);
                    still_leftmost = nullable[element.value];
                } else if (is_char_element(element.kind)) {
                    still_leftmost = false;
                }
            }
        }
        // Iterative depth-first search (a deep grammar must not overflow the C++ stack).
        enum : uint8_t { Unvisited, Open, Done };
        std::vector<uint8_t> state(rules.size(), Unvisited);
        for (size_t start = 0; start < rules.size(); ++start) {
            if (state[start] != Unvisited) continue;
            std::vector<std::pair<uint32_t, size_t>> path{{static_cast<uint32_t>(start), 0}};
            state[start] = Open;
            while (!path.empty()) {
                auto& [rule, next] = path.back();
                if (next == leftmost[rule].size()) {
                    state[rule] = Done;
                    path.pop_back();
                    continue;
                }
                uint32_t child = leftmost[rule][next++];
                if (state[child] == Open) {
                    throw Error(
                        fmt::format("grammar rule '{}' is left-recursive (it can reach itself "
                                    "before matching a character; a repetition of something "
                                    "that can be empty, like (x?)*, does this)",
                                    grammar_.rule_names[child]));
                }
                if (state[child] == Unvisited) {
                    state[child] = Open;
                    path.emplace_back(child, 0);
                }
            }
        }
    }

    std::string_view text_;
    size_t position_ = 0;
    size_t element_count_ = 0;
    Grammar grammar_;
    std::map<std::string, uint32_t> names_;
    std::vector<size_t> first_reference_;
};

}  // namespace

Grammar parse_gbnf(std::string_view text, std::string_view root_rule) {
    return Parser(text).parse(root_rule);
}

}  // namespace llcuda::grammar
