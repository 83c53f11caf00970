#pragma once
// Keys and values of the CPU's layers (the first `layer_count`) for one sequence, in float:
// [layer][position][kv_dim].
#include <cstddef>
#include <vector>

#include "model/llama_hparams.hpp"

namespace llcuda {

class KvCache {
  public:
    KvCache(const LlamaHparams& hparams, size_t context_size)
        : KvCache(hparams, context_size, hparams.layer_count) {}
    KvCache(const LlamaHparams& hparams, size_t context_size, size_t layer_count)
        : context_size_(context_size),
          kv_dim_(hparams.kv_dim()),
          layer_stride_(context_size * hparams.kv_dim()),
          keys_(layer_count * layer_stride_),
          values_(layer_count * layer_stride_) {}

    size_t context_size() const { return context_size_; }
    size_t used() const { return used_; }
    void set_used(size_t positions) { used_ = positions; }
    void clear() { used_ = 0; }
    size_t bytes() const { return (keys_.size() + values_.size()) * sizeof(float); }

    float* key(size_t layer, size_t position) {
        return keys_.data() + layer * layer_stride_ + position * kv_dim_;
    }
    float* value(size_t layer, size_t position) {
        return values_.data() + layer * layer_stride_ + position * kv_dim_;
    }

  private:
    size_t context_size_;
    size_t kv_dim_;
    size_t layer_stride_;
    std::vector<float> keys_;
    std::vector<float> values_;
    size_t used_ = 0;
};

}  // namespace llcuda
