// The real model on the GPU: stories260K's greedy output must equal the reference with every
// split between CPU and GPU (0..all layers on the GPU), with and without CUDA graphs, and for
// a prompt long enough to take the tensor-core GEMM path.
#include <gtest/gtest.h>

#include "batch_test_support.hpp"
#include "llcuda/engine.hpp"

namespace llcuda {
namespace {

GenerationOptions greedy(size_t max_tokens) {
    GenerationOptions options;
    options.max_tokens = max_tokens;
    options.sampling.temperature = 0.0f;
    return options;
}

EngineOptions on_gpu(const std::string& layers) {
    EngineOptions options;
    options.device = "cuda";
    options.gpu_layers = layers;
    options.threads = 2;
    return options;
}

const std::string kPrompt =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park "
    "with her friends. One day, she saw a big red ball under a tree and ran to get it.";

TEST(GpuModel, EverySplitGivesTheCpuOutput) {
    EngineOptions cpu_options;
    cpu_options.threads = 2;
    Engine cpu(cpu_options);
    const auto from_bos = cpu.generate("", greedy(200));
    const auto from_prompt = cpu.generate(kPrompt, greedy(100));
    ASSERT_GT(from_prompt.prompt_tokens.size(), 8u);  // batched: the GEMM path
    const size_t layers = cpu.summary().layers;
    for (size_t n = 1; n <= layers; ++n) {
        Engine gpu(on_gpu(std::to_string(n)));
        EXPECT_EQ(gpu.summary().gpu_layers, n);
        EXPECT_EQ(gpu.summary().layer_devices.back(), "cuda:0");
        EXPECT_EQ(gpu.summary().layer_devices.front(), n == layers ? "cuda:0" : "CPU");
        EXPECT_EQ(gpu.generate("", greedy(200)).tokens, from_bos.tokens) << n << " GPU layers";
        EXPECT_EQ(gpu.generate(kPrompt, greedy(100)).tokens, from_prompt.tokens)
            << n << " GPU layers, long prompt";
    }
}

// Embeddings read the head segment's hidden states back (GpuLayers::copy_hidden): on every
// split, over two segments of one GPU, and over several passes they stay the CPU's (the GPU's
// products round differently: a cosine of 1 to 1e-4, each value within 5e-3).
TEST(GpuModel, EmbeddingsOnEverySplitAreTheCpus) {
    EngineOptions cpu_options;
    cpu_options.threads = 2;
    Engine cpu(cpu_options);
    const auto tokens = cpu.tokenize(kPrompt, true);
    const auto expected = cpu.embed(tokens);
    auto check = [&](Engine& gpu, const std::string& what) {
        const auto embedding = gpu.embed(tokens);
        ASSERT_EQ(embedding.size(), expected.size()) << what;
        double dot = 0;
        for (size_t i = 0; i < expected.size(); ++i) {
            dot += static_cast<double>(embedding[i]) * expected[i];
            EXPECT_NEAR(embedding[i], expected[i], 5e-3f) << what << ", value " << i;
        }
        EXPECT_GT(dot, 1 - 1e-4) << what;
        EXPECT_EQ(gpu.embed(tokens), embedding) << what << ": not deterministic";
    };
    const size_t layers = cpu.summary().layers;
    for (size_t n = 1; n <= layers; ++n) {
        Engine gpu(on_gpu(std::to_string(n)));
        check(gpu, std::to_string(n) + " GPU layers");
    }
    auto two_segments = on_gpu("all");
    two_segments.devices = "cuda:0,cuda:0";
    Engine split(two_segments);
    ASSERT_EQ(split.summary().gpu_segments.size(), 2u);
    check(split, "two segments");
    auto small_passes = on_gpu("all");
    small_passes.ubatch_size = 8;
    Engine passes(small_passes);
    check(passes, "passes of 8 tokens");
}

TEST(GpuModel, GraphsOffAndSampledDecodingAgree) {
    auto options = on_gpu("all");
    Engine with_graphs(options);
    options.cuda_graphs = false;
    Engine without_graphs(options);
    EXPECT_EQ(with_graphs.generate("", greedy(120)).tokens,
              without_graphs.generate("", greedy(120)).tokens);

    // Sampling takes the logits to the CPU; the same seed gives the same text as the CPU run.
    GenerationOptions sampled = greedy(60);
    sampled.sampling.temperature = 0.9f;
    sampled.sampling.seed = 11;
    EngineOptions cpu_options;
    cpu_options.threads = 2;
    Engine cpu(cpu_options);
    EXPECT_EQ(with_graphs.generate("", sampled).text, cpu.generate("", sampled).text);
}

TEST(GpuModel, Q8CacheStaysCloseToF16) {
    Engine f16(on_gpu("all"));
    auto options = on_gpu("all");
    options.kv_type = "q8_0";
    Engine q8(options);
    const auto a = f16.generate("", greedy(100)).tokens;
    const auto b = q8.generate("", greedy(100)).tokens;
    size_t same_prefix = 0;
    while (same_prefix < std::min(a.size(), b.size()) && a[same_prefix] == b[same_prefix])
        ++same_prefix;
    std::printf("Q8_0 KV cache: first difference at token %zu of 100\n", same_prefix);
    EXPECT_GE(same_prefix, 20u);
}

// 12 sequences at once (decode passes of 8 and 4), all on the GPU and split with the CPU: each
// request's tokens equal what the same placement gives it alone.
TEST(GpuModel, ContinuousBatchingGivesEachRequestWhatItGetsAlone) {
    auto requests = testing::mixed_requests();
    const auto more = testing::mixed_requests();
    for (const auto& extra : more) {
        requests.push_back(extra);
        requests.back().tag = requests.size() - 1;
        requests.back().options.max_tokens += 7;
    }
    for (const std::string layers : {"all", "3"}) {
        auto options = on_gpu(layers);
        options.context_size = 256;
        Engine alone_engine(options);
        options.parallel = 12;
        Engine engine(options);
        const auto outcomes = testing::run_batched(engine, requests);
        ASSERT_EQ(outcomes.size(), requests.size());
        for (size_t i = 0; i < requests.size(); ++i) {
            const auto alone = alone_engine.generate(requests[i].prompt, requests[i].options);
            EXPECT_EQ(outcomes.at(i).error, "") << layers << " " << i;
            EXPECT_EQ(outcomes.at(i).result.tokens, alone.tokens) << layers << " " << i;
            EXPECT_EQ(outcomes.at(i).result.text, alone.text) << layers << " " << i;
        }
    }
}

TEST(GpuModel, AutoPlacementPutsTheSmallModelEntirelyOnTheGpu) {
    Engine engine(on_gpu("auto"));
    EXPECT_EQ(engine.summary().gpu_layers, engine.summary().layers);
    EXPECT_NE(engine.summary().placement.find("auto:"), std::string::npos);
    EXPECT_GT(engine.summary().gpu_bytes, 0u);
}

}  // namespace
}  // namespace llcuda
