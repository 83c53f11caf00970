// InferenceEngine: load a model, generate text (whole or streamed), chat.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>
#include <variant>

#include "bindings.hpp"
#include "core/error.hpp"
#include "grammar/grammar.hpp"
#include "grammar/json_schema_grammar.hpp"
#include "llcuda/engine.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"

namespace py = pybind11;

namespace llcuda::python {
namespace {

// A prompt as Python callers give it: text, or token ids used exactly as given.
using Prompt = std::variant<std::string, std::vector<int32_t>>;
// The CLI's default (-n/--max-tokens), defined once in GenerationOptions.
const size_t kDefaultMaxTokens = GenerationOptions{}.max_tokens;

GenerationResult generate_from(Engine& engine, const Prompt& prompt,
                               const GenerationOptions& options,
                               const std::function<void(std::string_view)>& on_text = {}) {
    if (const auto* text = std::get_if<std::string>(&prompt))
        return engine.generate(*text, options, on_text);
    return engine.generate(std::get<std::vector<int32_t>>(prompt), options, on_text);
}

struct InferResult {
    std::string text;
    double tokens_per_sec = 0;
    double prompt_tokens_per_sec = 0;
    double ttft_ms = 0;
    size_t n_tokens = 0;
    size_t n_prompt_tokens = 0;
    std::string finish_reason;
    std::vector<int32_t> tokens;
};

InferResult to_result(const GenerationResult& result) {
    return {result.text,
            result.decode_tokens_per_second(),
            result.prompt_tokens_per_second(),
            result.time_to_first_token_ms,
            result.tokens.size(),
            result.prompt_tokens.size(),
            result.finish_reason,
            result.tokens};
}

// grammar= (GBNF text) or json_schema= (a dict, or the schema as JSON text): the grammar
// generation is held to, checked here so a bad one is an error naming the keyword.
std::string grammar_argument(const std::optional<std::string>& grammar,
                             const py::object& json_schema) {
    if (grammar && !json_schema.is_none()) throw Error("give grammar= or json_schema=, not both");
    if (grammar) {
        try {
            static_cast<void>(grammar::parse_gbnf(*grammar));
        } catch (const Error& error) {
            throw Error(std::string("grammar=: ") + error.what());
        }
        return *grammar;
    }
    if (json_schema.is_none()) return "";
    const std::string text =
        py::isinstance<py::str>(json_schema)
            ? json_schema.cast<std::string>()
            : py::module_::import("json").attr("dumps")(json_schema).cast<std::string>();
    const auto schema = nlohmann::json::parse(text, nullptr, false);
    if (schema.is_discarded() || !schema.is_object())
        throw Error("json_schema=: the schema is not a JSON object");
    try {
        return grammar::json_schema_to_gbnf(schema);
    } catch (const Error& error) {
        throw Error(std::string("json_schema=: ") + error.what());
    }
}

GenerationOptions make_options(size_t max_tokens, float temperature, int top_k, float top_p,
                               float min_p, float repeat_penalty, std::optional<uint64_t> seed,
                               std::vector<std::string> stop, std::string grammar = "") {
    GenerationOptions options;
    options.grammar = std::move(grammar);
    options.max_tokens = max_tokens;
    options.sampling.temperature = temperature;
    options.sampling.top_k = top_k;
    options.sampling.top_p = top_p;
    options.sampling.min_p = min_p;
    options.sampling.repeat_penalty = repeat_penalty;
    options.sampling.seed = seed.value_or(std::random_device{}());
    options.stop = std::move(stop);
    options.sampling.validate();
    return options;
}

// Streams text pieces from a generation running on its own thread; Python waits for each
// piece without holding the GIL, and dropping the iterator cancels the generation.
class TextStream {
  public:
    TextStream(Engine& engine, Prompt prompt, GenerationOptions options) {
        options.should_stop = [this] { return cancelled_.load(); };
        worker_ =
            std::thread([this, &engine, prompt = std::move(prompt), options = std::move(options)] {
                try {
                    generate_from(engine, prompt, options, [this](std::string_view text) {
                        std::lock_guard lock(mutex_);
                        pieces_.emplace_back(text);
                        ready_.notify_one();
                    });
                } catch (const std::exception& error) {
                    std::lock_guard lock(mutex_);
                    error_ = error.what();
                }
                std::lock_guard lock(mutex_);
                finished_ = true;
                ready_.notify_one();
            });
    }
    ~TextStream() {
        cancelled_ = true;
        if (worker_.joinable()) {
            py::gil_scoped_release release;
            worker_.join();
        }
    }

    std::string next() {
        std::unique_lock lock(mutex_);
        {
            py::gil_scoped_release release;
            ready_.wait(lock, [this] { return !pieces_.empty() || finished_; });
        }
        if (!pieces_.empty()) {
            std::string piece = std::move(pieces_.front());
            pieces_.pop_front();
            return piece;
        }
        if (!error_.empty()) throw Error(error_);
        throw py::stop_iteration();
    }

  private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::string> pieces_;
    bool finished_ = false;
    std::string error_;
    std::atomic<bool> cancelled_{false};
    std::thread worker_;
};

// gpu_layers as Python callers write it: a count (-1: all, 0: none), "all" or "auto".
std::string gpu_layers_text(const py::object& value) {
    if (py::isinstance<py::str>(value)) return value.cast<std::string>();
    const auto count = value.cast<long long>();
    if (count == -1) return "all";
    if (count < 0) throw Error("gpu_layers must be -1 (all), 0 (none), a count, 'all' or 'auto'");
    return count == 0 ? "" : std::to_string(count);
}

class InferenceEngine {
  public:
    void load_model(const std::string& path_or_name, const py::object& gpu_layers,
                    size_t context_size, bool silent, size_t threads, const std::string& device,
                    const std::string& store, const std::string& kv_type) {
        EngineOptions options;
        options.gpu_layers = gpu_layers_text(gpu_layers);
        options.kv_type = kv_type;
        options.model_path =
            resolve_model_argument(path_or_name, ModelStore::root_or_default(store));
        options.context_size = context_size;
        options.threads = threads;
        options.device = device;
        {
            py::gil_scoped_release release;
            engine_ = std::make_unique<Engine>(options);
        }
        if (!silent) {
            const auto& summary = engine_->summary();
            py::print("llcuda: loaded", summary.source, "(" + summary.architecture + ",",
                      summary.layers, "layers) on", summary.device_description,
                      py::arg("file") = py::module_::import("sys").attr("stderr"));
        }
    }

    Engine& engine() {
        if (!engine_) throw Error("no model loaded; call load_model() first");
        return *engine_;
    }

    InferResult infer(const Prompt& prompt, const GenerationOptions& options) {
        auto& engine_ref = engine();
        GenerationResult result;
        {
            py::gil_scoped_release release;
            result = generate_from(engine_ref, prompt, options);
        }
        return to_result(result);
    }

    py::array_t<float> logits(const std::vector<int32_t>& tokens) {
        auto& engine_ref = engine();
        std::vector<float> values;
        {
            py::gil_scoped_release release;
            values = engine_ref.logits(tokens);
        }
        const auto vocab = static_cast<py::ssize_t>(engine_ref.summary().vocab_size);
        py::array_t<float> array({static_cast<py::ssize_t>(tokens.size()), vocab});
        std::copy(values.begin(), values.end(), array.mutable_data());
        return array;
    }

    // A text gets a BOS as the vocabulary says (as /v1/embeddings does); ids are used as given.
    py::array_t<float> embed(const py::object& input) {
        auto& engine_ref = engine();
        const auto tokens = py::isinstance<py::str>(input)
                                ? engine_ref.prompt_tokens(input.cast<std::string>(), {})
                                : input.cast<std::vector<int32_t>>();
        std::vector<float> values;
        {
            py::gil_scoped_release release;
            values = engine_ref.embed(tokens);
        }
        py::array_t<float> array(static_cast<py::ssize_t>(values.size()));
        std::copy(values.begin(), values.end(), array.mutable_data());
        return array;
    }

    bool loaded() const { return engine_ != nullptr; }

  private:
    std::unique_ptr<Engine> engine_;
};

// For a model without a chat template, chat() writes a plain transcript the model continues.
std::string render_transcript(const std::vector<std::map<std::string, std::string>>& messages) {
    std::string prompt;
    for (const auto& message : messages) {
        const auto role = message.find("role");
        const auto content = message.find("content");
        if (role == message.end() || content == message.end()) {
            throw Error("each chat message needs 'role' and 'content'");
        }
        prompt += role->second + ": " + content->second + "\n";
    }
    return prompt + "assistant:";
}

}  // namespace

void bind_engine(py::module_& module) {
    py::class_<InferResult>(module, "InferResult")
        .def_readonly("text", &InferResult::text)
        .def_readonly("tokens_per_sec", &InferResult::tokens_per_sec)
        .def_readonly("prompt_tokens_per_sec", &InferResult::prompt_tokens_per_sec)
        .def_readonly("ttft_ms", &InferResult::ttft_ms)
        .def_readonly("n_tokens", &InferResult::n_tokens)
        .def_readonly("n_prompt_tokens", &InferResult::n_prompt_tokens)
        .def_readonly("finish_reason", &InferResult::finish_reason)
        .def_readonly("tokens", &InferResult::tokens)
        .def("__repr__", [](const InferResult& result) {
            return "<InferResult " + std::to_string(result.n_tokens) +
                   " tokens, finish=" + result.finish_reason + ">";
        });

    py::class_<TextStream>(module, "TextStream")
        .def("__iter__", [](TextStream& stream) -> TextStream& { return stream; })
        .def("__next__", &TextStream::next);

    py::class_<InferenceEngine>(module, "InferenceEngine")
        .def(py::init<>())
        .def(
            "load_model", &InferenceEngine::load_model, py::arg("path_or_store_name") = "",
            py::arg("gpu_layers") = 0, py::arg("context_size") = 0, py::arg("silent") = true,
            py::arg("threads") = 0, py::arg("device") = "", py::arg("store") = "",
            py::arg("kv_type") = "auto",
            "Load a GGUF file or a model-store name; an empty name loads the embedded stories260K.")
        .def_property_readonly("loaded", &InferenceEngine::loaded)
        .def("logits", &InferenceEngine::logits, py::arg("token_ids"),
             "Teacher-forced logits: a float32 array [len(token_ids), vocab_size], row i the "
             "next-token logits after token_ids[:i + 1].")
        .def(
            "infer",
            [](InferenceEngine& self, const Prompt& prompt, size_t max_tokens, float temperature,
               int top_k, float top_p, float min_p, float repeat_penalty,
               std::optional<uint64_t> seed, std::vector<std::string> stop,
               const std::optional<std::string>& grammar, const py::object& json_schema) {
                return self.infer(prompt, make_options(max_tokens, temperature, top_k, top_p, min_p,
                                                       repeat_penalty, seed, std::move(stop),
                                                       grammar_argument(grammar, json_schema)));
            },
            py::arg("prompt"), py::arg("max_tokens") = kDefaultMaxTokens,
            py::arg("temperature") = 0.8f, py::arg("top_k") = 40, py::arg("top_p") = 0.95f,
            py::arg("min_p") = 0.05f, py::arg("repeat_penalty") = 1.0f,
            py::arg("seed") = py::none(), py::arg("stop") = std::vector<std::string>{},
            py::arg("grammar") = py::none(), py::arg("json_schema") = py::none(),
            "Generate from a prompt (text, or a list of token ids used exactly); the GIL is "
            "released while the model runs. The result's tokens are the generated ids. "
            "grammar= (GBNF) or json_schema= (a dict or JSON text) holds the text to it.")
        .def(
            "stream",
            [](InferenceEngine& self, const Prompt& prompt, size_t max_tokens, float temperature,
               int top_k, float top_p, float min_p, float repeat_penalty,
               std::optional<uint64_t> seed, std::vector<std::string> stop,
               const std::optional<std::string>& grammar, const py::object& json_schema) {
                return std::make_unique<TextStream>(
                    self.engine(), prompt,
                    make_options(max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, seed,
                                 std::move(stop), grammar_argument(grammar, json_schema)));
            },
            py::arg("prompt"), py::arg("max_tokens") = kDefaultMaxTokens,
            py::arg("temperature") = 0.8f, py::arg("top_k") = 40, py::arg("top_p") = 0.95f,
            py::arg("min_p") = 0.05f, py::arg("repeat_penalty") = 1.0f,
            py::arg("seed") = py::none(), py::arg("stop") = std::vector<std::string>{},
            py::arg("grammar") = py::none(), py::arg("json_schema") = py::none(),
            py::keep_alive<0, 1>(), "Iterate over the generated text as it is produced.")
        .def(
            "chat",
            [](InferenceEngine& self,
               const std::vector<std::map<std::string, std::string>>& messages, size_t max_tokens,
               float temperature, std::optional<uint64_t> seed) {
                if (self.engine().summary().chat_template.empty()) {
                    auto options = make_options(max_tokens, temperature, 40, 0.95f, 0.05f, 1.0f,
                                                seed, {"\nuser:"});
                    return self.infer(render_transcript(messages), options);
                }
                // The model's own template; the prompt it makes carries its special tokens.
                auto options =
                    make_options(max_tokens, temperature, 40, 0.95f, 0.05f, 1.0f, seed, {});
                options.add_bos = false;
                options.parse_special = true;
                const nlohmann::json list(messages);
                return self.infer(self.engine().render_chat(list.dump()), options);
            },
            py::arg("messages"), py::arg("max_tokens") = kDefaultMaxTokens,
            py::arg("temperature") = 0.8f, py::arg("seed") = py::none(),
            "Reply to a list of {'role', 'content'} messages, rendered with the model's chat "
            "template (a plain 'role: content' transcript when the model has none).")
        .def("embed", &InferenceEngine::embed, py::arg("input"),
             "The embedding of a text or a list of token ids: a float32 array of the model's "
             "embedding size, the final hidden states after the output norm pooled as the GGUF "
             "says (mean for a generative model) and L2-normalised.")
        .def(
            "render_chat",
            [](InferenceEngine& self, const py::object& messages, const py::object& tools,
               bool add_generation_prompt) {
                // Through Python's json, so dicts keep their order (a tool's schema reaches
                // the prompt as written, as in transformers).
                const py::object dumps = py::module_::import("json").attr("dumps");
                std::string extra = "{}";
                if (!tools.is_none())
                    extra = "{\"tools\": " + dumps(tools).cast<std::string>() + "}";
                return self.engine().render_chat(dumps(messages).cast<std::string>(),
                                                 add_generation_prompt, extra);
            },
            py::arg("messages"), py::arg("tools") = py::none(),
            py::arg("add_generation_prompt") = true,
            "The prompt the model's chat template makes of `messages` (and `tools`), as "
            "transformers' apply_chat_template(tokenize=False) makes it.")
        .def(
            "tokenize",
            [](InferenceEngine& self, const std::string& text, bool add_special,
               bool parse_special) {
                return self.engine().tokenize(text, add_special, parse_special);
            },
            py::arg("text"), py::arg("add_special") = true, py::arg("parse_special") = false,
            "Token ids of `text`: add_special adds BOS/EOS where the model asks for them; "
            "parse_special reads special-token text (<|eot_id|>) as those tokens.")
        .def("detokenize", [](InferenceEngine& self, const std::vector<int32_t>& tokens) {
            return self.engine().detokenize(tokens);
        });
}

}  // namespace llcuda::python
