#pragma once
// Prompt (prefix) cache over the KV cache's slots: a new request takes the free slot whose
// cached tokens share the longest prefix with its prompt, keeps those positions and enters
// only the rest (a chat's next turn, a shared system prompt). With no usable prefix it takes
// the least recently used free slot, so that the prefixes used last survive longest.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/model_runner.hpp"

namespace llcuda {

// The tokens two sequences start with in common.
size_t common_prefix_length(std::span<const int32_t> a, std::span<const int32_t> b);

// A free slot as the choice sees it.
struct CachedSlot {
    size_t slot = 0;
    std::span<const int32_t> tokens;       // what its KV cache holds
    uint64_t last_used = 0;                // larger is more recent; 0: never
    std::function<bool(size_t)> can_keep;  // whether it can keep its first n positions
};

struct SlotChoice {
    size_t slot = 0;
    size_t reused = 0;  // prompt tokens already in the slot's KV cache
};

// The slot for `prompt` among `free_slots` (not empty): the most tokens reused, ties to the
// least recently used; a slot that would keep less than half of its tokens counts as reusing
// none when choosing (though it keeps them when chosen). At most prompt.size() - 1 tokens are
// reused: the last one is always evaluated again, for the logits the first new token is sampled
// from.
SlotChoice choose_slot(const std::vector<CachedSlot>& free_slots, std::span<const int32_t> prompt);

class PrefixCache {
  public:
    explicit PrefixCache(size_t slots) : last_used_(slots, 0) {}

    // choose_slot over the runner's slots in `free_slots`.
    SlotChoice choose(const ModelRunner& runner, std::span<const size_t> free_slots,
                      std::span<const int32_t> prompt) const;
    // The slot was used now (admitted or finished).
    void touch(size_t slot) { last_used_.at(slot) = ++clock_; }

  private:
    std::vector<uint64_t> last_used_;
    uint64_t clock_ = 0;
};

}  // namespace llcuda
