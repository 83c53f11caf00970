// The AVX2 kernels (built with -mavx2 -mfma -mf16c): int8 products with maddubs, the same
// integer sums as vec_dot_scalar.cpp and the same float steps in the same order, so the results
// are bit-exact with it. Half scales convert with F16C (exact, as half_to_float is).
#include "backend/cpu/kernels/kernel_table.hpp"

#if defined(__x86_64__) || defined(_M_X64)
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

inline __m256i load(const void* address) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(address));
}

float vec_dot_q8_0_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ8_0*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        // Widened to int16 rather than maddubs' sign trick, which overflows on -128.
        const __m256i xq = load(x[b].qs);
        const __m256i yq = load(y[b].qs);
        const __m256i low = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(xq)),
                                              _mm256_cvtepi8_epi16(_mm256_castsi256_si128(yq)));
        const __m256i high =
            _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(xq, 1)),
                              _mm256_cvtepi8_epi16(_mm256_extracti128_si256(yq, 1)));
        const int32_t block_sum = horizontal_sum(_mm256_add_epi32(low, high));
        sum += kernels::finish_scale(half(x[b].d), half(y[b].d), block_sum);
    }
    return sum;
}

float vec_dot_q4_0_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ4_0*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i ones8 = _mm256_set1_epi8(1);
    const __m256i ones16 = _mm256_set1_epi16(1);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs));
        const __m256i codes =
            _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), nibble);
        const __m256i yq = load(y[b].qs);
        const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(codes, yq), ones16);
        const __m256i y_sum = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, yq), ones16);
        const int32_t block_sum = horizontal_sum(dot) - 8 * horizontal_sum(y_sum);
        sum += kernels::finish_scale(half(x[b].d), half(y[b].d), block_sum);
    }
    return sum;
}

float vec_dot_q4_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ4_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        __m256i accumulator = _mm256_setzero_si256();
        int32_t min_sum = 0;
        for (int pair = 0; pair < 4; ++pair) {
            int scale_low, min_low, scale_high, min_high;
            kernels::scale_min_k4(x[b].scales, 2 * pair, scale_low, min_low);
            kernels::scale_min_k4(x[b].scales, 2 * pair + 1, scale_high, min_high);
            const __m256i packed = load(x[b].qs + 32 * pair);
            const __m256i low = _mm256_and_si256(packed, nibble);
            const __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
            const __m256i low_products = _mm256_maddubs_epi16(low, load(y[b].qs + 64 * pair));
            const __m256i high_products =
                _mm256_maddubs_epi16(high, load(y[b].qs + 64 * pair + 32));
            accumulator = _mm256_add_epi32(
                accumulator, _mm256_madd_epi16(low_products,
                                               _mm256_set1_epi16(static_cast<int16_t>(scale_low))));
            accumulator = _mm256_add_epi32(
                accumulator,
                _mm256_madd_epi16(high_products,
                                  _mm256_set1_epi16(static_cast<int16_t>(scale_high))));
            min_sum += min_low * (y[b].bsums[4 * pair] + y[b].bsums[4 * pair + 1]);
            min_sum += min_high * (y[b].bsums[4 * pair + 2] + y[b].bsums[4 * pair + 3]);
        }
        sum += kernels::finish_scale_min(half(x[b].d), half(x[b].dmin), y[b].d,
                                         horizontal_sum(accumulator), min_sum);
    }
    return sum;
}

float vec_dot_q6_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ6_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i two_bits = _mm256_set1_epi8(3);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        __m256i accumulator = _mm256_setzero_si256();
        for (size_t half_index = 0; half_index < 2; ++half_index) {
            const uint8_t* ql = x[b].ql + half_index * 64;
            const __m256i qh = load(x[b].qh + half_index * 32);
            for (int chunk = 0; chunk < 4; ++chunk) {
                const __m256i low_bits = load(ql + (chunk % 2) * 32);
                const __m256i low = _mm256_and_si256(
                    chunk >= 2 ? _mm256_srli_epi16(low_bits, 4) : low_bits, nibble);
                const __m256i high = _mm256_slli_epi16(
                    _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * chunk)), two_bits),
                    4);
                const __m256i codes = _mm256_or_si256(low, high);
                const __m256i products =
                    _mm256_maddubs_epi16(codes, load(y[b].qs + half_index * 128 + chunk * 32));
                const size_t group = half_index * 8 + 2 * static_cast<size_t>(chunk);
                const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(x[b].scales[group + 1]),
                                                        _mm_set1_epi16(x[b].scales[group]));
                accumulator = _mm256_add_epi32(accumulator, _mm256_madd_epi16(products, scales));
            }
        }
        int32_t bias = 0;
        for (size_t group = 0; group < 16; ++group) bias += x[b].scales[group] * y[b].bsums[group];
        sum += kernels::finish_scale(half(x[b].d), y[b].d, horizontal_sum(accumulator) - 32 * bias);
    }
    return sum;
}

// Byte i of the result is 16 where bit i of the 32-bit word at `bits` is set, 0 elsewhere: the
// fifth bits of a Q5_0/Q5_1 block in the byte order of its codes.
inline __m256i fifth_bits(const uint8_t* bits) {
    uint32_t word;
    std::memcpy(&word, bits, sizeof(word));
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(word)),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit),
                            _mm256_set1_epi8(16));
}

// The 32 four-bit codes of a 16-byte Q4_0/Q4_1/Q5 block, elements 0..15 from the low nibbles.
inline __m256i nibble_codes(const uint8_t* qs) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed),
                            _mm256_set1_epi8(0x0F));
}

// sum(codes * y) and sum(y) over one 32-element block; codes are unsigned (at most 31).
inline void unsigned_dot(__m256i codes, __m256i yq, int32_t& dot, int32_t& y_sum) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    dot = horizontal_sum(_mm256_madd_epi16(_mm256_maddubs_epi16(codes, yq), ones16));
    y_sum =
        horizontal_sum(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), yq), ones16));
}

float vec_dot_q4_1_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ4_1*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        int32_t dot, y_sum;
        unsigned_dot(nibble_codes(x[b].qs), load(y[b].qs), dot, y_sum);
        sum += kernels::finish_scale_offset(half(x[b].d), half(x[b].m), half(y[b].d), dot, y_sum);
    }
    return sum;
}

float vec_dot_q5_0_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ5_0*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        int32_t dot, y_sum;
        unsigned_dot(_mm256_or_si256(nibble_codes(x[b].qs), fifth_bits(x[b].qh)), load(y[b].qs),
                     dot, y_sum);
        sum += kernels::finish_scale(half(x[b].d), half(y[b].d), dot - 16 * y_sum);
    }
    return sum;
}

float vec_dot_q5_1_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ5_1*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        int32_t dot, y_sum;
        unsigned_dot(_mm256_or_si256(nibble_codes(x[b].qs), fifth_bits(x[b].qh)), load(y[b].qs),
                     dot, y_sum);
        sum += kernels::finish_scale_offset(half(x[b].d), half(x[b].m), half(y[b].d), dot, y_sum);
    }
    return sum;
}

// Two scales as int16 lanes: the low 128 bits `low`, the high 128 bits `high` (one per
// sub-block of 16 in maddubs' 16 pair sums).
inline __m256i two_scales(int low, int high) {
    return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(high)),
                            _mm_set1_epi16(static_cast<int16_t>(low)));
}

float vec_dot_q2_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ2_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    const __m256i two_bits = _mm256_set1_epi8(3);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        __m256i accumulator = _mm256_setzero_si256();
        for (size_t half_index = 0; half_index < 2; ++half_index) {
            const __m256i packed = load(x[b].qs + 32 * half_index);
            for (int shift = 0; shift < 4; ++shift) {
                const __m256i codes = _mm256_and_si256(
                    _mm256_srl_epi16(packed, _mm_cvtsi32_si128(2 * shift)), two_bits);
                const size_t sub = half_index * 8 + 2 * static_cast<size_t>(shift);
                const __m256i products = _mm256_maddubs_epi16(codes, load(y[b].qs + sub * 16));
                accumulator = _mm256_add_epi32(
                    accumulator,
                    _mm256_madd_epi16(products, two_scales(x[b].scales[sub] & 0x0F,
                                                           x[b].scales[sub + 1] & 0x0F)));
            }
        }
        int32_t min_sum = 0;
        for (size_t sub = 0; sub < 16; ++sub) min_sum += (x[b].scales[sub] >> 4) * y[b].bsums[sub];
        sum += kernels::finish_scale_min(half(x[b].d), half(x[b].dmin), y[b].d,
                                         horizontal_sum(accumulator), min_sum);
    }
    return sum;
}

float vec_dot_q3_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ3_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    const __m256i two_bits = _mm256_set1_epi8(3);
    const __m256i one_bit = _mm256_set1_epi8(1);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        __m256i accumulator = _mm256_setzero_si256();
        const __m256i hmask = load(x[b].hmask);
        int scales[16];
        for (size_t sub = 0; sub < 16; ++sub) scales[sub] = kernels::q3_k_scale(x[b].scales, sub);
        for (size_t half_index = 0; half_index < 2; ++half_index) {
            const __m256i packed = load(x[b].qs + 32 * half_index);
            for (int shift = 0; shift < 4; ++shift) {
                const __m256i low = _mm256_and_si256(
                    _mm256_srl_epi16(packed, _mm_cvtsi32_si128(2 * shift)), two_bits);
                const __m256i high = _mm256_and_si256(
                    _mm256_srl_epi16(hmask,
                                     _mm_cvtsi32_si128(static_cast<int>(half_index) * 4 + shift)),
                    one_bit);
                const __m256i codes = _mm256_or_si256(low, _mm256_slli_epi16(high, 2));
                const size_t sub = half_index * 8 + 2 * static_cast<size_t>(shift);
                const __m256i products = _mm256_maddubs_epi16(codes, load(y[b].qs + sub * 16));
                accumulator = _mm256_add_epi32(
                    accumulator,
                    _mm256_madd_epi16(products, two_scales(scales[sub], scales[sub + 1])));
            }
        }
        int32_t bias = 0;
        for (size_t sub = 0; sub < 16; ++sub) bias += scales[sub] * y[b].bsums[sub];
        sum += kernels::finish_scale(half(x[b].d), y[b].d, horizontal_sum(accumulator) - 4 * bias);
    }
    return sum;
}

float vec_dot_q5_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ5_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i one_bit = _mm256_set1_epi8(1);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        __m256i accumulator = _mm256_setzero_si256();
        const __m256i qh = load(x[b].qh);
        int32_t min_sum = 0;
        for (int pair = 0; pair < 4; ++pair) {
            int scale_low, min_low, scale_high, min_high;
            kernels::scale_min_k4(x[b].scales, 2 * pair, scale_low, min_low);
            kernels::scale_min_k4(x[b].scales, 2 * pair + 1, scale_high, min_high);
            const __m256i packed = load(x[b].qs + 32 * pair);
            const __m256i fifth_low = _mm256_slli_epi16(
                _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * pair)), one_bit), 4);
            const __m256i fifth_high = _mm256_slli_epi16(
                _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * pair + 1)), one_bit),
                4);
            const __m256i low = _mm256_or_si256(_mm256_and_si256(packed, nibble), fifth_low);
            const __m256i high =
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble), fifth_high);
            const __m256i low_products = _mm256_maddubs_epi16(low, load(y[b].qs + 64 * pair));
            const __m256i high_products =
                _mm256_maddubs_epi16(high, load(y[b].qs + 64 * pair + 32));
            accumulator = _mm256_add_epi32(
                accumulator, _mm256_madd_epi16(low_products,
                                               _mm256_set1_epi16(static_cast<int16_t>(scale_low))));
            accumulator = _mm256_add_epi32(
                accumulator,
                _mm256_madd_epi16(high_products,
                                  _mm256_set1_epi16(static_cast<int16_t>(scale_high))));
            min_sum += min_low * (y[b].bsums[4 * pair] + y[b].bsums[4 * pair + 1]);
            min_sum += min_high * (y[b].bsums[4 * pair + 2] + y[b].bsums[4 * pair + 3]);
        }
        sum += kernels::finish_scale_min(half(x[b].d), half(x[b].dmin), y[b].d,
                                         horizontal_sum(accumulator), min_sum);
    }
    return sum;
}

// sum(x * y) over 32 int8 pairs, widened to int16 (maddubs' sign trick overflows on -128,
// which Q8_K codes reach).
inline __m256i signed_products(const int8_t* x, const int8_t* y) {
    const __m256i xq = load(x);
    const __m256i yq = load(y);
    const __m256i low = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(xq)),
                                          _mm256_cvtepi8_epi16(_mm256_castsi256_si128(yq)));
    const __m256i high = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(xq, 1)),
                                           _mm256_cvtepi8_epi16(_mm256_extracti128_si256(yq, 1)));
    return _mm256_add_epi32(low, high);
}

float vec_dot_q8_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ8_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        __m256i accumulator = _mm256_setzero_si256();
        for (size_t i = 0; i < kQK_K; i += 32)
            accumulator = _mm256_add_epi32(accumulator, signed_products(x[b].qs + i, y[b].qs + i));
        sum += kernels::finish_scale(x[b].d, y[b].d, horizontal_sum(accumulator));
    }
    return sum;
}

inline __m256 load_f32(const void* row, size_t i) {
    return _mm256_loadu_ps(static_cast<const float*>(row) + i);
}
inline __m256 load_f16(const void* row, size_t i) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + i)));
}
inline __m256 load_bf16(const void* row, size_t i) {
    const __m128i bits =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
}
inline float scalar_f32(const void* row, size_t i) { return static_cast<const float*>(row)[i]; }
inline float scalar_f16(const void* row, size_t i) {
    return half(static_cast<const uint16_t*>(row)[i]);
}
inline float scalar_bf16(const void* row, size_t i) {
    uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t*>(row)[i]) << 16;
    float value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
}

// Four registers of eight partial sums (multiply, then add: no FMA, as the scalar kernel),
// folded as kernels::fold_float_lanes; the tail one by one.
template <__m256 (*Load)(const void*, size_t), float (*Scalar)(const void*, size_t)>
float vec_dot_float(const void* weights, const void* activations, size_t count) {
    const auto* y = static_cast<const float*>(activations);
    __m256 lanes[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                       _mm256_setzero_ps()};
    const size_t full = count / kernels::kFloatLanes * kernels::kFloatLanes;
    for (size_t i = 0; i < full; i += kernels::kFloatLanes) {
        for (size_t r = 0; r < 4; ++r)
            lanes[r] = _mm256_add_ps(
                lanes[r], _mm256_mul_ps(Load(weights, i + 8 * r), _mm256_loadu_ps(y + i + 8 * r)));
    }
    const __m256 eight =
        _mm256_add_ps(_mm256_add_ps(lanes[0], lanes[1]), _mm256_add_ps(lanes[2], lanes[3]));
    const __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
    const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    float sum = _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps(two, two, 1)));
    for (size_t i = full; i < count; ++i) sum += Scalar(weights, i) * y[i];
    return sum;
}

constexpr std::array kAvx2Kernels{
    CpuKernel{DType::Q4_0, DType::Q8_0, vec_dot_q4_0_q8_0},
    CpuKernel{DType::Q4_1, DType::Q8_0, vec_dot_q4_1_q8_0},
    CpuKernel{DType::Q5_0, DType::Q8_0, vec_dot_q5_0_q8_0},
    CpuKernel{DType::Q5_1, DType::Q8_0, vec_dot_q5_1_q8_0},
    CpuKernel{DType::Q8_0, DType::Q8_0, vec_dot_q8_0_q8_0},
    CpuKernel{DType::Q2_K, DType::Q8_K, vec_dot_q2_k_q8_k},
    CpuKernel{DType::Q3_K, DType::Q8_K, vec_dot_q3_k_q8_k},
    CpuKernel{DType::Q4_K, DType::Q8_K, vec_dot_q4_k_q8_k},
    CpuKernel{DType::Q5_K, DType::Q8_K, vec_dot_q5_k_q8_k},
    CpuKernel{DType::Q6_K, DType::Q8_K, vec_dot_q6_k_q8_k},
    CpuKernel{DType::Q8_K, DType::Q8_K, vec_dot_q8_k_q8_k},
    CpuKernel{DType::F32, DType::F32, vec_dot_float<load_f32, scalar_f32>},
    CpuKernel{DType::F16, DType::F32, vec_dot_float<load_f16, scalar_f16>},
    CpuKernel{DType::BF16, DType::F32, vec_dot_float<load_bf16, scalar_bf16>},
};

// The tiles: a weight block's codes (and scales) unpacked once, then maddubs and madd for each
// of N activation rows; per row the integer sums and float steps of the vec_dot above, so
// each result equals it bit for bit.
template <typename Activation, size_t N>
struct ActivationRows {
    const Activation* row[N];
    ActivationRows(const void* activations, size_t row_bytes) {
        for (size_t j = 0; j < N; ++j)
            row[j] = reinterpret_cast<const Activation*>(static_cast<const uint8_t*>(activations) +
                                                         j * row_bytes);
    }
};

struct Q4KTile {
    template <size_t N>
    static void run(const void* weights, const void* activations, size_t row_bytes, size_t count,
                    float* out, size_t out_stride) {
        const auto* x = static_cast<const BlockQ4_K*>(weights);
        const ActivationRows<BlockQ8_K, N> y(activations, row_bytes);
        const __m256i nibble = _mm256_set1_epi8(0x0F);
        float sum[N] = {};
        for (size_t b = 0; b < count / kQK_K; ++b) {
            int scale[8], min[8];
            for (int sub = 0; sub < 8; ++sub)
                kernels::scale_min_k4(x[b].scales, sub, scale[sub], min[sub]);
            __m256i accumulator[N];
            for (size_t j = 0; j < N; ++j) accumulator[j] = _mm256_setzero_si256();
            for (int pair = 0; pair < 4; ++pair) {
                const __m256i packed = load(x[b].qs + 32 * pair);
                const __m256i low = _mm256_and_si256(packed, nibble);
                const __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
                const __m256i scale_low = _mm256_set1_epi16(static_cast<int16_t>(scale[2 * pair]));
                const __m256i scale_high =
                    _mm256_set1_epi16(static_cast<int16_t>(scale[2 * pair + 1]));
                for (size_t j = 0; j < N; ++j) {
                    const int8_t* q8 = y.row[j][b].qs + 64 * pair;
                    const __m256i low_products = _mm256_maddubs_epi16(low, load(q8));
                    const __m256i high_products = _mm256_maddubs_epi16(high, load(q8 + 32));
                    accumulator[j] = _mm256_add_epi32(accumulator[j],
                                                      _mm256_madd_epi16(low_products, scale_low));
                    accumulator[j] = _mm256_add_epi32(accumulator[j],
                                                      _mm256_madd_epi16(high_products, scale_high));
                }
            }
            const float d = half(x[b].d), dmin = half(x[b].dmin);
            for (size_t j = 0; j < N; ++j) {
                const int16_t* bsums = y.row[j][b].bsums;
                int32_t min_sum = 0;
                for (int sub = 0; sub < 8; ++sub)
                    min_sum += min[sub] * (bsums[2 * sub] + bsums[2 * sub + 1]);
                sum[j] += kernels::finish_scale_min(d, dmin, y.row[j][b].d,
                                                    horizontal_sum(accumulator[j]), min_sum);
            }
        }
        for (size_t j = 0; j < N; ++j) out[j * out_stride] = sum[j];
    }
};

struct Q6KTile {
    template <size_t N>
    static void run(const void* weights, const void* activations, size_t row_bytes, size_t count,
                    float* out, size_t out_stride) {
        const auto* x = static_cast<const BlockQ6_K*>(weights);
        const ActivationRows<BlockQ8_K, N> y(activations, row_bytes);
        const __m256i nibble = _mm256_set1_epi8(0x0F);
        const __m256i two_bits = _mm256_set1_epi8(3);
        float sum[N] = {};
        for (size_t b = 0; b < count / kQK_K; ++b) {
            __m256i accumulator[N];
            for (size_t j = 0; j < N; ++j) accumulator[j] = _mm256_setzero_si256();
            for (size_t half_index = 0; half_index < 2; ++half_index) {
                const uint8_t* ql = x[b].ql + half_index * 64;
                const __m256i qh = load(x[b].qh + half_index * 32);
                for (int chunk = 0; chunk < 4; ++chunk) {
                    const __m256i low_bits = load(ql + (chunk % 2) * 32);
                    const __m256i low = _mm256_and_si256(
                        chunk >= 2 ? _mm256_srli_epi16(low_bits, 4) : low_bits, nibble);
                    const __m256i high = _mm256_slli_epi16(
                        _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * chunk)),
                                         two_bits),
                        4);
                    const __m256i codes = _mm256_or_si256(low, high);
                    const size_t group = half_index * 8 + 2 * static_cast<size_t>(chunk);
                    const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(x[b].scales[group + 1]),
                                                            _mm_set1_epi16(x[b].scales[group]));
                    const size_t offset = half_index * 128 + static_cast<size_t>(chunk) * 32;
                    for (size_t j = 0; j < N; ++j) {
                        const __m256i products =
                            _mm256_maddubs_epi16(codes, load(y.row[j][b].qs + offset));
                        accumulator[j] =
                            _mm256_add_epi32(accumulator[j], _mm256_madd_epi16(products, scales));
                    }
                }
            }
            const float d = half(x[b].d);
            for (size_t j = 0; j < N; ++j) {
                int32_t bias = 0;
                for (size_t group = 0; group < 16; ++group)
                    bias += x[b].scales[group] * y.row[j][b].bsums[group];
                sum[j] += kernels::finish_scale(d, y.row[j][b].d,
                                                horizontal_sum(accumulator[j]) - 32 * bias);
            }
        }
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
            const __m256i xq = load(x[b].qs);
            const __m256i x_low = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(xq));
            const __m256i x_high = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(xq, 1));
            const float d = half(x[b].d);
            for (size_t j = 0; j < N; ++j) {
                const __m256i yq = load(y.row[j][b].qs);
                const __m256i low =
                    _mm256_madd_epi16(x_low, _mm256_cvtepi8_epi16(_mm256_castsi256_si128(yq)));
                const __m256i high = _mm256_madd_epi16(
                    x_high, _mm256_cvtepi8_epi16(_mm256_extracti128_si256(yq, 1)));
                sum[j] += kernels::finish_scale(d, half(y.row[j][b].d),
                                                horizontal_sum(_mm256_add_epi32(low, high)));
            }
        }
        for (size_t j = 0; j < N; ++j) out[j * out_stride] = sum[j];
    }
};

constexpr std::array kAvx2TileKernels{
    CpuTileKernel{DType::Q8_0, kernels::vec_dot_rows<Q8_0Tile>},
    CpuTileKernel{DType::Q4_K, kernels::vec_dot_rows<Q4KTile>},
    CpuTileKernel{DType::Q6_K, kernels::vec_dot_rows<Q6KTile>},
};

}  // namespace

std::span<const CpuKernel> avx2_kernels() { return kAvx2Kernels; }
std::span<const CpuTileKernel> avx2_tile_kernels() { return kAvx2TileKernels; }

}  // namespace llcuda

#else
namespace llcuda {
std::span<const CpuKernel> avx2_kernels() { return {}; }
std::span<const CpuTileKernel> avx2_tile_kernels() { return {}; }
}  // namespace llcuda
#endif
