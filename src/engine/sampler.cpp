#include "engine/sampler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "core/error.hpp"

namespace llcuda {

void SamplingOptions::validate() const {
    if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
        throw Error(fmt::format("temperature must be 0 or more, got {}", temperature));
    }
    if (top_k < 0) throw Error(fmt::format("top-k must be 0 (off) or more, got {}", top_k));
    if (!(top_p > 0.0f && top_p <= 1.0f))
        throw Error(fmt::format("top-p must be in (0, 1], got {}", top_p));
    if (!(min_p >= 0.0f && min_p <= 1.0f))
        throw Error(fmt::format("min-p must be in [0, 1], got {}", min_p));
    if (!(repeat_penalty > 0.0f) || !std::isfinite(repeat_penalty)) {
        throw Error(fmt::format("repeat penalty must be positive, got {}", repeat_penalty));
    }
    if (repeat_last_n < 0)
        throw Error(fmt::format("repeat-last-n must be 0 or more, got {}", repeat_last_n));
}

Sampler::Sampler(SamplingOptions options) : options_(options), generator_(options.seed) {
    options_.validate();
}

int32_t argmax(std::span<const float> logits) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

std::vector<float> Sampler::penalized(std::span<const float> logits,
                                      std::span<const int32_t> history) const {
    std::vector<float> adjusted(logits.begin(), logits.end());
    if (options_.repeat_penalty != 1.0f && options_.repeat_last_n > 0) {
        const size_t window = std::min(history.size(), static_cast<size_t>(options_.repeat_last_n));
        std::unordered_set<int32_t> recent(history.end() - static_cast<std::ptrdiff_t>(window),
                                           history.end());
        for (const auto token : recent) {
            if (token < 0 || static_cast<size_t>(token) >= adjusted.size()) continue;
            float& logit = adjusted[token];
            logit = logit > 0 ? logit / options_.repeat_penalty : logit * options_.repeat_penalty;
        }
    }
    return adjusted;
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
    return choose(penalized(logits, history));
}

int32_t Sampler::choose(const std::vector<float>& adjusted) {
    if (options_.temperature == 0.0f) return argmax(adjusted);
    std::vector<int32_t> candidates(adjusted.size());
    std::iota(candidates.begin(), candidates.end(), 0);
    return choose_among(adjusted, std::move(candidates));
}

int32_t Sampler::choose_among(const std::vector<float>& adjusted, std::vector<int32_t> candidates) {
    auto by_logit = [&](int32_t a, int32_t b) {
        return adjusted[a] > adjusted[b] || (adjusted[a] == adjusted[b] && a < b);
    };
    if (options_.temperature == 0.0f)
        return *std::min_element(candidates.begin(), candidates.end(), by_logit);
    size_t keep = candidates.size();
    if (options_.top_k > 0 && static_cast<size_t>(options_.top_k) < keep) {
        keep = static_cast<size_t>(options_.top_k);
        std::partial_sort(candidates.begin(),
                          candidates.begin() + static_cast<std::ptrdiff_t>(keep), candidates.end(),
                          by_logit);
    } else {
        std::sort(candidates.begin(), candidates.end(), by_logit);
    }
    candidates.resize(keep);
    std::vector<float> kept(keep);
    for (size_t i = 0; i < keep; ++i) kept[i] = adjusted[candidates[i]];
    return draw(kept, candidates);
}

int32_t Sampler::choose_from_mask(const std::vector<float>& adjusted, const TokenFilter& filter) {
    std::vector<bool> allowed;
    filter.allowed_tokens(allowed);
    std::vector<int32_t> candidates;
    for (size_t id = 0; id < adjusted.size() && id < allowed.size(); ++id) {
        if (allowed[id]) candidates.push_back(static_cast<int32_t>(id));
    }
    if (candidates.empty()) throw Error("the grammar allows none of the vocabulary's tokens next");
    return choose_among(adjusted, std::move(candidates));
}

// The reference is masking first: every refused token dropped, then the usual steps over the
// allowed ones alone (choose_from_mask). The whole mask costs a walk of the vocabulary trie
// (about 65 ms on a 128k vocabulary in a permissive state), so three cases avoid it:
//  - greedy: an allowed argmax is the argmax of the allowed tokens (ties: the smaller id in
//    both).
//  - top-k: masking first keeps the k best allowed tokens in logit order. When the best
//    kFirstLook candidates (tested one by one) hold k allowed ones, those are the k best
//    allowed, so draw() gets the very list masking first gives it: the same token for the
//    same generator state. Else the mask: it is cheap exactly then, as few tokens pass and a
//    refused prefix prunes the trie below it.
//  - temperature alone (no top-k, top-p 1, min-p 0): a draw t from all tokens, kept when
//    allowed, else a draw from the masked distribution. For allowed t that gives
//    p(t) + (1 - p(A)) p(t) / p(A) = p(t) / p(A): the masked distribution exactly (top-p 1
//    cuts where the running float sum reaches 1 in both paths alike). Re-drawing from all
//    tokens after a refusal would not: its chain of refusals is unbounded.
// Top-p < 1 or min-p > 0 without top-k take the mask every step: the cut depends on the mass
// of every allowed token (top-p) or on the best allowed one (min-p).
int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history,
                        const TokenFilter& filter) {
    const std::vector<float> adjusted = penalized(logits, history);
    if (options_.temperature == 0.0f) {
        const int32_t best = argmax(adjusted);
        if (filter.allows(best)) return best;
        return choose_from_mask(adjusted, filter);
    }
    if (options_.top_k == 0 && options_.top_p >= 1.0f && options_.min_p == 0.0f) {
        const int32_t token = choose(adjusted);
        if (filter.allows(token)) return token;
        return choose_from_mask(adjusted, filter);
    }
    if (options_.top_k > 0) {
        constexpr size_t kFirstLook = 256;
        const size_t k = static_cast<size_t>(options_.top_k);
        const size_t look = std::min(adjusted.size(), std::max(kFirstLook, 4 * k));
        std::vector<int32_t> order(adjusted.size());
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(look),
                          order.end(), [&](int32_t a, int32_t b) {
                              return adjusted[a] > adjusted[b] ||
                                     (adjusted[a] == adjusted[b] && a < b);
                          });
        std::vector<int32_t> best_allowed;
        for (size_t i = 0; i < look && best_allowed.size() < k; ++i) {
            if (filter.allows(order[i])) best_allowed.push_back(order[i]);
        }
        if (best_allowed.size() == k) {
            std::vector<float> kept(k);
            for (size_t i = 0; i < k; ++i) kept[i] = adjusted[best_allowed[i]];
            return draw(kept, best_allowed);
        }
    }
    return choose_from_mask(adjusted, filter);
}

bool Sampler::can_sample_from_top_candidates() const {
    return options_.temperature > 0.0f && options_.top_k > 0 &&
           (options_.repeat_penalty == 1.0f || options_.repeat_last_n == 0);
}

int32_t Sampler::sample_from_top_candidates(std::span<const float> values,
                                            std::span<const int32_t> ids) {
    if (!can_sample_from_top_candidates() || values.empty() || values.size() != ids.size())
        throw Error("sampling from top-k candidates needs top-k on and no repetition penalty");
    const size_t keep = std::min(static_cast<size_t>(options_.top_k), values.size());
    return draw(values.first(keep), ids.first(keep));
}

int32_t Sampler::draw(std::span<const float> logits, std::span<const int32_t> candidates) {
    const size_t keep = logits.size();
    std::vector<float> probabilities(keep);
    const float max_logit = logits[0];
    double total = 0.0;
    for (size_t i = 0; i < keep; ++i) {
        probabilities[i] = std::exp((logits[i] - max_logit) / options_.temperature);
        total += probabilities[i];
    }
    for (auto& probability : probabilities) probability = static_cast<float>(probability / total);

    // top-p: the smallest prefix whose mass reaches p; min-p: drop tokens below p * best.
    size_t cut = keep;
    double cumulative = 0.0;
    for (size_t i = 0; i < keep; ++i) {
        cumulative += probabilities[i];
        if (cumulative >= options_.top_p) {
            cut = i + 1;
            break;
        }
    }
    const float min_probability = options_.min_p * probabilities[0];
    while (cut > 1 && probabilities[cut - 1] < min_probability) --cut;

    double kept_mass = 0.0;
    for (size_t i = 0; i < cut; ++i) kept_mass += probabilities[i];
    // 53 random bits to a double in [0, 1): the same sequence for a seed on every platform.
    const double draw = static_cast<double>(generator_() >> 11) * 0x1.0p-53 * kept_mass;
    double running = 0.0;
    for (size_t i = 0; i < cut; ++i) {
        running += probabilities[i];
        if (draw < running) return candidates[i];
    }
    return candidates[cut - 1];
}

}  // namespace llcuda
