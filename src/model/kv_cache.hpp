#pragma once
// Keys and values of the CPU's layers (the first `layer_count`) for `sequences` independent
// sequences, in F32 (the default), F16 or Q8_0 (--kv-type): [layer][sequence][slot][kv_dim]. Each
// sequence owns context_size positions and its own count of positions used. A sliding-window layer
// keeps a ring of only the positions its window and one forward pass need
// (ModelSpec::cache_positions), so a long context costs global layers alone. It also keeps the
// token each position holds, so that a new prompt that starts with them can keep them (truncate)
// and enter only the rest.
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/cpu/cpu_attention.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/quant/quant.hpp"
#include "core/system_memory.hpp"
#include "model/model_spec.hpp"
#include "model/token_batch.hpp"

namespace llcuda {

class KvCache {
  public:
    KvCache(const ModelSpec& spec, size_t context_size)
        : KvCache(spec, context_size, spec.layer_count, 1) {}
    KvCache(const ModelSpec& spec, size_t context_size, size_t layer_count, size_t sequences,
            DType type = DType::F32)
        : context_size_(context_size),
          kv_dim_(spec.kv_dim()),
          type_(type),
          used_(sequences, 0),
          written_(sequences, 0),
          tokens_(sequences) {
        if (layer_count > 0) check_cpu_kv_type(type, spec.head_dim);  // GPU layers alone: none
        row_bytes_ = layer_count > 0 ? row_bytes(type, kv_dim_) : 0;
        size_t total = 0;
        for (size_t l = 0; l < layer_count; ++l) {
            windows_.push_back(spec.layers.at(l).window);
            slots_.push_back(spec.cache_positions(l, context_size, kMaxCpuBatch));
            layer_offsets_.push_back(total);
            total += sequences * slots_.back() * row_bytes_;
        }
        check_memory_available(uint64_t{2} * total,
                               fmt::format("the CPU KV cache ({}) of {} layers for {} sequence(s) "
                                           "of {} tokens",
                                           dtype_name(type), layer_count, sequences, context_size),
                               "use a smaller -c/--ctx-size or --parallel");
        keys_.resize(total);
        values_.resize(total);
    }

    size_t context_size() const { return context_size_; }
    size_t sequences() const { return used_.size(); }
    size_t used(size_t sequence = 0) const { return used_[sequence]; }
    // After a forward pass: each sequence now holds at least the positions the batch wrote.
    void record(const TokenBatch& batch) {
        for (size_t i = 0; i < batch.size(); ++i) {
            const auto sequence = static_cast<size_t>(batch.sequences[i]);
            const auto position = static_cast<size_t>(batch.positions[i]);
            used_[sequence] = std::max(used_[sequence], position + 1);
            written_[sequence] = std::max(written_[sequence], position + 1);
            auto& tokens = tokens_[sequence];
            if (tokens.size() <= position) tokens.resize(position + 1);
            tokens[position] = batch.tokens[i];
        }
    }
    void clear(size_t sequence = 0) {
        used_[sequence] = 0;
        written_[sequence] = 0;
        tokens_[sequence].clear();
    }
    // The tokens of the positions a sequence holds (used() of them).
    const std::vector<int32_t>& tokens(size_t sequence = 0) const { return tokens_[sequence]; }

    // Whether a sequence can continue at position `length` after dropping what follows: every
    // sliding-window layer's ring must still hold the positions the next token sees
    // ([length + 1 - window, length)). Its slot for position q holds the last position written
    // there; any position since the last clear() below written - slots may have been
    // overwritten (a later truncation and rewrite only touches positions at or above it).
    bool can_truncate(size_t sequence, size_t length) const {
        if (length > used_[sequence]) return false;
        for (size_t l = 0; l < slots_.size(); ++l) {
            if (windows_[l] == 0 || written_[sequence] <= slots_[l]) continue;
            const size_t first_seen = length + 1 > windows_[l] ? length + 1 - windows_[l] : 0;
            if (first_seen < written_[sequence] - slots_[l]) return false;
        }
        return true;
    }
    // Keeps the first `length` positions of a sequence; the next token goes at `length`.
    void truncate(size_t sequence, size_t length) {
        if (!can_truncate(sequence, length)) {
            throw Error(fmt::format(
                "internal error: sequence {} cannot keep {} of its {} positions (at most {} "
                "written, a sliding window ring overwrote some it needs)",
                sequence, length, used_[sequence], written_[sequence]));
        }
        used_[sequence] = length;
        tokens_[sequence].resize(length);
    }
    size_t bytes() const { return keys_.size() + values_.size(); }
    DType type() const { return type_; }

    // Writes one position's key and value (kv_dim floats each), converted to type().
    void store(size_t layer, size_t sequence, size_t position, const float* key,
               const float* value) {
        const size_t slots = slots_[layer];
        const size_t at =
            layer_offsets_[layer] + (sequence * slots + position % slots) * row_bytes_;
        quantize_row(type_, key, keys_.data() + at, kv_dim_);
        quantize_row(type_, value, values_.data() + at, kv_dim_);
    }
    // One sequence's rows in one layer, for cpu_attention.
    KvRows rows(size_t layer, size_t sequence) const {
        const size_t slots = slots_[layer];
        const size_t at = layer_offsets_[layer] + sequence * slots * row_bytes_;
        return {.type = type_,
                .keys = keys_.data() + at,
                .values = values_.data() + at,
                .slots = slots,
                .row_bytes = row_bytes_};
    }

  private:
    size_t context_size_;
    size_t kv_dim_;
    DType type_;
    size_t row_bytes_ = 0;               // one position's kv_dim elements in type_
    std::vector<size_t> windows_;        // sliding window by layer (0: global)
    std::vector<size_t> slots_;          // positions kept per sequence, by layer
    std::vector<size_t> layer_offsets_;  // the byte where each layer's rows start
    std::vector<std::byte> keys_;
    std::vector<std::byte> values_;
    std::vector<size_t> used_;
    std::vector<size_t> written_;  // the highest position written since clear(), plus one
    std::vector<std::vector<int32_t>> tokens_;
};

}  // namespace llcuda
