#pragma once
// Keys and values of the CPU's layers (the first `layer_count`) for `sequences` independent
// sequences, in float: [layer][sequence][position][kv_dim]. Each sequence owns a slot of
// context_size positions and its own count of positions used.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "model/model_spec.hpp"
#include "model/token_batch.hpp"

namespace llcuda {

class KvCache {
  public:
    KvCache(const ModelSpec& hparams, size_t context_size)
        : KvCache(hparams, context_size, hparams.layer_count, 1) {}
    KvCache(const ModelSpec& hparams, size_t context_size, size_t layer_count, size_t sequences)
        : context_size_(context_size),
          kv_dim_(hparams.kv_dim()),
          sequence_stride_(context_size * hparams.kv_dim()),
          layer_stride_(sequences * sequence_stride_),
          keys_(layer_count * layer_stride_),
          values_(layer_count * layer_stride_),
          used_(sequences, 0) {}

    size_t context_size() const { return context_size_; }
    size_t sequences() const { return used_.size(); }
    size_t used(size_t sequence = 0) const { return used_[sequence]; }
    // After a forward pass: each sequence now holds at least the positions the batch wrote.
    void record(const TokenBatch& batch) {
        for (size_t i = 0; i < batch.size(); ++i) {
            const auto sequence = static_cast<size_t>(batch.sequences[i]);
            used_[sequence] =
                std::max(used_[sequence], static_cast<size_t>(batch.positions[i]) + 1);
        }
    }
    void clear(size_t sequence = 0) { used_[sequence] = 0; }
    size_t bytes() const { return (keys_.size() + values_.size()) * sizeof(float); }

    float* key(size_t layer, size_t sequence, size_t position) {
        return keys_.data() + offset(layer, sequence, position);
    }
    float* value(size_t layer, size_t sequence, size_t position) {
        return values_.data() + offset(layer, sequence, position);
    }

  private:
    size_t offset(size_t layer, size_t sequence, size_t position) const {
        return layer * layer_stride_ + sequence * sequence_stride_ + position * kv_dim_;
    }

    size_t context_size_;
    size_t kv_dim_;
    size_t sequence_stride_;
    size_t layer_stride_;
    std::vector<float> keys_;
    std::vector<float> values_;
    std::vector<size_t> used_;
};

}  // namespace llcuda
