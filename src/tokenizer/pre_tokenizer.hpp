#pragma once
// Pre-tokenization for byte-level BPE: regular expressions (PCRE2, UTF + UCP) cut the text
// into words before any merge, as Hugging Face's Split/ByteLevel pre-tokenizers do. Which
// expressions a model uses is named by tokenizer.ggml.pre.
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace llcuda {

// One row per family: everything the name implies.
struct PreTokenizerSpec {
    std::vector<std::string_view> names;  // tokenizer.ggml.pre values
    // Applied in turn: each cuts every piece the previous ones made into its matches and the
    // text between them, both kept.
    std::vector<std::string_view> regexes;
    bool ignore_merges = false;  // a word that is a whole token is that token (Llama 3)
    bool add_bos = false;        // default of tokenizer.ggml.add_bos_token
};

std::span<const PreTokenizerSpec> pre_tokenizer_table();

// Throws llcuda::Error naming `name` and listing the known ones.
const PreTokenizerSpec& find_pre_tokenizer(std::string_view name);

class PreTokenizer {
  public:
    explicit PreTokenizer(const PreTokenizerSpec& spec);
    ~PreTokenizer();
    PreTokenizer(const PreTokenizer&) = delete;
    PreTokenizer& operator=(const PreTokenizer&) = delete;

    // Calls `word` with each word of `text`, in order; the words concatenate to `text`.
    // Invalid UTF-8 never matches an expression, so it ends up in the words between matches.
    void split(std::string_view text, const std::function<void(std::string_view)>& word) const;

  private:
    struct Compiled;
    void split_with(size_t level, std::string_view text,
                    const std::function<void(std::string_view)>& word) const;

    std::vector<std::unique_ptr<Compiled>> regexes_;
};

}  // namespace llcuda
