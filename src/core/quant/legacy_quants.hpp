#pragma once
// The 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): one block at a time.
#include "core/quant/blocks.hpp"

namespace llcuda {

void dequantize_block(const BlockQ4_0& block, float* out);
void dequantize_block(const BlockQ4_1& block, float* out);
void dequantize_block(const BlockQ5_0& block, float* out);
void dequantize_block(const BlockQ5_1& block, float* out);
void dequantize_block(const BlockQ8_0& block, float* out);

void quantize_block(const float* in, BlockQ4_0& block);
void quantize_block(const float* in, BlockQ4_1& block);
void quantize_block(const float* in, BlockQ5_0& block);
void quantize_block(const float* in, BlockQ5_1& block);
void quantize_block(const float* in, BlockQ8_0& block);

}  // namespace llcuda
