#pragma once
// Continuous batching: up to `runner.sequences()` generations share each forward pass. Between
// steps, finished sequences leave and new requests take their slots; a long prompt enters in
// chunks so that the sequences already decoding keep getting a token every step. Each
// sequence's tokens are computed exactly as if it ran alone (the CPU ops and the GPU's decode
// kernels are batch-invariant), so greedy text does not depend on what it was batched with.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/grammar_constraint.hpp"
#include "engine/prefix_cache.hpp"
#include "llcuda/engine.hpp"
#include "model/model_runner.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llcuda {

// The tokens a request's prompt becomes: BOS when both the options and the vocabulary ask for
// it, special-token text parsed when the options say, BOS alone for an empty prompt.
std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view prompt,
                                   const GenerationOptions& options);

class ContinuousBatcher {
  public:
    // step_tokens: most tokens in one step (prompt chunks plus one per decoding sequence).
    // prefix_cache: where a request whose prompt starts with tokens a free slot holds keeps
    // them (engine/prefix_cache.hpp); null: every request starts from an empty slot.
    ContinuousBatcher(ModelRunner& runner, const Tokenizer& tokenizer, size_t step_tokens,
                      PrefixCache* prefix_cache = nullptr);
    // Where requests with a grammar (GenerationOptions::grammar) find the vocabulary's trie;
    // null: one is built for this batcher when the first such request comes.
    void set_grammar_vocabulary(GrammarVocabularyCache* cache) { grammar_vocabulary_ = cache; }

    // Takes requests from `next` while slots are free (it returns false when it has none now)
    // and runs until `next` has none and every sequence has finished. `done` gets each result,
    // or the error that ended that request (the others go on). `between_steps` runs after
    // every forward pass.
    using NextRequest = std::function<bool(BatchRequest&)>;
    using Done = std::function<void(const BatchRequest&, GenerationResult&&, std::exception_ptr)>;
    void run(const NextRequest& next, const Done& done,
             const std::function<void()>& between_steps = {});

  private:
    ModelRunner& runner_;
    const Tokenizer& tokenizer_;
    size_t step_tokens_;
    GrammarVocabularyCache* grammar_vocabulary_ = nullptr;
    std::unique_ptr<GrammarVocabularyCache> own_grammar_vocabulary_;
    PrefixCache* prefix_cache_;
};

}  // namespace llcuda
