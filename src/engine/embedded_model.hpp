#pragma once
// The default model built into the binary: karpathy's stories260K (TinyStories), a tiny
// trained Llama, so `llcuda run` works with nothing downloaded. See models/README.md.
#include <cstdint>
#include <span>

namespace llcuda {

constexpr const char* kEmbeddedModelName = "embedded:stories260K";
std::span<const uint8_t> embedded_model_bytes();

}  // namespace llcuda
