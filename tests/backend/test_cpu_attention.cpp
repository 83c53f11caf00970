// cpu_attention, reference and fast, against a double-precision oracle computed here from the
// rows the cache holds, for every KV type, from one table of shapes: odd head counts and
// dimensions, grouped-query heads, sliding windows over a ring shorter than the sequence (as in
// Gemma 3), several sequences in one batch, prompts and decode steps. Fresh random inputs each
// run (the seed is printed for a replay).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_attention.hpp"
#include "core/error.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {
namespace {

struct AttentionCase {
    std::string name;
    size_t head_count, kv_head_count, head_dim, window;
    std::vector<size_t> lengths;  // positions each sequence holds after the batch
    size_t batch;                 // the last `batch` positions of each sequence are the queries
};

const std::vector<AttentionCase> kCases = {
    {"prompt, grouped heads", 8, 2, 64, 0, {37}, 37},
    {"decode, odd heads and dim, three sequences", 5, 5, 24, 0, {1, 20, 50}, 1},
    {"sliding window ring, one kv head", 4, 1, 32, 7, {30, 12}, 5},
    {"dim 96, part prompts", 6, 3, 96, 0, {64, 3}, 3},
    {"odd dim, window 4", 3, 1, 13, 4, {9, 17}, 2},
    {"window longer than the sequence", 2, 1, 64, 100, {40}, 6},
};

uint32_t replay_seed() {
    const uint32_t seed = std::random_device{}();
    std::printf("test_cpu_attention seed %u\n", seed);
    return seed;
}

// A cache of each sequence's rows in a ring of `slots`, the dequantized rows of every position
// (what the oracle reads), and the batch's queries.
struct Problem {
    size_t kv_dim, q_dim, slots, row_bytes;
    std::vector<std::vector<std::byte>> keys, values;      // by sequence: slots rows
    std::vector<std::vector<float>> key_rows, value_rows;  // by sequence: every position
    std::vector<int32_t> sequences, positions;
    std::vector<float> queries;
    std::vector<KvRows> caches;
};

Problem make_problem(const AttentionCase& c, DType type, std::mt19937& generator) {
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    Problem p;
    p.kv_dim = c.kv_head_count * c.head_dim;
    p.q_dim = c.head_count * c.head_dim;
    size_t longest = 0;
    for (const auto length : c.lengths) longest = std::max(longest, length);
    // a window's ring, as KvCache keeps it: the window and one batch
    p.slots = c.window > 0 ? std::min(longest, c.window + c.batch) : longest;
    p.row_bytes = row_bytes(type, p.kv_dim);
    std::vector<float> row(p.kv_dim);
    for (size_t s = 0; s < c.lengths.size(); ++s) {
        p.keys.emplace_back(p.slots * p.row_bytes);
        p.values.emplace_back(p.slots * p.row_bytes);
        p.key_rows.emplace_back(c.lengths[s] * p.kv_dim);
        p.value_rows.emplace_back(c.lengths[s] * p.kv_dim);
        for (size_t position = 0; position < c.lengths[s]; ++position) {
            const size_t slot = position % p.slots;
            for (auto* store : {&p.keys[s], &p.values[s]}) {
                for (auto& x : row) x = uniform(generator);
                std::byte* stored = store->data() + slot * p.row_bytes;
                quantize_row(type, row.data(), stored, p.kv_dim);
                auto& rows = store == &p.keys[s] ? p.key_rows[s] : p.value_rows[s];
                dequantize_row(type, stored, rows.data() + position * p.kv_dim, p.kv_dim);
            }
        }
    }
    for (size_t s = 0; s < c.lengths.size(); ++s) {
        p.caches.push_back({.type = type,
                            .keys = p.keys[s].data(),
                            .values = p.values[s].data(),
                            .slots = p.slots,
                            .row_bytes = p.row_bytes});
    }
    // the sequences' queries interleaved, as continuous batching sends them
    for (size_t i = 0; i < c.batch; ++i) {
        for (size_t s = 0; s < c.lengths.size(); ++s) {
            const size_t first = c.lengths[s] >= c.batch ? c.lengths[s] - c.batch : 0;
            if (first + i >= c.lengths[s]) continue;
            p.sequences.push_back(static_cast<int32_t>(s));
            p.positions.push_back(static_cast<int32_t>(first + i));
        }
    }
    p.queries.resize(p.positions.size() * p.q_dim);
    for (auto& x : p.queries) x = uniform(generator);
    return p;
}

std::vector<double> oracle(const AttentionCase& c, const Problem& p) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
    const size_t group = c.head_count / c.kv_head_count;
    std::vector<double> out(p.positions.size() * p.q_dim, 0.0);
    for (size_t t = 0; t < p.positions.size(); ++t) {
        const auto s = static_cast<size_t>(p.sequences[t]);
        const auto last = static_cast<size_t>(p.positions[t]);
        const size_t first = c.window > 0 && last + 1 > c.window ? last + 1 - c.window : 0;
        for (size_t head = 0; head < c.head_count; ++head) {
            const float* query = p.queries.data() + t * p.q_dim + head * c.head_dim;
            const size_t offset = (head / group) * c.head_dim;
            std::vector<double> weights;
            double largest = -INFINITY, total = 0.0;
            for (size_t position = first; position <= last; ++position) {
                double dot = 0.0;
                for (size_t i = 0; i < c.head_dim; ++i)
                    dot += double{query[i]} * p.key_rows[s][position * p.kv_dim + offset + i];
                weights.push_back(dot * scale);
                largest = std::max(largest, weights.back());
            }
            for (auto& w : weights) total += (w = std::exp(w - largest));
            for (size_t position = first; position <= last; ++position) {
                const double w = weights[position - first] / total;
                for (size_t i = 0; i < c.head_dim; ++i) {
                    out[t * p.q_dim + head * c.head_dim + i] +=
                        w * p.value_rows[s][position * p.kv_dim + offset + i];
                }
            }
        }
    }
    return out;
}

std::vector<float> run(const AttentionCase& c, const Problem& p, CpuKernels kernels,
                       size_t threads) {
    ThreadPool pool(threads);
    std::vector<float> out(p.positions.size() * p.q_dim, NAN);
    cpu_attention({.head_count = c.head_count,
                   .kv_head_count = c.kv_head_count,
                   .head_dim = c.head_dim,
                   .scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim)),
                   .window = c.window,
                   .kernels = kernels},
                  p.caches, p.sequences, p.positions, p.queries.data(), out.data(), pool);
    return out;
}

// Both paths sum in float; outputs are averages of values in [-1, 1], so float rounding over a
// few hundred terms stays far below this.
constexpr double kTolerance = 2e-5;

TEST(CpuAttention, EveryKvTypeAndShapeMatchesTheDoubleOracle) {
    std::mt19937 generator(replay_seed());
    for (const DType type : {DType::F32, DType::F16, DType::Q8_0}) {
        for (const auto& c : kCases) {
            if (type == DType::Q8_0 && c.head_dim % 32 != 0) continue;
            const auto problem = make_problem(c, type, generator);
            ASSERT_FALSE(problem.positions.empty()) << c.name;
            const auto expected = oracle(c, problem);
            for (const auto kernels : {CpuKernels::Reference, CpuKernels::Fast}) {
                const auto actual = run(c, problem, kernels, 2);
                for (size_t i = 0; i < expected.size(); ++i) {
                    ASSERT_NEAR(actual[i], expected[i], kTolerance)
                        << c.name << ", " << dtype_name(type) << ", "
                        << cpu_kernels_description(kernels) << ", output " << i;
                }
            }
        }
    }
}

TEST(CpuAttention, ResultsDoNotDependOnTheThreadCount) {
    std::mt19937 generator(replay_seed());
    for (const auto& c : kCases) {
        const auto problem = make_problem(c, DType::F16, generator);
        for (const auto kernels : {CpuKernels::Reference, CpuKernels::Fast})
            EXPECT_EQ(run(c, problem, kernels, 1), run(c, problem, kernels, 3)) << c.name;
    }
}

TEST(CpuAttention, Q8_0NeedsWholeBlocksPerHeadAndNamesTheKnob) {
    EXPECT_NO_THROW(check_cpu_kv_type(DType::Q8_0, 64));
    EXPECT_NO_THROW(check_cpu_kv_type(DType::F16, 13));
    try {
        check_cpu_kv_type(DType::Q8_0, 48);
        FAIL() << "q8_0 with head_dim 48 was accepted";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("--kv-type f16"), std::string::npos)
            << error.what();
    }
    EXPECT_THROW(check_cpu_kv_type(DType::Q4_K, 64), Error);
}

}  // namespace
}  // namespace llcuda
