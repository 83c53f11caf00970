#pragma once
// llcuda's public C++ API: load a GGUF model and generate text from a prompt.
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llcuda {

struct SamplingOptions {
    float temperature = 0.8f;     // 0: greedy
    int top_k = 40;               // 0: off
    float top_p = 0.95f;          // 1: off
    float min_p = 0.05f;          // 0: off
    float repeat_penalty = 1.0f;  // 1: off
    int repeat_last_n = 64;
    uint64_t seed = 0;

    void validate() const;  // throws llcuda::Error for out-of-range values
};

struct EngineOptions {
    std::string model_path;  // empty: the embedded default model
    // "cpu", "cuda", "cuda:N"; empty: the CPU, unless gpu_layers asks for the GPU.
    std::string device;
    // How many of the last layers run on the GPU: a count, "all" or "auto" (as many as fit in
    // the free memory); empty: all when the device is CUDA.
    std::string gpu_layers;
    // GPUs to split the GPU layers over, in layer order ("cuda:0,cuda:1"; one may repeat);
    // empty: the device of `device`, or every visible GPU when it is plain "cuda".
    std::string devices;
    std::string tensor_split;  // proportions of the GPU layers per device ("3,1"); empty: by memory
    // The most GPU memory llcuda may plan to take on each device ("4GiB"); empty: the
    // LLCUDA_GPU_MEMORY environment variable, else the free memory.
    std::string gpu_memory;
    // KV cache type of every layer: "f32" (CPU layers only), "f16" or "q8_0"; "auto": f32 on
    // CPU layers, f16 on GPU layers.
    std::string kv_type = "auto";
    size_t context_size = 0;  // 0: the model's trained context, at most 4096
    size_t threads = 0;       // 0: all cores
    // CPU layers' matrix products: "fast" (quantized SIMD kernels) or "reference" (the float
    // oracle the fast kernels and the GPU are tested against).
    std::string cpu_kernels = "fast";
    bool cuda_graphs = true;     // replay decode steps from a captured CUDA graph
    bool kernel_overlap = true;  // let each GPU kernel start while the one before it ends
    bool l2_prefetch = true;     // each GPU matrix product starts fetching the next one's weights
    bool rope_fusion = true;     // GPU decode: the Q/K/V products rotate and store keys, values
    // GPU decode attention scores a cache row per thread (F16 cache), and over at most 256 rows
    // needs no split and merge.
    bool row_parallel_attention = true;
    // GPU prompt attention on tensor cores, 64 tokens a block (flash_attention.cu); off: a block
    // per head and token.
    bool flash_attention = true;
    // Jinja chat template replacing the model's tokenizer.chat_template (the text, not a path).
    std::string chat_template;
    // Sequences decoded together by generate_batch(), each with its own context_size slot in
    // the KV cache.
    size_t parallel = 1;
    size_t batch_size = 0;   // tokens per continuous-batching step; 0: the ubatch size
    size_t ubatch_size = 0;  // tokens per forward pass; 0: 512 on the GPU, 256 with CPU layers
    // A prompt that starts with tokens a free KV cache slot holds (the last turn of a chat)
    // keeps them and enters only the rest; off: every prompt is evaluated whole. Off by default
    // in the library, where a GPU's results would then depend on the requests before (the
    // rest of a prompt meets kernels of another batch size); serve, chat and batch turn it on.
    bool prefix_cache = false;
};

struct GenerationOptions {
    size_t max_tokens = 256;
    std::vector<std::string> stop;  // generation ends before the first occurrence of any
    SamplingOptions sampling;
    bool add_bos = true;
    bool parse_special = false;  // "<s>" in the prompt is the BOS token, not text
    // -1: off. N >= 0: record each generated token's log-probability under the model (before
    // temperature and filtering) and the N most likely tokens at that step (N at most 20).
    int logprobs = -1;
    // GBNF (llama.cpp's syntax, start rule "root"); not empty: every token is one the grammar
    // allows, the end only where the text is complete, and generation stops ("stop") once
    // nothing more may follow. A JSON schema becomes one through grammar/json_schema_grammar.hpp.
    std::string grammar;
    // Checked before each new token; returning true ends generation ("cancelled").
    std::function<bool()> should_stop;
};

struct TokenLogprob {
    int32_t token = 0;
    float logprob = 0;
    std::vector<std::pair<int32_t, float>> top;  // the most likely tokens, best first
};

struct GenerationResult {
    std::string text;
    std::vector<int32_t> prompt_tokens;
    size_t cached_tokens = 0;            // of prompt_tokens, found in the KV cache (prefix cache)
    std::vector<int32_t> tokens;         // generated, not counting an end-of-sequence token
    std::vector<TokenLogprob> logprobs;  // one per token when GenerationOptions::logprobs >= 0
    std::string finish_reason;           // "stop" (EOS or stop string), "length" or "cancelled"
    double prompt_seconds = 0;
    double time_to_first_token_ms = 0;
    double decode_seconds = 0;  // from the first generated token to the last

    double prompt_tokens_per_second() const;
    double decode_tokens_per_second() const;
};

// One request for generate_batch(): its prompt, options, an optional streaming callback, and
// a tag of the caller's choosing that comes back with the result.
struct BatchRequest {
    std::string prompt;
    std::vector<int32_t> prompt_tokens;  // when not empty: used instead of tokenizing prompt
    GenerationOptions options;
    std::function<void(std::string_view)> on_text;
    uint64_t tag = 0;
};

// One GPU segment of the placement: layers [first_layer, end_layer) on `device`.
struct GpuSegmentSummary {
    std::string device;  // "cuda:0"
    size_t first_layer = 0;
    size_t end_layer = 0;
    unsigned long long bytes = 0;  // weights, KV cache and scratch held by the segment
};

struct ModelSummary {
    std::string source;  // path, or "embedded:stories260K"
    std::string architecture;
    size_t parameters = 0;
    size_t layers = 0;
    size_t context_size = 0;
    std::string context_warning;  // non-empty when context_size passes the trained length
    size_t vocab_size = 0;
    size_t embedding_dim = 0;                // floats per hidden state, and per embedding
    std::string device_description;          // e.g. "CPU (16 threads)"
    std::vector<std::string> layer_devices;  // one entry per transformer layer
    size_t gpu_layers = 0;
    unsigned long long gpu_bytes = 0;             // GPU memory held: weights, KV cache, scratch
    std::vector<GpuSegmentSummary> gpu_segments;  // in layer order; the last has the output head
    std::string placement;                        // how the layers were placed, and why
    size_t parallel = 1;                          // sequences generate_batch() runs together
    size_t batch_size = 0;                        // tokens per step
    size_t ubatch_size = 0;                       // tokens per forward pass
    size_t threads = 0;                           // CPU threads
    std::string cpu_kernels;    // "reference" or "fast (avx2)": the kernels CPU layers run
    std::string chat_template;  // the template in use; empty when there is none
};

class Engine {
  public:
    explicit Engine(const EngineOptions& options);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Calls from several threads are served one at a time. on_text receives the generated text as
    // it becomes displayable (never a split UTF-8 character, never a prefix of a stop string that
    // later matches).
    GenerationResult generate(std::string_view prompt, const GenerationOptions& options,
                              const std::function<void(std::string_view)>& on_text = {});
    // The same from a prompt given as token ids, used exactly as given (no BOS is added).
    GenerationResult generate(const std::vector<int32_t>& prompt_tokens,
                              const GenerationOptions& options,
                              const std::function<void(std::string_view)>& on_text = {});

    // Teacher-forced logits: the next-token logits after each of `tokens` in a sequence of its
    // own, [tokens.size()][vocab_size] row after row, on the engine's device (perplexity, KL
    // divergence, tests against reference logits).
    std::vector<float> logits(const std::vector<int32_t>& tokens);

    // The embedding of `tokens` (used as given: no BOS is added) in a sequence of its own: every
    // layer, no output head, the final hidden states after the output norm pooled as
    // embedding_pooling() says and scaled to unit L2 length; embedding_dim floats. Throws
    // llcuda::Error for an empty or too long input and for a model whose pooling is "none".
    std::vector<float> embed(const std::vector<int32_t>& tokens);
    // The GGUF's <arch>.pooling_type as "none", "mean", "cls" or "last"; "mean" when it has none
    // (a generative model).
    std::string embedding_pooling() const;

    // Continuous batching: takes requests from `next` while fewer than `parallel` are running
    // (it returns false when it has none now), runs them together, and hands each result (or
    // the error that ended that request alone) to `done` as it finishes. Returns when `next`
    // has nothing more and every request is done. `between_steps` runs after each forward
    // pass. Each result equals what generate() gives for the same request alone.
    void generate_batch(const std::function<bool(BatchRequest&)>& next,
                        const std::function<void(const BatchRequest&, GenerationResult&&,
                                                 std::exception_ptr)>& done,
                        const std::function<void()>& between_steps = {});

    // Token-level access for benchmarks and tools: appends `tokens` to the sequence (a new one
    // when `reset`) and returns the greedy choice of the next token. Waits for the device.
    int32_t evaluate(const std::vector<int32_t>& tokens, bool reset);

    // The prompt for a conversation, rendered with the model's chat template (or the
    // EngineOptions override): messages_json is a JSON array of {"role", "content", ...};
    // extra_json an object of more template variables (tools, ...). Throws llcuda::Error when
    // there is no template, it cannot be rendered, or it rejects the conversation.
    std::string render_chat(std::string_view messages_json, bool add_generation_prompt = true,
                            std::string_view extra_json = "{}") const;

    // The tokens generation starts from for `prompt` (BOS as options and vocabulary say; BOS
    // alone for an empty prompt): what a request's length is checked against.
    std::vector<int32_t> prompt_tokens(std::string_view prompt,
                                       const GenerationOptions& options) const;

    std::vector<int32_t> tokenize(std::string_view text, bool add_bos,
                                  bool parse_special = false) const;
    std::string detokenize(const std::vector<int32_t>& tokens) const;
    // One token's bytes as they appear inside a text (a leading space kept; a byte token is
    // that byte, possibly part of a UTF-8 character).
    std::string token_text(int32_t token) const;
    const ModelSummary& summary() const;

  private:
    GenerationResult generate_one(BatchRequest request);

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace llcuda
