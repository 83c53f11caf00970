#pragma once
// The 256-element super-block formats (Q2_K .. Q8_K): one super-block at a time.
#include "core/quant/blocks.hpp"

namespace llcuda {

void dequantize_block(const BlockQ2_K& block, float* out);
void dequantize_block(const BlockQ3_K& block, float* out);
void dequantize_block(const BlockQ4_K& block, float* out);
void dequantize_block(const BlockQ5_K& block, float* out);
void dequantize_block(const BlockQ6_K& block, float* out);
void dequantize_block(const BlockQ8_K& block, float* out);

void quantize_block(const float* in, BlockQ2_K& block);
void quantize_block(const float* in, BlockQ3_K& block);
void quantize_block(const float* in, BlockQ4_K& block);
void quantize_block(const float* in, BlockQ5_K& block);
void quantize_block(const float* in, BlockQ6_K& block);
void quantize_block(const float* in, BlockQ8_K& block);

// The 6-bit scale/min pairs of Q4_K and Q5_K, packed into 12 bytes.
void unpack_scale_min_k4(const uint8_t* packed, int index, uint8_t& scale, uint8_t& min);

}  // namespace llcuda
