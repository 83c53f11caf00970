#pragma once
// Matches text against a Grammar incrementally: the state is the set of parser stacks (a
// pushdown automaton over UTF-8 code points, as llama.cpp's), advanced one byte at a time, so
// a sampler can ask whether a token's bytes may come next before choosing it.
//
// Work is bounded: left recursion is refused when parsing (grammar.hpp), and a state holding
// more than kMaxStacks stacks (a grammar ambiguous enough to explode) throws llcuda::Error
// instead of slowing decode without end.
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "grammar/grammar.hpp"

namespace llcuda::grammar {

struct Position {
    uint32_t rule;
    uint32_t offset;  // of a character-class element in the rule
    auto operator<=>(const Position&) const = default;
};
using Stack = std::vector<Position>;

struct MatchState {
    std::vector<Stack> stacks;  // an empty stack: the whole root rule has been matched
    uint32_t partial_code = 0;  // bits of a UTF-8 sequence not yet complete
    int remaining_bytes = 0;    // continuation bytes it still needs
    int sequence_bytes = 0;     // the length of that sequence, lead byte included
};

constexpr size_t kMaxStacks = 4096;
constexpr size_t kMaxStackDepth = 4096;

class GrammarMatcher {
  public:
    explicit GrammarMatcher(std::shared_ptr<const Grammar> grammar);

    // The state before any text.
    MatchState initial_state() const;
    // Advances `from` by one byte into `to` (which may be reused scratch); false when the byte
    // cannot come next (then `to` is unspecified).
    bool advance_byte(const MatchState& from, uint8_t byte, MatchState& to) const;
    // True when the text so far is a complete match of the root rule.
    static bool is_accepting(const MatchState& state);
    // True when more text could still follow.
    static bool can_continue(const MatchState& state);

    // Convenience for whole strings: advances `state` over `bytes`; false (state unchanged)
    // when some byte is refused.
    bool advance(MatchState& state, std::string_view bytes) const;
    bool matches(std::string_view text) const;  // the whole text, ending accepting

  private:
    void expand(Stack stack, std::vector<Stack>& out) const;
    bool class_matches(Position position, uint32_t code, uint32_t& next_offset) const;
    bool class_may_match_range(Position position, uint32_t low, uint32_t high) const;
    bool advance_code(const MatchState& from, uint32_t code, MatchState& to) const;

    std::shared_ptr<const Grammar> grammar_;
};

}  // namespace llcuda::grammar
