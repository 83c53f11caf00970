// The AVX2 kernels (built with -mavx2 -mfma -mf16c): int8 products with maddubs, the same
// integer sums as vec_dot_scalar.cpp and the same float steps in the same order, so the results
// are bit-exact with it. Half scales convert with F16C (exact, as half_to_float is).
#include "backend/cpu/kernels/kernel_table.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <array>

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

constexpr std::array kAvx2Kernels{
    CpuKernel{DType::Q4_0, DType::Q8_0, vec_dot_q4_0_q8_0},
    CpuKernel{DType::Q8_0, DType::Q8_0, vec_dot_q8_0_q8_0},
    CpuKernel{DType::Q4_K, DType::Q8_K, vec_dot_q4_k_q8_k},
    CpuKernel{DType::Q6_K, DType::Q8_K, vec_dot_q6_k_q8_k},
};

}  // namespace

std::span<const CpuKernel> avx2_kernels() { return kAvx2Kernels; }

}  // namespace llcuda

#else
namespace llcuda {
std::span<const CpuKernel> avx2_kernels() { return {}; }
}  // namespace llcuda
#endif
