#pragma once
// A tokenizer's vocabulary as a GGUF file describes it (tokenizer.ggml.* metadata): pieces,
// scores, token types, BPE merges, the pre-tokenizer's name and the special token ids.
#include <cstdint>
#include <string>
#include <vector>

#include "core/gguf/gguf_file.hpp"

namespace llcuda {

enum class TokenType : int32_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

constexpr int32_t kNoToken = -1;

enum class TokenizerModel {
    SentencePiece,  // tokenizer.ggml.model "llama": pieces with scores, byte fallback
    ByteLevelBpe,   // tokenizer.ggml.model "gpt2": GPT-2 byte mapping, ranked merges
};

struct Vocabulary {
    TokenizerModel model = TokenizerModel::SentencePiece;
    std::string pre;  // tokenizer.ggml.pre (byte-level BPE); "default" when the file has none
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<TokenType> types;
    std::vector<std::string> merges;  // "left right", highest priority first
    int32_t bos_id = kNoToken;
    int32_t eos_id = kNoToken;
    int32_t eot_id = kNoToken;  // end of turn (<|eot_id|>): ends generation like EOS
    int32_t eom_id = kNoToken;  // end of message (<|eom_id|>, Llama 3.1 tool calls)
    int32_t pad_id = kNoToken;
    int32_t unknown_id = kNoToken;
    bool add_bos = true;
    bool add_eos = false;
    bool add_space_prefix = true;  // SentencePiece's dummy prefix
};

// Throws llcuda::Error naming the key when the vocabulary is missing, inconsistent, or of a
// kind llcuda does not implement.
Vocabulary read_vocabulary(const GgufFile& file);

}  // namespace llcuda
