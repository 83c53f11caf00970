#include "model/synthetic_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/thread_pool.hpp"
#include "core/error.hpp"
#include "core/file_type.hpp"
#include "core/quant/quant.hpp"
#include "model/layer_weights.hpp"
#include "model/model_spec.hpp"
#include "model/quant_mix.hpp"

namespace llcuda {
namespace {

constexpr uint32_t kTokenTypeUnused = 5;

// Weights uniform in +-scale from a counter-based generator: rows are independent, so threads
// can fill them in any order and the file is the same for a given seed.
uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

std::vector<uint8_t> random_matrix(DType type, size_t rows, size_t columns, float scale,
                                   uint64_t seed, ThreadPool& pool) {
    const size_t stride = row_bytes(type, columns);
    std::vector<uint8_t> data(rows * stride);
    pool.parallel_for(rows, [&](size_t begin, size_t end) {
        std::vector<float> row(columns);
        for (size_t r = begin; r < end; ++r) {
            uint64_t state = mix64(seed ^ (r * 0x9E3779B97F4A7C15ull));
            for (auto& v : row) {
                state = mix64(state + 0x9E3779B97F4A7C15ull);
                v = scale * (static_cast<float>(state >> 40) / 8388608.0f - 1.0f);
            }
            quantize_row(type, row.data(), data.data() + r * stride, columns);
        }
    });
    return data;
}

std::vector<uint8_t> ones(size_t count) {
    std::vector<float> values(count, 1.0f);
    const auto* bytes = reinterpret_cast<const uint8_t*>(values.data());
    return {bytes, bytes + count * sizeof(float)};
}

void copy_tokenizer(const GgufFile& source, size_t vocab_size, GgufWriter& writer) {
    const auto* tokens = source.find("tokenizer.ggml.tokens");
    if (tokens == nullptr)
        throw Error(source.description() + " has no tokenizer to copy (tokenizer.ggml.tokens)");
    const size_t count = tokens->as_array().items.size();
    if (count > vocab_size) {
        throw Error(fmt::format("{}'s tokenizer has {} tokens, more than the shape's {}",
                                source.description(), count, vocab_size));
    }
    for (const auto& [key, value] : source.metadata()) {
        if (key.rfind("tokenizer.", 0) != 0) continue;
        if (key == "tokenizer.ggml.tokens" || key == "tokenizer.ggml.scores" ||
            key == "tokenizer.ggml.token_type") {
            auto items = value.as_array().items;
            for (size_t i = count; i < vocab_size; ++i) {
                if (key == "tokenizer.ggml.tokens")
                    items.push_back(GgufValue::string(fmt::format("<unused_{}>", i)));
                else if (key == "tokenizer.ggml.scores")
                    items.push_back(GgufValue::f32(-1e9f));
                else
                    items.push_back(GgufValue::i32(kTokenTypeUnused));
            }
            writer.set(key, GgufValue::array(value.as_array().element_type, std::move(items)));
        } else {
            writer.set(key, value);
        }
    }
}

}  // namespace

const std::vector<ModelShape>& known_model_shapes() {
    // Shapes of the released models (their config.json), with the architecture that runs them.
    static const std::vector<ModelShape> shapes = {
        {"llama3-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 500000.0f, 131072, true},
        {"llama3-3b", "llama", 3072, 28, 24, 8, 8192, 128256, 500000.0f, 131072, true},
        {"llama3-8b", "llama", 4096, 32, 32, 8, 14336, 128256, 500000.0f, 131072, false},
        {"llama2-7b", "llama", 4096, 32, 32, 32, 11008, 32000, 10000.0f, 4096, false},
        {"mistral-7b", "llama", 4096, 32, 32, 8, 14336, 32768, 1000000.0f, 32768, false},
        {"qwen2.5-7b", "qwen2", 3584, 28, 28, 4, 18944, 152064, 1000000.0f, 32768, false},
        {"qwen3-8b", "qwen3", 4096, 36, 32, 8, 12288, 151936, 1000000.0f, 40960, false, 128},
        {"gemma3-1b", "gemma3", 1152, 26, 4, 1, 6912, 262144, 1000000.0f, 32768, true, 256, 512},
        {"gemma3-4b", "gemma3", 2560, 34, 8, 4, 10240, 262208, 1000000.0f, 131072, true, 256, 1024,
         8.0f},
        {"phi3-mini", "phi3", 3072, 32, 32, 32, 8192, 32064, 10000.0f, 4096, false, 0, 2047},
        {"tiny", "llama", 256, 4, 8, 4, 768, 512, 10000.0f, 2048, false},
        // Odd sizes for tests: head dimensions and widths that are not powers of two.
        {"tiny-qwen2", "qwen2", 96, 3, 6, 2, 160, 512, 1000000.0f, 2048, false},
        {"tiny-qwen3", "qwen3", 96, 3, 6, 2, 160, 512, 1000000.0f, 2048, true, 32},
        {"tiny-gemma3", "gemma3", 128, 7, 4, 2, 352, 512, 1000000.0f, 2048, true, 64, 8},
        {"tiny-phi3", "phi3", 96, 3, 6, 6, 160, 512, 10000.0f, 2048, false},
    };
    return shapes;
}

const ModelShape& find_model_shape(const std::string& name) {
    std::string names;
    for (const auto& shape : known_model_shapes()) {
        if (shape.name == name) return shape;
        names += (names.empty() ? "" : ", ") + shape.name;
    }
    throw Error(fmt::format("unknown model shape '{}' (known: {})", name, names));
}

void build_synthetic_model(const SyntheticModelOptions& options, const GgufFile& tokenizer_source,
                           GgufWriter& writer) {
    const auto& shape = find_model_shape(options.shape);
    const std::string& arch = shape.architecture;
    auto set = [&](const std::string& key, GgufValue value) {
        writer.set(arch + "." + key, std::move(value));
    };
    writer.set("general.architecture", GgufValue::string(arch));
    writer.set("general.name",
               GgufValue::string(fmt::format("synthetic {} {} (random weights, for benchmarks)",
                                             shape.name, options.type)));
    set("embedding_length", GgufValue::u32(shape.embedding_dim));
    set("block_count", GgufValue::u32(shape.layers));
    set("feed_forward_length", GgufValue::u32(shape.feed_forward_dim));
    set("attention.head_count", GgufValue::u32(shape.heads));
    set("attention.head_count_kv", GgufValue::u32(shape.kv_heads));
    set("attention.key_length", GgufValue::u32(shape.head_size()));
    set("attention.value_length", GgufValue::u32(shape.head_size()));
    set("context_length", GgufValue::u32(shape.context_length));
    set("rope.freq_base", GgufValue::f32(shape.rope_freq_base));
    set("rope.dimension_count", GgufValue::u32(shape.head_size()));
    set("attention.layer_norm_rms_epsilon", GgufValue::f32(1e-6f));
    if (shape.sliding_window > 0)
        set("attention.sliding_window", GgufValue::u32(shape.sliding_window));
    if (shape.rope_scaling > 0.0f) {
        set("rope.scaling.type", GgufValue::string("linear"));
        set("rope.scaling.factor", GgufValue::f32(shape.rope_scaling));
    }
    const auto target = QuantTarget::parse(options.type);
    writer.set("general.file_type", GgufValue::u32(target.file_type()));
    copy_tokenizer(tokenizer_source, shape.vocab_size, writer);

    // The tensors are those the architecture's spec asks for (layer_weights.hpp's list).
    const auto spec = describe_model(
        GgufFile::from_memory(writer.serialize(), "synthetic " + shape.name), shape.vocab_size);
    ThreadPool pool(options.threads > 0 ? options.threads : ThreadPool::default_thread_count());
    uint64_t tensor_index = 0;
    auto add_matrix = [&](const WeightDescription& weight, size_t layer) {
        const DType type =
            type_fitting_rows(target.type_for(weight.role, layer, shape.layers), weight.columns);
        const float scale = 1.0f / std::sqrt(static_cast<float>(weight.columns));
        writer.add_tensor(weight.name, type, {weight.columns, weight.rows},
                          random_matrix(type, weight.rows, weight.columns, scale,
                                        mix64(options.seed + ++tensor_index), pool));
    };
    // Norm weights are ones; biases small random values (kept in F32, as converters keep them).
    auto add_vector = [&](const WeightDescription& weight) {
        writer.add_tensor(weight.name, DType::F32, {weight.columns},
                          weight.is_norm()
                              ? ones(weight.columns)
                              : random_matrix(DType::F32, 1, weight.columns, 0.02f,
                                              mix64(options.seed + ++tensor_index), pool));
    };
    for (const auto& weight : model_weights(spec, shape.tied_output)) {
        if (weight.rows > 1) {
            add_matrix(weight, 0);
        } else {
            add_vector(weight);
        }
    }
    for (size_t l = 0; l < shape.layers; ++l) {
        for_each_weight(spec, l, [&](const WeightDescription& weight) {
            if (weight.matrix != nullptr) {
                add_matrix(weight, l);
            } else {
                add_vector(weight);
            }
        });
    }
}

}  // namespace llcuda
