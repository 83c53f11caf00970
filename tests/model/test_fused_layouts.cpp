// Phi-3 stores Q, K and V in one tensor and gate and up in another. Loaded as row views, they
// must compute exactly what the same weights stored apart do: here a qwen2 file (llama + NeoX
// RoPE + QKV biases) with the rows split out and zero biases.
#include <gtest/gtest.h>

#include <cstring>

#include "backend/cpu/thread_pool.hpp"
#include "core/gguf/gguf_writer.hpp"
#include "core/quant/quant.hpp"
#include "engine/embedded_model.hpp"
#include "model/decoder.hpp"
#include "model/kv_cache.hpp"
#include "model/synthetic_model.hpp"

namespace llcuda {
namespace {

// GgufFile::from_memory reads the bytes in place, so they are kept for the test's duration.
std::shared_ptr<const GgufFile> keep(std::vector<uint8_t> bytes, const std::string& name) {
    static std::vector<std::vector<uint8_t>> kept;
    kept.push_back(std::move(bytes));
    return std::make_shared<const GgufFile>(GgufFile::from_memory(kept.back(), name));
}

std::shared_ptr<const GgufFile> synthetic_phi3(const std::string& type) {
    const auto tokenizer = GgufFile::from_memory(embedded_model_bytes(), "embedded");
    GgufWriter writer;
    build_synthetic_model({.shape = "tiny-phi3", .type = type, .seed = 5, .threads = 1}, tokenizer,
                          writer);
    return keep(writer.serialize(), "phi3");
}

// The same model as qwen2: metadata under qwen2.*, fused tensors cut into their row ranges.
std::shared_ptr<const GgufFile> split_as_qwen2(const GgufFile& phi3, const ModelSpec& spec) {
    GgufWriter writer;
    for (const auto& [key, value] : phi3.metadata()) {
        if (key == "general.architecture") {
            writer.set(key, GgufValue::string("qwen2"));
        } else if (key.rfind("phi3.", 0) == 0) {
            writer.set("qwen2." + key.substr(5), value);
        } else {
            writer.set(key, value);
        }
    }
    auto add_rows = [&](const std::string& name, const GgufTensorInfo& tensor, size_t first,
                        size_t count) {
        const size_t stride = row_bytes(tensor.type, tensor.shape[0]);
        const uint8_t* data = phi3.tensor_data(tensor) + first * stride;
        writer.add_tensor(name, tensor.type, {tensor.shape[0], count},
                          std::vector<uint8_t>(data, data + count * stride));
    };
    auto add_zeros = [&](const std::string& name, size_t size) {
        writer.add_tensor(name, DType::F32, {size}, std::vector<uint8_t>(size * sizeof(float), 0));
    };
    for (const auto& tensor : phi3.tensors()) {
        const auto dot = tensor.name.find(".attn_qkv.");
        const auto up = tensor.name.find(".ffn_up.");
        if (dot != std::string::npos) {
            const std::string prefix = tensor.name.substr(0, dot + 1);
            add_rows(prefix + "attn_q.weight", tensor, 0, spec.q_dim());
            add_rows(prefix + "attn_k.weight", tensor, spec.q_dim(), spec.kv_dim());
            add_rows(prefix + "attn_v.weight", tensor, spec.q_dim() + spec.kv_dim(), spec.kv_dim());
            add_zeros(prefix + "attn_q.bias", spec.q_dim());
            add_zeros(prefix + "attn_k.bias", spec.kv_dim());
            add_zeros(prefix + "attn_v.bias", spec.kv_dim());
        } else if (up != std::string::npos) {
            const std::string prefix = tensor.name.substr(0, up + 1);
            add_rows(prefix + "ffn_gate.weight", tensor, 0, spec.feed_forward_dim);
            add_rows(prefix + "ffn_up.weight", tensor, spec.feed_forward_dim,
                     spec.feed_forward_dim);
        } else {
            const uint8_t* data = phi3.tensor_data(tensor);
            writer.add_tensor(tensor.name, tensor.type, tensor.shape,
                              std::vector<uint8_t>(data, data + tensor.byte_count));
        }
    }
    return keep(writer.serialize(), "qwen2");
}

class FusedLayout : public ::testing::TestWithParam<std::string> {};

TEST_P(FusedLayout, Phi3GivesTheLogitsOfTheSameWeightsStoredApart) {
    const auto phi3_file = synthetic_phi3(GetParam());
    const Decoder phi3(phi3_file);
    EXPECT_TRUE(phi3.spec().fused_qkv && phi3.spec().fused_gate_up);
    const Decoder qwen2(split_as_qwen2(*phi3_file, phi3.spec()));
    ThreadPool pool(2);
    const std::vector<int32_t> tokens{1, 45, 300, 7, 211, 90, 12, 501, 3, 77};
    KvCache phi3_cache(phi3.spec(), 32), qwen2_cache(qwen2.spec(), 32);
    std::vector<float> phi3_logits, qwen2_logits;
    phi3.forward(tokens, phi3_cache, pool, phi3_logits);
    qwen2.forward(tokens, qwen2_cache, pool, qwen2_logits);
    EXPECT_EQ(phi3_logits, qwen2_logits);  // the same ops in the same order: bit for bit
}

INSTANTIATE_TEST_SUITE_P(Types, FusedLayout, ::testing::Values("F32", "F16", "Q8_0"));

}  // namespace
}  // namespace llcuda
