#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.hpp"
#include "engine/embedded_model.hpp"
#include "tokenizer/sentencepiece_tokenizer.hpp"

namespace llcuda {
namespace {

SentencePieceTokenizer embedded_tokenizer() {
    return SentencePieceTokenizer(
        read_vocabulary(GgufFile::from_memory(embedded_model_bytes(), "embedded")));
}

TEST(Tokenizer, EmbeddedVocabularyLoads) {
    const SentencePieceTokenizer tokenizer = embedded_tokenizer();
    EXPECT_EQ(tokenizer.size(), 512u);
    EXPECT_EQ(tokenizer.bos_id(), 1);
    EXPECT_EQ(tokenizer.eos_id(), 2);
}

TEST(Tokenizer, EncodeDecodeRoundTrip) {
    const SentencePieceTokenizer tokenizer = embedded_tokenizer();
    for (const std::string text :
         {"Once upon a time, there was a little girl named Lily.", "Hello  world\n\nbye",
          "ünïcödé 日本 🦙 falls back to bytes", "x"}) {
        const auto tokens = tokenizer.encode(text, true);
        ASSERT_FALSE(tokens.empty());
        EXPECT_EQ(tokens[0], 1);
        EXPECT_EQ(tokenizer.decode(std::vector<int32_t>(tokens.begin() + 1, tokens.end())), text);
    }
}

TEST(Tokenizer, MergesIntoWholeWords) {
    const SentencePieceTokenizer tokenizer = embedded_tokenizer();
    // In the expected greedy output, " Once" is token 403: a merge down to one piece.
    EXPECT_EQ(tokenizer.encode("Once", false), std::vector<int32_t>{403});
}

TEST(Tokenizer, SpecialTokensOnlyWhenAsked) {
    const SentencePieceTokenizer tokenizer = embedded_tokenizer();
    const auto plain = tokenizer.encode("a</s>b", false, false);
    const auto special = tokenizer.encode("a</s>b", false, true);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
    EXPECT_EQ(std::count(special.begin(), special.end(), 2), 1);
    EXPECT_EQ(tokenizer.token_bytes(2, false), "");  // control tokens print nothing
}

TEST(Tokenizer, InvalidIdsAreErrors) {
    const SentencePieceTokenizer tokenizer = embedded_tokenizer();
    EXPECT_THROW(tokenizer.token_bytes(512, false), Error);
    EXPECT_THROW(tokenizer.token_bytes(-1, false), Error);
}

}  // namespace
}  // namespace llcuda
