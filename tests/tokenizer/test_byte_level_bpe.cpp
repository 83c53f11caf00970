// Byte-level BPE on a small vocabulary made here (the 256 byte pieces and a few merges), and
// on the real Llama 3 vocabulary where ../shared/models is present.
#include <gtest/gtest.h>

#include <random>

#include "core/error.hpp"
#include "core/gguf/gguf_file.hpp"
#include "core/gguf/gguf_writer.hpp"
#include "test_paths.hpp"
#include "tokenizer/byte_unicode.hpp"
#include "tokenizer/streaming_detokenizer.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llcuda {
namespace {

struct SmallVocabulary {
    std::vector<std::string> pieces;
    std::vector<int32_t> types;
    std::vector<std::string> merges{"h e", "l l", "he ll", "hell o"};
    std::string pre = "gpt-2";
    std::optional<uint32_t> eos;

    SmallVocabulary() {
        for (int byte = 0; byte < 256; ++byte) {
            pieces.push_back(byte_to_unicode(static_cast<uint8_t>(byte)));
            types.push_back(1);
        }
        for (const auto* piece : {"he", "ll", "hell", "hello"}) {
            pieces.push_back(piece);
            types.push_back(1);
        }
        pieces.push_back("<|endoftext|>");
        types.push_back(3);
    }

    std::vector<uint8_t> serialize() const {
        GgufWriter writer;
        std::vector<GgufValue> piece_values, type_values, merge_values;
        for (const auto& piece : pieces) piece_values.push_back(GgufValue::string(piece));
        for (const auto type : types) type_values.push_back(GgufValue::i32(type));
        for (const auto& merge : merges) merge_values.push_back(GgufValue::string(merge));
        writer.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
        writer.set("tokenizer.ggml.pre", GgufValue::string(pre));
        writer.set("tokenizer.ggml.tokens",
                   GgufValue::array(GgufType::String, std::move(piece_values)));
        writer.set("tokenizer.ggml.token_type",
                   GgufValue::array(GgufType::Int32, std::move(type_values)));
        writer.set("tokenizer.ggml.merges",
                   GgufValue::array(GgufType::String, std::move(merge_values)));
        if (eos) writer.set("tokenizer.ggml.eos_token_id", GgufValue::u32(*eos));
        return writer.serialize();
    }
};

std::unique_ptr<Tokenizer> load(const SmallVocabulary& vocabulary) {
    const auto bytes = vocabulary.serialize();
    return load_tokenizer(GgufFile::from_memory(bytes, "small-vocab"));
}

std::string error_of(const SmallVocabulary& vocabulary) {
    try {
        load(vocabulary);
    } catch (const Error& error) {
        return error.what();
    }
    return "";
}

TEST(ByteUnicode, EveryByteRoundTrips) {
    for (int byte = 0; byte < 256; ++byte) {
        const std::string one(1, static_cast<char>(byte));
        EXPECT_EQ(unicode_to_bytes(bytes_to_unicode(one)), one);
    }
    EXPECT_EQ(bytes_to_unicode(" a\n"),
              "\xC4\xA0"
              "a"
              "\xC4\x8A");  // "Ġ", "a", "Ċ"
}

TEST(ByteLevelBpe, MergesByRank) {
    const auto tokenizer = load(SmallVocabulary{});
    EXPECT_EQ(tokenizer->encode("hello", false), std::vector<int32_t>{259});
    // " hello" is one word for GPT-2's expression; "Ġ" has no merge with "h".
    EXPECT_EQ(tokenizer->encode(" hello", false), (std::vector<int32_t>{32, 259}));
    EXPECT_EQ(tokenizer->encode("hel", false), (std::vector<int32_t>{256, 'l'}));
}

TEST(ByteLevelBpe, SpecialTokensOnlyWhenAsked) {
    const auto tokenizer = load(SmallVocabulary{});
    const auto plain = tokenizer->encode("a<|endoftext|>", false, false);
    const auto special = tokenizer->encode("a<|endoftext|>", false, true);
    EXPECT_EQ(special, (std::vector<int32_t>{'a', 260}));
    EXPECT_GT(plain.size(), 2u);
    EXPECT_EQ(tokenizer->decode(plain), "a<|endoftext|>");
    EXPECT_EQ(tokenizer->decode(special), "a");  // control tokens print nothing
}

TEST(ByteLevelBpe, EndOfGenerationIncludesEndOfTextPieces) {
    const auto tokenizer = load(SmallVocabulary{});
    EXPECT_TRUE(tokenizer->is_end_of_generation(260));
    EXPECT_FALSE(tokenizer->is_end_of_generation(259));
}

TEST(ByteLevelBpe, InvalidUtf8IsTokenizedAsBytes) {
    const auto tokenizer = load(SmallVocabulary{});
    std::mt19937 random(7);
    for (int round = 0; round < 200; ++round) {
        std::string text;
        const size_t length = random() % 40;
        for (size_t i = 0; i < length; ++i) text += static_cast<char>(random() % 256);
        EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, false, true)), text);
    }
}

TEST(ByteLevelBpe, UnknownPreTokenizerIsAnErrorListingTheKnownOnes) {
    SmallVocabulary vocabulary;
    vocabulary.pre = "made-up";
    const auto message = error_of(vocabulary);
    EXPECT_NE(message.find("'made-up'"), std::string::npos) << message;
    EXPECT_NE(message.find("llama-bpe"), std::string::npos) << message;
}

TEST(ByteLevelBpe, BadMergesAndSpecialIdsNameTheKey) {
    SmallVocabulary missing_piece;
    missing_piece.merges.push_back("x yz");
    EXPECT_NE(error_of(missing_piece).find("tokenizer.ggml.merges[4]"), std::string::npos);
    SmallVocabulary far_eos;
    far_eos.eos = 100000;
    EXPECT_NE(error_of(far_eos).find("tokenizer.ggml.eos_token_id"), std::string::npos);
    GgufWriter writer;
    writer.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
    writer.set("tokenizer.ggml.tokens",
               GgufValue::array(GgufType::String, {GgufValue::string("a")}));
    const auto bytes = writer.serialize();
    try {
        load_tokenizer(GgufFile::from_memory(bytes, "no-merges"));
        FAIL() << "a gpt2 vocabulary without merges loaded";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("tokenizer.ggml.merges"), std::string::npos);
    }
}

// A character split across byte-level tokens is held back until it is whole, and the
// streamed text equals the decoded text.
TEST(StreamingDetokenizer, HoldsBackSplitCharactersOfByteLevelPieces) {
    const auto model = testing::shared_model("arch/llama3-tiny.gguf");
    if (!model) GTEST_SKIP() << "needs ../shared/models/arch";
    const auto file = GgufFile::open(*model);
    const auto tokenizer = load_tokenizer(file);
    const std::string text =
        "Hello 🦙 wörld 日本語 \xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB";
    const auto ids = tokenizer->encode(text, false);
    StreamingDetokenizer stream(*tokenizer, kNoToken);
    std::string streamed;
    for (const auto id : ids) {
        const auto piece = stream.push(id);
        // Every piece handed out is whole UTF-8: re-streaming it alone changes nothing.
        Utf8Stream check;
        EXPECT_EQ(check.push(piece) + check.finish(), piece);
        streamed += piece;
    }
    streamed += stream.finish();
    EXPECT_EQ(streamed, text);
    EXPECT_EQ(tokenizer->decode(ids), text);
    EXPECT_TRUE(tokenizer->is_end_of_generation(128009));  // <|eot_id|>
}

}  // namespace
}  // namespace llcuda
