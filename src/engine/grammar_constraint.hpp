#pragma once
// A grammar (GBNF) constraint on one sequence's tokens: which tokens may come next (one token
// cheaply, or the whole vocabulary through the token trie), the state advanced over each token
// chosen, and whether the text is complete so generation must end. The sampler asks it
// (TokenFilter); the continuous batcher keeps one per constrained sequence.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sampler.hpp"
#include "grammar/grammar_matcher.hpp"
#include "grammar/token_mask.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llcuda {

// What every constrained sequence of a vocabulary shares: each token's bytes and the trie.
struct GrammarVocabulary {
    explicit GrammarVocabulary(const Tokenizer& tokenizer);
    const Tokenizer& tokenizer;
    std::vector<std::string> token_bytes;  // as inside a text (token_bytes(id, false))
    grammar::TokenTrie trie;
};

// Builds the GrammarVocabulary on first use (tens of milliseconds on a 128k vocabulary), so
// unconstrained generation never pays for it; safe from several threads.
class GrammarVocabularyCache {
  public:
    explicit GrammarVocabularyCache(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
    const GrammarVocabulary& get();

  private:
    const Tokenizer& tokenizer_;
    std::once_flag built_;
    std::unique_ptr<GrammarVocabulary> vocabulary_;
};

class GrammarConstraint final : public TokenFilter {
  public:
    // gbnf: llama.cpp's syntax, root rule "root" (throws llcuda::Error naming the problem).
    // previous_token: the prompt's last token (at the start of a text, SentencePiece drops
    // the first token's leading space, so its bytes differ from the trie's).
    GrammarConstraint(std::string_view gbnf, const GrammarVocabulary& vocabulary,
                      int32_t previous_token);

    bool allows(int32_t token) const override;
    void allowed_tokens(std::vector<bool>& allowed) const override;
    // Advances over a token allows() accepted; throws llcuda::Error for a refused one.
    void accept(int32_t token);
    // The text is a complete match and nothing may follow: generation must stop here.
    bool complete() const;

  private:
    std::string bytes_of(int32_t token) const;

    const GrammarVocabulary& vocabulary_;
    grammar::GrammarMatcher matcher_;
    grammar::MatchState state_;
    bool at_text_start_;
};

}  // namespace llcuda
