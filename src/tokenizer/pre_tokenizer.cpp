#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pre_tokenizer.hpp"

#include <fmt/format.h>
#include <pcre2.h>

#include <array>
#include <string>

#include "core/error.hpp"

namespace llcuda {
namespace {

// The expressions are those of each family's tokenizer.json (where PCRE2 reads them as they
// are) or the splits llama.cpp's llama-vocab.cpp uses to reproduce them.
constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr std::string_view kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek's letters are an explicit list of ranges (Latin, Greek, Cyrillic, Armenian, ...),
// spelled as code points: several are singletons that Unicode normalization would change.
constexpr std::string_view kDeepseekLetters =
    R"(\s?[)"
    R"(A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-)"
    R"(\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386})"
    R"(\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-)"
    R"(\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD})"
    R"(\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-)"
    R"(\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D})"
    R"(\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4})"
    R"(\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3})"
    R"(\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102})"
    R"(\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128})"
    R"(\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149})"
    R"(\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE})"
    R"(\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-)"
    R"(\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})"
    R"(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})"
    R"(\x{1E900}-\x{1E943})"
    R"(]+)";
constexpr std::string_view kCjk = R"([一-龥ࠀ-一가-퟿]+)";

const std::array kTable{
    PreTokenizerSpec{
        .names = {"default"},
        .regexes = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"}},
    PreTokenizerSpec{.names = {"llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral"},
                     .regexes = {kLlama3},
                     .ignore_merges = true,
                     .add_bos = true},
    PreTokenizerSpec{.names = {"smaug-bpe", "dbrx"}, .regexes = {kLlama3}},
    PreTokenizerSpec{.names = {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"},
                     .regexes = {kQwen2}},
    PreTokenizerSpec{.names = {"gpt-2", "phi-2", "mpt", "olmo", "jais", "exaone4"},
                     .regexes = {kGpt2}},
    PreTokenizerSpec{.names = {"starcoder", "refact", "smollm", "command-r", "codeshell", "exaone"},
                     .regexes = {R"(\p{N})", kGpt2}},
    PreTokenizerSpec{.names = {"falcon"},
                     .regexes = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"([0-9][0-9][0-9])"}},
    PreTokenizerSpec{.names = {"deepseek-llm"},
                     .regexes = {R"([\r\n])", kDeepseekLetters, R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)",
                                 R"(\s+$)", kCjk, R"(\p{N}+)"}},
    PreTokenizerSpec{.names = {"deepseek-coder"},
                     .regexes = {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"}},
    PreTokenizerSpec{
        .names = {"deepseek-v3"},
        .regexes =
            {R"(\p{N}{1,3})", R"([一-龥぀-ゟ゠-ヿ]+)",
             R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}},
    PreTokenizerSpec{
        .names = {"tekken"}, .regexes = {kTekken}, .ignore_merges = true, .add_bos = true},
};

// Backtracking bound per match: the expressions above are linear, so reaching it means a
// pathological input, reported instead of hanging.
constexpr uint32_t kMatchLimit = 10'000'000;

}  // namespace

std::span<const PreTokenizerSpec> pre_tokenizer_table() { return kTable; }

const PreTokenizerSpec& find_pre_tokenizer(std::string_view name) {
    std::string known;
    for (const auto& spec : kTable) {
        for (const auto candidate : spec.names) {
            if (candidate == name) return spec;
            known += known.empty() ? "" : ", ";
            known += candidate;
        }
    }
    throw Error(fmt::format("tokenizer.ggml.pre '{}' is not a known pre-tokenizer (known: {})",
                            name, known));
}

struct PreTokenizer::Compiled {
    std::string source;
    pcre2_code* code = nullptr;
    pcre2_match_context* context = nullptr;
    ~Compiled() {
        pcre2_match_context_free(context);
        pcre2_code_free(code);
    }
};

PreTokenizer::PreTokenizer(const PreTokenizerSpec& spec) {
    for (const auto source : spec.regexes) {
        auto compiled = std::make_unique<Compiled>();
        compiled->source = std::string(source);
        int error = 0;
        PCRE2_SIZE error_offset = 0;
        compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error,
                                       &error_offset, nullptr);
        if (!compiled->code) {
            std::array<PCRE2_UCHAR, 256> message{};
            pcre2_get_error_message(error, message.data(), message.size());
            throw Error(fmt::format("pre-tokenizer '{}': regex /{}/ does not compile at {}: {}",
                                    spec.names.front(), source, error_offset,
                                    reinterpret_cast<const char*>(message.data())));
        }
        // JIT is an optimisation: where it is unavailable the interpreter gives the same words.
        (void)pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);
        compiled->context = pcre2_match_context_create(nullptr);
        pcre2_set_match_limit(compiled->context, kMatchLimit);
        regexes_.push_back(std::move(compiled));
    }
}

PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::split(std::string_view text,
                         const std::function<void(std::string_view)>& word) const {
    if (!text.empty()) split_with(0, text, word);
}

void PreTokenizer::split_with(size_t level, std::string_view text,
                              const std::function<void(std::string_view)>& word) const {
    if (level == regexes_.size()) {
        word(text);
        return;
    }
    const auto& regex = *regexes_[level];
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
        pcre2_match_data_create(1, nullptr), &pcre2_match_data_free);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t position = 0;  // end of the last piece handed on
    size_t search = 0;
    while (search < text.size()) {
        const int result =
            pcre2_match(regex.code, subject, text.size(), search, 0, match.get(), regex.context);
        if (result == PCRE2_ERROR_NOMATCH) break;
        if (result < 0) {
            std::array<PCRE2_UCHAR, 256> message{};
            pcre2_get_error_message(result, message.data(), message.size());
            throw Error(fmt::format("pre-tokenizer regex /{}/ failed on a {}-byte text: {}",
                                    regex.source, text.size(),
                                    reinterpret_cast<const char*>(message.data())));
        }
        const PCRE2_SIZE* range = pcre2_get_ovector_pointer(match.get());
        const size_t begin = range[0];
        const size_t end = range[1];
        if (end == begin) {  // an empty match cuts nothing; look again one byte later
            search = begin + 1;
            continue;
        }
        if (begin > position) split_with(level + 1, text.substr(position, begin - position), word);
        split_with(level + 1, text.substr(begin, end - begin), word);
        position = search = end;
    }
    if (position < text.size()) split_with(level + 1, text.substr(position), word);
}

}  // namespace llcuda
