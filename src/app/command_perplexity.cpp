// `llcuda perplexity`: perplexity of a model over a text, as llama-perplexity measures it, and
// with --kl-divergence-base the KL divergence of its next-token distributions from a base
// model's (first run the base model to save them, then the quantized one with --kl-divergence).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "app/commands.hpp"
#include "app/engine_options.hpp"
#include "core/error.hpp"
#include "engine/base_logits_file.hpp"
#include "engine/perplexity.hpp"
#include "llcuda/engine.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"

namespace llcuda {
namespace {

constexpr size_t kDefaultChunk = 512;

struct PerplexityArguments {
    EngineOptions engine;
    std::string text_file;
    size_t chunks = 0;
    std::string base_file;
    bool compare = false;
    std::string store;
    bool verbose = false;
};

std::string read_whole_file(const std::string& path) {
    if (!std::filesystem::is_regular_file(path))
        throw Error(fmt::format("-f '{}' is not a regular file", path));
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("-f: cannot read '{}'", path));
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The token each chunk starts with when the vocabulary adds BOS to a text; -1 when it adds none.
int32_t chunk_start_token(const Engine& engine) {
    const auto with = engine.prompt_tokens("a", GenerationOptions{});
    const auto without = engine.tokenize("a", false);
    return with.size() > without.size() ? with.front() : -1;
}

// Divergences from the base model, chunk by chunk.
struct Comparison {
    MeanEstimate divergence, top1_agreement, base_nll;
    std::vector<double> divergences;

    void add(const ScoredChunk& base, const ScoredChunk& chunk, size_t vocab) {
        if (base.tokens != chunk.tokens) {
            throw Error(
                "--kl-divergence: the base logits were computed on other tokens (another "
                "text, tokenizer or -c)");
        }
        const size_t rows = chunk.logits.size() / vocab;
        for (size_t r = 0; r < rows; ++r) {
            const std::span<const float> base_row(base.logits.data() + r * vocab, vocab);
            const std::span<const float> row(chunk.logits.data() + r * vocab, vocab);
            const double value = kl_divergence(base_row, row);
            divergence.add(value);
            divergences.push_back(value);
            const bool agree =
                std::max_element(base_row.begin(), base_row.end()) - base_row.begin() ==
                std::max_element(row.begin(), row.end()) - row.begin();
            top1_agreement.add(agree ? 1.0 : 0.0);
            const int32_t next = chunk.tokens[chunk.first_scored + r + 1];
            base_nll.add(log_sum_exp(base_row) - base_row[next]);
        }
    }

    double percentile(double fraction) {
        if (divergences.empty()) return 0.0;
        const auto at = static_cast<size_t>(fraction * static_cast<double>(divergences.size() - 1));
        std::nth_element(divergences.begin(), divergences.begin() + static_cast<std::ptrdiff_t>(at),
                         divergences.end());
        return divergences[at];
    }
};

void perplexity(PerplexityArguments& arguments) {
    if (arguments.compare && arguments.base_file.empty())
        throw Error("--kl-divergence needs --kl-divergence-base FILE (the base model's logits)");
    if (arguments.engine.context_size == 0) arguments.engine.context_size = kDefaultChunk;
    arguments.engine.model_path = resolve_model_argument(
        arguments.engine.model_path, ModelStore::root_or_default(arguments.store));
    const std::string text = read_whole_file(arguments.text_file);
    Engine engine(arguments.engine);
    const auto& summary = engine.summary();
    if (arguments.verbose) print_placement(summary);
    const auto tokens = engine.tokenize(text, false);

    PerplexityOptions options;
    options.context = summary.context_size;
    options.chunks = arguments.chunks;
    options.chunk_start_token = chunk_start_token(engine);
    const size_t vocab = summary.vocab_size;
    std::fprintf(stderr, "perplexity: %zu tokens, chunks of %zu, %s on %s\n", tokens.size(),
                 options.context, summary.source.c_str(), summary.device_description.c_str());

    std::optional<BaseLogitsWriter> writer;
    std::optional<BaseLogitsReader> reader;
    const BaseLogitsHeader header{static_cast<uint32_t>(vocab),
                                  static_cast<uint32_t>(options.context),
                                  static_cast<uint32_t>(options.context / 2)};
    if (arguments.compare) {
        reader.emplace(arguments.base_file);
        if (reader->header().vocab_size != header.vocab_size ||
            reader->header().context != header.context) {
            throw Error(fmt::format(
                "--kl-divergence-base '{}' holds {} logits per token in chunks of {}; this run "
                "has {} and {} (same vocabulary and -c needed)",
                arguments.base_file, reader->header().vocab_size, reader->header().context,
                header.vocab_size, header.context));
        }
    } else if (!arguments.base_file.empty()) {
        writer.emplace(arguments.base_file, header);
    }
    Comparison comparison;
    const auto report = measure_perplexity(
        engine, tokens, options, [&](const ScoredChunk& chunk, const PerplexityReport& so_far) {
            if (writer) writer->write(chunk);
            if (reader) {
                const auto base = reader->next();
                if (!base) {
                    throw Error(fmt::format("--kl-divergence-base '{}' has only {} chunks",
                                            arguments.base_file, so_far.chunks - 1));
                }
                comparison.add(*base, chunk, vocab);
            }
            std::fprintf(stderr, "[%zu] %.4f\n", so_far.chunks, so_far.perplexity());
        });
    if (writer) writer->close();

    std::printf("perplexity: %.4f +/- %.4f over %zu chunks of %zu tokens (%zu scored)\n",
                report.perplexity(), report.perplexity_error(), report.chunks, options.context,
                report.negative_log_likelihood.count());
    if (writer) std::printf("base logits saved to %s\n", arguments.base_file.c_str());
    if (reader) {
        std::printf("base perplexity: %.4f; ln(PPL / PPL base): %.5f\n",
                    std::exp(comparison.base_nll.mean()),
                    report.negative_log_likelihood.mean() - comparison.base_nll.mean());
        std::printf("mean KL divergence: %.6f +/- %.6f; median %.6f; 99th percentile %.6f\n",
                    comparison.divergence.mean(), comparison.divergence.standard_error(),
                    comparison.percentile(0.5), comparison.percentile(0.99));
        std::printf("top-1 agreement with the base: %.3f%% +/- %.3f%%\n",
                    100.0 * comparison.top1_agreement.mean(),
                    100.0 * comparison.top1_agreement.standard_error());
    }
}

}  // namespace

void register_perplexity_command(CLI::App& app) {
    auto arguments = std::make_shared<PerplexityArguments>();
    auto* command = app.add_subcommand(
        "perplexity",
        "Perplexity over a text (chunks of -c tokens, second halves scored), and KL "
        "divergence from a base model");
    command->add_option("-m,--model", arguments->engine.model_path,
                        "GGUF file or store name (default: the embedded stories260K)");
    command->add_option("--store", arguments->store,
                        "Model store directory (default: LLCUDA_STORE or ~/.cache/llcuda)");
    command->add_option("-f,--file", arguments->text_file, "Text to score, read byte for byte")
        ->required();
    command->add_option("--chunks", arguments->chunks,
                        "Score at most this many chunks (default: all)");
    command->add_option("--kl-divergence-base", arguments->base_file,
                        "Without --kl-divergence: save this model's logits here (float32, "
                        "vocabulary x scored tokens); with it: compare against them");
    command->add_flag("--kl-divergence", arguments->compare,
                      "Compare with the base logits: mean KL divergence, top-1 agreement");
    add_engine_options(*command, arguments->engine);
    command->add_flag("-v,--verbose", arguments->verbose, "Print where each layer runs");
    command->callback([arguments] { perplexity(*arguments); });
}

}  // namespace llcuda
