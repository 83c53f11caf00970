#include "engine/prefix_cache.hpp"

#include <algorithm>
#include <optional>

#include "core/error.hpp"

namespace llcuda {

size_t common_prefix_length(std::span<const int32_t> a, std::span<const int32_t> b) {
    const auto [end_a, end_b] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    return static_cast<size_t>(end_a - a.begin());
}

SlotChoice choose_slot(const std::vector<CachedSlot>& free_slots, std::span<const int32_t> prompt) {
    if (free_slots.empty()) throw Error("internal error: choose_slot without a free slot");
    std::optional<SlotChoice> best;
    size_t best_worth = 0;
    uint64_t best_last_used = 0;
    for (const auto& candidate : free_slots) {
        size_t reused = prompt.empty() ? 0
                                       : std::min(common_prefix_length(candidate.tokens, prompt),
                                                  prompt.size() - 1);
        // A sliding-window ring that overwrote what the next token sees: nothing is reused
        // (a shorter prefix needs older positions still, see KvCache::can_truncate).
        if (reused > 0 && !candidate.can_keep(reused)) reused = 0;
        // A slot keeping less than half of what it holds (a BOS shared with a long chat) is
        // chosen as if it matched nothing: an idle or older slot is worth more to overwrite.
        const size_t worth = reused * 2 >= candidate.tokens.size() ? reused : 0;
        const bool better = !best || worth > best_worth ||
                            (worth == best_worth && candidate.last_used < best_last_used);
        if (better) {
            best = SlotChoice{.slot = candidate.slot, .reused = reused};
            best_worth = worth;
            best_last_used = candidate.last_used;
        }
    }
    return *best;
}

SlotChoice PrefixCache::choose(const ModelRunner& runner, std::span<const size_t> free_slots,
                               std::span<const int32_t> prompt) const {
    std::vector<CachedSlot> candidates;
    candidates.reserve(free_slots.size());
    for (const size_t slot : free_slots) {
        candidates.push_back(CachedSlot{.slot = slot,
                                        .tokens = runner.cached_tokens(slot),
                                        .last_used = last_used_.at(slot),
                                        .can_keep = [&runner, slot](size_t length) {
                                            return runner.can_truncate(slot, length);
                                        }});
    }
    return choose_slot(candidates, prompt);
}

}  // namespace llcuda
