// The fused kernels of the decode step give exactly the bits of the kernels they replace, on
// fresh random inputs: RMSNorm, SwiGLU, GeGLU and attention that also quantize their output, RoPE
// with the KV store (F16 and Q8_0, tokens in scattered cache rows), matrix-vector launches that
// serve several matrices or add into their output, and Q, K and V products that do RoPE and the
// store.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstring>
#include <tuple>

#include "backend/cuda/cuda_ops.hpp"
#include "core/error.hpp"
#include "core/quant/quant.hpp"
#include "gpu_test_support.hpp"

namespace llcuda {
namespace {

using testing::random_floats;
using testing::to_device;
using testing::to_host;

template <typename T>
void expect_same_bytes(const DeviceBuffer& a, const DeviceBuffer& b, size_t count,
                       const char* what) {
    const auto left = to_host<T>(a, count), right = to_host<T>(b, count);
    size_t differing = 0;
    for (size_t i = 0; i < count; ++i)
        differing += std::memcmp(&left[i], &right[i], sizeof(T)) != 0;
    EXPECT_EQ(differing, 0u) << what;
}

// Activation blocks have 4 spare bytes that no kernel writes: zeroed, so that whole blocks
// compare equal.
DeviceBuffer zeroed(size_t bytes) {
    DeviceBuffer buffer(bytes, 0);
    cudaMemset(buffer.get(), 0, bytes);
    return buffer;
}

cuda::DeviceMatrix random_matrix(DType type, size_t rows, size_t columns, uint64_t seed,
                                 std::vector<DeviceBuffer>& keep) {
    const size_t stride = row_bytes(type, columns);
    std::vector<uint8_t> bytes(rows * stride);
    const auto source = random_floats(rows * columns, 1.0f, seed);
    for (size_t r = 0; r < rows; ++r)
        quantize_row(type, source.data() + r * columns, bytes.data() + r * stride, columns);
    keep.push_back(to_device(bytes));
    return {type, keep.back().as<uint8_t>(), rows, columns, stride};
}

TEST(FusedKernels, RmsNormWritesTheBlocksQuantizeWould) {
    for (const size_t size : {size_t{64}, size_t{2048}, size_t{4096 + 32}, size_t{5120}}) {
        const size_t tokens = 5;
        const auto x = to_device(random_floats(tokens * size, 3.0f, size));
        const auto weight = to_device(random_floats(size, 1.0f, size + 1));
        const size_t block_bytes = cuda::activation_blocks_bytes(tokens, size);
        DeviceBuffer normed(tokens * size * sizeof(float), 0), fused_normed(normed.bytes(), 0);
        const auto blocks = zeroed(block_bytes), fused_blocks = zeroed(block_bytes);
        cuda::rms_norm(x.as<float>(), weight.as<float>(), normed.as<float>(), tokens, size, 1e-5f,
                       nullptr);
        cuda::quantize_activations(normed.as<float>(), tokens, size, blocks.get(), nullptr);
        cuda::rms_norm(x.as<float>(), weight.as<float>(), fused_normed.as<float>(), tokens, size,
                       1e-5f, nullptr, fused_blocks.get());
        expect_same_bytes<float>(normed, fused_normed, tokens * size, "normed values");
        expect_same_bytes<uint8_t>(blocks, fused_blocks, block_bytes, "int8 blocks");

        // Rows picked from x (the output head's): the bits of the same rows normalised in place.
        const std::vector<int32_t> picked = {4, 0, 2};
        const auto picked_device = to_device(picked);
        DeviceBuffer picked_normed(picked.size() * size * sizeof(float), 0);
        const auto picked_blocks = zeroed(cuda::activation_blocks_bytes(picked.size(), size));
        cuda::rms_norm(x.as<float>(), weight.as<float>(), picked_normed.as<float>(), picked.size(),
                       size, 1e-5f, nullptr, picked_blocks.get(), picked_device.as<int32_t>());
        const auto all = to_host<float>(fused_normed, tokens * size);
        const auto all_blocks = to_host<uint8_t>(fused_blocks, block_bytes);
        const auto some = to_host<float>(picked_normed, picked.size() * size);
        const auto some_blocks = to_host<uint8_t>(picked_blocks, picked_blocks.bytes());
        const size_t row_block_bytes = block_bytes / tokens;
        for (size_t i = 0; i < picked.size(); ++i) {
            EXPECT_EQ(std::memcmp(some.data() + i * size, all.data() + picked[i] * size,
                                  size * sizeof(float)),
                      0)
                << "picked row " << i;
            EXPECT_EQ(std::memcmp(some_blocks.data() + i * row_block_bytes,
                                  all_blocks.data() + picked[i] * row_block_bytes, row_block_bytes),
                      0)
                << "picked row " << i << " blocks";
        }
    }
    DeviceBuffer any(4096, 0);
    EXPECT_THROW(cuda::rms_norm(any.as<float>(), any.as<float>(), any.as<float>(), 1, 48, 1e-5f,
                                nullptr, any.get()),
                 Error);
}

TEST(FusedKernels, SwigluWritesTheBlocksQuantizeWould) {
    const size_t tokens = 3, size = 14336 + 32;
    const auto gate_values = random_floats(tokens * size, 3.0f, 21);
    const auto up = to_device(random_floats(tokens * size, 1.0f, 22));
    const auto gate = to_device(gate_values), fused_gate = to_device(gate_values);
    const size_t block_bytes = cuda::activation_blocks_bytes(tokens, size);
    const auto blocks = zeroed(block_bytes), fused_blocks = zeroed(block_bytes);
    cuda::swiglu(gate.as<float>(), up.as<float>(), tokens * size, nullptr);
    cuda::quantize_activations(gate.as<float>(), tokens, size, blocks.get(), nullptr);
    cuda::swiglu_quantize(fused_gate.as<float>(), up.as<float>(), tokens, size, fused_blocks.get(),
                          nullptr);
    expect_same_bytes<float>(gate, fused_gate, tokens * size, "swiglu values");
    expect_same_bytes<uint8_t>(blocks, fused_blocks, block_bytes, "int8 blocks");

    // GeGLU (Gemma 3) likewise.
    const auto geglu_gate = to_device(gate_values), fused_geglu_gate = to_device(gate_values);
    const auto geglu_blocks = zeroed(block_bytes), fused_geglu_blocks = zeroed(block_bytes);
    cuda::geglu(geglu_gate.as<float>(), up.as<float>(), tokens * size, nullptr);
    cuda::quantize_activations(geglu_gate.as<float>(), tokens, size, geglu_blocks.get(), nullptr);
    cuda::geglu_quantize(fused_geglu_gate.as<float>(), up.as<float>(), tokens, size,
                         fused_geglu_blocks.get(), nullptr);
    expect_same_bytes<float>(geglu_gate, fused_geglu_gate, tokens * size, "geglu values");
    expect_same_bytes<uint8_t>(geglu_blocks, fused_geglu_blocks, block_bytes, "geglu int8 blocks");
}

void check_rope_and_store(size_t head_dim);

TEST(FusedKernels, RopeAndStoreEqualRopeThenStore) {
    // Q8_0 blocks lie within a 96-value head; 80-value heads take the unfused kernels.
    for (const size_t head_dim : {size_t{96}, size_t{80}}) check_rope_and_store(head_dim);
}

void check_rope_and_store(size_t head_dim) {
    const size_t tokens = 5, heads = 12, kv_heads = 4, context = 40;
    const size_t q_dim = heads * head_dim, kv_dim = kv_heads * head_dim;
    const std::vector<int32_t> positions = {0, 7, 3, 1000, 12};
    const std::vector<int32_t> cache_rows = {3, 39, 17, 0, 22};  // scattered slots
    const auto positions_device = to_device(positions), rows_device = to_device(cache_rows);
    const auto queries_values = random_floats(tokens * q_dim, 1.0f, 31);
    const auto keys_values = random_floats(tokens * kv_dim, 1.0f, 32);
    const auto values = to_device(random_floats(tokens * kv_dim, 1.0f, 33));
    for (const auto style : {RopeStyle::Normal, RopeStyle::NeoX}) {
        for (const DType type : {DType::F16, DType::Q8_0}) {
            const cuda::DeviceRope rope{style, 64, 500000.0f, 1.0f, nullptr};
            const size_t row = cuda::kv_row_bytes(type, kv_dim);
            auto queries = to_device(queries_values), keys = to_device(keys_values);
            auto fused_queries = to_device(queries_values), fused_keys = to_device(keys_values);
            DeviceBuffer key_cache(context * row, 0), value_cache(context * row, 0);
            DeviceBuffer fused_key_cache(context * row, 0), fused_value_cache(context * row, 0);
            for (auto* cache : {&key_cache, &value_cache, &fused_key_cache, &fused_value_cache})
                cudaMemset(cache->get(), 0, cache->bytes());

            cuda::rope(queries.as<float>(), tokens, heads, head_dim, positions_device.as<int32_t>(),
                       rope, nullptr);
            cuda::rope(keys.as<float>(), tokens, kv_heads, head_dim, positions_device.as<int32_t>(),
                       rope, nullptr);
            cuda::store_kv(keys.as<float>(), values.as<float>(), tokens, kv_dim,
                           rows_device.as<int32_t>(), type, key_cache.get(), value_cache.get(),
                           nullptr);
            cuda::rope_and_store_kv(
                fused_queries.as<float>(), fused_keys.as<float>(), values.as<float>(), tokens,
                {heads, kv_heads, head_dim}, positions_device.as<int32_t>(), rope,
                {type, rows_device.as<int32_t>(), fused_key_cache.get(), fused_value_cache.get()},
                nullptr);
            expect_same_bytes<float>(queries, fused_queries, tokens * q_dim, "rotated queries");
            expect_same_bytes<uint8_t>(key_cache, fused_key_cache, context * row, "key cache");
            expect_same_bytes<uint8_t>(value_cache, fused_value_cache, context * row,
                                       "value cache");
        }
    }
}

// The split attention's merge writes the int8 blocks of its output as quantize_activations
// would; the unsplit path (more than 8 tokens) leaves them to the caller.
TEST(FusedKernels, AttentionWritesTheBlocksQuantizeWould) {
    const cuda::AttentionShape shape{8, 2, 64};
    const size_t kv_dim = 2 * 64, q_dim = 8 * 64, cached = 45, tokens = 3;
    const size_t row = cuda::kv_row_bytes(DType::F16, kv_dim);
    DeviceBuffer key_cache((cached + tokens) * row, 0), value_cache((cached + tokens) * row, 0);
    std::vector<int32_t> positions(cached + tokens);
    for (size_t p = 0; p < positions.size(); ++p) positions[p] = static_cast<int32_t>(p);
    const auto positions_device = to_device(positions);
    const auto keys = to_device(random_floats((cached + tokens) * kv_dim, 1.0f, 70));
    const auto values = to_device(random_floats((cached + tokens) * kv_dim, 1.0f, 71));
    cuda::store_kv(keys.as<float>(), values.as<float>(), cached + tokens, kv_dim,
                   positions_device.as<int32_t>(), DType::F16, key_cache.get(), value_cache.get(),
                   nullptr);
    const auto queries = to_device(random_floats(tokens * q_dim, 1.0f, 72));
    DeviceBuffer scratch(cuda::attention_split_scratch_bytes(shape), 0);
    const size_t block_bytes = cuda::activation_blocks_bytes(tokens, q_dim);
    DeviceBuffer out(tokens * q_dim * sizeof(float), 0), fused_out(out.bytes(), 0);
    const auto blocks = zeroed(block_bytes), fused_blocks = zeroed(block_bytes);
    const int32_t* last = positions_device.as<int32_t>() + cached;
    EXPECT_FALSE(cuda::attention(queries.as<float>(), key_cache.get(), value_cache.get(),
                                 DType::F16, last, last, tokens, shape, out.as<float>(),
                                 scratch.as<float>(), nullptr));
    cuda::quantize_activations(out.as<float>(), tokens, q_dim, blocks.get(), nullptr);
    EXPECT_TRUE(cuda::attention(queries.as<float>(), key_cache.get(), value_cache.get(), DType::F16,
                                last, last, tokens, shape, fused_out.as<float>(),
                                scratch.as<float>(), nullptr, fused_blocks.get()));
    expect_same_bytes<float>(out, fused_out, tokens * q_dim, "attention output");
    expect_same_bytes<uint8_t>(blocks, fused_blocks, block_bytes, "int8 blocks");
    // The one-pass kernel of short contexts too.
    DeviceBuffer one_pass_out(out.bytes(), 0);
    const auto one_pass_blocks = zeroed(block_bytes);
    EXPECT_TRUE(cuda::attention(queries.as<float>(), key_cache.get(), value_cache.get(), DType::F16,
                                last, last, tokens, shape, one_pass_out.as<float>(),
                                scratch.as<float>(), nullptr, one_pass_blocks.get(),
                                cached + tokens));
    cuda::quantize_activations(one_pass_out.as<float>(), tokens, q_dim, blocks.get(), nullptr);
    expect_same_bytes<uint8_t>(blocks, one_pass_blocks, block_bytes, "one-pass int8 blocks");
    // And the split kernel whose warps walk the rows.
    const auto warp_blocks = zeroed(block_bytes);
    EXPECT_TRUE(cuda::attention(queries.as<float>(), key_cache.get(), value_cache.get(), DType::F16,
                                last, last, tokens, shape, one_pass_out.as<float>(),
                                scratch.as<float>(), nullptr, warp_blocks.get(), SIZE_MAX, false));
    cuda::quantize_activations(one_pass_out.as<float>(), tokens, q_dim, blocks.get(), nullptr);
    expect_same_bytes<uint8_t>(blocks, warp_blocks, block_bytes, "warp split int8 blocks");
    EXPECT_FALSE(cuda::attention(queries.as<float>(), key_cache.get(), value_cache.get(),
                                 DType::F16, last, last, tokens, shape, fused_out.as<float>(),
                                 nullptr, nullptr, fused_blocks.get()));
}

// Q, K and V shaped matrices in one call (which also asks the L2 cache for the next weights), of
// one type or mixed as in Q4_K_M (Q4_K with Q6_K: one launch) or otherwise (a launch per type),
// and a product added into its output, give the bits of separate launches followed by an add.
TEST(FusedKernels, GroupedAndAccumulatingMatvecEqualSeparateLaunches) {
    const size_t columns = 1536;
    const size_t rows[] = {1536, 256, 4100};
    const std::vector<std::vector<DType>> groups = {
        {DType::Q4_K, DType::Q4_K, DType::Q4_K}, {DType::Q6_K, DType::Q6_K, DType::Q6_K},
        {DType::Q8_0, DType::Q8_0, DType::Q8_0}, {DType::Q5_0, DType::Q5_0, DType::Q5_0},
        {DType::F16, DType::F16, DType::F16},    {DType::Q4_K, DType::Q4_K, DType::Q6_K},
        {DType::Q6_K, DType::Q4_K, DType::Q8_0}};
    for (const auto& types : groups) {
        std::vector<DeviceBuffer> data;
        std::vector<cuda::DeviceMatrix> matrices;
        for (size_t i = 0; i < 3; ++i) {
            const DType type = types[i];
            const size_t stride = row_bytes(type, columns);
            std::vector<uint8_t> bytes(rows[i] * stride);
            const auto source = random_floats(rows[i] * columns, 1.0f, 40 + i);
            for (size_t r = 0; r < rows[i]; ++r)
                quantize_row(type, source.data() + r * columns, bytes.data() + r * stride, columns);
            data.push_back(to_device(bytes));
            matrices.push_back({type, data.back().as<uint8_t>(), rows[i], columns, stride});
        }
        for (const size_t tokens : {size_t{1}, size_t{5}, size_t{8}}) {
            const auto x = to_device(random_floats(tokens * columns, 1.0f, 50 + tokens));
            DeviceBuffer blocks(cuda::activation_blocks_bytes(tokens, columns), 0);
            cuda::quantize_activations(x.as<float>(), tokens, columns, blocks.get(), nullptr);
            std::vector<DeviceBuffer> separate, grouped;
            std::vector<cuda::MatvecJob> jobs;
            for (size_t i = 0; i < 3; ++i) {
                separate.emplace_back(tokens * rows[i] * sizeof(float), 0);
                grouped.emplace_back(tokens * rows[i] * sizeof(float), 0);
                cuda::matvec(matrices[i], x.as<float>(), blocks.get(), tokens,
                             separate[i].as<float>(), nullptr);
                jobs.push_back({&matrices[i], grouped[i].as<float>()});
            }
            const cuda::NextWeights next{{&matrices[2], &matrices[0], &matrices[1]}, 3};
            cuda::matvec_group(jobs.data(), jobs.size(), x.as<float>(), blocks.get(), tokens, false,
                               nullptr, next);
            for (size_t i = 0; i < 3; ++i)
                expect_same_bytes<float>(separate[i], grouped[i], tokens * rows[i], "grouped");

            const auto residual = random_floats(tokens * rows[0], 1.0f, 60 + tokens);
            auto added = to_device(residual), accumulated = to_device(residual);
            cuda::add(added.as<float>(), separate[0].as<float>(), tokens * rows[0], nullptr);
            cuda::matvec(matrices[0], x.as<float>(), blocks.get(), tokens, accumulated.as<float>(),
                         nullptr, true);
            expect_same_bytes<float>(added, accumulated, tokens * rows[0], "accumulated");
        }
        if (types[0] == DType::F16) {  // a float matrix does not share a call with others
            std::vector<DeviceBuffer> keep;
            const auto quantized = random_matrix(DType::Q4_K, 64, columns, 45, keep);
            DeviceBuffer any(1 << 20, 0);
            const cuda::MatvecJob mixed[] = {{&matrices[0], any.as<float>()},
                                             {&quantized, any.as<float>()}};
            EXPECT_THROW(
                cuda::matvec_group(mixed, 2, any.as<float>(), any.get(), 1, false, nullptr), Error);
        }
    }
}

// Q, K and V products that rotate their rows and write keys and values into an F16 cache give
// the bits of the products followed by rope_and_store_kv: one type or Q4_K_M's mix, heads of 64
// and 128 with part of each head rotated, 1 to 8 tokens in scattered cache rows. (Rows 1536
// wide take at most 2 warps, as rotated rows do; wider K rows split over 4 warps without the
// rotation and differ by rounding.)
TEST(FusedKernels, QkvProductsRotateAndStoreLikeRopeAndStore) {
    const size_t columns = 1536, context = 40;
    const std::vector<int32_t> positions = {0, 7, 3, 1000, 12, 5, 33, 70000};
    const std::vector<int32_t> cache_rows = {3, 39, 17, 0, 22, 8, 30, 11};
    const auto positions_device = to_device(positions), rows_device = to_device(cache_rows);
    for (const auto& [head_dim, heads, kv_heads, rotated] :
         {std::tuple{size_t{64}, size_t{8}, size_t{2}, size_t{64}},
          std::tuple{size_t{128}, size_t{32}, size_t{8}, size_t{96}}}) {
        const size_t q_dim = heads * head_dim, kv_dim = kv_heads * head_dim;
        const cuda::AttentionShape shape{heads, kv_heads, head_dim};
        const cuda::DeviceRope rope{RopeStyle::Normal, rotated, 500000.0f, 1.0f, nullptr};
        const size_t row = cuda::kv_row_bytes(DType::F16, kv_dim);
        for (const auto& types : {std::vector<DType>{DType::Q4_K, DType::Q4_K, DType::Q6_K},
                                  std::vector<DType>{DType::Q8_0, DType::Q8_0, DType::Q8_0}}) {
            std::vector<DeviceBuffer> keep;
            const auto q = random_matrix(types[0], q_dim, columns, 80, keep);
            const auto k = random_matrix(types[1], kv_dim, columns, 81, keep);
            const auto v = random_matrix(types[2], kv_dim, columns, 82, keep);
            for (const size_t tokens : {size_t{1}, size_t{3}, size_t{8}}) {
                SCOPED_TRACE(::testing::Message()
                             << "head " << head_dim << ", " << dtype_name(types[2]) << ", "
                             << tokens << " tokens");
                const auto x = to_device(random_floats(tokens * columns, 1.0f, 83 + tokens));
                DeviceBuffer blocks(cuda::activation_blocks_bytes(tokens, columns), 0);
                cuda::quantize_activations(x.as<float>(), tokens, columns, blocks.get(), nullptr);
                DeviceBuffer queries(tokens * q_dim * 4, 0), keys(tokens * kv_dim * 4, 0),
                    values(tokens * kv_dim * 4, 0), fused_queries(tokens * q_dim * 4, 0),
                    fused_keys(tokens * kv_dim * 4, 0), fused_values(tokens * kv_dim * 4, 0);
                DeviceBuffer key_cache(context * row, 0), value_cache(context * row, 0);
                DeviceBuffer fused_key_cache(context * row, 0), fused_value_cache(context * row, 0);
                for (auto* cache : {&key_cache, &value_cache, &fused_key_cache, &fused_value_cache})
                    cudaMemset(cache->get(), 0, cache->bytes());

                const cuda::MatvecJob plain[] = {
                    {&q, queries.as<float>()}, {&k, keys.as<float>()}, {&v, values.as<float>()}};
                cuda::matvec_group(plain, 3, nullptr, blocks.get(), tokens, false, nullptr);
                cuda::rope_and_store_kv(
                    queries.as<float>(), keys.as<float>(), values.as<float>(), tokens, shape,
                    positions_device.as<int32_t>(), rope,
                    {DType::F16, rows_device.as<int32_t>(), key_cache.get(), value_cache.get()},
                    nullptr);
                const cuda::MatvecJob fused[] = {{&q, fused_queries.as<float>()},
                                                 {&k, fused_keys.as<float>()},
                                                 {&v, fused_values.as<float>()}};
                const cuda::QkvRopeStore rope_store{fused_queries.as<float>(),
                                                    fused_keys.as<float>(),
                                                    fused_values.as<float>(),
                                                    positions_device.as<int32_t>(),
                                                    rows_device.as<int32_t>(),
                                                    rope,
                                                    head_dim,
                                                    fused_key_cache.get(),
                                                    fused_value_cache.get()};
                cuda::matvec_group(fused, 3, nullptr, blocks.get(), tokens, false, nullptr, {},
                                   &rope_store);
                expect_same_bytes<float>(queries, fused_queries, tokens * q_dim, "queries");
                expect_same_bytes<uint8_t>(key_cache, fused_key_cache, context * row, "keys");
                expect_same_bytes<uint8_t>(value_cache, fused_value_cache, context * row, "values");
            }
        }
    }
    EXPECT_FALSE(cuda::qkv_rope_store_possible({RopeStyle::NeoX, 64}, DType::F16, 64));
    EXPECT_FALSE(cuda::qkv_rope_store_possible({RopeStyle::Normal, 64}, DType::Q8_0, 64));
    std::vector<DeviceBuffer> keep;
    const auto f16 = random_matrix(DType::F16, 64, 256, 84, keep);
    DeviceBuffer any(1 << 20, 0);
    float* out = any.as<float>();
    const cuda::MatvecJob float_job{&f16, out};
    const cuda::QkvRopeStore store{out, nullptr, nullptr, nullptr, nullptr, {RopeStyle::Normal, 64},
                                   64,  nullptr, nullptr};
    EXPECT_THROW(cuda::matvec_group(&float_job, 1, out, any.get(), 1, false, nullptr, {}, &store),
                 Error);
}

}  // namespace
}  // namespace llcuda
