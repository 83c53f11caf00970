// `llcuda tokenize`: the token ids a model's tokenizer gives a text, as llama-tokenize prints
// them; with --stats, how fast the tokenizer ran (a benchmark of tokenization alone).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/commands.hpp"
#include "core/error.hpp"
#include "core/gguf/gguf_file.hpp"
#include "engine/embedded_model.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llcuda {
namespace {

struct TokenizeArguments {
    std::string model;
    std::string prompt;
    std::string file;
    bool from_stdin = false;
    bool ids_only = false;
    bool no_bos = false;
    bool parse_special = false;
    bool json = false;
    bool stats = false;
    std::string store;
};

// The text exactly as given: a file or stdin byte for byte, no newline stripped.
std::string read_input(const TokenizeArguments& arguments) {
    if (!arguments.file.empty()) {
        std::ifstream in(arguments.file, std::ios::binary);
        if (!in) throw Error(fmt::format("-f {}: cannot read the file", arguments.file));
        std::ostringstream text;
        text << in.rdbuf();
        return text.str();
    }
    if (arguments.from_stdin) {
        std::cin >> std::noskipws;
        return std::string(std::istreambuf_iterator<char>(std::cin), {});
    }
    return arguments.prompt;
}

// What to show for one token: its bytes in a text, or for a control token its name.
std::string display_piece(const Tokenizer& tokenizer, int32_t token) {
    auto bytes = tokenizer.token_bytes(token, false);
    if (bytes.empty()) return tokenizer.vocabulary().pieces.at(static_cast<size_t>(token));
    return bytes;
}

void print_tokens(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens,
                  const TokenizeArguments& arguments) {
    if (arguments.json) {
        auto entries = nlohmann::json::array();
        for (const auto token : tokens)
            entries.push_back({{"id", token}, {"piece", display_piece(tokenizer, token)}});
        // A byte-level piece may be part of a UTF-8 character: shown as U+FFFD in JSON.
        std::puts(entries.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return;
    }
    if (arguments.ids_only) {
        std::string line;
        for (const auto token : tokens) line += (line.empty() ? "" : " ") + std::to_string(token);
        std::puts(line.c_str());
        return;
    }
    for (const auto token : tokens) {
        std::fputs(fmt::format("{:6} -> '{}'\n", token, display_piece(tokenizer, token)).c_str(),
                   stdout);
    }
}

void tokenize(const TokenizeArguments& arguments) {
    const int sources =
        !arguments.prompt.empty() + !arguments.file.empty() + (arguments.from_stdin ? 1 : 0);
    if (sources > 1) throw Error("give the text once: -p TEXT, -f FILE or --stdin");
    const std::string path =
        resolve_model_argument(arguments.model, ModelStore::root_or_default(arguments.store));
    const auto file = path.empty()
                          ? GgufFile::from_memory(embedded_model_bytes(), kEmbeddedModelName)
                          : GgufFile::open(path);
    const auto tokenizer = load_tokenizer(file);
    const std::string text = read_input(arguments);
    const auto start = std::chrono::steady_clock::now();
    const auto tokens = tokenizer->encode(text, !arguments.no_bos, arguments.parse_special);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print_tokens(*tokenizer, tokens, arguments);
    if (arguments.stats) {
        std::fprintf(stderr, "%zu bytes -> %zu tokens in %.3f s: %.2f MB/s (%s)\n", text.size(),
                     tokens.size(), seconds,
                     seconds > 0 ? static_cast<double>(text.size()) / seconds / 1e6 : 0.0,
                     file.description().c_str());
    }
}

}  // namespace

void register_tokenize_command(CLI::App& app) {
    auto arguments = std::make_shared<TokenizeArguments>();
    auto* command = app.add_subcommand("tokenize", "Print the token ids of a text");
    command->add_option("-m,--model", arguments->model,
                        "GGUF file or model-store name (default: the embedded model)");
    auto* prompt = command->add_option("-p,--prompt", arguments->prompt, "The text");
    auto* file = command->add_option("-f,--file", arguments->file,
                                     "Read the text from a file, byte for byte");
    auto* from_stdin =
        command->add_flag("--stdin", arguments->from_stdin, "Read the text from stdin");
    prompt->excludes(file)->excludes(from_stdin);
    file->excludes(from_stdin);
    command->add_flag("--ids", arguments->ids_only, "Print only the ids, space-separated");
    command->add_flag("--no-bos", arguments->no_bos, "Add no BOS/EOS even where the model asks");
    command->add_flag("--parse-special", arguments->parse_special,
                      "Special-token text (<|eot_id|>, <s>) becomes those tokens");
    command->add_flag("--json", arguments->json, "Print a JSON array of {id, piece}");
    command->add_flag("--stats", arguments->stats,
                      "Print bytes, tokens and tokenizer speed (MB/s) on stderr");
    command->add_option("--store", arguments->store, "Model store folder");
    command->callback([arguments] { tokenize(*arguments); });
}

}  // namespace llcuda
