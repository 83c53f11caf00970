#pragma once
// Block layouts of the GGUF quantization formats, byte for byte as the specification (ggml)
// stores them. Half-precision scales are kept as raw uint16_t bits.
#include <cstddef>
#include <cstdint>

namespace llcuda {

constexpr size_t kQK4_0 = 32;
constexpr size_t kQK4_1 = 32;
constexpr size_t kQK5_0 = 32;
constexpr size_t kQK5_1 = 32;
constexpr size_t kQK8_0 = 32;
constexpr size_t kQK_K = 256;       // super-block size of the k-quants
constexpr size_t kKScaleSize = 12;  // 8 six-bit scales + 8 six-bit mins, packed

struct BlockQ4_0 {
    static constexpr size_t kElements = kQK4_0;
    uint16_t d;
    uint8_t qs[kQK4_0 / 2];  // low nibbles: elements 0..15, high nibbles: 16..31
};
struct BlockQ4_1 {
    static constexpr size_t kElements = kQK4_1;
    uint16_t d;
    uint16_t m;
    uint8_t qs[kQK4_1 / 2];
};
struct BlockQ5_0 {
    static constexpr size_t kElements = kQK5_0;
    uint16_t d;
    uint8_t qh[4];  // fifth bit of each element, little-endian bit i = element i
    uint8_t qs[kQK5_0 / 2];
};
struct BlockQ5_1 {
    static constexpr size_t kElements = kQK5_1;
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[kQK5_1 / 2];
};
struct BlockQ8_0 {
    static constexpr size_t kElements = kQK8_0;
    uint16_t d;
    int8_t qs[kQK8_0];
};
struct BlockQ2_K {
    static constexpr size_t kElements = kQK_K;
    uint8_t scales[kQK_K / 16];  // low nibble scale, high nibble min, per 16 elements
    uint8_t qs[kQK_K / 4];
    uint16_t d;
    uint16_t dmin;
};
struct BlockQ3_K {
    static constexpr size_t kElements = kQK_K;
    uint8_t hmask[kQK_K / 8];
    uint8_t qs[kQK_K / 4];
    uint8_t scales[12];  // sixteen 6-bit scales
    uint16_t d;
};
struct BlockQ4_K {
    static constexpr size_t kElements = kQK_K;
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[kKScaleSize];
    uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
    static constexpr size_t kElements = kQK_K;
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[kKScaleSize];
    uint8_t qh[kQK_K / 8];
    uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
    static constexpr size_t kElements = kQK_K;
    uint8_t ql[kQK_K / 2];
    uint8_t qh[kQK_K / 4];
    int8_t scales[kQK_K / 16];
    uint16_t d;
};
struct BlockQ8_K {
    static constexpr size_t kElements = kQK_K;
    float d;
    int8_t qs[kQK_K];
    int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace llcuda
