#include "model/synthetic_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/thread_pool.hpp"
#include "core/error.hpp"
#include "core/file_type.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {
namespace {

constexpr uint32_t kTokenTypeUnused = 5;

// Layers that Q4_K_M keeps in Q6_K for attn_v and ffn_down: the first and last eighth, and
// every third layer in between.
bool more_bits(size_t layer, size_t layers) {
    return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

DType type_for(const std::string& mix, const std::string& tensor, size_t layer, size_t layers) {
    if (mix != "Q4_K_M") {
        const auto type = dtype_from_name(mix);
        if (!type)
            throw Error(fmt::format("unknown type '{}': use a GGUF type name or Q4_K_M", mix));
        return *type;
    }
    if (tensor == "output") return DType::Q6_K;
    if ((tensor == "attn_v" || tensor == "ffn_down") && more_bits(layer, layers))
        return DType::Q6_K;
    return DType::Q4_K;
}

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
    static const std::vector<ModelShape> shapes = {
        {"llama3-1b", 2048, 16, 32, 8, 8192, 128256, 500000.0f, 131072, true},
        {"llama3-3b", 3072, 28, 24, 8, 8192, 128256, 500000.0f, 131072, true},
        {"llama3-8b", 4096, 32, 32, 8, 14336, 128256, 500000.0f, 131072, false},
        {"llama2-7b", 4096, 32, 32, 32, 11008, 32000, 10000.0f, 4096, false},
        {"mistral-7b", 4096, 32, 32, 8, 14336, 32768, 1000000.0f, 32768, false},
        // Qwen 2.5's shape as a llama model (its attention biases left out).
        {"qwen2.5-7b", 3584, 28, 28, 4, 18944, 152064, 1000000.0f, 32768, false},
        {"tiny", 256, 4, 8, 4, 768, 512, 10000.0f, 2048, false},
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
    const size_t head_dim = shape.embedding_dim / shape.heads;
    writer.set("general.architecture", GgufValue::string("llama"));
    writer.set("general.name",
               GgufValue::string(fmt::format("synthetic {} {} (random weights, for benchmarks)",
                                             shape.name, options.type)));
    writer.set("llama.embedding_length", GgufValue::u32(shape.embedding_dim));
    writer.set("llama.block_count", GgufValue::u32(shape.layers));
    writer.set("llama.feed_forward_length", GgufValue::u32(shape.feed_forward_dim));
    writer.set("llama.attention.head_count", GgufValue::u32(shape.heads));
    writer.set("llama.attention.head_count_kv", GgufValue::u32(shape.kv_heads));
    writer.set("llama.context_length", GgufValue::u32(shape.context_length));
    writer.set("llama.rope.freq_base", GgufValue::f32(shape.rope_freq_base));
    writer.set("llama.rope.dimension_count", GgufValue::u32(head_dim));
    writer.set("llama.attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f));
    constexpr uint32_t kFileTypeQ4_K_M = 15;  // llama_ftype
    const auto file_type = options.type == "Q4_K_M"
                               ? std::optional<uint32_t>(kFileTypeQ4_K_M)
                               : file_type_written_for(type_for(options.type, "", 0, 1));
    if (file_type) writer.set("general.file_type", GgufValue::u32(*file_type));
    copy_tokenizer(tokenizer_source, shape.vocab_size, writer);

    ThreadPool pool(options.threads > 0 ? options.threads : ThreadPool::default_thread_count());
    uint64_t tensor_index = 0;
    auto add_matrix = [&](const std::string& name, const std::string& role, size_t layer,
                          size_t columns, size_t rows) {
        const DType type = type_for(options.type, role, layer, shape.layers);
        const float scale = 1.0f / std::sqrt(static_cast<float>(columns));
        writer.add_tensor(
            name, type, {columns, rows},
            random_matrix(type, rows, columns, scale, mix64(options.seed + ++tensor_index), pool));
    };
    const size_t dim = shape.embedding_dim;
    const size_t kv_dim = shape.kv_heads * head_dim;
    add_matrix("token_embd.weight", "token_embd", 0, dim, shape.vocab_size);
    for (size_t l = 0; l < shape.layers; ++l) {
        const std::string p = fmt::format("blk.{}.", l);
        writer.add_tensor(p + "attn_norm.weight", DType::F32, {dim}, ones(dim));
        add_matrix(p + "attn_q.weight", "attn_q", l, dim, dim);
        add_matrix(p + "attn_k.weight", "attn_k", l, dim, kv_dim);
        add_matrix(p + "attn_v.weight", "attn_v", l, dim, kv_dim);
        add_matrix(p + "attn_output.weight", "attn_output", l, dim, dim);
        writer.add_tensor(p + "ffn_norm.weight", DType::F32, {dim}, ones(dim));
        add_matrix(p + "ffn_gate.weight", "ffn_gate", l, dim, shape.feed_forward_dim);
        add_matrix(p + "ffn_up.weight", "ffn_up", l, dim, shape.feed_forward_dim);
        add_matrix(p + "ffn_down.weight", "ffn_down", l, shape.feed_forward_dim, dim);
    }
    writer.add_tensor("output_norm.weight", DType::F32, {dim}, ones(dim));
    if (!shape.tied_output) add_matrix("output.weight", "output", 0, dim, shape.vocab_size);
}

}  // namespace llcuda
