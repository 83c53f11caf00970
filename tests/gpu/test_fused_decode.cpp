// Decode steps of quantized models rotate and store keys and values inside the Q, K and V
// products (cuda::QkvRopeStore). stories260K's F32 weights do not take that path, so a synthetic
// model in the "tiny" shape (256 wide, heads of 32, FFN 768) does, in Q4_K_M and Q8_0: each
// decode step's logits are the bits of the unfused path's, and stay close to the CPU's. The
// other architectures' tiny shapes (Qwen 2's biases, Qwen 3's QK-norm, Gemma 3's windows, post
// norms and GeGLU, Phi-3's fused tensors) take their own fusions, with the same checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "backend/cpu/thread_pool.hpp"
#include "core/gguf/gguf_writer.hpp"
#include "engine/embedded_model.hpp"
#include "model/decoder.hpp"
#include "model/model_runner.hpp"
#include "model/synthetic_model.hpp"

namespace llcuda {
namespace {

struct TinyModel {
    std::vector<uint8_t> bytes;  // the GGUF, which the model reads in place
    std::unique_ptr<Decoder> model;
};

TinyModel tiny_model(const std::string& shape, const std::string& type) {
    const auto tokenizer = GgufFile::from_memory(embedded_model_bytes(), kEmbeddedModelName);
    GgufWriter writer;
    build_synthetic_model({shape, type, 7, 2}, tokenizer, writer);
    TinyModel tiny{writer.serialize(), nullptr};
    tiny.model = std::make_unique<Decoder>(
        std::make_shared<const GgufFile>(GgufFile::from_memory(tiny.bytes, shape + " " + type)));
    return tiny;
}

const std::vector<int32_t> kTokens = {1, 15, 200, 37, 4, 99, 311, 8, 56, 420, 7, 2, 64, 128};

// The logits after each token, fed one at a time.
std::vector<std::vector<float>> decode(const Decoder& model, ThreadPool& pool, size_t gpu_layers,
                                       bool rope_fusion) {
    RunnerOptions options;
    options.context_size = 64;
    options.gpu_layers = gpu_layers;
    options.rope_fusion = rope_fusion;
    ModelRunner runner(model, pool, options);
    std::vector<std::vector<float>> steps;
    for (const int32_t token : kTokens) {
        runner.forward(std::span(&token, 1), true);
        const auto logits = runner.logits();
        steps.emplace_back(logits.begin(), logits.end());
    }
    return steps;
}

// The largest difference from the reference over its largest value, across all steps.
float relative_error(const std::vector<std::vector<float>>& steps,
                     const std::vector<std::vector<float>>& reference) {
    float worst = 0.0f, largest = 0.0f;
    for (size_t s = 0; s < steps.size(); ++s) {
        for (size_t i = 0; i < steps[s].size(); ++i) {
            worst = std::max(worst, std::fabs(steps[s][i] - reference[s][i]));
            largest = std::max(largest, std::fabs(reference[s][i]));
        }
    }
    return worst / largest;
}

TEST(FusedDecode, RopeInTheProductsGivesTheUnfusedBits) {
    ThreadPool pool(2);
    for (const std::string shape :
         {"tiny", "tiny-qwen2", "tiny-qwen3", "tiny-gemma3", "tiny-phi3"}) {
        for (const std::string type : {"Q4_K_M", "Q8_0"}) {
            SCOPED_TRACE(shape + " " + type);
            const auto tiny = tiny_model(shape, type);
            const size_t layers = tiny.model->spec().layer_count;
            const auto fused = decode(*tiny.model, pool, layers, true);
            const auto unfused = decode(*tiny.model, pool, layers, false);
            EXPECT_EQ(fused, unfused);
            // int8 activations on the GPU: close to the CPU, not equal.
            const float error = relative_error(fused, decode(*tiny.model, pool, 0, true));
            std::printf("%s %s: GPU decode logits within %.4f of the CPU's largest\n",
                        shape.c_str(), type.c_str(), error);
            EXPECT_LT(error, 5e-2f);
        }
    }
}

}  // namespace
}  // namespace llcuda
