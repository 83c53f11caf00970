// The non-matrix ops on the GPU against the CPU reference ops (backend/cpu) on fresh random
// inputs: RMSNorm (alone and as a post norm with its residual add), RoPE (both styles, frequency
// factors), SwiGLU, GeGLU, add, scaling, soft-capping, argmax, the KV cache store in F16 and
// Q8_0 (also after biases and QK-norm), and causal attention with grouped heads over cached rows
// (global and sliding-window, with the architecture's score scale).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend/cpu/cpu_ops.hpp"
#include "backend/cuda/cuda_ops.hpp"
#include "core/error.hpp"
#include "core/half.hpp"
#include "core/quant/quant.hpp"
#include "gpu_test_support.hpp"

namespace llcuda {
namespace {

using testing::random_floats;
using testing::to_device;
using testing::to_host;

void expect_close(const std::vector<float>& gpu, const std::vector<float>& cpu, float tolerance) {
    ASSERT_EQ(gpu.size(), cpu.size());
    for (size_t i = 0; i < gpu.size(); ++i)
        ASSERT_NEAR(gpu[i], cpu[i], tolerance * (1.0f + std::fabs(cpu[i]))) << "element " << i;
}

TEST(OpKernels, RmsNorm) {
    const size_t tokens = 3, size = 1000;
    const auto x = random_floats(tokens * size, 2.0f, 1);
    const auto weight = random_floats(size, 1.0f, 2);
    std::vector<float> cpu(x.size());
    for (size_t t = 0; t < tokens; ++t)
        rms_norm(x.data() + t * size, weight.data(), cpu.data() + t * size, size, 1e-5f);
    const auto xd = to_device(x), wd = to_device(weight);
    DeviceBuffer out(x.size() * sizeof(float), 0);
    cuda::rms_norm(xd.as<float>(), wd.as<float>(), out.as<float>(), tokens, size, 1e-5f, nullptr);
    expect_close(to_host<float>(out, x.size()), cpu, 1e-5f);
}

TEST(OpKernels, RopeBothStylesWithFrequencyFactors) {
    const size_t tokens = 4, heads = 3, head_dim = 64;
    const std::vector<int32_t> positions = {0, 1, 517, 4095};
    const auto factors = random_floats(head_dim / 2, 0.5f, 3);
    std::vector<float> positive_factors(factors.size());
    for (size_t i = 0; i < factors.size(); ++i) positive_factors[i] = 1.0f + std::fabs(factors[i]);
    for (const auto style : {RopeStyle::Normal, RopeStyle::NeoX}) {
        for (const bool with_factors : {false, true}) {
            RopeParams params;
            params.style = style;
            params.rotated_dims = 48;  // partial rotation: the last 16 values stay
            params.freq_base = 500000.0f;
            params.position_scale = 0.5f;
            params.freq_factors = with_factors ? positive_factors.data() : nullptr;
            auto cpu = random_floats(tokens * heads * head_dim, 1.0f, 4);
            const auto device_input = to_device(cpu);
            for (size_t t = 0; t < tokens; ++t)
                apply_rope(cpu.data() + t * heads * head_dim, heads, head_dim, positions[t],
                           params);
            const auto factors_device = to_device(positive_factors);
            cuda::DeviceRope device_params{style, params.rotated_dims, params.freq_base,
                                           params.position_scale,
                                           with_factors ? factors_device.as<float>() : nullptr};
            const auto positions_device = to_device(positions);
            cuda::rope(device_input.as<float>(), tokens, heads, head_dim,
                       positions_device.as<int32_t>(), device_params, nullptr);
            expect_close(to_host<float>(device_input, cpu.size()), cpu, 2e-4f);
        }
    }
}

TEST(OpKernels, SwigluAddArgmax) {
    const size_t count = 4099;
    auto gate = random_floats(count, 3.0f, 5);
    const auto up = random_floats(count, 1.0f, 6);
    const auto gate_device = to_device(gate), up_device = to_device(up);
    swiglu_in_place(gate.data(), up.data(), count);
    cuda::swiglu(gate_device.as<float>(), up_device.as<float>(), count, nullptr);
    expect_close(to_host<float>(gate_device, count), gate, 1e-5f);

    auto sum = random_floats(count, 1.0f, 7);
    const auto sum_device = to_device(sum);
    add_in_place(sum.data(), up.data(), count);
    cuda::add(sum_device.as<float>(), up_device.as<float>(), count, nullptr);
    expect_close(to_host<float>(sum_device, count), sum, 0.0f);

    // The first of equal maxima wins, as on the CPU.
    auto values = random_floats(count, 1.0f, 8);
    values[2021] = 100.0f;
    values[3030] = 100.0f;
    const auto values_device = to_device(values);
    DeviceBuffer result(3 * sizeof(int32_t), 0);
    DeviceBuffer scratch(cuda::argmax_scratch_bytes(3), 0);
    cudaMemset(scratch.get(), 0, scratch.bytes());
    cuda::argmax(values_device.as<float>(), 1, count, result.as<int32_t>(), scratch.get(), nullptr);
    EXPECT_EQ(to_host<int32_t>(result, 1)[0], 2021);

    // A vocabulary-sized row, read as 16-byte vectors: still the first of equal maxima, and
    // the last value when it is the largest.
    auto vocabulary = random_floats(128256, 1.0f, 10);
    vocabulary[100001] = 60.0f;
    vocabulary[77777] = 60.0f;
    auto vocabulary_device = to_device(vocabulary);
    cuda::argmax(vocabulary_device.as<float>(), 1, vocabulary.size(), result.as<int32_t>(),
                 scratch.get(), nullptr);
    EXPECT_EQ(to_host<int32_t>(result, 1)[0], 77777);
    vocabulary.back() = 70.0f;
    vocabulary_device = to_device(vocabulary);
    cuda::argmax(vocabulary_device.as<float>(), 1, vocabulary.size(), result.as<int32_t>(),
                 scratch.get(), nullptr);
    EXPECT_EQ(to_host<int32_t>(result, 1)[0], 128255);
    // Equal maxima on both sides of a boundary between the blocks that share a row.
    vocabulary.back() = 0.0f;
    vocabulary[2003] = 80.0f;
    vocabulary[2004] = 80.0f;
    vocabulary_device = to_device(vocabulary);
    cuda::argmax(vocabulary_device.as<float>(), 1, vocabulary.size(), result.as<int32_t>(),
                 scratch.get(), nullptr);
    EXPECT_EQ(to_host<int32_t>(result, 1)[0], 2003);

    // Several rows at once (one per sequence of a batch).
    const size_t row = count / 3;
    auto rows = random_floats(3 * row, 1.0f, 9);
    rows[0 * row + 17] = 50.0f;
    rows[1 * row + row - 1] = 50.0f;
    rows[2 * row + 0] = 50.0f;
    const auto rows_device = to_device(rows);
    cuda::argmax(rows_device.as<float>(), 3, row, result.as<int32_t>(), scratch.get(), nullptr);
    EXPECT_EQ(to_host<int32_t>(result, 3),
              (std::vector<int32_t>{17, static_cast<int32_t>(row - 1), 0}));
    // Calls with fewer rows and more again share the scratch.
    cuda::argmax(vocabulary_device.as<float>(), 1, vocabulary.size(), result.as<int32_t>(),
                 scratch.get(), nullptr);
    EXPECT_EQ(to_host<int32_t>(result, 1)[0], 2003);
    cuda::argmax(rows_device.as<float>(), 3, row, result.as<int32_t>(), scratch.get(), nullptr);
    EXPECT_EQ(to_host<int32_t>(result, 3),
              (std::vector<int32_t>{17, static_cast<int32_t>(row - 1), 0}));
}

// Top-k on the device equals a CPU sort (larger first, smaller index on ties) for several rows
// at once, odd vocabulary sizes, and k from 1 to the largest the vocabulary allows.
// Gemma 3's ops on odd sizes: GeGLU, the post norm with its residual add, the embedding scale
// and soft-capping.
TEST(OpKernels, GegluPostNormAddScaleSoftcap) {
    const size_t count = 4099;
    auto gate = random_floats(count, 3.0f, 40);
    const auto up = random_floats(count, 1.0f, 41);
    const auto gate_device = to_device(gate), up_device = to_device(up);
    geglu_in_place(gate.data(), up.data(), count);
    cuda::geglu(gate_device.as<float>(), up_device.as<float>(), count, nullptr);
    expect_close(to_host<float>(gate_device, count), gate, 1e-5f);

    for (const size_t size : {size_t{64}, size_t{1000}, size_t{2309}}) {
        const size_t tokens = 3;
        const auto source = random_floats(tokens * size, 2.0f, 42);
        const auto weight = random_floats(size, 1.0f, 43);
        auto x = random_floats(tokens * size, 1.0f, 44);
        const auto x_before = x;
        const auto source_device = to_device(source), weight_device = to_device(weight),
                   x_device = to_device(x);
        std::vector<float> normed(size);
        for (size_t t = 0; t < tokens; ++t) {
            rms_norm(source.data() + t * size, weight.data(), normed.data(), size, 1e-6f);
            add_in_place(x.data() + t * size, normed.data(), size);
        }
        // The same with the next RMSNorm in the launch, and its int8 blocks where whole.
        const auto fused_x_device = to_device(x_before);
        const auto next_weight = random_floats(size, 1.0f, 46);
        const auto next_weight_device = to_device(next_weight);
        DeviceBuffer next_out(x.size() * sizeof(float), 0);
        const bool whole_blocks = size % 32 == 0;
        DeviceBuffer blocks(whole_blocks ? cuda::activation_blocks_bytes(tokens, size) : 0, 0),
            expected_blocks(blocks.bytes(), 0);
        if (whole_blocks) {
            cudaMemset(blocks.get(), 0, blocks.bytes());
            cudaMemset(expected_blocks.get(), 0, expected_blocks.bytes());
        }
        cuda::rms_norm_add(source_device.as<float>(), weight_device.as<float>(),
                           x_device.as<float>(), tokens, size, 1e-6f, nullptr);
        cuda::rms_norm_add(source_device.as<float>(), weight_device.as<float>(),
                           fused_x_device.as<float>(), tokens, size, 1e-6f, nullptr,
                           next_weight_device.as<float>(), next_out.as<float>(),
                           whole_blocks ? blocks.get() : nullptr);
        expect_close(to_host<float>(x_device, x.size()), x, 1e-5f);
        expect_close(to_host<float>(fused_x_device, x.size()), x, 1e-5f);
        std::vector<float> next(x.size());
        for (size_t t = 0; t < tokens; ++t)
            rms_norm(x.data() + t * size, next_weight.data(), next.data() + t * size, size, 1e-6f);
        const auto next_gpu = to_host<float>(next_out, x.size());
        expect_close(next_gpu, next, 1e-4f);
        if (whole_blocks) {
            cuda::quantize_activations(next_out.as<float>(), tokens, size, expected_blocks.get(),
                                       nullptr);
            EXPECT_EQ(to_host<uint8_t>(blocks, blocks.bytes()),
                      to_host<uint8_t>(expected_blocks, expected_blocks.bytes()));
        }
    }

    auto values = random_floats(count, 20.0f, 45);
    const auto values_device = to_device(values);
    scale_in_place(values.data(), count, 8.0f);
    cuda::scale(values_device.as<float>(), count, 8.0f, nullptr);
    expect_close(to_host<float>(values_device, count), values, 0.0f);
    softcap_in_place(values.data(), count, 30.0f);
    cuda::softcap(values_device.as<float>(), count, 30.0f, nullptr);
    expect_close(to_host<float>(values_device, count), values, 1e-6f);
}

TEST(OpKernels, TopKEqualsACpuSort) {
    for (const size_t vocab : {size_t{32001}, size_t{128256}, size_t{5}}) {
        const size_t rows = 3;
        auto logits = random_floats(rows * vocab, 2.0f, 20);
        for (auto& value : logits) value = std::round(value * 8.0f) / 8.0f;  // many ties
        const auto logits_device = to_device(logits);
        const size_t largest = cuda::max_device_top_k(vocab);
        for (const size_t k : {size_t{1}, std::min<size_t>(40, largest), largest}) {
            DeviceBuffer scratch(cuda::top_k_scratch_bytes(rows, vocab, k), 0);
            DeviceBuffer values(rows * k * sizeof(float), 0), ids(rows * k * sizeof(int32_t), 0);
            cuda::top_k(logits_device.as<float>(), rows, vocab, k, scratch.get(),
                        values.as<float>(), ids.as<int32_t>(), nullptr);
            const auto gpu_values = to_host<float>(values, rows * k);
            const auto gpu_ids = to_host<int32_t>(ids, rows * k);
            for (size_t r = 0; r < rows; ++r) {
                std::vector<int32_t> order(vocab);
                std::iota(order.begin(), order.end(), 0);
                const float* row = logits.data() + r * vocab;
                std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k),
                                  order.end(), [&](int32_t a, int32_t b) {
                                      return row[a] > row[b] || (row[a] == row[b] && a < b);
                                  });
                for (size_t i = 0; i < k; ++i) {
                    ASSERT_EQ(gpu_ids[r * k + i], order[i])
                        << "vocab " << vocab << " k " << k << " row " << r << " rank " << i;
                    ASSERT_EQ(gpu_values[r * k + i], row[order[i]]);
                }
            }
        }
        EXPECT_THROW(cuda::top_k(logits_device.as<float>(), rows, vocab, largest + 1, nullptr,
                                 nullptr, nullptr, nullptr),
                     Error);
    }
}

// What the CPU expects the cache to hold: the values after the cache type's rounding.
std::vector<float> cache_rounding(DType type, const std::vector<float>& values, size_t kv_dim) {
    std::vector<float> out(values.size());
    std::vector<uint8_t> row(row_bytes(type, kv_dim));
    for (size_t r = 0; r < values.size() / kv_dim; ++r) {
        quantize_row(type, values.data() + r * kv_dim, row.data(), kv_dim);
        dequantize_row(type, row.data(), out.data() + r * kv_dim, kv_dim);
    }
    return out;
}

// Flash (tensor-core) prompt attention rounds queries, keys, values and softmax weights to
// halves (relative 2^-11 each) and sums in F32; the outputs here are averages of values in
// [-1, 1].
constexpr double kFlashTolerance = 5e-3;

struct AttentionCase {
    size_t heads, kv_heads, head_dim;
    float scale = 0.0f;  // 0: 1 / sqrt(head_dim)
    size_t window = 0;   // 0: global
};

class AttentionKernels : public ::testing::TestWithParam<std::tuple<DType, AttentionCase>> {};

// The CPU's attention of one query head for the token at position `last` of a sequence whose
// rows (position 0 first) start at row `first_row` of k and v (the cache's rounded values): the
// Decoder's window, the last `window` positions up to the token's own.
std::vector<double> expected_attention(const float* query, const std::vector<float>& k,
                                       const std::vector<float>& v, size_t first_row, size_t last,
                                       size_t head, const AttentionCase& shape) {
    const size_t kv_dim = shape.kv_heads * shape.head_dim;
    const size_t kv = (head / (shape.heads / shape.kv_heads)) * shape.head_dim;
    const float scale =
        shape.scale != 0.0f ? shape.scale : 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
    const size_t first_visible =
        shape.window > 0 && last + 1 > shape.window ? last + 1 - shape.window : 0;
    const size_t visible = last + 1 - first_visible;
    std::vector<float> scores(visible);
    for (size_t p = 0; p < visible; ++p) {
        float dot = 0;
        for (size_t i = 0; i < shape.head_dim; ++i)
            dot += query[i] * k[(first_row + first_visible + p) * kv_dim + kv + i];
        scores[p] = dot * scale;
    }
    softmax_in_place(scores.data(), visible);
    std::vector<double> out(shape.head_dim, 0.0);
    for (size_t i = 0; i < shape.head_dim; ++i)
        for (size_t p = 0; p < visible; ++p)
            out[i] += scores[p] * v[(first_row + first_visible + p) * kv_dim + kv + i];
    return out;
}

TEST_P(AttentionKernels, CausalAttentionOverTheCacheEqualsTheCpu) {
    const auto [type, shape] = GetParam();
    const size_t kv_dim = shape.kv_heads * shape.head_dim;
    const size_t q_dim = shape.heads * shape.head_dim;
    const size_t context = 300, cached = 250, tokens = 7;  // 7 new tokens after 250 cached
    const size_t row = cuda::kv_row_bytes(type, kv_dim);
    DeviceBuffer key_cache(context * row, 0), value_cache(context * row, 0);

    const auto keys = random_floats((cached + tokens) * kv_dim, 1.0f, 10);
    const auto values = random_floats((cached + tokens) * kv_dim, 1.0f, 11);
    std::vector<int32_t> all_positions(cached + tokens);
    for (size_t p = 0; p < all_positions.size(); ++p) all_positions[p] = static_cast<int32_t>(p);
    // Store the history in one call and the new tokens in another, as prefill then decode do.
    const auto keys_device = to_device(keys), values_device = to_device(values);
    // The sequence sits in a slot that starts at row `first` of the cache, as the second of
    // several parallel sequences does.
    const size_t first = 31;
    std::vector<int32_t> all_rows(all_positions);
    for (auto& r : all_rows) r += static_cast<int32_t>(first);
    const auto positions_device = to_device(all_positions);
    const auto rows_device = to_device(all_rows);
    cuda::store_kv(keys_device.as<float>(), values_device.as<float>(), cached, kv_dim,
                   rows_device.as<int32_t>(), type, key_cache.get(), value_cache.get(), nullptr);
    cuda::store_kv(keys_device.as<float>() + cached * kv_dim,
                   values_device.as<float>() + cached * kv_dim, tokens, kv_dim,
                   rows_device.as<int32_t>() + cached, type, key_cache.get(), value_cache.get(),
                   nullptr);

    // The cache bytes equal the CPU's encoding of the same rows.
    const auto stored_with_slot = to_host<uint8_t>(key_cache, (first + cached + tokens) * row);
    const std::vector<uint8_t> stored(stored_with_slot.begin() + first * row,
                                      stored_with_slot.end());
    std::vector<uint8_t> expected_row(row);
    size_t differing_bytes = 0;
    for (size_t p = 0; p < cached + tokens; ++p) {
        quantize_row(type, keys.data() + p * kv_dim, expected_row.data(), kv_dim);
        for (size_t b = 0; b < row; ++b) differing_bytes += stored[p * row + b] != expected_row[b];
    }
    EXPECT_EQ(differing_bytes, 0u);

    const auto queries = random_floats(tokens * q_dim, 1.0f, 12);
    const auto queries_device = to_device(queries);
    // One block per head and token; the decode path that splits the rows over blocks, with a
    // thread per row (F16) and with warps walking the rows; and decode in one pass (told the
    // context is short: it is right at any length, here 257 rows, two of its rounds).
    const cuda::AttentionShape attention_shape{shape.heads, shape.kv_heads, shape.head_dim,
                                               shape.scale, shape.window};
    DeviceBuffer out(tokens * q_dim * sizeof(float), 0),
        split_out(tokens * q_dim * sizeof(float), 0), one_pass_out(split_out.bytes(), 0),
        warp_split_out(split_out.bytes(), 0);
    DeviceBuffer scratch(cuda::attention_split_scratch_bytes(attention_shape), 0);
    cuda::attention(queries_device.as<float>(), key_cache.get(), value_cache.get(), type,
                    positions_device.as<int32_t>() + cached, rows_device.as<int32_t>() + cached,
                    tokens, attention_shape, out.as<float>(), nullptr, nullptr, nullptr, SIZE_MAX,
                    true, false);
    DeviceBuffer flash_out(tokens * q_dim * sizeof(float), 0);
    cuda::attention(queries_device.as<float>(), key_cache.get(), value_cache.get(), type,
                    positions_device.as<int32_t>() + cached, rows_device.as<int32_t>() + cached,
                    tokens, attention_shape, flash_out.as<float>(), nullptr, nullptr);
    cuda::attention(queries_device.as<float>(), key_cache.get(), value_cache.get(), type,
                    positions_device.as<int32_t>() + cached, rows_device.as<int32_t>() + cached,
                    tokens, attention_shape, split_out.as<float>(), scratch.as<float>(), nullptr);
    cuda::attention(queries_device.as<float>(), key_cache.get(), value_cache.get(), type,
                    positions_device.as<int32_t>() + cached, rows_device.as<int32_t>() + cached,
                    tokens, attention_shape, one_pass_out.as<float>(), scratch.as<float>(), nullptr,
                    nullptr, cuda::kShortAttentionRows);
    cuda::attention(queries_device.as<float>(), key_cache.get(), value_cache.get(), type,
                    positions_device.as<int32_t>() + cached, rows_device.as<int32_t>() + cached,
                    tokens, attention_shape, warp_split_out.as<float>(), scratch.as<float>(),
                    nullptr, nullptr, SIZE_MAX, false);
    const auto gpu = to_host<float>(out, tokens * q_dim);
    const auto gpu_flash = to_host<float>(flash_out, tokens * q_dim);
    const auto gpu_warp_split = to_host<float>(warp_split_out, tokens * q_dim);
    const auto gpu_split = to_host<float>(split_out, tokens * q_dim);
    const auto gpu_one_pass = to_host<float>(one_pass_out, tokens * q_dim);

    const auto k = cache_rounding(type, keys, kv_dim);
    const auto v = cache_rounding(type, values, kv_dim);
    for (size_t t = 0; t < tokens; ++t) {
        for (size_t h = 0; h < shape.heads; ++h) {
            const auto head = expected_attention(queries.data() + t * q_dim + h * shape.head_dim, k,
                                                 v, 0, cached + t, h, shape);
            for (size_t i = 0; i < shape.head_dim; ++i) {
                const double expected = head[i];
                ASSERT_NEAR(gpu[t * q_dim + h * shape.head_dim + i], expected, 2e-5)
                    << "token " << t << " head " << h << " value " << i;
                ASSERT_NEAR(gpu_split[t * q_dim + h * shape.head_dim + i], expected, 2e-5)
                    << "split: token " << t << " head " << h << " value " << i;
                ASSERT_NEAR(gpu_one_pass[t * q_dim + h * shape.head_dim + i], expected, 2e-5)
                    << "one pass: token " << t << " head " << h << " value " << i;
                ASSERT_NEAR(gpu_warp_split[t * q_dim + h * shape.head_dim + i], expected, 2e-5)
                    << "warps: token " << t << " head " << h << " value " << i;
                // Tensor cores take queries, keys, values and weights as halves.
                ASSERT_NEAR(gpu_flash[t * q_dim + h * shape.head_dim + i], expected,
                            kFlashTolerance)
                    << "flash: token " << t << " head " << h << " value " << i;
            }
        }
    }
}

// A prompt pass of two sequences, as continuous batching sends: the first continues after 70
// cached rows with 150 tokens, the second starts its slot with 77, so one 64-token tile of the
// flash kernel holds both and tiles end ragged. Every other cache row holds NaN bytes, which no
// kernel may let into a sum. Flash attention and the block per head and token against the CPU.
TEST_P(AttentionKernels, PromptOfTwoSequencesEqualsTheCpu) {
    const auto [type, shape] = GetParam();
    const size_t kv_dim = shape.kv_heads * shape.head_dim;
    const size_t q_dim = shape.heads * shape.head_dim;
    const size_t slot = 400;
    struct Sequence {
        size_t first_row, cached, tokens;
    };
    const Sequence sequences[] = {{0, 70, 150}, {slot, 0, 77}};
    const size_t row = cuda::kv_row_bytes(type, kv_dim);
    DeviceBuffer key_cache(2 * slot * row, 0), value_cache(2 * slot * row, 0);
    ASSERT_EQ(cudaMemset(key_cache.get(), 0xff, key_cache.bytes()), cudaSuccess);
    ASSERT_EQ(cudaMemset(value_cache.get(), 0xff, value_cache.bytes()), cudaSuccess);

    // Every row a sequence holds (cached and new), stored; the new tokens make up the pass.
    std::vector<float> keys, values;
    std::vector<int32_t> rows, pass_positions, pass_rows;
    for (const Sequence& sequence : sequences) {
        const size_t count = sequence.cached + sequence.tokens;
        const auto k = random_floats(count * kv_dim, 1.0f, 20 + sequence.first_row);
        const auto v = random_floats(count * kv_dim, 1.0f, 21 + sequence.first_row);
        keys.insert(keys.end(), k.begin(), k.end());
        values.insert(values.end(), v.begin(), v.end());
        for (size_t p = 0; p < count; ++p) {
            rows.push_back(static_cast<int32_t>(sequence.first_row + p));
            if (p >= sequence.cached) {
                pass_positions.push_back(static_cast<int32_t>(p));
                pass_rows.push_back(static_cast<int32_t>(sequence.first_row + p));
            }
        }
    }
    const auto keys_device = to_device(keys), values_device = to_device(values);
    const auto rows_device = to_device(rows);
    cuda::store_kv(keys_device.as<float>(), values_device.as<float>(), rows.size(), kv_dim,
                   rows_device.as<int32_t>(), type, key_cache.get(), value_cache.get(), nullptr);
    const size_t tokens = pass_rows.size();
    const auto queries = random_floats(tokens * q_dim, 1.0f, 22);
    const auto queries_device = to_device(queries);
    const auto positions_device = to_device(pass_positions);
    const auto pass_rows_device = to_device(pass_rows);
    const cuda::AttentionShape attention_shape{shape.heads, shape.kv_heads, shape.head_dim,
                                               shape.scale, shape.window};
    DeviceBuffer flash_out(tokens * q_dim * sizeof(float), 0),
        block_out(tokens * q_dim * sizeof(float), 0);
    cuda::attention(queries_device.as<float>(), key_cache.get(), value_cache.get(), type,
                    positions_device.as<int32_t>(), pass_rows_device.as<int32_t>(), tokens,
                    attention_shape, flash_out.as<float>(), nullptr, nullptr);
    cuda::attention(queries_device.as<float>(), key_cache.get(), value_cache.get(), type,
                    positions_device.as<int32_t>(), pass_rows_device.as<int32_t>(), tokens,
                    attention_shape, block_out.as<float>(), nullptr, nullptr, nullptr, SIZE_MAX,
                    true, false);
    const auto flash = to_host<float>(flash_out, tokens * q_dim);
    const auto block = to_host<float>(block_out, tokens * q_dim);

    const auto k = cache_rounding(type, keys, kv_dim);
    const auto v = cache_rounding(type, values, kv_dim);
    size_t t = 0, sequence_base = 0;  // pass token; the sequence's first row in keys/values
    for (const Sequence& sequence : sequences) {
        for (size_t n = 0; n < sequence.tokens; ++n, ++t) {
            for (size_t h = 0; h < shape.heads; ++h) {
                const auto head =
                    expected_attention(queries.data() + t * q_dim + h * shape.head_dim, k, v,
                                       sequence_base, sequence.cached + n, h, shape);
                for (size_t i = 0; i < shape.head_dim; ++i) {
                    const double expected = head[i];
                    const size_t at = t * q_dim + h * shape.head_dim + i;
                    ASSERT_NEAR(flash[at], expected, kFlashTolerance)
                        << "flash: token " << t << " head " << h << " value " << i;
                    ASSERT_NEAR(block[at], expected, 2e-5)
                        << "block per token: token " << t << " head " << h << " value " << i;
                }
            }
        }
        sequence_base += sequence.cached + sequence.tokens;
    }
}

// Qwen 2's biases and Qwen 3's and Gemma 3's QK-norm before RoPE, in rope_and_store_kv's launch,
// against the CPU's add_bias_in_place, rms_norm_each_in_place and apply_rope, then the cache's
// rounding: F16 and Q8_0 (blocks within a head, and straddling 16-value heads), both RoPE styles,
// tokens in scattered cache rows.
TEST(OpKernels, RopeAndStoreAfterBiasesAndQkNormEqualsTheCpu) {
    const size_t tokens = 5, heads = 4, kv_heads = 2, context = 40;
    const std::vector<int32_t> positions = {0, 7, 3, 1000, 12};
    const std::vector<int32_t> cache_rows = {3, 39, 17, 0, 22};
    const auto positions_device = to_device(positions), rows_device = to_device(cache_rows);
    for (const size_t head_dim : {size_t{12}, size_t{16}, size_t{32}, size_t{128}}) {
        const size_t q_dim = heads * head_dim, kv_dim = kv_heads * head_dim;
        const auto queries = random_floats(tokens * q_dim, 1.0f, 50);
        const auto keys = random_floats(tokens * kv_dim, 1.0f, 51);
        const auto values = random_floats(tokens * kv_dim, 1.0f, 52);
        const auto query_bias = random_floats(q_dim, 1.0f, 53);
        const auto key_bias = random_floats(kv_dim, 1.0f, 54);
        const auto value_bias = random_floats(kv_dim, 1.0f, 55);
        const auto query_norm = random_floats(head_dim, 1.0f, 56);
        const auto key_norm = random_floats(head_dim, 1.0f, 57);
        const auto query_bias_device = to_device(query_bias), key_bias_device = to_device(key_bias),
                   value_bias_device = to_device(value_bias),
                   query_norm_device = to_device(query_norm), key_norm_device = to_device(key_norm);
        for (const bool biases : {false, true}) {
            for (const bool norms : {false, true}) {
                if (!biases && !norms) continue;  // the Llama case: test_fused_kernels
                for (const auto style : {RopeStyle::Normal, RopeStyle::NeoX}) {
                    for (const DType type : {DType::F16, DType::Q8_0}) {
                        if (type == DType::Q8_0 && kv_dim % 32 != 0) continue;
                        RopeParams params;
                        params.style = style;
                        params.rotated_dims = head_dim;
                        params.freq_base = 1000000.0f;
                        auto q = queries, k = keys, v = values;
                        if (biases) {
                            add_bias_in_place(q.data(), query_bias.data(), tokens, q_dim);
                            add_bias_in_place(k.data(), key_bias.data(), tokens, kv_dim);
                            add_bias_in_place(v.data(), value_bias.data(), tokens, kv_dim);
                        }
                        if (norms) {
                            rms_norm_each_in_place(q.data(), query_norm.data(), tokens * heads,
                                                   head_dim, 1e-6f);
                            rms_norm_each_in_place(k.data(), key_norm.data(), tokens * kv_heads,
                                                   head_dim, 1e-6f);
                        }
                        for (size_t t = 0; t < tokens; ++t) {
                            apply_rope(q.data() + t * q_dim, heads, head_dim, positions[t], params);
                            apply_rope(k.data() + t * kv_dim, kv_heads, head_dim, positions[t],
                                       params);
                        }
                        cuda::HeadPrologue prologue;
                        if (biases) {
                            prologue.query_bias = query_bias_device.as<float>();
                            prologue.key_bias = key_bias_device.as<float>();
                            prologue.value_bias = value_bias_device.as<float>();
                        }
                        if (norms) {
                            prologue.query_norm = query_norm_device.as<float>();
                            prologue.key_norm = key_norm_device.as<float>();
                        }
                        prologue.epsilon = 1e-6f;
                        const size_t row = cuda::kv_row_bytes(type, kv_dim);
                        DeviceBuffer key_cache(context * row, 0), value_cache(context * row, 0);
                        const auto q_device = to_device(queries), k_device = to_device(keys),
                                   v_device = to_device(values);
                        cuda::rope_and_store_kv(
                            q_device.as<float>(), k_device.as<float>(), v_device.as<float>(),
                            tokens, {heads, kv_heads, head_dim}, positions_device.as<int32_t>(),
                            {style, head_dim, params.freq_base, 1.0f, nullptr},
                            {type, rows_device.as<int32_t>(), key_cache.get(), value_cache.get()},
                            nullptr, prologue);
                        const std::string what =
                            "head_dim " + std::to_string(head_dim) + (biases ? " biases" : "") +
                            (norms ? " norms" : "") + " " + std::string(dtype_name(type));
                        SCOPED_TRACE(what);
                        expect_close(to_host<float>(q_device, q.size()), q, 2e-4f);
                        // The cache holds the CPU's keys and values after the cache's rounding
                        // (Q8_0: within one step of the block's scale).
                        const auto key_bytes = to_host<uint8_t>(key_cache, context * row);
                        const auto value_bytes = to_host<uint8_t>(value_cache, context * row);
                        const float step = type == DType::Q8_0 ? 4e-2f : 2e-3f;
                        std::vector<float> stored(kv_dim);
                        for (size_t t = 0; t < tokens; ++t) {
                            const size_t r = static_cast<size_t>(cache_rows[t]);
                            dequantize_row(type, key_bytes.data() + r * row, stored.data(), kv_dim);
                            for (size_t i = 0; i < kv_dim; ++i)
                                ASSERT_NEAR(stored[i], k[t * kv_dim + i],
                                            step * (1.0f + std::fabs(k[t * kv_dim + i])))
                                    << "key " << t << "," << i;
                            dequantize_row(type, value_bytes.data() + r * row, stored.data(),
                                           kv_dim);
                            for (size_t i = 0; i < kv_dim; ++i)
                                ASSERT_NEAR(stored[i], v[t * kv_dim + i],
                                            step * (1.0f + std::fabs(v[t * kv_dim + i])))
                                    << "value " << t << "," << i;
                        }
                    }
                }
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionKernels,
    ::testing::Combine(::testing::Values(DType::F16, DType::Q8_0),
                       // Gemma 3's: a window of 8 (tiny), of 100 (over a split's chunk) and
                       // of 300 (longer than the context: all rows), query scale 1/sqrt(32)
                       // or 0.3; Qwen 3's 16-value heads.
                       ::testing::Values(AttentionCase{8, 4, 8}, AttentionCase{6, 2, 48},
                                         AttentionCase{32, 8, 128}, AttentionCase{4, 4, 256},
                                         AttentionCase{4, 2, 32, 0.17677669f, 8},
                                         AttentionCase{8, 4, 64, 0.3f, 100},
                                         AttentionCase{4, 2, 256, 0.0625f, 300},
                                         AttentionCase{4, 2, 16})),
    [](const auto& info) {
        const auto& shape = std::get<1>(info.param);
        return std::string(dtype_name(std::get<0>(info.param))) + "_" +
               std::to_string(shape.heads) + "x" + std::to_string(shape.kv_heads) + "x" +
               std::to_string(shape.head_dim) +
               (shape.window > 0 ? "_window" + std::to_string(shape.window) : "");
    });

}  // namespace
}  // namespace llcuda
