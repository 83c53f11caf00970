#pragma once
// Log-probabilities of tokens under the model's next-token distribution (a log-softmax of the
// raw logits, before temperature and filtering), as OpenAI's logprobs report them.
#include <cstdint>
#include <span>

#include "llcuda/engine.hpp"

namespace llcuda {

// The chosen token's log-probability and the `top` most likely tokens (best first, the smaller
// id on ties).
TokenLogprob token_logprob(std::span<const float> logits, int32_t token, size_t top);

}  // namespace llcuda
