#include "engine/logprobs.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.hpp"

namespace llcuda {

TokenLogprob token_logprob(std::span<const float> logits, int32_t token, size_t top) {
    if (logits.empty() || token < 0 || static_cast<size_t>(token) >= logits.size())
        throw Error("token_logprob: the token is outside the logits");
    const float largest = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (const float logit : logits) sum += std::exp(static_cast<double>(logit - largest));
    const double log_normaliser = static_cast<double>(largest) + std::log(sum);
    const auto logprob = [&](int32_t id) {
        return static_cast<float>(static_cast<double>(logits[static_cast<size_t>(id)]) -
                                  log_normaliser);
    };
    TokenLogprob result;
    result.token = token;
    result.logprob = logprob(token);
    top = std::min(top, logits.size());
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(
        ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(top), ids.end(),
        [&](int32_t a, int32_t b) {
            return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
                   (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
        });
    for (size_t i = 0; i < top; ++i) result.top.emplace_back(ids[i], logprob(ids[i]));
    return result;
}

}  // namespace llcuda
