#include "model/llama_hparams.hpp"

#include <fmt/format.h>

#include <array>

#include "core/error.hpp"

namespace llcuda {
namespace {

constexpr std::array<std::string_view, 2> kSupportedArchitectures{"llama", "mistral"};
constexpr size_t kMaxDimension = size_t{1} << 20;

size_t read_dimension(const GgufFile& file, const std::string& key) {
    const auto value = file.get_uint(key);
    if (value == 0 || value > kMaxDimension) {
        throw Error(fmt::format("{}: metadata '{}' = {} is not a plausible size",
                                file.description(), key, value));
    }
    return static_cast<size_t>(value);
}

}  // namespace

LlamaHparams read_llama_hparams(const GgufFile& file) {
    LlamaHparams hp;
    hp.architecture = file.get_string("general.architecture");
    bool supported = false;
    for (const auto name : kSupportedArchitectures)
        supported = supported || hp.architecture == name;
    if (!supported) {
        throw Error(
            fmt::format("{}: architecture '{}' is not supported yet (supported: llama, mistral)",
                        file.description(), hp.architecture));
    }
    const std::string prefix = hp.architecture + ".";
    hp.embedding_dim = read_dimension(file, prefix + "embedding_length");
    hp.layer_count = read_dimension(file, prefix + "block_count");
    hp.feed_forward_dim = read_dimension(file, prefix + "feed_forward_length");
    hp.head_count = read_dimension(file, prefix + "attention.head_count");
    hp.kv_head_count = file.find(prefix + "attention.head_count_kv")
                           ? read_dimension(file, prefix + "attention.head_count_kv")
                           : hp.head_count;
    hp.head_dim = file.find(prefix + "attention.key_length")
                      ? read_dimension(file, prefix + "attention.key_length")
                      : hp.embedding_dim / hp.head_count;
    hp.trained_context = file.find(prefix + "context_length")
                             ? read_dimension(file, prefix + "context_length")
                             : 2048;
    hp.rms_epsilon = static_cast<float>(
        file.find_double(prefix + "attention.layer_norm_rms_epsilon").value_or(1e-5));
    hp.rope_freq_base =
        static_cast<float>(file.find_double(prefix + "rope.freq_base").value_or(10000.0));
    hp.rope_dims = file.find(prefix + "rope.dimension_count")
                       ? read_dimension(file, prefix + "rope.dimension_count")
                       : hp.head_dim;

    const auto scaling = file.find_string(prefix + "rope.scaling.type").value_or("none");
    if (scaling == "linear") {
        const double factor = file.find_double(prefix + "rope.scaling.factor").value_or(1.0);
        if (!(factor > 0.0))
            throw Error(
                fmt::format("{}: rope.scaling.factor must be positive", file.description()));
        hp.rope_position_scale = static_cast<float>(1.0 / factor);
    } else if (scaling != "none" && scaling != "llama3") {
        // Llama 3 scaling arrives as the rope_freqs.weight tensor, read by the model.
        throw Error(
            fmt::format("{}: rope scaling '{}' is not supported yet", file.description(), scaling));
    }

    if (hp.head_count % hp.kv_head_count != 0) {
        throw Error(fmt::format("{}: {} attention heads cannot be shared by {} KV heads",
                                file.description(), hp.head_count, hp.kv_head_count));
    }
    if (hp.head_dim == 0 || hp.rope_dims > hp.head_dim || hp.rope_dims % 2 != 0) {
        throw Error(fmt::format("{}: rope dimension {} does not fit head dimension {}",
                                file.description(), hp.rope_dims, hp.head_dim));
    }

    const auto* embeddings = file.find_tensor("token_embd.weight");
    if (!embeddings || embeddings->shape.size() != 2) {
        throw Error(file.description() + ": tensor 'token_embd.weight' is missing or not 2-D");
    }
    hp.vocab_size = static_cast<size_t>(embeddings->shape[1]);
    return hp;
}

}  // namespace llcuda
