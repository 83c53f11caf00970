// llcuda's tokenizer on the 32000-token Llama 2 vocabulary, against the ids SentencePiece
// itself produces (tokenizer_cases.py writes them before this test runs). The vocabulary goes
// through a GGUF file, as it would in a real model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/gguf/gguf_file.hpp"
#include "core/gguf/gguf_writer.hpp"
#include "tokenizer/sentencepiece_tokenizer.hpp"

namespace llcuda {
namespace {

class Llama2Tokenizer : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!std::filesystem::exists(LLCUDA_TOKENIZER_CASES)) {
            GTEST_SKIP() << "no " << LLCUDA_TOKENIZER_CASES
                         << " (needs ../shared/models and python3-sentencepiece)";
        }
        std::ifstream in(LLCUDA_TOKENIZER_CASES);
        cases_ = nlohmann::json::parse(in);
        std::vector<GgufValue> pieces, scores, types;
        for (const auto& entry : cases_["vocabulary"]) {
            pieces.push_back(GgufValue::string(entry[0].get<std::string>()));
            scores.push_back(GgufValue::f32(entry[1].get<float>()));
            types.push_back(GgufValue::i32(entry[2].get<int32_t>()));
        }
        GgufWriter writer;
        writer.set("tokenizer.ggml.model", GgufValue::string("llama"));
        writer.set("tokenizer.ggml.tokens", GgufValue::array(GgufType::String, std::move(pieces)));
        writer.set("tokenizer.ggml.scores", GgufValue::array(GgufType::Float32, std::move(scores)));
        writer.set("tokenizer.ggml.token_type",
                   GgufValue::array(GgufType::Int32, std::move(types)));
        writer.set("tokenizer.ggml.bos_token_id", GgufValue::u32(cases_["bos"].get<uint32_t>()));
        writer.set("tokenizer.ggml.eos_token_id", GgufValue::u32(cases_["eos"].get<uint32_t>()));
        writer.set("tokenizer.ggml.unknown_token_id",
                   GgufValue::u32(cases_["unknown"].get<uint32_t>()));
        bytes_ = writer.serialize();
        tokenizer_ = std::make_unique<SentencePieceTokenizer>(
            read_vocabulary(GgufFile::from_memory(bytes_, "llama2-vocab")));
    }

    nlohmann::json cases_;
    std::vector<uint8_t> bytes_;
    std::unique_ptr<SentencePieceTokenizer> tokenizer_;
};

TEST_F(Llama2Tokenizer, MatchesSentencePiece) {
    ASSERT_EQ(tokenizer_->size(), 32000u);
    size_t checked = 0;
    for (const auto& test_case : cases_["cases"]) {
        const auto text = test_case["text"].get<std::string>();
        const auto expected = test_case["ids"].get<std::vector<int32_t>>();
        EXPECT_EQ(tokenizer_->encode(text, false), expected) << "text: '" << text << "'";
        ++checked;
    }
    EXPECT_GE(checked, 20u);
}

TEST_F(Llama2Tokenizer, DecodesLikeSentencePiece) {
    for (const auto& test_case : cases_["cases"]) {
        const auto ids = test_case["ids"].get<std::vector<int32_t>>();
        EXPECT_EQ(tokenizer_->decode(ids), test_case["decoded"].get<std::string>())
            << test_case["text"];
    }
}

}  // namespace
}  // namespace llcuda
