#pragma once
// Every GGUF block format seen from the GPU as 32-element sub-blocks: 32 small signed integers
// (packed four to an int, element 4k+j in byte j of q[k]) and, for each half of 16 elements, a
// scale and an offset, so that value[i] = scale[i / 16] * q[i] + offset[i / 16]. Matrix-vector
// products multiply the integers with int8 activations (dp4a) and apply the scales once per
// half; dequantization evaluates the formula. Formats that subtract a constant from their codes
// (Q4_0's 8, Q6_K's 32, ...) keep the codes unsigned and put the constant in the offset: an
// offset costs two multiply-adds per sub-block, a per-byte subtraction several instructions
// per word. Byte offsets follow the GGUF spec's field positions.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "core/dtype.hpp"

namespace llcuda::cuda {

struct SubBlock {
    int q[8];
    float scale[2];
    float offset[2];
};

// Activations quantized for the dot products: 32 values as int8 with one float scale, and the
// scaled sum of each half's integers, which the formats with offsets multiply by the offset
// instead of summing the activations again for every weight row. 48 bytes, so that a lane
// reads the integers and the scalars as 16-byte vectors.
struct alignas(16) ActivationBlock {
    int q[8];
    float d;
    float sum[2];  // d times the sum of q over elements 0..15 and 16..31
    float unused;
};

// The plain float storage types, element by element.
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

__device__ __forceinline__ float half_at(const uint8_t* p) {
    return __half2float(__ushort_as_half(*reinterpret_cast<const uint16_t*>(p)));
}

// Four bytes from a 2-byte aligned address.
__device__ __forceinline__ uint32_t u32_at2(const uint8_t* p) {
    const auto* h = reinterpret_cast<const uint16_t*>(p);
    return static_cast<uint32_t>(h[0]) | (static_cast<uint32_t>(h[1]) << 16);
}

__device__ __forceinline__ uint32_t u32_at4(const uint8_t* p) {
    return *reinterpret_cast<const uint32_t*>(p);
}

// The fifth bits of four consecutive elements, starting at bit `first` of `bits`, moved to
// bit 4 of each byte.
__device__ __forceinline__ uint32_t fifth_bits(uint32_t bits, int first) {
    const uint32_t four = (bits >> first) & 0xF;
    return ((four & 1) << 4) | ((four & 2) << 11) | ((four & 4) << 18) | ((four & 8) << 25);
}

__device__ __forceinline__ void set_uniform(SubBlock& out, float scale, float offset) {
    out.scale[0] = out.scale[1] = scale;
    out.offset[0] = out.offset[1] = offset;
}

template <DType T>
struct Unpack;

template <>
struct Unpack<DType::Q4_0> {
    static constexpr bool kHasOffset = true;
    static constexpr int kBlockBytes = 18;
    static constexpr int kSubBlocks = 1;
    __device__ static void run(const uint8_t* block, int, SubBlock& out) {
        const float d = half_at(block);
        set_uniform(out, d, -8.0f * d);
        for (int k = 0; k < 4; ++k) {
            const uint32_t w = u32_at2(block + 2 + 4 * k);
            out.q[k] = static_cast<int>(w & 0x0F0F0F0F);
            out.q[4 + k] = static_cast<int>((w >> 4) & 0x0F0F0F0F);
        }
    }
};

template <>
struct Unpack<DType::Q4_1> {
    static constexpr bool kHasOffset = true;
    static constexpr int kBlockBytes = 20;
    static constexpr int kSubBlocks = 1;
    __device__ static void run(const uint8_t* block, int, SubBlock& out) {
        set_uniform(out, half_at(block), half_at(block + 2));
        for (int k = 0; k < 4; ++k) {
            const uint32_t w = u32_at4(block + 4 + 4 * k);
            out.q[k] = static_cast<int>(w & 0x0F0F0F0F);
            out.q[4 + k] = static_cast<int>((w >> 4) & 0x0F0F0F0F);
        }
    }
};

template <>
struct Unpack<DType::Q5_0> {
    static constexpr bool kHasOffset = true;
    static constexpr int kBlockBytes = 22;
    static constexpr int kSubBlocks = 1;
    __device__ static void run(const uint8_t* block, int, SubBlock& out) {
        const float d = half_at(block);
        set_uniform(out, d, -16.0f * d);
        const uint32_t high = u32_at2(block + 2);
        for (int k = 0; k < 4; ++k) {
            const uint32_t w = u32_at2(block + 6 + 4 * k);
            out.q[k] = static_cast<int>((w & 0x0F0F0F0F) | fifth_bits(high, 4 * k));
            out.q[4 + k] = static_cast<int>(((w >> 4) & 0x0F0F0F0F) | fifth_bits(high, 16 + 4 * k));
        }
    }
};

template <>
struct Unpack<DType::Q5_1> {
    static constexpr bool kHasOffset = true;
    static constexpr int kBlockBytes = 24;
    static constexpr int kSubBlocks = 1;
    __device__ static void run(const uint8_t* block, int, SubBlock& out) {
        set_uniform(out, half_at(block), half_at(block + 2));
        const uint32_t high = u32_at4(block + 4);
        for (int k = 0; k < 4; ++k) {
            const uint32_t w = u32_at4(block + 8 + 4 * k);
            out.q[k] = static_cast<int>((w & 0x0F0F0F0F) | fifth_bits(high, 4 * k));
            out.q[4 + k] = static_cast<int>(((w >> 4) & 0x0F0F0F0F) | fifth_bits(high, 16 + 4 * k));
        }
    }
};

template <>
struct Unpack<DType::Q8_0> {
    static constexpr bool kHasOffset = false;
    static constexpr int kBlockBytes = 34;
    static constexpr int kSubBlocks = 1;
    __device__ static void run(const uint8_t* block, int, SubBlock& out) {
        set_uniform(out, half_at(block), 0.0f);
        for (int k = 0; k < 8; ++k) out.q[k] = static_cast<int>(u32_at2(block + 2 + 4 * k));
    }
};

// K-quants: 256-element super-blocks of eight 32-element sub-blocks (index `sub`).
template <>
struct Unpack<DType::Q2_K> {
    static constexpr bool kHasOffset = true;
    static constexpr int kBlockBytes = 84;
    static constexpr int kSubBlocks = 8;
    __device__ static void run(const uint8_t* block, int sub, SubBlock& out) {
        const float d = half_at(block + 80);
        const float dmin = half_at(block + 82);
        for (int h = 0; h < 2; ++h) {
            const uint8_t packed = block[2 * sub + h];
            out.scale[h] = d * static_cast<float>(packed & 0x0F);
            out.offset[h] = -dmin * static_cast<float>(packed >> 4);
        }
        const uint8_t* qs = block + 16 + (sub / 4) * 32;
        const int shift = 2 * (sub % 4);
        for (int k = 0; k < 8; ++k)
            out.q[k] = static_cast<int>((u32_at4(qs + 4 * k) >> shift) & 0x03030303);
    }
};

template <>
struct Unpack<DType::Q3_K> {
    static constexpr bool kHasOffset = true;
    static constexpr int kBlockBytes = 110;
    static constexpr int kSubBlocks = 8;
    __device__ static int scale(const uint8_t* packed, int index) {
        const int low = index < 8 ? (packed[index] & 0x0F) : (packed[index - 8] >> 4);
        const int high = (packed[8 + index % 4] >> (2 * (index / 4))) & 3;
        return (low | (high << 4)) - 32;
    }
    __device__ static void run(const uint8_t* block, int sub, SubBlock& out) {
        const float d = half_at(block + 108);
        for (int h = 0; h < 2; ++h) {
            out.scale[h] = d * static_cast<float>(scale(block + 96, 2 * sub + h));
            out.offset[h] = -4.0f * out.scale[h];
        }
        const uint8_t* qs = block + 32 + (sub / 4) * 32;
        const int shift = 2 * (sub % 4);
        for (int k = 0; k < 8; ++k) {
            const uint32_t low = (u32_at2(qs + 4 * k) >> shift) & 0x03030303;
            const uint32_t high = (u32_at2(block + 4 * k) >> sub) & 0x01010101;
            out.q[k] = static_cast<int>(low | (high << 2));
        }
    }
};

// The 6-bit scale and min of sub-block j of Q4_K and Q5_K (12 packed bytes).
__device__ __forceinline__ void scale_min_k4(const uint8_t* packed, int j, int& scale, int& min) {
    if (j < 4) {
        scale = packed[j] & 63;
        min = packed[j + 4] & 63;
    } else {
        scale = (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4);
        min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
    }
}

// Q4_K and Q5_K start alike: d, dmin, then the packed scales and mins.
__device__ __forceinline__ void set_k4_scales(const uint8_t* block, int sub, SubBlock& out) {
    int scale, min;
    scale_min_k4(block + 4, sub, scale, min);
    set_uniform(out, half_at(block) * static_cast<float>(scale),
                -half_at(block + 2) * static_cast<float>(min));
}

template <>
struct Unpack<DType::Q4_K> {
    static constexpr bool kHasOffset = true;
    static constexpr int kBlockBytes = 144;
    static constexpr int kSubBlocks = 8;
    __device__ static void run(const uint8_t* block, int sub, SubBlock& out) {
        set_k4_scales(block, sub, out);
        const uint8_t* qs = block + 16 + (sub / 2) * 32;
        const int shift = 4 * (sub % 2);
        for (int k = 0; k < 8; ++k)
            out.q[k] = static_cast<int>((u32_at4(qs + 4 * k) >> shift) & 0x0F0F0F0F);
    }
};

template <>
struct Unpack<DType::Q5_K> {
    static constexpr bool kHasOffset = true;
    static constexpr int kBlockBytes = 176;
    static constexpr int kSubBlocks = 8;
    __device__ static void run(const uint8_t* block, int sub, SubBlock& out) {
        set_k4_scales(block, sub, out);
        const uint8_t* qs = block + 48 + (sub / 2) * 32;
        const int shift = 4 * (sub % 2);
        for (int k = 0; k < 8; ++k) {
            const uint32_t low = (u32_at4(qs + 4 * k) >> shift) & 0x0F0F0F0F;
            const uint32_t high = (u32_at4(block + 16 + 4 * k) >> sub) & 0x01010101;
            out.q[k] = static_cast<int>(low | (high << 4));
        }
    }
};

template <>
struct Unpack<DType::Q6_K> {
    static constexpr bool kHasOffset = true;
    static constexpr int kBlockBytes = 210;
    static constexpr int kSubBlocks = 8;
    __device__ static void run(const uint8_t* block, int sub, SubBlock& out) {
        const float d = half_at(block + 208);
        const auto* scales = reinterpret_cast<const int8_t*>(block + 192);
        for (int h = 0; h < 2; ++h) {
            out.scale[h] = d * static_cast<float>(scales[2 * sub + h]);
            out.offset[h] = -32.0f * out.scale[h];
        }
        const int half = sub / 4;
        const int quarter = sub % 4;
        const uint8_t* ql = block + half * 64 + 32 * (quarter % 2);
        const uint8_t* qh = block + 128 + half * 32;
        const int low_shift = 4 * (quarter / 2);
        for (int k = 0; k < 8; ++k) {
            const uint32_t low = (u32_at2(ql + 4 * k) >> low_shift) & 0x0F0F0F0F;
            const uint32_t high = (u32_at2(qh + 4 * k) >> (2 * quarter)) & 0x03030303;
            out.q[k] = static_cast<int>(low | (high << 4));
        }
    }
};

template <>
struct Unpack<DType::Q8_K> {
    static constexpr bool kHasOffset = false;
    static constexpr int kBlockBytes = 292;
    static constexpr int kSubBlocks = 8;
    __device__ static void run(const uint8_t* block, int sub, SubBlock& out) {
        set_uniform(out, *reinterpret_cast<const float*>(block), 0.0f);
        for (int k = 0; k < 8; ++k)
            out.q[k] = static_cast<int>(u32_at4(block + 4 + 32 * sub + 4 * k));
    }
};

// Sub-block `index` (0-based, 32 elements each) of a row.
template <DType T>
__device__ __forceinline__ void unpack_sub_block(const uint8_t* row, int index, SubBlock& out) {
    using U = Unpack<T>;
    Unpack<T>::run(row + (index / U::kSubBlocks) * U::kBlockBytes, index % U::kSubBlocks, out);
}

__device__ __forceinline__ int byte_of(int packed, int j) {
    return static_cast<int8_t>(static_cast<uint32_t>(packed) >> (8 * j));
}

// Calls f(DType constant) for the quantized type `type`; false for plain float types.
#define LLCUDA_FOR_EACH_QUANT_TYPE(X) \
    X(Q4_0) X(Q4_1) X(Q5_0) X(Q5_1) X(Q8_0) X(Q2_K) X(Q3_K) X(Q4_K) X(Q5_K) X(Q6_K) X(Q8_K)

}  // namespace llcuda::cuda
