#include "backend/cpu/cpu_attention.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "core/error.hpp"
#include "core/half.hpp"
#include "core/quant/blocks.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {

namespace {

// Eight partial sums: enough independent chains for a 256-bit FMA pipeline, and a fixed
// combining order so a result does not depend on the ISA the compiler picked.
constexpr size_t kLanes = 8;

float combine(const float (&lanes)[kLanes]) {
    return ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) +
           ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
}

float dot_f32(const float* query, const float* key, size_t count) {
    float lanes[kLanes] = {};
    size_t i = 0;
    for (; i + kLanes <= count; i += kLanes)
        for (size_t j = 0; j < kLanes; ++j) lanes[j] += query[i + j] * key[i + j];
    float tail = 0.0f;
    for (; i < count; ++i) tail += query[i] * key[i];
    return combine(lanes) + tail;
}

float dot_f16(const float* query, const uint16_t* key, size_t count) {
    float lanes[kLanes] = {};
    size_t i = 0;
    for (; i + kLanes <= count; i += kLanes)
        for (size_t j = 0; j < kLanes; ++j)
            lanes[j] += query[i + j] * half_to_float_branchless(key[i + j]);
    float tail = 0.0f;
    for (; i < count; ++i) tail += query[i] * half_to_float_branchless(key[i]);
    return combine(lanes) + tail;
}

float dot_q8_0(const float* query, const BlockQ8_0* key, size_t count) {
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b, query += kQK8_0) {
        float lanes[kLanes] = {};
        for (size_t i = 0; i < kQK8_0; i += kLanes)
            for (size_t j = 0; j < kLanes; ++j)
                lanes[j] += query[i + j] * static_cast<float>(key[b].qs[i + j]);
        sum += half_to_float_branchless(key[b].d) * combine(lanes);
    }
    return sum;
}

// result += weight * value
void add_scaled(DType type, const std::byte* value, float weight, float* result, size_t count) {
    switch (type) {
        case DType::F16: {
            const auto* halves = reinterpret_cast<const uint16_t*>(value);
            for (size_t i = 0; i < count; ++i)
                result[i] += weight * half_to_float_branchless(halves[i]);
            return;
        }
        case DType::Q8_0: {
            const auto* blocks = reinterpret_cast<const BlockQ8_0*>(value);
            for (size_t b = 0; b < count / kQK8_0; ++b) {
                const float scaled = weight * half_to_float_branchless(blocks[b].d);
                float* part = result + b * kQK8_0;
                for (size_t i = 0; i < kQK8_0; ++i)
                    part[i] += scaled * static_cast<float>(blocks[b].qs[i]);
            }
            return;
        }
        default: {
            const auto* floats = reinterpret_cast<const float*>(value);
            for (size_t i = 0; i < count; ++i) result[i] += weight * floats[i];
        }
    }
}

float dot(DType type, const float* query, const std::byte* key, size_t count) {
    switch (type) {
        case DType::F16:
            return dot_f16(query, reinterpret_cast<const uint16_t*>(key), count);
        case DType::Q8_0:
            return dot_q8_0(query, reinterpret_cast<const BlockQ8_0*>(key), count);
        default:
            return dot_f32(query, reinterpret_cast<const float*>(key), count);
    }
}

// One (token, head) item: where its query, cache and output are, and the positions it sees.
struct HeadTask {
    const float* query;
    const KvRows* cache;
    size_t head_offset;  // bytes into a cache row where this head's kv head starts
    size_t first;        // first visible position
    size_t visible;
    float* result;
};

const std::byte* row(const std::byte* rows, const KvRows& cache, size_t position) {
    return rows + (position % cache.slots) * cache.row_bytes;
}

// The oracle: each row dequantized to float, sums in position and element order.
void reference_head(const AttentionArgs& args, const HeadTask& task, float* scores,
                    float* row_values) {
    const size_t dim = args.head_dim;
    for (size_t p = 0; p < task.visible; ++p) {
        dequantize_row(task.cache->type,
                       row(task.cache->keys, *task.cache, task.first + p) + task.head_offset,
                       row_values, dim);
        float sum = 0.0f;
        for (size_t i = 0; i < dim; ++i) sum += task.query[i] * row_values[i];
        scores[p] = sum * args.scale;
    }
    softmax_in_place(scores, task.visible);
    std::fill_n(task.result, dim, 0.0f);
    for (size_t p = 0; p < task.visible; ++p) {
        dequantize_row(task.cache->type,
                       row(task.cache->values, *task.cache, task.first + p) + task.head_offset,
                       row_values, dim);
        for (size_t i = 0; i < dim; ++i) task.result[i] += scores[p] * row_values[i];
    }
}

void fast_head(const AttentionArgs& args, const HeadTask& task, float* scores) {
    const size_t dim = args.head_dim;
    const DType type = task.cache->type;
    for (size_t p = 0; p < task.visible; ++p) {
        const auto* key = row(task.cache->keys, *task.cache, task.first + p) + task.head_offset;
        scores[p] = dot(type, task.query, key, dim) * args.scale;
    }
    softmax_in_place(scores, task.visible);
    std::fill_n(task.result, dim, 0.0f);
    for (size_t p = 0; p < task.visible; ++p) {
        const auto* value = row(task.cache->values, *task.cache, task.first + p) + task.head_offset;
        add_scaled(type, value, scores[p], task.result, dim);
    }
}

}  // namespace

void check_cpu_kv_type(DType type, size_t head_dim) {
    if (type != DType::F32 && type != DType::F16 && type != DType::Q8_0) {
        throw Error(
            fmt::format("--kv-type {} is not supported for CPU layers: use f32, f16 or q8_0",
                        dtype_name(type)));
    }
    if (type == DType::Q8_0 && head_dim % kQK8_0 != 0) {
        throw Error(fmt::format(
            "--kv-type q8_0 needs a head dimension that is a multiple of {} on CPU layers (this "
            "model's is {}): use --kv-type f16",
            kQK8_0, head_dim));
    }
}

void cpu_attention(const AttentionArgs& args, std::span<const KvRows> caches,
                   std::span<const int32_t> sequences, std::span<const int32_t> positions,
                   const float* queries, float* out, ThreadPool& pool) {
    const size_t tokens = positions.size();
    if (tokens == 0) return;
    const size_t group = args.head_count / args.kv_head_count;
    const size_t q_dim = args.head_count * args.head_dim;
    const size_t longest =
        static_cast<size_t>(*std::max_element(positions.begin(), positions.end())) + 1;
    const size_t visible_most = args.window > 0 ? std::min(longest, args.window) : longest;
    auto task = [&](size_t item) {
        // head-major: neighbouring items of one head read the same cache rows while they are hot
        const size_t head = item / tokens;
        const size_t t = item % tokens;
        const auto& cache = caches[static_cast<size_t>(sequences[t])];
        const size_t last = static_cast<size_t>(positions[t]);
        const size_t first = args.window > 0 && last + 1 > args.window ? last + 1 - args.window : 0;
        return HeadTask{.query = queries + t * q_dim + head * args.head_dim,
                        .cache = &cache,
                        .head_offset = row_bytes(cache.type, (head / group) * args.head_dim),
                        .first = first,
                        .visible = last + 1 - first,
                        .result = out + t * q_dim + head * args.head_dim};
    };
    // As matmul_fast: a chunk worth at least 16K multiply-adds, so a short decode step stays on
    // the calling thread instead of paying a handoff for a few microseconds of work.
    const size_t work_per_item = std::max<size_t>(1, 2 * visible_most * args.head_dim);
    const size_t min_chunk = std::max<size_t>(1, 16384 / work_per_item);
    pool.parallel_for(
        tokens * args.head_count,
        [&](size_t begin, size_t end) {
            std::vector<float> scores(visible_most), row_values(args.head_dim);
            for (size_t item = begin; item < end; ++item) {
                if (args.kernels == CpuKernels::Fast) {
                    fast_head(args, task(item), scores.data());
                } else {
                    reference_head(args, task(item), scores.data(), row_values.data());
                }
            }
        },
        min_chunk);
}

}  // namespace llcuda
