#pragma once
// Which tokens of a vocabulary the grammar allows next: a byte trie over every token's bytes
// (built once per vocabulary), walked with the matcher so a prefix shared by many tokens is
// advanced once and a refused prefix prunes every token below it. End-of-generation tokens
// are allowed only when the grammar is in an accepting state; other special tokens (empty
// bytes) never are.
#include <cstdint>
#include <string>
#include <vector>

#include "grammar/grammar_matcher.hpp"

namespace llcuda::grammar {

class TokenTrie {
  public:
    // token_bytes[id]: the bytes token `id` writes (empty for control tokens).
    TokenTrie(const std::vector<std::string>& token_bytes, std::vector<int32_t> end_tokens);

    // allowed[id] = whether token id may come next from `state`; resized to the vocabulary.
    void allowed_tokens(const GrammarMatcher& matcher, const MatchState& state,
                        std::vector<bool>& allowed) const;
    const std::vector<int32_t>& end_tokens() const { return end_tokens_; }

  private:
    struct Node {
        uint32_t first_child = 0;  // children are nodes_[first_child, first_child + child_count)
        uint32_t child_count = 0;
        uint32_t first_token = 0;  // tokens ending here: node_tokens_[first_token, +token_count)
        uint32_t token_count = 0;
        uint8_t byte = 0;
    };
    std::vector<Node> nodes_;  // nodes_[0] is the root (empty prefix)
    std::vector<int32_t> node_tokens_;
    std::vector<int32_t> end_tokens_;
    size_t vocabulary_size_ = 0;
};

}  // namespace llcuda::grammar
