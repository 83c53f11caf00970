// The real trained model: greedy generation must reproduce the reference implementation's
// output exactly, and a Q8_0 copy made by llcuda's own quantizer must stay close to it.
#include <gtest/gtest.h>

#include <sstream>

#include "core/error.hpp"
#include "core/gguf/gguf_writer.hpp"
#include "engine/embedded_model.hpp"
#include "engine/sampler.hpp"
#include "llcuda/engine.hpp"
#include "model/decoder.hpp"
#include "model/model_quantizer.hpp"
#include "test_paths.hpp"

namespace llcuda {
namespace {

struct ExpectedOutput {
    std::vector<int32_t> ids;
    std::string text;
};

ExpectedOutput read_expected() {
    const auto content = testing::read_text_file(testing::test_data("stories260K_greedy200.txt"));
    const size_t newline = content.find('\n');
    ExpectedOutput expected;
    std::string ids = content.substr(0, newline);
    for (char& c : ids) {
        if (c == '[' || c == ']' || c == ',' || c == ':') c = ' ';
    }
    std::istringstream stream(ids.substr(ids.find(' ')));
    for (int32_t id; stream >> id;) expected.ids.push_back(id);
    expected.text = content.substr(newline + 1);
    while (!expected.text.empty() && expected.text.back() == '\n') expected.text.pop_back();
    return expected;
}

GenerationOptions greedy(size_t max_tokens) {
    GenerationOptions options;
    options.max_tokens = max_tokens;
    options.sampling.temperature = 0.0f;
    return options;
}

TEST(Stories260K, GreedyFromBosMatchesTheReference) {
    const auto expected = read_expected();
    ASSERT_EQ(expected.ids.size(), 200u);
    // The embedded model is F32, which has no quantized kernel: fast must equal the reference
    // exactly (the Q8_0 copy below is where the fast kernels' tolerance is tested).
    for (const char* kernels : {"reference", "fast"}) {
        SCOPED_TRACE(kernels);
        EngineOptions engine_options;
        engine_options.threads = 2;
        engine_options.cpu_kernels = kernels;
        Engine engine(engine_options);
        std::string streamed;
        const auto result =
            engine.generate("", greedy(200), [&](std::string_view text) { streamed += text; });
        EXPECT_EQ(result.prompt_tokens, std::vector<int32_t>{1});
        EXPECT_EQ(result.tokens, expected.ids);
        EXPECT_EQ(result.text, expected.text);
        EXPECT_EQ(streamed, result.text);
        EXPECT_EQ(result.finish_reason, "length");
    }
}

TEST(Stories260K, SharedFileGivesTheSameOutput) {
    const auto path = testing::shared_model("stories260K/stories260K.gguf");
    if (!path) GTEST_SKIP() << "../shared/models not present";
    EngineOptions engine_options;
    engine_options.model_path = *path;
    Engine engine(engine_options);
    EXPECT_EQ(engine.generate("", greedy(200)).tokens, read_expected().ids);
}

TEST(Stories260K, BatchedPromptMatchesTokenByToken) {
    auto file =
        std::make_shared<const GgufFile>(GgufFile::from_memory(embedded_model_bytes(), "embedded"));
    Decoder model(file);
    ThreadPool pool(2);
    const auto prompt = read_expected().ids;  // 200 real tokens
    std::vector<int32_t> tokens{1};
    tokens.insert(tokens.end(), prompt.begin(), prompt.begin() + 60);
    KvCache batched_cache(model.spec(), 128), stepwise_cache(model.spec(), 128);
    std::vector<float> batched, stepwise;
    model.forward(tokens, batched_cache, pool, batched);
    for (const auto token : tokens)
        model.forward(std::span<const int32_t>(&token, 1), stepwise_cache, pool, stepwise);
    ASSERT_EQ(batched.size(), stepwise.size());
    for (size_t i = 0; i < batched.size(); ++i) ASSERT_NEAR(batched[i], stepwise[i], 1e-4) << i;
    EXPECT_EQ(batched_cache.used(), tokens.size());
}

TEST(Stories260K, StopStringsAndLimits) {
    Engine engine(EngineOptions{});
    auto options = greedy(200);
    options.stop = {"Lily"};
    const auto result = engine.generate("", options);
    EXPECT_EQ(result.text, "Once upon a time, there was a little girl named ");
    EXPECT_EQ(result.finish_reason, "stop");
    EXPECT_EQ(engine.generate("", greedy(0)).tokens.size(), 0u);
}

TEST(Stories260K, ContextOverflowIsAClearError) {
    EngineOptions engine_options;
    engine_options.context_size = 16;
    Engine engine(engine_options);
    try {
        engine.generate(std::string(200, 'a'), greedy(4));
        FAIL() << "a prompt longer than the context was accepted";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("--ctx-size"), std::string::npos) << error.what();
    }
    // Generation that reaches the end of the context stops with "length".
    const auto result = engine.generate("Once", greedy(100));
    EXPECT_EQ(result.finish_reason, "length");
    EXPECT_EQ(result.prompt_tokens.size() + result.tokens.size(), 16u);
}

// Tolerance: Q8_0 keeps ~2 decimal digits per weight, so the greedy path may eventually take
// a different branch, but the first 60 tokens must be identical and at least half of the 200
// positions the same (measured when written: the first difference at token 114, 116 same).
TEST(Stories260K, Q8_0CopyStaysCloseToF32) {
    const auto source = GgufFile::from_memory(embedded_model_bytes(), "embedded");
    GgufWriter writer;
    const auto report = quantize_model(source, DType::Q8_0, writer);
    EXPECT_EQ(report.converted.size(), 37u);  // every matrix; norms are kept
    EXPECT_EQ(report.fell_back.size(), 5u);   // ffn_down's rows of 172 are not Q8_0 blocks
    const auto bytes = writer.serialize();
    auto quantized = std::make_shared<const GgufFile>(GgufFile::from_memory(bytes, "q8_0"));
    for (const auto& name : report.converted) {
        const auto* tensor = quantized->find_tensor(name);
        ASSERT_NE(tensor, nullptr) << name;
        EXPECT_EQ(tensor->type,
                  name.find("ffn_down") != std::string::npos ? DType::F16 : DType::Q8_0)
            << name;
    }

    // On the fast kernels the activations are quantized to 8 bits too; the same bounds hold.
    for (const CpuKernels kernels : {CpuKernels::Reference, CpuKernels::Fast}) {
        SCOPED_TRACE(kernels == CpuKernels::Fast ? "fast" : "reference");
        Decoder f32_model(std::make_shared<const GgufFile>(source));
        Decoder q8_model(quantized);
        q8_model.set_cpu_kernels(kernels);
        ThreadPool pool(2);
        KvCache f32_cache(f32_model.spec(), 256), q8_cache(q8_model.spec(), 256);
        std::vector<float> f32_logits, q8_logits;
        int32_t f32_token = 1, q8_token = 1;
        size_t first_difference = 200, same = 0;
        for (size_t step = 0; step < 200; ++step) {
            f32_model.forward(std::span<const int32_t>(&f32_token, 1), f32_cache, pool, f32_logits);
            q8_model.forward(std::span<const int32_t>(&q8_token, 1), q8_cache, pool, q8_logits);
            f32_token = argmax(f32_logits);
            q8_token = argmax(q8_logits);
            if (f32_token == q8_token) {
                ++same;
            } else {
                first_difference = std::min(first_difference, step);
            }
        }
        RecordProperty(std::string(kernels == CpuKernels::Fast ? "fast_" : "") + "first_difference",
                       static_cast<int>(first_difference));
        RecordProperty(std::string(kernels == CpuKernels::Fast ? "fast_" : "") + "same_tokens",
                       static_cast<int>(same));
        EXPECT_GE(first_difference, 60u);
        EXPECT_GE(same, 100u);
    }
}

}  // namespace
}  // namespace llcuda
