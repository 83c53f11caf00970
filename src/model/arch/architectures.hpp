#pragma once
// The registry of architectures: `general.architecture` -> the function that fills in what
// sets the architecture apart. model_spec.cpp reads the dimensions every architecture shares
// first; each describe function then sets the per-layer features (model/arch/<name>.cpp).
#include <span>
#include <string_view>

#include "model/arch/metadata_reader.hpp"
#include "model/model_spec.hpp"

namespace llcuda {

struct Architecture {
    std::string_view name;
    void (*describe)(const MetadataReader& metadata, ModelSpec& spec);
};

std::span<const Architecture> known_architectures();

void describe_llama(const MetadataReader& metadata, ModelSpec& spec);
void describe_qwen2(const MetadataReader& metadata, ModelSpec& spec);
void describe_qwen3(const MetadataReader& metadata, ModelSpec& spec);
void describe_gemma3(const MetadataReader& metadata, ModelSpec& spec);
void describe_phi3(const MetadataReader& metadata, ModelSpec& spec);

// Shared pieces of the descriptions.
// RoPE from "<arch>.rope.*": rotated dimensions, frequency base, linear scaling.
RopeParams read_rope(const MetadataReader& metadata, const ModelSpec& spec, RopeStyle style);
void set_every_layer(ModelSpec& spec, const LayerSpec& layer);

}  // namespace llcuda
