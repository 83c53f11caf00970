// The AVX-512 VNNI kernels (built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni) for the
// types that carry most of a model's weights: 64 codes per instruction, u8 x s8 products summed
// four at a time into int32 by dpbusd, or maddubs' int16 pair sums scaled and summed by dpwssd.
// The integer sums are those of vec_dot_scalar.cpp (exact) and the float steps are the same in
// the same order, so the results are bit-exact with it. Types not here run their AVX2 kernel.
#include "backend/cpu/kernels/kernel_table.hpp"

#if defined(__x86_64__) || defined(_M_X64)
// GCC 12's AVX-512 headers build their "undefined" vectors from themselves (__Y = __Y), which
// -W(maybe-)uninitialized reports once the extract/insert intrinsics are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <array>
#include <cstring>

#include "backend/cpu/kernels/tile_rows.hpp"
#include "backend/cpu/kernels/vec_dot_finish.hpp"
#include "core/quant/blocks.hpp"

namespace llcuda {
namespace {

inline float half(uint16_t bits) { return _cvtsh_ss(bits); }

inline int32_t horizontal_sum(__m256i v) {
    __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(1, 0, 3, 2)));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(sum);
}

inline int32_t horizontal_sum(__m512i v) {
    return horizontal_sum(
        _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)));
}

inline __m256i load256(const void* address) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(address));
}
inline __m512i load512(const void* address) { return _mm512_loadu_si512(address); }

// [low | high] as one 512-bit register (zero-extended first: GCC 12 warns that the cast leaves
// the upper half uninitialized, which -Werror refuses).
inline __m512i join(__m256i low, __m256i high) {
    return _mm512_inserti64x4(_mm512_zextsi256_si512(low), high, 1);
}

float vec_dot_q8_0_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ8_0*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        // dpbusd multiplies unsigned by signed: |x| times y with x's sign. Exact because Q8_0
        // activations stay within -127..127 (y = -128 negated would wrap).
        const __m256i xq = load256(x[b].qs);
        const __m256i yq = load256(y[b].qs);
        const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(xq),
                                                _mm256_sign_epi8(yq, xq));
        sum += kernels::finish_scale(half(x[b].d), half(y[b].d), horizontal_sum(dot));
    }
    return sum;
}

float vec_dot_q4_0_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ4_0*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i eights = _mm256_set1_epi8(8);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs));
        const __m256i codes =
            _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), nibble);
        const __m256i yq = load256(y[b].qs);
        // sum(code * y) - 8 * sum(y), both by dpbusd, subtracted lane by lane (exact).
        const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), codes, yq);
        const __m256i bias = _mm256_dpbusd_epi32(_mm256_setzero_si256(), eights, yq);
        sum += kernels::finish_scale(half(x[b].d), half(y[b].d),
                                     horizontal_sum(_mm256_sub_epi32(dot, bias)));
    }
    return sum;
}

// The eight 6-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K/Q5_K super-block, all
// at once from its 12 packed bytes as three 32-bit words (the layout of
// kernels::scale_min_k4: sub-blocks 0..3 in the low six bits of bytes 0..3 (scales) and 4..7
// (mins); 4..7 in the nibbles of bytes 8..11 with their two high bits in the top of 0..7).
inline __m128i scales_and_mins_k4(const uint8_t* packed) {
    uint32_t word[3];
    std::memcpy(word, packed, sizeof(word));
    const uint32_t low_six = 0x3F3F3F3Fu, low_four = 0x0F0F0F0Fu, low_two = 0x03030303u;
    const uint32_t scales_low = word[0] & low_six;
    const uint32_t scales_high = (word[2] & low_four) | (((word[0] >> 6) & low_two) << 4);
    const uint32_t mins_low = word[1] & low_six;
    const uint32_t mins_high = ((word[2] >> 4) & low_four) | (((word[1] >> 6) & low_two) << 4);
    return _mm_set_epi32(static_cast<int>(mins_high), static_cast<int>(mins_low),
                         static_cast<int>(scales_high), static_cast<int>(scales_low));
}

// sum over sub-blocks of min * (its two 16-element activation sums), by one madd.
inline int32_t min_sum_k4(__m128i scales_and_mins, const int16_t* bsums) {
    const __m128i mins_twice = _mm_shuffle_epi8(
        scales_and_mins, _mm_set_epi8(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8));
    return horizontal_sum(_mm256_madd_epi16(_mm256_cvtepu8_epi16(mins_twice), load256(bsums)));
}

// For pair p of sub-blocks, int16 lanes 0..15 hold scale 2p and 16..31 scale 2p+1 (maddubs'
// pair sums of the 64 codes of sub-blocks 2p and 2p+1).
struct PairScales {
    __m512i index[4];
    PairScales() {
        for (int pair = 0; pair < 4; ++pair)
            index[pair] = join(_mm256_set1_epi16(static_cast<int16_t>(2 * pair)),
                               _mm256_set1_epi16(static_cast<int16_t>(2 * pair + 1)));
    }
};

float vec_dot_q4_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ4_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const PairScales pairs;
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        const __m128i scales_and_mins = scales_and_mins_k4(x[b].scales);
        const __m512i scales = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(scales_and_mins));
        __m512i accumulator = _mm512_setzero_si512();
        for (int pair = 0; pair < 4; ++pair) {
            // Sub-blocks 2p and 2p+1 side by side: the low nibbles, then the high ones, next to
            // their 64 contiguous activations.
            const __m256i packed = load256(x[b].qs + 32 * pair);
            const __m512i codes =
                _mm512_and_si512(join(packed, _mm256_srli_epi16(packed, 4)), nibble);
            const __m512i products = _mm512_maddubs_epi16(codes, load512(y[b].qs + 64 * pair));
            accumulator = _mm512_dpwssd_epi32(accumulator, products,
                                              _mm512_permutexvar_epi16(pairs.index[pair], scales));
        }
        sum += kernels::finish_scale_min(half(x[b].d), half(x[b].dmin), y[b].d,
                                         horizontal_sum(accumulator),
                                         min_sum_k4(scales_and_mins, y[b].bsums));
    }
    return sum;
}

float vec_dot_q5_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ5_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const __m512i one_bit = _mm512_set1_epi8(1);
    const PairScales pairs;
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        const __m128i scales_and_mins = scales_and_mins_k4(x[b].scales);
        const __m512i scales = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(scales_and_mins));
        __m512i accumulator = _mm512_setzero_si512();
        const __m256i qh = load256(x[b].qh);
        for (int pair = 0; pair < 4; ++pair) {
            const __m256i packed = load256(x[b].qs + 32 * pair);
            const __m512i low_bits =
                _mm512_and_si512(join(packed, _mm256_srli_epi16(packed, 4)), nibble);
            const __m512i fifth = join(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * pair)),
                                       _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * pair + 1)));
            const __m512i codes =
                _mm512_or_si512(low_bits, _mm512_slli_epi16(_mm512_and_si512(fifth, one_bit), 4));
            const __m512i products = _mm512_maddubs_epi16(codes, load512(y[b].qs + 64 * pair));
            accumulator = _mm512_dpwssd_epi32(accumulator, products,
                                              _mm512_permutexvar_epi16(pairs.index[pair], scales));
        }
        sum += kernels::finish_scale_min(half(x[b].d), half(x[b].dmin), y[b].d,
                                         horizontal_sum(accumulator),
                                         min_sum_k4(scales_and_mins, y[b].bsums));
    }
    return sum;
}

float vec_dot_q6_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ6_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const __m512i two_bits = _mm512_set1_epi8(3);
    // int16 lane i of maddubs' products covers elements 2i, 2i+1: group i / 8 of the four
    // 16-element groups in 64 elements; these pick that group's scale.
    const __m512i group_of_lane = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                                   1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        const __m256i scales16 =
            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales)));
        const __m512i scales = _mm512_zextsi256_si512(scales16);
        __m512i accumulator = _mm512_setzero_si512();
        for (size_t half_index = 0; half_index < 2; ++half_index) {
            const __m512i ql = load512(x[b].ql + half_index * 64);
            const __m256i qh = load256(x[b].qh + half_index * 32);
            // Elements 0..63 of this half: low nibbles of ql, qh bits 0-1 then 2-3; elements
            // 64..127: high nibbles, qh bits 4-5 then 6-7.
            const __m512i high_bits = join(qh, _mm256_srli_epi16(qh, 2));
            for (int quarter = 0; quarter < 2; ++quarter) {
                const __m512i low =
                    _mm512_and_si512(quarter == 0 ? ql : _mm512_srli_epi16(ql, 4), nibble);
                const __m512i high = _mm512_slli_epi16(
                    _mm512_and_si512(quarter == 0 ? high_bits : _mm512_srli_epi16(high_bits, 4),
                                     two_bits),
                    4);
                const __m512i codes = _mm512_or_si512(low, high);
                const __m512i products = _mm512_maddubs_epi16(
                    codes, load512(y[b].qs + half_index * 128 + 64 * static_cast<size_t>(quarter)));
                const int first_group = static_cast<int>(half_index) * 8 + 4 * quarter;
                const __m512i group_scales = _mm512_permutexvar_epi16(
                    _mm512_add_epi16(group_of_lane,
                                     _mm512_set1_epi16(static_cast<int16_t>(first_group))),
                    scales);
                accumulator = _mm512_dpwssd_epi32(accumulator, products, group_scales);
            }
        }
        // The codes are stored +32: off with the scales times the activations' block sums.
        const __m256i bias = _mm256_madd_epi16(scales16, load256(y[b].bsums));
        sum += kernels::finish_scale(half(x[b].d), y[b].d,
                                     horizontal_sum(accumulator) - 32 * horizontal_sum(bias));
    }
    return sum;
}

constexpr std::array kAvx512VnniKernels{
    CpuKernel{DType::Q4_0, DType::Q8_0, vec_dot_q4_0_q8_0},
    CpuKernel{DType::Q8_0, DType::Q8_0, vec_dot_q8_0_q8_0},
    CpuKernel{DType::Q4_K, DType::Q8_K, vec_dot_q4_k_q8_k},
    CpuKernel{DType::Q5_K, DType::Q8_K, vec_dot_q5_k_q8_k},
    CpuKernel{DType::Q6_K, DType::Q8_K, vec_dot_q6_k_q8_k},
};

// The tiles: the codes of a weight block and their scales unpacked once, then maddubs and
// dpwssd (dpbusd for Q8_0) for each of N activation rows. Per row, the integer sums and the
// float steps are those of the vec_dot above, so each result equals it bit for bit.
template <typename Activation, size_t N>
struct ActivationRows {
    const Activation* row[N];
    ActivationRows(const void* activations, size_t row_bytes) {
        for (size_t j = 0; j < N; ++j)
            row[j] = reinterpret_cast<const Activation*>(static_cast<const uint8_t*>(activations) +
                                                         j * row_bytes);
    }
};

// The four int32 sums of four registers as one vector (lane j: register j's sum), by
// interleaving before adding: 9 adds and shuffles for all four instead of 8 for each. Integer
// sums, so any order gives the same value.
inline __m128i horizontal_sums(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
    const __m512i s01 =
        _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    const __m512i s23 =
        _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    const __m512i s =
        _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
    const __m256i half_sum =
        _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(half_sum), _mm256_extracti128_si256(half_sum, 1));
}

inline __m128i horizontal_sums(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
    const __m256i s01 =
        _mm256_add_epi32(_mm256_unpacklo_epi32(a0, a1), _mm256_unpackhi_epi32(a0, a1));
    const __m256i s23 =
        _mm256_add_epi32(_mm256_unpacklo_epi32(a2, a3), _mm256_unpackhi_epi32(a2, a3));
    const __m256i s =
        _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

// A Q4_K block's finish for four activation rows at once: lane j of `sums` gets
// kernels::finish_scale_min of row j, the same products and difference in the same order, one
// lane each (no FMA: -ffp-contract=off), so each lane equals the scalar result.
inline void finish_four_rows(const __m512i* accumulator, __m128i scales_and_mins,
                             const ActivationRows<BlockQ8_K, 4>& y, size_t b, float d, float dmin,
                             __m128& sums) {
    const __m128i mins_twice = _mm_shuffle_epi8(
        scales_and_mins, _mm_set_epi8(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8));
    const __m256i mins = _mm256_cvtepu8_epi16(mins_twice);
    __m256i min_products[4];
    for (size_t j = 0; j < 4; ++j)
        min_products[j] = _mm256_madd_epi16(mins, load256(y.row[j][b].bsums));
    const __m128 scaled = _mm_cvtepi32_ps(
        horizontal_sums(accumulator[0], accumulator[1], accumulator[2], accumulator[3]));
    const __m128 min_sum = _mm_cvtepi32_ps(
        horizontal_sums(min_products[0], min_products[1], min_products[2], min_products[3]));
    const __m128 dy = _mm_set_ps(y.row[3][b].d, y.row[2][b].d, y.row[1][b].d, y.row[0][b].d);
    const __m128 block = _mm_sub_ps(_mm_mul_ps(_mm_mul_ps(_mm_set1_ps(d), dy), scaled),
                                    _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(dmin), dy), min_sum));
    sums = _mm_add_ps(sums, block);
}

struct Q4KTile {
    template <size_t N>
    static void run(const void* weights, const void* activations, size_t row_bytes, size_t count,
                    float* out, size_t out_stride) {
        const auto* x = static_cast<const BlockQ4_K*>(weights);
        const ActivationRows<BlockQ8_K, N> y(activations, row_bytes);
        const __m512i nibble = _mm512_set1_epi8(0x0F);
        const PairScales pairs;
        float sum[N] = {};
        __m128 sums = _mm_setzero_ps();
        for (size_t b = 0; b < count / kQK_K; ++b) {
            const __m128i scales_and_mins = scales_and_mins_k4(x[b].scales);
            const __m512i scales = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(scales_and_mins));
            __m512i accumulator[N];
            for (size_t j = 0; j < N; ++j) accumulator[j] = _mm512_setzero_si512();
            for (int pair = 0; pair < 4; ++pair) {
                const __m256i packed = load256(x[b].qs + 32 * pair);
                const __m512i codes =
                    _mm512_and_si512(join(packed, _mm256_srli_epi16(packed, 4)), nibble);
                const __m512i pair_scales = _mm512_permutexvar_epi16(pairs.index[pair], scales);
                for (size_t j = 0; j < N; ++j) {
                    const __m512i products =
                        _mm512_maddubs_epi16(codes, load512(y.row[j][b].qs + 64 * pair));
                    accumulator[j] = _mm512_dpwssd_epi32(accumulator[j], products, pair_scales);
                }
            }
            const float d = half(x[b].d), dmin = half(x[b].dmin);
            if constexpr (N == 4) {
                finish_four_rows(accumulator, scales_and_mins, y, b, d, dmin, sums);
            } else {
                for (size_t j = 0; j < N; ++j)
                    sum[j] += kernels::finish_scale_min(
                        d, dmin, y.row[j][b].d, horizontal_sum(accumulator[j]),
                        min_sum_k4(scales_and_mins, y.row[j][b].bsums));
            }
        }
        if constexpr (N == 4) _mm_storeu_ps(sum, sums);
        for (size_t j = 0; j < N; ++j) out[j * out_stride] = sum[j];
    }
};

struct Q6KTile {
    template <size_t N>
    static void run(const void* weights, const void* activations, size_t row_bytes, size_t count,
                    float* out, size_t out_stride) {
        const auto* x = static_cast<const BlockQ6_K*>(weights);
        const ActivationRows<BlockQ8_K, N> y(activations, row_bytes);
        const __m512i nibble = _mm512_set1_epi8(0x0F);
        const __m512i two_bits = _mm512_set1_epi8(3);
        __m128 sums = _mm_setzero_ps();
        const __m512i group_of_lane =
            _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1,
                             0, 0, 0, 0, 0, 0, 0, 0);
        float sum[N] = {};
        for (size_t b = 0; b < count / kQK_K; ++b) {
            const __m256i scales16 = _mm256_cvtepi8_epi16(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales)));
            const __m512i scales = _mm512_zextsi256_si512(scales16);
            __m512i accumulator[N];
            for (size_t j = 0; j < N; ++j) accumulator[j] = _mm512_setzero_si512();
            for (size_t half_index = 0; half_index < 2; ++half_index) {
                const __m512i ql = load512(x[b].ql + half_index * 64);
                const __m256i qh = load256(x[b].qh + half_index * 32);
                const __m512i high_bits = join(qh, _mm256_srli_epi16(qh, 2));
                for (int quarter = 0; quarter < 2; ++quarter) {
                    const __m512i low =
                        _mm512_and_si512(quarter == 0 ? ql : _mm512_srli_epi16(ql, 4), nibble);
                    const __m512i high = _mm512_slli_epi16(
                        _mm512_and_si512(quarter == 0 ? high_bits : _mm512_srli_epi16(high_bits, 4),
                                         two_bits),
                        4);
                    const __m512i codes = _mm512_or_si512(low, high);
                    const int first_group = static_cast<int>(half_index) * 8 + 4 * quarter;
                    const __m512i group_scales = _mm512_permutexvar_epi16(
                        _mm512_add_epi16(group_of_lane,
                                         _mm512_set1_epi16(static_cast<int16_t>(first_group))),
                        scales);
                    const size_t offset = half_index * 128 + 64 * static_cast<size_t>(quarter);
                    for (size_t j = 0; j < N; ++j) {
                        const __m512i products =
                            _mm512_maddubs_epi16(codes, load512(y.row[j][b].qs + offset));
                        accumulator[j] =
                            _mm512_dpwssd_epi32(accumulator[j], products, group_scales);
                    }
                }
            }
            const float d = half(x[b].d);
            if constexpr (N == 4) {
                // As Q4_K's finish_four_rows: lane j is row j's kernels::finish_scale.
                __m256i bias[4];
                for (size_t j = 0; j < 4; ++j)
                    bias[j] = _mm256_madd_epi16(scales16, load256(y.row[j][b].bsums));
                const __m128i total = _mm_sub_epi32(
                    horizontal_sums(accumulator[0], accumulator[1], accumulator[2], accumulator[3]),
                    _mm_mullo_epi32(_mm_set1_epi32(32),
                                    horizontal_sums(bias[0], bias[1], bias[2], bias[3])));
                const __m128 dy =
                    _mm_set_ps(y.row[3][b].d, y.row[2][b].d, y.row[1][b].d, y.row[0][b].d);
                sums = _mm_add_ps(
                    sums, _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(d), dy), _mm_cvtepi32_ps(total)));
            } else {
                for (size_t j = 0; j < N; ++j) {
                    const __m256i bias = _mm256_madd_epi16(scales16, load256(y.row[j][b].bsums));
                    sum[j] += kernels::finish_scale(
                        d, y.row[j][b].d,
                        horizontal_sum(accumulator[j]) - 32 * horizontal_sum(bias));
                }
            }
        }
        if constexpr (N == 4) _mm_storeu_ps(sum, sums);
        for (size_t j = 0; j < N; ++j) out[j * out_stride] = sum[j];
    }
};

struct Q8_0Tile {
    template <size_t N>
    static void run(const void* weights, const void* activations, size_t row_bytes, size_t count,
                    float* out, size_t out_stride) {
        const auto* x = static_cast<const BlockQ8_0*>(weights);
        const ActivationRows<BlockQ8_0, N> y(activations, row_bytes);
        float sum[N] = {};
        for (size_t b = 0; b < count / kQK8_0; ++b) {
            const __m256i xq = load256(x[b].qs);
            const __m256i magnitude = _mm256_abs_epi8(xq);
            const float d = half(x[b].d);
            for (size_t j = 0; j < N; ++j) {
                const __m256i dot =
                    _mm256_dpbusd_epi32(_mm256_setzero_si256(), magnitude,
                                        _mm256_sign_epi8(load256(y.row[j][b].qs), xq));
                sum[j] += kernels::finish_scale(d, half(y.row[j][b].d), horizontal_sum(dot));
            }
        }
        for (size_t j = 0; j < N; ++j) out[j * out_stride] = sum[j];
    }
};

constexpr std::array kAvx512VnniTileKernels{
    CpuTileKernel{DType::Q8_0, kernels::vec_dot_rows<Q8_0Tile>},
    CpuTileKernel{DType::Q4_K, kernels::vec_dot_rows<Q4KTile>},
    CpuTileKernel{DType::Q6_K, kernels::vec_dot_rows<Q6KTile>},
};

}  // namespace

std::span<const CpuKernel> avx512_vnni_kernels() { return kAvx512VnniKernels; }
std::span<const CpuTileKernel> avx512_vnni_tile_kernels() { return kAvx512VnniTileKernels; }

}  // namespace llcuda

#else
namespace llcuda {
std::span<const CpuKernel> avx512_vnni_kernels() { return {}; }
std::span<const CpuTileKernel> avx512_vnni_tile_kernels() { return {}; }
}  // namespace llcuda
#endif
