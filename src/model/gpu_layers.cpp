#include "model/gpu_layers.hpp"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>

#include "backend/cuda/cuda_check.hpp"
#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/device_buffer.hpp"
#include "backend/cuda/gpu_matmul.hpp"

namespace llcuda {

static_assert(kGpuInvariantTokens == cuda::kMaxMatvecTokens);

namespace {

constexpr size_t kAlignment = 256;

size_t aligned(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

// One device allocation holding every weight, laid out by a first pass that only counts.
class WeightArena {
  public:
    void reserve(size_t bytes) { size_ += aligned(bytes); }
    void allocate(int device) {
        buffer_ = DeviceBuffer(size_, device);
        offset_ = 0;
    }
    uint8_t* upload(const void* host, size_t bytes) {
        auto* destination = buffer_.as<uint8_t>() + offset_;
        CUDA_CHECK(cudaMemcpy(destination, host, bytes, cudaMemcpyHostToDevice));
        offset_ += aligned(bytes);
        return destination;
    }
    size_t bytes() const { return buffer_.bytes(); }

  private:
    size_t size_ = 0;
    size_t offset_ = 0;
    DeviceBuffer buffer_;
};

size_t matrix_bytes(const WeightMatrix& m) { return m.rows * m.row_stride_bytes; }

// The CUDA layers compute every feature of the LayerSpec and ModelSpec; one they do not have is
// an error naming it, never a run that skips it. What is left: heads wider than the attention
// kernels take.
void check_gpu_supports(const ModelSpec& spec) {
    if (spec.head_dim > cuda::kMaxAttentionHeadDim) {
        throw Error(fmt::format(
            "architecture '{}' has heads of {} values; the CUDA attention kernels take at most "
            "{}; run it with --device cpu (or --gpu-layers 0)",
            spec.architecture, spec.head_dim, cuda::kMaxAttentionHeadDim));
    }
}

struct GpuLayer {
    const float* attention_norm = nullptr;
    cuda::DeviceMatrix query, key, value, attention_output;
    cuda::HeadPrologue prologue;  // biases and QK-norm between the Q/K/V products and RoPE
    const float* post_attention_norm = nullptr;
    const float* ffn_norm = nullptr;
    cuda::DeviceMatrix ffn_gate, ffn_up, ffn_down;
    const float* post_ffn_norm = nullptr;
    cuda::DeviceRope rope;       // this layer's base and scale (Gemma 3's differ by layer)
    cuda::AttentionShape shape;  // with the layer's scale and window
    DeviceBuffer key_cache, value_cache;
};

// Pinned host memory, so that the copies around a decode step are asynchronous.
class PinnedBuffer {
  public:
    explicit PinnedBuffer(size_t bytes) { CUDA_CHECK(cudaMallocHost(&pointer_, bytes)); }
    ~PinnedBuffer() { cudaFreeHost(pointer_); }
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;
    template <typename T>
    T* as() const {
        return static_cast<T*>(pointer_);
    }

  private:
    void* pointer_ = nullptr;
};

// A step's inputs: tokens, positions and cache rows (max_batch each), then outputs (sequences).
size_t input_bytes(const GpuLayersOptions& options) {
    return (3 * options.max_batch + options.sequences) * sizeof(int32_t);
}
// The inputs, then the greedy tokens (sequences).
size_t host_io_bytes(const GpuLayersOptions& options) {
    return input_bytes(options) + options.sequences * sizeof(int32_t);
}

}  // namespace

struct GpuLayers::Impl {
    Impl(const Decoder& model, const GpuLayersOptions& options);
    ~Impl();

    // The whole computation of `count` tokens with `outputs` of them producing logits;
    // `short_context`: no token sees more than cuda::kShortAttentionRows cache rows.
    void enqueue(size_t count, size_t outputs, bool short_context);
    // The step's inputs to the device (host_io's tokens, positions, cache rows and outputs, in
    // one copy) and its greedy tokens back, around enqueue(): directly, or as a captured graph
    // for decode steps (up to 8 tokens, each an output), so that a step is one launch.
    void run(size_t count, size_t outputs, bool short_context);

    // host_io and inputs_device share this layout: tokens, positions and cache rows
    // (max_batch each), the outputs (sequences); host_io then holds the greedy tokens.
    int32_t* inputs(size_t part) const {
        return inputs_device.as<int32_t>() + part * options.max_batch;
    }
    int32_t* host_inputs(size_t part) const {
        return host_io.as<int32_t>() + part * options.max_batch;
    }
    static constexpr size_t kTokens = 0, kPositions = 1, kCacheRows = 2, kOutputs = 3;
    int32_t* host_greedy() const { return host_inputs(kOutputs) + options.sequences; }

    // The batch's tokens, positions, cache rows and outputs into host_io, checked.
    void stage_inputs(const TokenBatch& batch, bool want_logits, size_t top_k);
    // After the hidden states are in x: the step, then the outputs (the head segment only), then
    // either a wait for all of it (the head) or an event the next segment waits on.
    void finish(const TokenBatch& batch, bool want_logits, size_t top_k);

    const Decoder& model;
    const ModelSpec& hp;
    GpuLayersOptions options;
    bool head = false;  // this segment ends the model: final norm, output head, logits
    cudaStream_t stream = nullptr;
    cudaEvent_t done = nullptr;  // a non-head segment's step has ended (the next one waits)
    bool peer_access_checked = false;
    size_t most_visible = 0;  // of the staged batch
    WeightArena arena;
    std::vector<GpuLayer> layers;  // layers first_layer.. only
    cuda::DeviceMatrix token_embedding, output;
    const float* output_norm = nullptr;
    size_t row_bytes = 0;

    DeviceBuffer x, normed, projected, queries, keys, values, attended, gate, up, logits_device,
        inputs_device, argmax_device, attention_scratch, top_values_device, top_ids_device,
        top_scratch, argmax_scratch;
    std::unique_ptr<cuda::GpuMatmul> matmul;
    PinnedBuffer host_io;  // tokens, positions, cache rows and outputs in; greedy tokens out
    std::vector<float> logits;
    std::vector<int32_t> greedy;
    std::vector<float> top_values;
    std::vector<int32_t> top_ids;
    size_t max_top_k = 0;
    // By short_context, then token count: short contexts take attention in one pass.
    std::array<std::array<cudaGraphExec_t, cuda::kMaxMatvecTokens + 1>, 2> graphs{};
    uint64_t scratch_bytes = 0;
};

GpuLayers::Impl::Impl(const Decoder& model_, const GpuLayersOptions& options_)
    : model(model_), hp(model_.spec()), options(options_), host_io(host_io_bytes(options_)) {
    check_gpu_supports(hp);
    if (options.end_layer == 0) options.end_layer = hp.layer_count;
    if (options.first_layer >= options.end_layer || options.end_layer > hp.layer_count)
        throw Error(fmt::format("GPU segment of layers {}..{} of a {}-layer model",
                                options.first_layer, options.end_layer, hp.layer_count));
    head = options.end_layer == hp.layer_count;
    CUDA_CHECK(cudaSetDevice(options.device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    // Every step copies all of the inputs, used or not.
    std::memset(host_io.as<int32_t>(), 0, host_io_bytes(options));
    const bool embed_here = options.first_layer == 0;
    // A tied head is the embedding table: a first segment without the head needs its own copy.
    const bool embedding_is_output = model.output_is_tied() && head;

    // First pass: sizes.
    for (size_t l = options.first_layer; l < options.end_layer; ++l) {
        const auto& w = model.layer(l);
        for (const auto* v :
             {&w.attention_norm, &w.ffn_norm, &w.query_bias, &w.key_bias, &w.value_bias,
              &w.query_norm, &w.key_norm, &w.post_attention_norm, &w.post_ffn_norm})
            arena.reserve(v->size() * sizeof(float));
        for (const auto* m :
             {&w.query, &w.key, &w.value, &w.attention_output, &w.ffn_gate, &w.ffn_up, &w.ffn_down})
            arena.reserve(matrix_bytes(*m));
    }
    if (head) {
        arena.reserve(model.output_norm().size() * sizeof(float));
        arena.reserve(matrix_bytes(model.output()));
    }
    if (embed_here && !embedding_is_output) arena.reserve(matrix_bytes(model.token_embedding()));
    arena.reserve(model.rope_freq_factors().size() * sizeof(float));
    arena.allocate(options.device);

    auto upload_matrix = [&](const WeightMatrix& m) {
        cuda::DeviceMatrix d = m;
        d.data = arena.upload(m.data, matrix_bytes(m));
        return d;
    };
    // Absent vectors (features the layer lacks) stay null.
    auto upload_vector = [&](const std::vector<float>& v) -> const float* {
        if (v.empty()) return nullptr;
        return reinterpret_cast<const float*>(arena.upload(v.data(), v.size() * sizeof(float)));
    };
    const float* freq_factors = upload_vector(model.rope_freq_factors());

    row_bytes = cuda::kv_row_bytes(options.kv_type, hp.kv_dim());
    layers.resize(options.end_layer - options.first_layer);
    for (size_t l = options.first_layer; l < options.end_layer; ++l) {
        const auto& w = model.layer(l);
        auto& g = layers[l - options.first_layer];
        g.attention_norm = upload_vector(w.attention_norm);
        g.ffn_norm = upload_vector(w.ffn_norm);
        g.query = upload_matrix(w.query);
        g.key = upload_matrix(w.key);
        g.value = upload_matrix(w.value);
        g.attention_output = upload_matrix(w.attention_output);
        g.ffn_gate = upload_matrix(w.ffn_gate);
        g.ffn_up = upload_matrix(w.ffn_up);
        g.ffn_down = upload_matrix(w.ffn_down);
        g.prologue = {upload_vector(w.query_bias), upload_vector(w.key_bias),
                      upload_vector(w.value_bias), upload_vector(w.query_norm),
                      upload_vector(w.key_norm),   hp.rms_epsilon};
        g.post_attention_norm = upload_vector(w.post_attention_norm);
        g.post_ffn_norm = upload_vector(w.post_ffn_norm);
        const auto& features = hp.layers[l];
        g.rope = {features.rope.style, features.rope.rotated_dims, features.rope.freq_base,
                  features.rope.position_scale, freq_factors};
        g.shape = {hp.head_count, hp.kv_head_count, hp.head_dim, features.attention_scale,
                   features.window};
        const size_t rows = options.sequences * options.context_size;
        g.key_cache = DeviceBuffer(rows * row_bytes, options.device);
        g.value_cache = DeviceBuffer(rows * row_bytes, options.device);
    }
    if (head) {
        output_norm = upload_vector(model.output_norm());
        output = upload_matrix(model.output());
    }
    if (embed_here)
        token_embedding = embedding_is_output ? output : upload_matrix(model.token_embedding());

    const size_t n = options.max_batch;
    const int device = options.device;
    auto floats = [&](size_t count) { return DeviceBuffer(count * sizeof(float), device); };
    x = floats(n * hp.embedding_dim);
    normed = floats(n * std::max(hp.embedding_dim, hp.q_dim()));
    // The output products' results before their post norms (only where layers have them).
    const bool post_norms =
        hp.any_layer(&LayerSpec::post_attention_norm) || hp.any_layer(&LayerSpec::post_ffn_norm);
    projected = floats(post_norms ? n * hp.embedding_dim : 0);
    queries = floats(n * hp.q_dim());
    keys = floats(n * hp.kv_dim());
    values = floats(n * hp.kv_dim());
    attended = floats(n * hp.q_dim());
    gate = floats(n * hp.feed_forward_dim);
    up = floats(n * hp.feed_forward_dim);
    const size_t head_outputs = head ? options.sequences : 0;
    logits_device = floats(head_outputs * hp.vocab_size);
    inputs_device = DeviceBuffer(input_bytes(options), device);
    argmax_device = DeviceBuffer(options.sequences * sizeof(int32_t), device);
    argmax_scratch = DeviceBuffer(cuda::argmax_scratch_bytes(options.sequences), device);
    CUDA_CHECK(cudaMemset(argmax_scratch.get(), 0, argmax_scratch.bytes()));
    max_top_k = head ? cuda::max_device_top_k(hp.vocab_size) : 0;
    top_values_device = DeviceBuffer(options.sequences * max_top_k * sizeof(float), device);
    top_ids_device = DeviceBuffer(options.sequences * max_top_k * sizeof(int32_t), device);
    top_scratch = DeviceBuffer(
        cuda::top_k_scratch_bytes(options.sequences, hp.vocab_size, max_top_k), device);
    attention_scratch = DeviceBuffer(
        cuda::attention_split_scratch_bytes({hp.head_count, hp.kv_head_count, hp.head_dim}),
        device);

    std::vector<cuda::DeviceMatrix> matrices;
    for (const auto& g : layers) {
        for (const auto* m :
             {&g.query, &g.key, &g.value, &g.attention_output, &g.ffn_gate, &g.ffn_up, &g.ffn_down})
            matrices.push_back(*m);
    }
    const size_t widest = std::max({hp.embedding_dim, hp.q_dim(), hp.feed_forward_dim});
    matmul = std::make_unique<cuda::GpuMatmul>(device, stream, n, widest, matrices.data(),
                                               matrices.size());
    scratch_bytes = matmul->scratch_bytes();
    for (const auto* b :
         {&x, &normed, &projected, &queries, &keys, &values, &attended, &gate, &up, &logits_device,
          &attention_scratch, &top_values_device, &top_ids_device, &top_scratch, &argmax_scratch})
        scratch_bytes += b->bytes();
}

GpuLayers::Impl::~Impl() {
    cudaSetDevice(options.device);
    for (auto& by_count : graphs)
        for (auto* graph : by_count)
            if (graph != nullptr) cudaGraphExecDestroy(graph);
    if (done != nullptr) cudaEventDestroy(done);
    if (stream != nullptr) cudaStreamDestroy(stream);
}

void GpuLayers::Impl::enqueue(size_t count, size_t outputs, bool short_context) {
    const size_t dim = hp.embedding_dim;
    float* x_ = x.as<float>();
    float* normed_ = normed.as<float>();
    float* projected_ = projected.as<float>();
    float* queries_ = queries.as<float>();
    float* keys_ = keys.as<float>();
    float* values_ = values.as<float>();
    float* attended_ = attended.as<float>();
    float* gate_ = gate.as<float>();
    float* up_ = up.as<float>();
    const auto* positions = inputs(kPositions);
    const auto* rows = inputs(kCacheRows);

    if (options.first_layer == 0) {
        cuda::dequantize_rows(token_embedding, inputs(kTokens), count, x_, false, stream);
        if (hp.embedding_scale != 1.0f) cuda::scale(x_, count * dim, hp.embedding_scale, stream);
    }
    // Kernels are fused where a decode step would otherwise pay a launch for little work:
    // RMSNorm, attention and the gated activation also quantize their output for the next
    // product, Q/K/V and gate/up share launches, RoPE and the KV store are one kernel (or part of
    // the Q/K/V products) with the biases and QK-norm before RoPE, and the residual adds happen
    // in the output projections (or, after a post norm, in the norm's kernel, which also does
    // the next RMSNorm).
    void* blocks = dim % 32 == 0 ? matmul->activation_blocks_for(count) : nullptr;
    const bool blocks_written = blocks != nullptr;
    const bool fuse_activation = blocks_written && hp.feed_forward_dim % 32 == 0;
    const bool gelu = hp.activation == Activation::GeGLU;
    // Each product names the next one's weights, which memory starts fetching early (the head
    // names the first layer's, read by the next decode step).
    auto attention_inputs = [](const GpuLayer& layer) {
        return cuda::NextWeights{{&layer.query, &layer.key, &layer.value}, 3};
    };
    // The output products add into x, or write `projected` for a post norm that adds it; that
    // norm's kernel then also does the next RMSNorm (`next_norm`, when given) into normed and its
    // blocks, saving a launch. Returns whether it did.
    auto output_product = [&](const cuda::DeviceMatrix& weights, const float* post_norm,
                              const cuda::NextWeights& next, const float* next_norm) {
        if (post_norm == nullptr) {
            matmul->multiply(weights, x_, true, next);
            return false;
        }
        matmul->multiply(weights, projected_, false, next);
        cuda::rms_norm_add(projected_, post_norm, x_, count, dim, hp.rms_epsilon, stream, next_norm,
                           normed_, next_norm != nullptr ? blocks : nullptr);
        return next_norm != nullptr;
    };
    bool attention_input_ready = false;  // the last layer's post-FFN norm wrote it
    for (size_t l = 0; l < layers.size(); ++l) {
        auto& layer = layers[l];
        if (!attention_input_ready)
            cuda::rms_norm(x_, layer.attention_norm, normed_, count, dim, hp.rms_epsilon, stream,
                           blocks);
        matmul->set_input(normed_, count, dim, blocks_written);
        const cuda::MatvecJob qkv[] = {
            {&layer.query, queries_}, {&layer.key, keys_}, {&layer.value, values_}};
        // Decode passes rotate and store the keys and values in the Q, K and V products where
        // nothing sits between the products and RoPE (see cuda::QkvRopeStore); biases and
        // QK-norm go with RoPE into rope_and_store_kv's launch instead.
        const bool rope_in_products =
            options.rope_fusion && blocks_written && layer.prologue.empty() &&
            cuda::qkv_rope_store_possible(layer.rope, options.kv_type, hp.head_dim) &&
            is_quantized(layer.query.type) && is_quantized(layer.key.type) &&
            is_quantized(layer.value.type);
        if (rope_in_products) {
            const cuda::QkvRopeStore rope_store{queries_,
                                                keys_,
                                                values_,
                                                positions,
                                                rows,
                                                layer.rope,
                                                hp.head_dim,
                                                layer.key_cache.get(),
                                                layer.value_cache.get()};
            matmul->multiply_each(qkv, 3, {{&layer.attention_output}, 1}, &rope_store);
        } else {
            matmul->multiply_each(qkv, 3, {{&layer.attention_output}, 1});
            cuda::rope_and_store_kv(
                queries_, keys_, values_, count, layer.shape, positions, layer.rope,
                {options.kv_type, rows, layer.key_cache.get(), layer.value_cache.get()}, stream,
                layer.prologue);
        }
        const bool attended_blocks = cuda::attention(
            queries_, layer.key_cache.get(), layer.value_cache.get(), options.kv_type, positions,
            rows, count, layer.shape, attended_, attention_scratch.as<float>(), stream, blocks,
            short_context ? cuda::kShortAttentionRows : SIZE_MAX, options.row_parallel_attention,
            options.flash_attention);
        matmul->set_input(attended_, count, hp.q_dim(), attended_blocks);
        const bool ffn_input_ready =
            output_product(layer.attention_output, layer.post_attention_norm,
                           {{&layer.ffn_gate, &layer.ffn_up}, 2}, layer.ffn_norm);
        if (!ffn_input_ready)
            cuda::rms_norm(x_, layer.ffn_norm, normed_, count, dim, hp.rms_epsilon, stream, blocks);
        matmul->set_input(normed_, count, dim, blocks_written);
        const cuda::MatvecJob gate_up[] = {{&layer.ffn_gate, gate_}, {&layer.ffn_up, up_}};
        matmul->multiply_each(gate_up, 2, {{&layer.ffn_down}, 1});
        if (fuse_activation && gelu)
            cuda::geglu_quantize(gate_, up_, count, hp.feed_forward_dim, blocks, stream);
        else if (fuse_activation)
            cuda::swiglu_quantize(gate_, up_, count, hp.feed_forward_dim, blocks, stream);
        else if (gelu)
            cuda::geglu(gate_, up_, count * hp.feed_forward_dim, stream);
        else
            cuda::swiglu(gate_, up_, count * hp.feed_forward_dim, stream);
        matmul->set_input(gate_, count, hp.feed_forward_dim, fuse_activation);
        const bool last = l + 1 == layers.size();
        // The output head normalises only its output rows: the last layer's norm stays its own.
        // A segment without the head leaves the next weights to the next segment.
        const cuda::NextWeights after_last =
            head ? cuda::NextWeights{{&output}, 1} : cuda::NextWeights{};
        attention_input_ready = output_product(layer.ffn_down, layer.post_ffn_norm,
                                               last ? after_last : attention_inputs(layers[l + 1]),
                                               last ? nullptr : layers[l + 1].attention_norm);
    }
    // Only the output tokens' logits are needed. The head goes through the matrix-vector
    // kernel 8 rows at a time: a GEMM would need the whole head expanded to F16.
    if (outputs == 0 || !head) return;
    // The head's int8 blocks come with the norm when one matrix-vector pass takes all outputs.
    void* head_blocks = outputs <= cuda::kMaxMatvecTokens && dim % 32 == 0
                            ? matmul->activation_blocks_for(outputs)
                            : nullptr;
    cuda::rms_norm(x_, output_norm, normed_, outputs, dim, hp.rms_epsilon, stream, head_blocks,
                   inputs(kOutputs));
    auto* logits_ = logits_device.as<float>();
    for (size_t begin = 0; begin < outputs; begin += cuda::kMaxMatvecTokens) {
        const size_t part = std::min(cuda::kMaxMatvecTokens, outputs - begin);
        matmul->set_input(normed_ + begin * dim, part, dim, head_blocks != nullptr);
        const bool last = begin + part == outputs;
        matmul->multiply(
            output, logits_ + begin * hp.vocab_size, false,
            last && !layers.empty() ? attention_inputs(layers[0]) : cuda::NextWeights{});
    }
    if (hp.final_softcap > 0.0f)
        cuda::softcap(logits_, outputs * hp.vocab_size, hp.final_softcap, stream);
    cuda::argmax(logits_, outputs, hp.vocab_size, argmax_device.as<int32_t>(), argmax_scratch.get(),
                 stream);
}

void GpuLayers::Impl::run(size_t count, size_t outputs, bool short_context) {
    cuda::set_kernel_overlap(options.overlap_kernels);
    cuda::set_l2_prefetch_bytes(options.l2_prefetch ? cuda::kDefaultL2PrefetchBytes : 0);
    auto step = [&] {
        CUDA_CHECK(cudaMemcpyAsync(inputs_device.get(), host_io.as<int32_t>(),
                                   inputs_device.bytes(), cudaMemcpyHostToDevice, stream));
        enqueue(count, outputs, short_context);
        if (outputs > 0 && head) {
            CUDA_CHECK(cudaMemcpyAsync(host_greedy(), argmax_device.get(),
                                       outputs * sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
        }
    };
    if (count != outputs || count > cuda::kMaxMatvecTokens || !options.use_graphs) {
        step();
        return;
    }
    auto& graph = graphs[short_context][count];
    if (graph == nullptr) {
        cudaGraph_t captured = nullptr;
        CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
        try {
            step();
        } catch (...) {
            cudaStreamEndCapture(stream, &captured);
            if (captured != nullptr) cudaGraphDestroy(captured);
            throw;
        }
        CUDA_CHECK(cudaStreamEndCapture(stream, &captured));
        const cudaError_t instantiated = cudaGraphInstantiate(&graph, captured, 0);
        cudaGraphDestroy(captured);
        CUDA_CHECK(instantiated);
    }
    CUDA_CHECK(cudaGraphLaunch(graph, stream));
}

GpuLayers::GpuLayers(const Decoder& model, const GpuLayersOptions& options)
    : impl_(std::make_unique<Impl>(model, options)) {}

GpuLayers::~GpuLayers() = default;

void GpuLayers::Impl::stage_inputs(const TokenBatch& batch, bool want_logits, size_t top_k) {
    const size_t count = batch.size();
    const size_t outputs = batch.outputs.size();
    if (count == 0 || count > options.max_batch)
        throw Error(
            fmt::format("GPU forward of {} tokens (batches of 1..{})", count, options.max_batch));
    if (outputs > options.sequences)
        throw Error(
            fmt::format("GPU forward with {} outputs (at most {})", outputs, options.sequences));
    if (top_k > max_top_k)
        throw Error(fmt::format("top-k {} on the GPU (at most {})", top_k, max_top_k));
    if (!head && (want_logits || top_k > 0))
        throw Error("GPU forward: logits come from the segment that ends the model");
    CUDA_CHECK(cudaSetDevice(options.device));
    auto* host_tokens = host_inputs(kTokens);
    auto* host_positions = host_inputs(kPositions);
    auto* host_rows = host_inputs(kCacheRows);
    auto* host_outputs = host_inputs(kOutputs);
    most_visible = 0;
    for (size_t i = 0; i < count; ++i) {
        const auto position = static_cast<size_t>(batch.positions[i]);
        most_visible = std::max(most_visible, position + 1);
        const auto sequence = static_cast<size_t>(batch.sequences[i]);
        // The kernels index the cache with these: a bad one would write outside it.
        if (position >= options.context_size || sequence >= options.sequences)
            throw Error(fmt::format("position {} of sequence {} is outside the GPU's KV cache",
                                    position, sequence));
        host_tokens[i] = batch.tokens[i];
        host_positions[i] = batch.positions[i];
        host_rows[i] = static_cast<int32_t>(sequence * options.context_size + position);
    }
    for (size_t o = 0; o < outputs; ++o) {
        if (batch.outputs[o] < 0 || static_cast<size_t>(batch.outputs[o]) >= count)
            throw Error(fmt::format("output token {} is outside the batch", batch.outputs[o]));
        host_outputs[o] = batch.outputs[o];
    }
}

void GpuLayers::Impl::finish(const TokenBatch& batch, bool want_logits, size_t top_k) {
    const size_t count = batch.size();
    const size_t outputs = batch.outputs.size();
    run(count, outputs,
        options.row_parallel_attention && most_visible <= cuda::kShortAttentionRows);
    greedy.clear();
    top_values.resize(top_k > 0 ? outputs * top_k : 0);
    top_ids.resize(top_values.size());
    logits.resize(want_logits ? outputs * hp.vocab_size : 0);
    if (!head) {
        // The next segment waits for this event on its own stream; the head's wait at the end
        // of the pass covers this segment's work too.
        CUDA_CHECK(cudaEventRecord(done, stream));
        return;
    }
    if (top_k > 0 && outputs > 0) {
        cuda::top_k(logits_device.as<float>(), outputs, hp.vocab_size, top_k, top_scratch.get(),
                    top_values_device.as<float>(), top_ids_device.as<int32_t>(), stream);
        CUDA_CHECK(cudaMemcpyAsync(top_values.data(), top_values_device.get(),
                                   top_values.size() * sizeof(float), cudaMemcpyDeviceToHost,
                                   stream));
        CUDA_CHECK(cudaMemcpyAsync(top_ids.data(), top_ids_device.get(),
                                   top_ids.size() * sizeof(int32_t), cudaMemcpyDeviceToHost,
                                   stream));
    }
    if (want_logits && outputs > 0) {
        CUDA_CHECK(cudaMemcpyAsync(logits.data(), logits_device.get(),
                                   logits.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
    }
    CUDA_CHECK(cudaStreamSynchronize(stream));
    greedy.assign(host_greedy(), host_greedy() + outputs);
}

void GpuLayers::forward(const TokenBatch& batch, const float* hidden, bool want_logits,
                        size_t top_k) {
    auto& g = *impl_;
    if ((g.options.first_layer > 0) != (hidden != nullptr))
        throw Error("GPU forward: hidden states are needed exactly when CPU layers come first");
    g.stage_inputs(batch, want_logits, top_k);
    if (hidden != nullptr) {
        CUDA_CHECK(cudaMemcpyAsync(g.x.get(), hidden,
                                   batch.size() * g.hp.embedding_dim * sizeof(float),
                                   cudaMemcpyHostToDevice, g.stream));
    }
    g.finish(batch, want_logits, top_k);
}

void GpuLayers::forward_after(const GpuLayers& previous, const TokenBatch& batch, bool want_logits,
                              size_t top_k) {
    auto& g = *impl_;
    const auto& p = *previous.impl_;
    if (p.options.end_layer != g.options.first_layer || p.head)
        throw Error(fmt::format("GPU segment of layers {}..{} cannot follow one of layers {}..{}",
                                g.options.first_layer, g.options.end_layer, p.options.first_layer,
                                p.options.end_layer));
    g.stage_inputs(batch, want_logits, top_k);
    const int device = g.options.device;
    const int from = p.options.device;
    if (!g.peer_access_checked && from != device) {
        // Direct reads over NVLink/PCIe where the pair allows it; otherwise the driver stages
        // the peer copy through host memory.
        int possible = 0;
        CUDA_CHECK(cudaDeviceCanAccessPeer(&possible, device, from));
        if (possible != 0) {
            const cudaError_t enabled = cudaDeviceEnablePeerAccess(from, 0);
            if (enabled != cudaErrorPeerAccessAlreadyEnabled) CUDA_CHECK(enabled);
            cudaGetLastError();  // an "already enabled" is not an error to keep
        }
    }
    g.peer_access_checked = true;
    const size_t bytes = batch.size() * g.hp.embedding_dim * sizeof(float);
    CUDA_CHECK(cudaStreamWaitEvent(g.stream, p.done, 0));
    if (from == device) {
        CUDA_CHECK(
            cudaMemcpyAsync(g.x.get(), p.x.get(), bytes, cudaMemcpyDeviceToDevice, g.stream));
    } else {
        CUDA_CHECK(cudaMemcpyPeerAsync(g.x.get(), device, p.x.get(), from, bytes, g.stream));
    }
    g.finish(batch, want_logits, top_k);
}

bool GpuLayers::holds_output() const { return impl_->head; }

void GpuLayers::copy_hidden(float* destination, size_t tokens) const {
    const auto& g = *impl_;
    if (tokens > g.options.max_batch)
        throw Error(fmt::format("hidden states of {} tokens asked for (a pass holds at most {})",
                                tokens, g.options.max_batch));
    CUDA_CHECK(cudaSetDevice(g.options.device));
    // On the segment's stream: after the pass that wrote x (a segment without the head has not
    // waited for it).
    CUDA_CHECK(cudaMemcpyAsync(destination, g.x.get(), tokens * g.hp.embedding_dim * sizeof(float),
                               cudaMemcpyDeviceToHost, g.stream));
    CUDA_CHECK(cudaStreamSynchronize(g.stream));
}

int32_t GpuLayers::greedy_token(size_t output) const { return impl_->greedy.at(output); }
const std::vector<float>& GpuLayers::logits() const { return impl_->logits; }
const std::vector<float>& GpuLayers::top_values() const { return impl_->top_values; }
const std::vector<int32_t>& GpuLayers::top_ids() const { return impl_->top_ids; }
size_t GpuLayers::max_top_k() const { return impl_->max_top_k; }

uint64_t GpuLayers::device_bytes() const {
    uint64_t total = impl_->arena.bytes() + impl_->scratch_bytes;
    for (const auto& layer : impl_->layers)
        total += layer.key_cache.bytes() + layer.value_cache.bytes();
    return total;
}

}  // namespace llcuda
