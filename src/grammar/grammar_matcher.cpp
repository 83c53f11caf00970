// The grammar's pushdown automaton: stacks of positions, each top at a character class.
#include "grammar/grammar_matcher.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"

namespace llcuda::grammar {
namespace {

bool ends_alternative(ElementKind kind) {
    return kind == ElementKind::End || kind == ElementKind::Alternate;
}

void deduplicate(std::vector<Stack>& stacks) {
    std::sort(stacks.begin(), stacks.end());
    stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
    if (stacks.size() > kMaxStacks) {
        throw Error(fmt::format("grammar is too ambiguous: more than {} parses are open at once",
                                kMaxStacks));
    }
}

// Narrows [low, high], the code points a UTF-8 sequence of `length` bytes begun so far can
// become, to the well-formed ones: not overlong (C1 BB or F0 80 81 BB for '{'), not a
// surrogate, at most U+10FFFF; false when none is left. Text that is not UTF-8 never matches
// (the detokenizer would show U+FFFD), and a lead byte no class can finish is refused at once
// (F0 could otherwise start '{' and leave no token to follow it).
bool narrow_to_well_formed(uint32_t& low, uint32_t& high, int length) {
    const uint32_t smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    low = std::max(low, smallest);
    high = std::min(high, uint32_t{0x10FFFF});
    return low <= high && !(low >= 0xD800 && high <= 0xDFFF);
}

}  // namespace

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar)
    : grammar_(std::move(grammar)) {}

// Replaces rule references on top of `stack` by the alternatives of the rule, until every
// resulting stack has a character class on top (or is empty: accepted). The continuation
// after a reference is pushed only when something follows it (a tail call), so `x*` loops
// do not grow the stack.
void GrammarMatcher::expand(Stack stack, std::vector<Stack>& out) const {
    std::vector<Stack> work{std::move(stack)};
    while (!work.empty()) {
        Stack current = std::move(work.back());
        work.pop_back();
        if (current.empty()) {
            out.push_back(std::move(current));
            continue;
        }
        Position top = current.back();
        const Element& element = grammar_->rules[top.rule][top.offset];
        if (element.kind != ElementKind::RuleReference) {
            out.push_back(std::move(current));
            if (out.size() > 4 * kMaxStacks) deduplicate(out);
            continue;
        }
        current.pop_back();
        if (!ends_alternative(grammar_->rules[top.rule][top.offset + 1].kind)) {
            current.push_back({top.rule, top.offset + 1});
        }
        if (current.size() >= kMaxStackDepth) {
            throw Error(fmt::format("grammar nests deeper than {} rules", kMaxStackDepth));
        }
        const auto& rule = grammar_->rules[element.value];
        uint32_t start = 0;
        for (uint32_t i = 0; i < rule.size(); ++i) {
            if (!ends_alternative(rule[i].kind)) continue;
            Stack next = current;
            if (i > start)
                next.push_back({element.value, start});  // an empty alternative pushes nothing
            work.push_back(std::move(next));
            start = i + 1;
            if (rule[i].kind == ElementKind::End) break;
        }
    }
}

MatchState GrammarMatcher::initial_state() const {
    MatchState state;
    const auto& rule = grammar_->rules[grammar_->root];
    uint32_t start = 0;
    for (uint32_t i = 0; i < rule.size(); ++i) {
        if (!ends_alternative(rule[i].kind)) continue;
        Stack stack;
        if (i > start) stack.push_back({grammar_->root, start});
        expand(std::move(stack), state.stacks);
        start = i + 1;
        if (rule[i].kind == ElementKind::End) break;
    }
    deduplicate(state.stacks);
    return state;
}

bool GrammarMatcher::class_matches(Position position, uint32_t code, uint32_t& next_offset) const {
    const auto& rule = grammar_->rules[position.rule];
    uint32_t offset = position.offset;
    ElementKind first = rule[offset].kind;
    if (first == ElementKind::CharAny) {
        next_offset = offset + 1;
        return true;
    }
    bool found = false;
    do {
        uint32_t low = rule[offset].value;
        uint32_t high = low;
        if (rule[offset + 1].kind == ElementKind::CharRangeUpper) {
            high = rule[offset + 1].value;
            ++offset;
        }
        found = found || (code >= low && code <= high);
        ++offset;
    } while (rule[offset].kind == ElementKind::CharAlternate);
    next_offset = offset;
    return found != (first == ElementKind::CharNot);
}

// Whether a code point in [low, high] (an incomplete UTF-8 sequence) could match: exact for
// positive classes, a safe over-approximation for negated ones.
bool GrammarMatcher::class_may_match_range(Position position, uint32_t low, uint32_t high) const {
    const auto& rule = grammar_->rules[position.rule];
    uint32_t offset = position.offset;
    ElementKind first = rule[offset].kind;
    if (first == ElementKind::CharAny) return true;
    do {
        uint32_t range_low = rule[offset].value;
        uint32_t range_high = range_low;
        if (rule[offset + 1].kind == ElementKind::CharRangeUpper) {
            range_high = rule[offset + 1].value;
            ++offset;
        }
        bool intersects = range_low <= high && range_high >= low;
        bool covers = range_low <= low && range_high >= high;
        if (first == ElementKind::CharNot ? covers : intersects)
            return first != ElementKind::CharNot;
        ++offset;
    } while (rule[offset].kind == ElementKind::CharAlternate);
    return first == ElementKind::CharNot;
}

bool GrammarMatcher::advance_code(const MatchState& from, uint32_t code, MatchState& to) const {
    to.stacks.clear();
    to.partial_code = 0;
    to.remaining_bytes = 0;
    to.sequence_bytes = 0;
    for (const Stack& stack : from.stacks) {
        if (stack.empty()) continue;
        uint32_t next_offset = 0;
        if (!class_matches(stack.back(), code, next_offset)) continue;
        Stack next(stack.begin(), stack.end() - 1);
        Position top = stack.back();
        if (!ends_alternative(grammar_->rules[top.rule][next_offset].kind)) {
            next.push_back({top.rule, next_offset});
        }
        expand(std::move(next), to.stacks);
    }
    if (to.stacks.size() > 1) deduplicate(to.stacks);
    return !to.stacks.empty();
}

bool GrammarMatcher::advance_byte(const MatchState& from, uint8_t byte, MatchState& to) const {
    if (from.remaining_bytes == 0) {
        if (byte < 0x80) return advance_code(from, byte, to);
        int continuation = (byte >> 5) == 0x6    ? 1
                           : (byte >> 4) == 0xE  ? 2
                           : (byte >> 3) == 0x1E ? 3
                                                 : -1;
        if (continuation < 0) return false;
        uint32_t bits = byte & (0x3Fu >> continuation);
        // The code points this sequence can still become; refuse it early when no class takes any.
        uint32_t low = bits << (6 * continuation);
        uint32_t high = low | ((1u << (6 * continuation)) - 1);
        if (!narrow_to_well_formed(low, high, continuation + 1)) return false;
        bool possible = false;
        for (const Stack& stack : from.stacks) {
            if (!stack.empty() && class_may_match_range(stack.back(), low, high)) {
                possible = true;
                break;
            }
        }
        if (!possible) return false;
        to.stacks = from.stacks;
        to.partial_code = bits;
        to.remaining_bytes = continuation;
        to.sequence_bytes = continuation + 1;
        return true;
    }
    if ((byte & 0xC0) != 0x80) return false;
    uint32_t code = (from.partial_code << 6) | (byte & 0x3F);
    const int still_needed = from.remaining_bytes - 1;
    uint32_t low = code << (6 * still_needed);
    uint32_t high = low | ((1u << (6 * still_needed)) - 1);
    if (!narrow_to_well_formed(low, high, from.sequence_bytes)) return false;
    if (still_needed > 0) {
        bool possible = false;
        for (const Stack& stack : from.stacks) {
            if (!stack.empty() && class_may_match_range(stack.back(), low, high)) {
                possible = true;
                break;
            }
        }
        if (!possible) return false;
        to.stacks = from.stacks;
        to.partial_code = code;
        to.remaining_bytes = from.remaining_bytes - 1;
        to.sequence_bytes = from.sequence_bytes;
        return true;
    }
    return advance_code(from, code, to);
}

bool GrammarMatcher::is_accepting(const MatchState& state) {
    if (state.remaining_bytes != 0) return false;
    return std::any_of(state.stacks.begin(), state.stacks.end(),
                       [](const Stack& s) { return s.empty(); });
}

bool GrammarMatcher::can_continue(const MatchState& state) {
    return std::any_of(state.stacks.begin(), state.stacks.end(),
                       [](const Stack& s) { return !s.empty(); });
}

bool GrammarMatcher::advance(MatchState& state, std::string_view bytes) const {
    MatchState current = state, next;
    for (char c : bytes) {
        if (!advance_byte(current, static_cast<uint8_t>(c), next)) return false;
        std::swap(current, next);
    }
    state = std::move(current);
    return true;
}

bool GrammarMatcher::matches(std::string_view text) const {
    MatchState state = initial_state();
    return advance(state, text) && is_accepting(state);
}

}  // namespace llcuda::grammar
