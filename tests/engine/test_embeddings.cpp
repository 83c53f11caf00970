// Embeddings on the embedded stories260K model (a generative model: no pooling key, so mean
// pooling): unit length, deterministic, and equal to the mean of each token's final hidden
// state computed one token at a time through the reference decoder.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/cpu_ops.hpp"
#include "backend/cpu/thread_pool.hpp"
#include "core/error.hpp"
#include "engine/embedded_model.hpp"
#include "engine/embedding_pooling.hpp"
#include "llcuda/engine.hpp"
#include "model/decoder.hpp"

namespace llcuda {
namespace {

EngineOptions two_threads() {
    EngineOptions options;
    options.threads = 2;
    return options;
}

double length(const std::vector<float>& values) {
    double squares = 0;
    for (const float value : values) squares += static_cast<double>(value) * value;
    return std::sqrt(squares);
}

TEST(Embeddings, AGenerativeModelWithoutAPoolingKeyIsMeanPooled) {
    Engine engine(two_threads());
    EXPECT_EQ(engine.embedding_pooling(), "mean");
}

TEST(Embeddings, AreUnitLengthAndDeterministic) {
    Engine engine(two_threads());
    const auto tokens = engine.tokenize("Once upon a time, there was a little cat.", true);
    const auto first = engine.embed(tokens);
    ASSERT_EQ(first.size(), engine.summary().embedding_dim);
    EXPECT_NEAR(length(first), 1.0, 1e-6);
    // A generation in between leaves nothing behind in the sequence the embedding uses.
    GenerationOptions options;
    options.max_tokens = 8;
    engine.generate("The dog", options);
    EXPECT_EQ(engine.embed(tokens), first);
    EXPECT_NE(engine.embed(engine.tokenize("A big red ball.", true)), first);
}

TEST(Embeddings, MeanPoolingIsTheMeanOfEachTokensNormedHiddenState) {
    Engine engine(two_threads());
    const auto tokens = engine.tokenize("Lily went to the park with her mom.", true);
    const auto embedding = engine.embed(tokens);

    // Independently: the reference decoder one token at a time, each token's hidden state
    // after the last layer through the output norm, averaged, then scaled to unit length.
    Decoder model(std::make_shared<const GgufFile>(
        GgufFile::from_memory(embedded_model_bytes(), kEmbeddedModelName)));
    const auto& spec = model.spec();
    KvCache cache(spec, tokens.size());
    ThreadPool pool(2);
    std::vector<double> sum(spec.embedding_dim, 0.0);
    std::vector<float> hidden, normed(spec.embedding_dim);
    for (size_t i = 0; i < tokens.size(); ++i) {
        model.forward_layers(TokenBatch::single(&tokens[i], 1, 0, i), spec.layer_count, cache, pool,
                             hidden);
        ASSERT_EQ(hidden.size(), spec.embedding_dim);
        rms_norm(hidden.data(), model.output_norm().data(), normed.data(), spec.embedding_dim,
                 spec.rms_epsilon);
        for (size_t d = 0; d < spec.embedding_dim; ++d) sum[d] += normed[d];
    }
    std::vector<float> expected(spec.embedding_dim);
    for (size_t d = 0; d < spec.embedding_dim; ++d)
        expected[d] = static_cast<float>(sum[d] / static_cast<double>(tokens.size()));
    l2_normalise(expected);
    ASSERT_EQ(embedding.size(), expected.size());
    for (size_t d = 0; d < expected.size(); ++d) EXPECT_NEAR(embedding[d], expected[d], 1e-5f) << d;
}

TEST(Embeddings, AnInputLongerThanAForwardPassEqualsItsPartsRunInOne) {
    // 300 tokens cross the CPU's 256-token pass: the second pass continues the sequence.
    EngineOptions small_passes = two_threads();
    small_passes.ubatch_size = 16;
    Engine engine(two_threads()), split(small_passes);
    std::vector<int32_t> tokens{1};
    for (int32_t i = 0; tokens.size() < 300; ++i) tokens.push_back(100 + (i * 7) % 300);
    const auto whole = engine.embed(tokens);
    const auto parts = split.embed(tokens);
    for (size_t d = 0; d < whole.size(); ++d) EXPECT_NEAR(whole[d], parts[d], 1e-5f) << d;
}

TEST(Embeddings, BadInputsAreErrors) {
    EngineOptions options = two_threads();
    options.context_size = 32;
    Engine engine(options);
    EXPECT_THROW(engine.embed({}), Error);
    EXPECT_THROW(engine.embed({1, static_cast<int32_t>(engine.summary().vocab_size)}), Error);
    EXPECT_THROW(engine.embed(std::vector<int32_t>(33, 5)), Error);
    // The engine still works after each refusal.
    EXPECT_NEAR(length(engine.embed(std::vector<int32_t>(32, 5))), 1.0, 1e-6);
}

TEST(EmbeddingPooling, ClsTakesTheFirstRowLastTheLastNoneRefuses) {
    const std::vector<float> rows{3, 4, 0, 0, 0, 2, 1, 1, 0};  // 3 tokens of 3 values
    EXPECT_EQ(pool_embedding(rows, 3, Pooling::Cls), (std::vector<float>{0.6f, 0.8f, 0.0f}));
    const auto last = pool_embedding(rows, 3, Pooling::Last);
    EXPECT_NEAR(last[0], 1 / std::sqrt(2.0f), 1e-7f);
    EXPECT_NEAR(last[1], 1 / std::sqrt(2.0f), 1e-7f);
    EXPECT_EQ(last[2], 0.0f);
    const auto mean = pool_embedding(rows, 3, Pooling::Mean);  // (4, 5, 2) / 3, normalised
    const float scale = 1.0f / std::sqrt(45.0f);
    EXPECT_NEAR(mean[0], 4 * scale, 1e-6f);
    EXPECT_NEAR(mean[1], 5 * scale, 1e-6f);
    EXPECT_NEAR(mean[2], 2 * scale, 1e-6f);
    EXPECT_THROW(pool_embedding(rows, 3, Pooling::None), Error);
    EXPECT_THROW(pool_embedding(rows, 4, Pooling::Mean), Error);
}

}  // namespace
}  // namespace llcuda
