#include "llcuda/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <optional>

#include "backend/cpu/thread_pool.hpp"
#include "chat/chat_template.hpp"
#include "core/error.hpp"
#include "engine/continuous_batcher.hpp"
#include "engine/embedded_model.hpp"
#include "engine/embedding_pooling.hpp"
#include "engine/grammar_constraint.hpp"
#include "engine/placement.hpp"
#include "model/decoder.hpp"
#include "model/model_runner.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llcuda {
namespace {

std::shared_ptr<const GgufFile> open_model_file(const std::string& path) {
    if (path.empty()) {
        return std::make_shared<const GgufFile>(
            GgufFile::from_memory(embedded_model_bytes(), kEmbeddedModelName));
    }
    return std::make_shared<const GgufFile>(GgufFile::open(path));
}

}  // namespace

double GenerationResult::prompt_tokens_per_second() const {
    return prompt_seconds > 0 ? static_cast<double>(prompt_tokens.size()) / prompt_seconds : 0.0;
}

double GenerationResult::decode_tokens_per_second() const {
    return decode_seconds > 0 && tokens.size() > 1
               ? static_cast<double>(tokens.size() - 1) / decode_seconds
               : 0.0;
}

struct Engine::Impl {
    Impl(const EngineOptions& options)
        : file(open_model_file(options.model_path)),
          model(file),
          tokenizer_owner(load_tokenizer(*file)),
          tokenizer(*tokenizer_owner),
          context(context_size(options)),
          kv_type(parse_kv_type(options.kv_type)),
          placement(decide_placement(placement_request(options), *file, model.spec())),
          pool(options.threads > 0 ? options.threads : ThreadPool::default_thread_count()),
          runner(model, pool, runner_options(options)) {
        model.set_cpu_kernels(parse_cpu_kernels(options.cpu_kernels));
        if (tokenizer.size() != model.spec().vocab_size) {
            throw Error(
                fmt::format("{}: the tokenizer has {} tokens but the embedding table has {} rows",
                            file->description(), tokenizer.size(), model.spec().vocab_size));
        }
        const auto& hp = model.spec();
        summary.source = file->description();
        summary.architecture = hp.architecture;
        for (const auto& tensor : file->tensors()) summary.parameters += tensor.element_count;
        summary.layers = hp.layer_count;
        summary.context_size = runner.context_size();
        summary.context_warning = context_length_warning(context, hp.trained_context);
        summary.vocab_size = hp.vocab_size;
        summary.embedding_dim = hp.embedding_dim;
        summary.gpu_layers = placement.gpu_layers;
        summary.gpu_bytes = runner.gpu_bytes();
        for (size_t s = 0; s < placement.spans.size(); ++s) {
            const auto& span = placement.spans[s];
            summary.gpu_segments.push_back({TensorDevice{true, span.device}.to_string(),
                                            span.first_layer, span.end_layer, runner.gpu_bytes(s)});
        }
        summary.placement = placement.note;
        load_chat_template(options.chat_template);
        summary.parallel = runner.sequences();
        if (options.prefix_cache) prefix_cache.emplace(runner.sequences());
        summary.threads = pool.size();
        summary.cpu_kernels = cpu_kernels_description(model.cpu_kernels());
        summary.ubatch_size = runner.ubatch_size();
        summary.batch_size = options.batch_size > 0 ? options.batch_size : runner.ubatch_size();
        const size_t cpu_layers = hp.layer_count - placement.gpu_layers;
        summary.layer_devices.assign(hp.layer_count, "CPU");
        std::string gpus;  // "cuda:0" or "16 on cuda:0, 16 on cuda:1"
        for (const auto& segment : summary.gpu_segments) {
            for (size_t l = segment.first_layer; l < segment.end_layer; ++l)
                summary.layer_devices[l] = segment.device;
            gpus += fmt::format("{}{} on {}", gpus.empty() ? "" : ", ",
                                segment.end_layer - segment.first_layer, segment.device);
        }
        const std::string gpu =
            summary.gpu_segments.size() == 1
                ? fmt::format("{} on {}", placement.gpu_layers, placement.device.to_string())
                : gpus;
        if (placement.gpu_layers == 0) {
            summary.device_description =
                fmt::format("CPU ({} threads, {} kernels)", pool.size(), summary.cpu_kernels);
        } else if (cpu_layers == 0 && summary.gpu_segments.size() == 1) {
            summary.device_description =
                fmt::format("{} (all {} layers)", placement.device.to_string(), hp.layer_count);
        } else if (cpu_layers == 0) {
            summary.device_description = fmt::format("all {} layers: {}", hp.layer_count, gpus);
        } else {
            summary.device_description =
                fmt::format("{} layers on the CPU ({} threads, {} kernels), {}", cpu_layers,
                            pool.size(), summary.cpu_kernels, gpu);
        }
    }

    PlacementRequest placement_request(const EngineOptions& options) const {
        PlacementRequest request{.device = options.device,
                                 .gpu_layers = options.gpu_layers,
                                 .context_size = context,
                                 .sequences = parallel(options),
                                 .kv_type = kv_type.gpu,
                                 .devices = options.devices,
                                 .tensor_split = options.tensor_split,
                                 .gpu_memory = options.gpu_memory};
        if (request.gpu_memory.empty()) {
            if (const char* environment = std::getenv("LLCUDA_GPU_MEMORY");
                environment != nullptr && *environment != '\0') {
                request.gpu_memory = environment;
                request.gpu_memory_knob = "LLCUDA_GPU_MEMORY";
            }
        }
        return request;
    }

    // The same rule as inspect's estimate (context_size_to_use), so both name one context.
    size_t context_size(const EngineOptions& options) const {
        return context_size_to_use(options.context_size, model.spec().trained_context);
    }

    // A template that cannot be parsed does not stop the model from loading: chat requests
    // get the reason.
    void load_chat_template(const std::string& override_source) {
        std::string source = override_source;
        if (source.empty()) {
            if (const auto* value = file->find("tokenizer.chat_template"))
                source = value->as_string();
        }
        if (source.empty()) {
            chat_template_problem = fmt::format(
                "{} has no chat template (tokenizer.chat_template); give one with "
                "--chat-template FILE",
                file->description());
            return;
        }
        const auto& vocabulary = tokenizer.vocabulary();
        const auto piece = [&](int32_t id) {
            return id >= 0 && static_cast<size_t>(id) < vocabulary.pieces.size()
                       ? vocabulary.pieces[static_cast<size_t>(id)]
                       : std::string();
        };
        try {
            chat_template = std::make_unique<ChatTemplate>(source, piece(vocabulary.bos_id),
                                                           piece(vocabulary.eos_id));
            summary.chat_template = source;
        } catch (const Error& error) {
            chat_template_problem = error.what();
        }
    }

    static size_t parallel(const EngineOptions& options) {
        if (options.parallel == 0 || options.parallel > 1024)
            throw Error(fmt::format("--parallel {} is out of range (1 to 1024 sequences)",
                                    options.parallel));
        return options.parallel;
    }

    RunnerOptions runner_options(const EngineOptions& options) const {
        RunnerOptions runner;
        runner.context_size = context;
        runner.sequences = parallel(options);
        runner.ubatch_size = options.ubatch_size;
        runner.gpu_spans = placement.spans;
        if (options.kv_type != "auto" && kv_type.cpu == DType::F32 && placement.gpu_layers > 0) {
            throw Error(fmt::format(
                "--kv-type f32 is for CPU layers only, and {} layers are placed on the GPU: use "
                "--kv-type f16 or q8_0 there, or --device cpu",
                placement.gpu_layers));
        }
        runner.kv_type = kv_type.gpu;
        runner.cpu_kv_type = kv_type.cpu;
        runner.use_graphs = options.cuda_graphs;
        runner.overlap_kernels = options.kernel_overlap;
        runner.l2_prefetch = options.l2_prefetch;
        runner.rope_fusion = options.rope_fusion;
        runner.row_parallel_attention = options.row_parallel_attention;
        runner.flash_attention = options.flash_attention;
        return runner;
    }

    std::shared_ptr<const GgufFile> file;
    Decoder model;
    std::unique_ptr<const Tokenizer> tokenizer_owner;
    const Tokenizer& tokenizer;
    size_t context;
    KvTypes kv_type;
    Placement placement;
    ThreadPool pool;
    ModelRunner runner;
    ModelSummary summary;
    std::unique_ptr<ChatTemplate> chat_template;
    std::string chat_template_problem;  // why there is none
    std::mutex generate_mutex;          // one generation at a time: they share the KV cache
    GrammarVocabularyCache grammar_vocabulary{tokenizer};  // built for the first grammar
    std::optional<PrefixCache> prefix_cache;  // empty with EngineOptions::prefix_cache off
};

Engine::Engine(const EngineOptions& options) : impl_(std::make_unique<Impl>(options)) {}
Engine::~Engine() = default;

const ModelSummary& Engine::summary() const { return impl_->summary; }

int32_t Engine::evaluate(const std::vector<int32_t>& tokens, bool reset) {
    std::lock_guard lock(impl_->generate_mutex);
    if (tokens.empty()) throw Error("evaluate() needs at least one token");
    if (reset) impl_->runner.clear();
    // Steps of batch_size tokens, as a long prompt takes in generate_batch() on the CPU.
    const size_t step = impl_->summary.batch_size;
    for (size_t begin = 0; begin < tokens.size(); begin += step) {
        const size_t count = std::min(step, tokens.size() - begin);
        impl_->runner.forward(std::span<const int32_t>(tokens.data() + begin, count), false);
    }
    return impl_->runner.greedy_token();
}

std::vector<int32_t> Engine::prompt_tokens(std::string_view prompt,
                                           const GenerationOptions& options) const {
    return encode_prompt(impl_->tokenizer, prompt, options);
}

std::vector<int32_t> Engine::tokenize(std::string_view text, bool add_bos,
                                      bool parse_special) const {
    return impl_->tokenizer.encode(text, add_bos, parse_special);
}

std::string Engine::render_chat(std::string_view messages_json, bool add_generation_prompt,
                                std::string_view extra_json) const {
    const auto& engine = *impl_;
    if (!engine.chat_template) throw Error(engine.chat_template_problem);
    const auto messages = jinja::Json::parse(messages_json, nullptr, false);
    const auto extra = jinja::Json::parse(extra_json, nullptr, false);
    if (messages.is_discarded() || extra.is_discarded())
        throw Error("render_chat: the messages or the extra variables are not valid JSON");
    return engine.chat_template->render(messages, add_generation_prompt, extra);
}

std::string Engine::token_text(int32_t token) const {
    const auto& tokenizer = impl_->tokenizer;
    // As inside a text: the piece keeps the space it starts with.
    return tokenizer.token_bytes(token, false);
}

std::string Engine::detokenize(const std::vector<int32_t>& tokens) const {
    return impl_->tokenizer.decode(tokens);
}

void Engine::generate_batch(
    const std::function<bool(BatchRequest&)>& next,
    const std::function<void(const BatchRequest&, GenerationResult&&, std::exception_ptr)>& done,
    const std::function<void()>& between_steps) {
    auto& engine = *impl_;
    std::lock_guard lock(engine.generate_mutex);
    ContinuousBatcher batcher(engine.runner, engine.tokenizer, engine.summary.batch_size,
                              engine.prefix_cache ? &*engine.prefix_cache : nullptr);
    batcher.set_grammar_vocabulary(&engine.grammar_vocabulary);
    batcher.run(next, done, between_steps);
}

GenerationResult Engine::generate(std::string_view prompt, const GenerationOptions& options,
                                  const std::function<void(std::string_view)>& on_text) {
    BatchRequest request;
    request.prompt = std::string(prompt);
    request.options = options;
    request.on_text = on_text;
    return generate_one(std::move(request));
}

GenerationResult Engine::generate(const std::vector<int32_t>& prompt_tokens,
                                  const GenerationOptions& options,
                                  const std::function<void(std::string_view)>& on_text) {
    if (prompt_tokens.empty()) throw Error("a prompt given as token ids needs at least one id");
    BatchRequest request;
    request.prompt_tokens = prompt_tokens;
    request.options = options;
    request.on_text = on_text;
    return generate_one(std::move(request));
}

GenerationResult Engine::generate_one(BatchRequest request) {
    bool taken = false;
    GenerationResult result;
    std::exception_ptr error;
    generate_batch(
        [&](BatchRequest& next) {
            if (taken) return false;
            next = std::move(request);
            taken = true;
            return true;
        },
        [&](const BatchRequest&, GenerationResult&& finished, std::exception_ptr failure) {
            result = std::move(finished);
            error = failure;
        });
    if (error) std::rethrow_exception(error);
    return result;
}

std::vector<float> Engine::logits(const std::vector<int32_t>& tokens) {
    auto& engine = *impl_;
    std::lock_guard lock(engine.generate_mutex);
    if (tokens.empty()) throw Error("logits() needs at least one token");
    if (tokens.size() > engine.runner.context_size()) {
        throw Error(
            fmt::format("{} tokens do not fit the {}-token context; use a larger "
                        "--ctx-size",
                        tokens.size(), engine.runner.context_size()));
    }
    auto& runner = engine.runner;
    runner.clear();
    // Every token is an output; GPU passes take at most one output per sequence slot.
    const size_t per_pass = runner.gpu_layers() > 0 ? runner.sequences()
                                                    : std::min(runner.ubatch_size(), tokens.size());
    const size_t vocab = runner.vocab_size();
    std::vector<float> logits;
    logits.reserve(tokens.size() * vocab);
    for (size_t begin = 0; begin < tokens.size(); begin += per_pass) {
        TokenBatch batch;
        const size_t end = std::min(tokens.size(), begin + per_pass);
        for (size_t i = begin; i < end; ++i) batch.add(tokens[i], 0, i, true);
        runner.forward(batch, true);
        for (size_t o = 0; o < batch.outputs.size(); ++o) {
            const auto row = runner.logits(o);
            logits.insert(logits.end(), row.begin(), row.end());
        }
    }
    runner.clear();
    return logits;
}

std::string Engine::embedding_pooling() const {
    return pooling_name(read_pooling(*impl_->file, impl_->model.spec().architecture).pooling);
}

std::vector<float> Engine::embed(const std::vector<int32_t>& tokens) {
    auto& engine = *impl_;
    const auto& spec = engine.model.spec();
    const auto pooling = read_pooling(*engine.file, spec.architecture).pooling;
    std::lock_guard lock(engine.generate_mutex);
    if (tokens.empty()) throw Error("an input to embed needs at least one token");
    auto& runner = engine.runner;
    if (tokens.size() > runner.context_size()) {
        throw Error(
            fmt::format("{} tokens do not fit the {}-token context; use a larger --ctx-size",
                        tokens.size(), runner.context_size()));
    }
    runner.clear();
    std::vector<float> hidden;
    try {
        runner.hidden_states(tokens, 0, hidden);
    } catch (...) {
        runner.clear();
        throw;
    }
    runner.clear();
    const size_t dim = spec.embedding_dim;
    const auto& norm = engine.model.output_norm();
    for (size_t t = 0; t < tokens.size(); ++t)
        rms_norm(hidden.data() + t * dim, norm.data(), hidden.data() + t * dim, dim,
                 spec.rms_epsilon);
    return pool_embedding(hidden, dim, pooling);
}

}  // namespace llcuda
