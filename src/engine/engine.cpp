#include "llcuda/engine.hpp"

#include <fmt/format.h>

#include <chrono>
#include <mutex>

#include "backend/cpu/thread_pool.hpp"
#include "core/error.hpp"
#include "engine/embedded_model.hpp"
#include "engine/placement.hpp"
#include "engine/sampler.hpp"
#include "engine/stop_string_filter.hpp"
#include "engine/tokenizer.hpp"
#include "engine/utf8_stream.hpp"
#include "model/llama_model.hpp"
#include "model/llama_runner.hpp"

namespace llcuda {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kDefaultMaxContext = 4096;

double seconds_between(Clock::time_point begin, Clock::time_point end) {
    return std::chrono::duration<double>(end - begin).count();
}

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
          tokenizer(read_vocabulary(*file)),
          context(context_size(options)),
          kv_type(parse_kv_type(options.kv_type)),
          placement(decide_placement({options.device, options.gpu_layers, context, kv_type}, *file,
                                     model.hparams())),
          pool(options.threads > 0 ? options.threads : ThreadPool::default_thread_count()),
          runner(model, pool, runner_options(options)) {
        if (tokenizer.size() != model.hparams().vocab_size) {
            throw Error(
                fmt::format("{}: the tokenizer has {} tokens but the embedding table has {} rows",
                            file->description(), tokenizer.size(), model.hparams().vocab_size));
        }
        const auto& hp = model.hparams();
        summary.source = file->description();
        summary.architecture = hp.architecture;
        for (const auto& tensor : file->tensors()) summary.parameters += tensor.element_count;
        summary.layers = hp.layer_count;
        summary.context_size = runner.context_size();
        summary.vocab_size = hp.vocab_size;
        summary.gpu_layers = placement.gpu_layers;
        summary.gpu_bytes = runner.gpu_bytes();
        summary.placement = placement.note;
        const size_t cpu_layers = hp.layer_count - placement.gpu_layers;
        const std::string gpu = placement.device.to_string();
        summary.layer_devices.assign(hp.layer_count, "CPU");
        for (size_t l = cpu_layers; l < hp.layer_count; ++l) summary.layer_devices[l] = gpu;
        if (placement.gpu_layers == 0) {
            summary.device_description = fmt::format("CPU ({} threads)", pool.size());
        } else if (cpu_layers == 0) {
            summary.device_description = fmt::format("{} (all {} layers)", gpu, hp.layer_count);
        } else {
            summary.device_description =
                fmt::format("{} layers on the CPU ({} threads), {} on {}", cpu_layers, pool.size(),
                            placement.gpu_layers, gpu);
        }
    }

    size_t context_size(const EngineOptions& options) const {
        const size_t trained = model.hparams().trained_context;
        const size_t size =
            options.context_size > 0 ? options.context_size : std::min(trained, kDefaultMaxContext);
        if (size > (size_t{1} << 20))
            throw Error(fmt::format("context size {} is too large (at most 1048576)", size));
        return size;
    }

    RunnerOptions runner_options(const EngineOptions& options) const {
        RunnerOptions runner;
        runner.context_size = context;
        runner.gpu_layers = placement.gpu_layers;
        runner.device = placement.device.index;
        runner.kv_type = kv_type;
        runner.use_graphs = options.cuda_graphs;
        return runner;
    }

    std::shared_ptr<const GgufFile> file;
    LlamaModel model;
    Tokenizer tokenizer;
    size_t context;
    DType kv_type;
    Placement placement;
    ThreadPool pool;
    LlamaRunner runner;
    ModelSummary summary;
    std::mutex generate_mutex;  // one generation at a time: they share the KV cache
};

Engine::Engine(const EngineOptions& options) : impl_(std::make_unique<Impl>(options)) {}
Engine::~Engine() = default;

const ModelSummary& Engine::summary() const { return impl_->summary; }

int32_t Engine::evaluate(const std::vector<int32_t>& tokens, bool reset) {
    std::lock_guard lock(impl_->generate_mutex);
    if (reset) impl_->runner.clear();
    impl_->runner.forward(tokens, false);
    return impl_->runner.greedy_token();
}

std::vector<int32_t> Engine::tokenize(std::string_view text, bool add_bos,
                                      bool parse_special) const {
    return impl_->tokenizer.encode(text, add_bos, parse_special);
}

std::string Engine::detokenize(const std::vector<int32_t>& tokens) const {
    return impl_->tokenizer.decode(tokens);
}

GenerationResult Engine::generate(std::string_view prompt, const GenerationOptions& options,
                                  const std::function<void(std::string_view)>& on_text) {
    auto& engine = *impl_;
    std::lock_guard lock(engine.generate_mutex);
    Sampler sampler(options.sampling);
    GenerationResult result;
    result.prompt_tokens = engine.tokenizer.encode(
        prompt, options.add_bos && engine.tokenizer.vocabulary().add_bos, options.parse_special);
    if (result.prompt_tokens.empty()) result.prompt_tokens.push_back(engine.tokenizer.bos_id());
    const size_t context = engine.runner.context_size();
    if (result.prompt_tokens.size() >= context) {
        throw Error(
            fmt::format("the prompt is {} tokens, which leaves no room in the {}-token context; "
                        "shorten it or raise --ctx-size",
                        result.prompt_tokens.size(), context));
    }

    auto emit = [&](const std::string& text) {
        if (text.empty()) return;
        result.text += text;
        if (on_text) on_text(text);
    };

    const auto start = Clock::now();
    // Greedy decoding without a repetition penalty takes the argmax computed where the logits
    // are (on the GPU: no copy of the logits); anything else samples from them on the CPU.
    const bool greedy =
        options.sampling.temperature == 0.0f &&
        (options.sampling.repeat_penalty == 1.0f || options.sampling.repeat_last_n == 0);
    engine.runner.clear();
    engine.runner.forward(result.prompt_tokens, !greedy);
    result.prompt_seconds = seconds_between(start, Clock::now());

    std::vector<int32_t> history = result.prompt_tokens;
    StreamingDetokenizer<Tokenizer> detokenizer(engine.tokenizer, history.back());
    StopStringFilter stop_filter(options.stop);
    Clock::time_point first_token_time;
    result.finish_reason = "length";
    for (size_t step = 0; step < options.max_tokens; ++step) {
        if (options.should_stop && options.should_stop()) {
            result.finish_reason = "cancelled";
            break;
        }
        const int32_t token =
            greedy ? engine.runner.greedy_token() : sampler.sample(engine.runner.logits(), history);
        if (step == 0) {
            first_token_time = Clock::now();
            result.time_to_first_token_ms = seconds_between(start, first_token_time) * 1000.0;
        }
        if (engine.tokenizer.is_end_of_generation(token)) {
            result.finish_reason = "stop";
            break;
        }
        result.tokens.push_back(token);
        history.push_back(token);
        emit(stop_filter.push(detokenizer.push(token)));
        if (stop_filter.stopped()) {
            result.finish_reason = "stop";
            break;
        }
        // Stop when the context is full: prompt plus generated tokens never exceed it.
        if (step + 1 == options.max_tokens || engine.runner.used() + 1 == context) break;
        engine.runner.forward(std::span<const int32_t>(&history.back(), 1), !greedy);
    }
    if (!stop_filter.stopped()) emit(stop_filter.push(detokenizer.finish()) + stop_filter.finish());
    if (!result.tokens.empty())
        result.decode_seconds = seconds_between(first_token_time, Clock::now());
    return result;
}

}  // namespace llcuda
