// KvCache::truncate on the CPU: a sequence keeps its first positions and continues from there
// as if it had never held the rest, and a sliding-window ring refuses a length whose window
// it has overwritten (the rule at its exact boundary, on Gemma 3's real ring).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "backend/cpu/thread_pool.hpp"
#include "core/error.hpp"
#include "model/architecture_fixtures.hpp"
#include "model/decoder.hpp"
#include "model/kv_cache.hpp"
#include "model/token_batch.hpp"
#include "test_paths.hpp"

namespace llcuda {
namespace {

// One global layer and one of an 8-position window: its ring keeps 8 + kMaxCpuBatch - 1.
ModelSpec two_layer_spec() {
    ModelSpec spec;
    spec.head_count = spec.kv_head_count = 1;
    spec.head_dim = 4;
    spec.layer_count = 2;
    spec.layers.resize(2);
    spec.layers[1].window = 8;
    return spec;
}

void write_positions(KvCache& cache, size_t sequence, size_t count, int32_t first_token) {
    const size_t start = cache.used(sequence);
    std::vector<int32_t> tokens(count);
    for (size_t i = 0; i < count; ++i) tokens[i] = first_token + static_cast<int32_t>(i);
    cache.record(TokenBatch::single(tokens.data(), count, sequence, start));
}

// --kv-type on the CPU: the bytes follow the element size (what the memory check is given), and
// the Q8_0 block rule applies only when the CPU holds layers (all on the GPU: no CPU rows).
TEST(KvCacheType, BytesFollowTheElementSizeAndQ8_0IsCheckedOnlyWithCpuLayers) {
    ModelSpec spec = two_layer_spec();
    spec.head_dim = 64;
    spec.layers[1].window = 0;
    EXPECT_EQ(KvCache(spec, 100, 2, 1).bytes(), 2u * 2 * 100 * 64 * sizeof(float));
    EXPECT_EQ(KvCache(spec, 100, 2, 1, DType::F16).bytes(), 2u * 2 * 100 * 64 * 2);
    EXPECT_EQ(KvCache(spec, 100, 2, 1, DType::Q8_0).bytes(), 2u * 2 * 100 * 2 * 34);
    spec.head_dim = 8;
    EXPECT_THROW(KvCache(spec, 100, 2, 1, DType::Q8_0), Error);
    EXPECT_NO_THROW(KvCache(spec, 100, 0, 1, DType::Q8_0));
}

TEST(KvTruncate, KeepsTheFirstPositionsAndTheirTokens) {
    KvCache cache(two_layer_spec(), 1024, 2, 2);
    write_positions(cache, 1, 10, 100);
    ASSERT_EQ(cache.used(1), 10u);
    EXPECT_EQ(cache.tokens(1).size(), 10u);
    EXPECT_EQ(cache.tokens(1)[9], 109);
    cache.truncate(1, 4);
    EXPECT_EQ(cache.used(1), 4u);
    EXPECT_EQ(cache.tokens(1), (std::vector<int32_t>{100, 101, 102, 103}));
    write_positions(cache, 1, 2, 7);
    EXPECT_EQ(cache.tokens(1), (std::vector<int32_t>{100, 101, 102, 103, 7, 8}));
    EXPECT_EQ(cache.used(0), 0u);
    EXPECT_FALSE(cache.can_truncate(1, 7));  // more than it holds
    cache.clear(1);
    EXPECT_TRUE(cache.tokens(1).empty());
}

TEST(KvTruncate, TheRingRefusesALengthWhoseWindowItOverwrote) {
    const size_t slots = 8 + kMaxCpuBatch - 1;
    KvCache cache(two_layer_spec(), 1024, 2, 1);
    write_positions(cache, 0, slots, 0);
    EXPECT_TRUE(cache.can_truncate(0, 1));  // the ring has not wrapped
    write_positions(cache, 0, 100, 0);      // now it holds positions 100 .. slots + 99
    const size_t written = slots + 100;
    // Continuing at n sees positions n - 7 .. n - 1: the lowest kept is written - slots.
    const size_t boundary = written - slots + 7;
    EXPECT_TRUE(cache.can_truncate(0, boundary));
    EXPECT_FALSE(cache.can_truncate(0, boundary - 1));
    EXPECT_FALSE(cache.can_truncate(0, 0 + 1));
    EXPECT_THROW(cache.truncate(0, boundary - 1), std::exception);
    // A truncation and a rewrite do not lower what has been overwritten.
    cache.truncate(0, written - 1);
    EXPECT_FALSE(cache.can_truncate(0, boundary - 1));
    EXPECT_TRUE(cache.can_truncate(0, boundary));
}

// Gemma 3's window layers (window 8, rings of 263): 600 tokens, then back to a length and on
// with other tokens gives the logits of a fresh cache that never held the dropped ones.
TEST(KvTruncate, GemmaContinuesAfterTruncationAsAFreshCacheDoes) {
    const auto path = testing::architecture_fixture("gemma3-tiny");
    if (!path) GTEST_SKIP() << "../shared/models/arch is absent";
    const Decoder model(std::make_shared<const GgufFile>(GgufFile::open(*path)));
    ThreadPool pool(2);
    std::vector<int32_t> ids(600);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7919 + 13) % 32000);
    const std::vector<int32_t> next{5, 77, 901, 4242};
    std::vector<float> logits, fresh_logits;
    const size_t boundary = 600 - 263 + 7;  // the shortest length the ring keeps
    for (const size_t length : {size_t{599}, size_t{450}, boundary}) {
        KvCache used(model.spec(), 1024);
        model.forward(ids, used, pool, logits);
        EXPECT_FALSE(used.can_truncate(0, boundary - 1));
        ASSERT_TRUE(used.can_truncate(0, length)) << length;
        used.truncate(0, length);
        model.forward(next, used, pool, logits);
        KvCache fresh(model.spec(), 1024);
        model.forward(std::span<const int32_t>(ids.data(), length), fresh, pool, fresh_logits);
        model.forward(next, fresh, pool, fresh_logits);
        ASSERT_EQ(logits.size(), fresh_logits.size());
        for (size_t i = 0; i < logits.size(); ++i)
            ASSERT_NEAR(logits[i], fresh_logits[i], 1e-4f) << "length " << length << " logit " << i;
    }
}

}  // namespace
}  // namespace llcuda
