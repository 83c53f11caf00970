#include "model/model_spec.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"
#include "model/arch/architectures.hpp"

namespace llcuda {
namespace {

const Architecture& find_architecture(const GgufFile& file, const std::string& name) {
    std::string known;
    for (const auto& architecture : known_architectures()) {
        if (architecture.name == name) return architecture;
        known += (known.empty() ? "" : ", ") + std::string(architecture.name);
    }
    throw Error(
        fmt::format("{}: architecture '{}' is not supported (general.architecture; known: {})",
                    file.description(), name, known));
}

// The dimensions every architecture has, under its prefix.
void read_dimensions(const MetadataReader& metadata, ModelSpec& spec) {
    spec.embedding_dim = metadata.dimension("embedding_length");
    spec.layer_count = metadata.dimension("block_count");
    spec.feed_forward_dim = metadata.dimension("feed_forward_length");
    spec.head_count = metadata.dimension("attention.head_count");
    spec.kv_head_count = metadata.dimension("attention.head_count_kv", spec.head_count);
    spec.head_dim =
        metadata.dimension("attention.key_length", spec.embedding_dim / spec.head_count);
    spec.trained_context = metadata.dimension("context_length", 2048);
    spec.rms_epsilon = metadata.positive("attention.layer_norm_rms_epsilon", 1e-5f);
    const auto& file = metadata.file();
    if (spec.head_count % spec.kv_head_count != 0) {
        throw Error(fmt::format("{}: {} attention heads cannot be shared by {} KV heads",
                                file.description(), spec.head_count, spec.kv_head_count));
    }
    if (spec.head_dim == 0) {
        throw Error(fmt::format("{}: head dimension 0 ({} / {})", file.description(),
                                spec.embedding_dim, spec.head_count));
    }
    if (metadata.dimension("attention.value_length", spec.head_dim) != spec.head_dim) {
        throw Error(fmt::format("{}: '{}' differs from the key length {}, which is not supported",
                                file.description(), metadata.key("attention.value_length"),
                                spec.head_dim));
    }
}

}  // namespace

size_t ModelSpec::cache_positions(size_t layer, size_t context_size, size_t batch_tokens) const {
    const size_t window = layers.at(layer).window;
    return window == 0 ? context_size : std::min(window + batch_tokens - 1, context_size);
}

bool ModelSpec::any_layer(bool LayerSpec::*feature) const {
    return std::any_of(layers.begin(), layers.end(),
                       [&](const LayerSpec& layer) { return layer.*feature; });
}

ModelSpec read_model_spec(const GgufFile& file) {
    const auto* embeddings = file.find_tensor("token_embd.weight");
    if (!embeddings || embeddings->shape.size() != 2) {
        throw Error(file.description() + ": tensor 'token_embd.weight' is missing or not 2-D");
    }
    return describe_model(file, static_cast<size_t>(embeddings->shape[1]));
}

ModelSpec describe_model(const GgufFile& metadata_file, size_t vocab_size) {
    const auto& file = metadata_file;
    ModelSpec spec;
    spec.vocab_size = vocab_size;
    spec.architecture = file.get_string("general.architecture");
    const auto& architecture = find_architecture(file, spec.architecture);
    const MetadataReader metadata(file, spec.architecture);
    read_dimensions(metadata, spec);
    architecture.describe(metadata, spec);
    return spec;
}

size_t context_size_to_use(size_t requested, size_t trained_context) {
    constexpr size_t kDefaultMaxContext = 4096;
    const size_t size = requested > 0 ? requested : std::min(trained_context, kDefaultMaxContext);
    if (size > (size_t{1} << 20)) {
        throw Error(fmt::format(
            "context size {} is too large (at most 1048576); lower -c/--ctx-size", size));
    }
    return size;
}

std::string context_length_warning(size_t context_size, size_t trained_context) {
    if (trained_context == 0 || context_size <= trained_context) return "";
    return fmt::format(
        "warning: context {} is longer than the {} positions the model was trained on; output "
        "past position {} may be garbage (lower -c/--ctx-size)",
        context_size, trained_context, trained_context);
}

}  // namespace llcuda
