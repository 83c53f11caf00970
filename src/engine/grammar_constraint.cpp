#include "engine/grammar_constraint.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "grammar/grammar.hpp"

namespace llcuda {
namespace {

std::vector<std::string> all_token_bytes(const Tokenizer& tokenizer) {
    std::vector<std::string> bytes(tokenizer.size());
    for (size_t id = 0; id < bytes.size(); ++id)
        bytes[id] = tokenizer.token_bytes(static_cast<int32_t>(id), false);
    return bytes;
}

}  // namespace

GrammarVocabulary::GrammarVocabulary(const Tokenizer& tokenizer_)
    : tokenizer(tokenizer_),
      token_bytes(all_token_bytes(tokenizer_)),
      trie(token_bytes, tokenizer_.end_of_generation_tokens()) {}

const GrammarVocabulary& GrammarVocabularyCache::get() {
    std::call_once(built_, [&] { vocabulary_ = std::make_unique<GrammarVocabulary>(tokenizer_); });
    return *vocabulary_;
}

GrammarConstraint::GrammarConstraint(std::string_view gbnf, const GrammarVocabulary& vocabulary,
                                     int32_t previous_token)
    : vocabulary_(vocabulary),
      matcher_(std::make_shared<const grammar::Grammar>(grammar::parse_gbnf(gbnf))),
      state_(matcher_.initial_state()),
      at_text_start_(previous_token == kNoToken ||
                     vocabulary.tokenizer.starts_text(previous_token)) {}

std::string GrammarConstraint::bytes_of(int32_t token) const {
    return at_text_start_ ? vocabulary_.tokenizer.token_bytes(token, true)
                          : vocabulary_.token_bytes[static_cast<size_t>(token)];
}

bool GrammarConstraint::allows(int32_t token) const {
    if (token < 0 || static_cast<size_t>(token) >= vocabulary_.token_bytes.size()) return false;
    // End of generation only where the text is complete; other tokens without bytes (control
    // tokens) never, since they would leave the grammar where it is while the model moves on.
    if (vocabulary_.tokenizer.is_end_of_generation(token))
        return grammar::GrammarMatcher::is_accepting(state_);
    const std::string bytes = bytes_of(token);
    if (bytes.empty()) return false;
    grammar::MatchState state = state_;
    return matcher_.advance(state, bytes);
}

void GrammarConstraint::allowed_tokens(std::vector<bool>& allowed) const {
    if (!at_text_start_) return vocabulary_.trie.allowed_tokens(matcher_, state_, allowed);
    // The first token of a text (empty prompt): its bytes are not the trie's, test each.
    allowed.assign(vocabulary_.token_bytes.size(), false);
    for (size_t id = 0; id < allowed.size(); ++id) allowed[id] = allows(static_cast<int32_t>(id));
}

void GrammarConstraint::accept(int32_t token) {
    if (vocabulary_.tokenizer.is_end_of_generation(token)) {
        if (!grammar::GrammarMatcher::is_accepting(state_))
            throw Error("the grammar does not allow the text to end here");
        return;
    }
    if (!matcher_.advance(state_, bytes_of(token)))
        throw Error(fmt::format("the grammar does not allow token {} here", token));
    at_text_start_ = vocabulary_.tokenizer.starts_text(token);
}

bool GrammarConstraint::complete() const {
    return grammar::GrammarMatcher::is_accepting(state_) &&
           !grammar::GrammarMatcher::can_continue(state_);
}

}  // namespace llcuda
