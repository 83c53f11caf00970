// Byte-level BPE against Hugging Face tokenizers: every tokenization in
// ../shared/models/arch/reference.json (Llama 3, Qwen 2.5, Qwen 3 vocabularies, special-token
// text parsed as Hugging Face does) and every vector of llama.cpp's vocab/tests, made by
// Hugging Face for nine more families.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/gguf/gguf_file.hpp"
#include "test_paths.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llcuda {
namespace {

struct Counts {
    size_t cases = 0;
    size_t round_trips = 0;
};

// Encodes `text` as Hugging Face did and checks the ids, then that decoding gives it back.

void check_case(const Tokenizer& tokenizer, const std::string& text,
                const std::vector<int32_t>& expected, bool add_special, Counts& counts) {
    const auto ids = tokenizer.encode(text, add_special, true);
    EXPECT_EQ(ids, expected) << "text: '" << text << "'";
    ++counts.cases;
    if (!add_special) {
        // Special tokens decode to nothing, so the round trip reads the text as plain text.
        EXPECT_EQ(tokenizer.decode(tokenizer.encode(text, false, false)), text)
            << "round trip of '" << text << "'";
        ++counts.round_trips;
    }
}

class ReferenceJson : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceJson, EveryTokenizationMatchesHuggingFace) {
    const auto reference = testing::shared_model("arch/reference.json");
    const auto model = testing::shared_model("arch/" + GetParam() + ".gguf");
    if (!reference || !model) GTEST_SKIP() << "needs ../shared/models/arch";
    const auto json = nlohmann::json::parse(testing::read_text_file(*reference))[GetParam()];
    const auto file = GgufFile::open(*model);
    const auto tokenizer = load_tokenizer(file);
    Counts counts;
    for (const auto& [key, add_special] :
         {std::pair{"tokenizer_plain", false}, std::pair{"tokenizer_add_special", true}}) {
        if (!json.contains(key)) continue;
        for (const auto& [text, ids] : json[key].items())
            check_case(*tokenizer, text, ids.get<std::vector<int32_t>>(), add_special, counts);
    }
    EXPECT_GE(counts.cases, 30u);
    RecordProperty("cases", static_cast<int>(counts.cases));
}

INSTANTIATE_TEST_SUITE_P(Arch, ReferenceJson,
                         ::testing::Values("llama3-tiny", "qwen2-tiny", "qwen3-tiny"),
                         [](const auto& info) {
                             std::string name = info.param;
                             std::erase(name, '-');
                             return name;
                         });

// vocab/tests/NAME.gguf.inp: strings each followed by "\n__ggml_vocab_test__\n";
// NAME.gguf.out: one line of space-separated ids per string, no BOS or EOS.
class VocabVectors : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(VocabVectors, EveryVectorMatchesHuggingFace) {
    const auto& [name, gguf] = GetParam();
    const auto input = testing::shared_model("vocab/tests/ggml-vocab-" + name + ".gguf.inp");
    const auto output = testing::shared_model("vocab/tests/ggml-vocab-" + name + ".gguf.out");
    const auto model = testing::shared_model(gguf);
    if (!input || !output || !model) GTEST_SKIP() << "needs ../shared/models/vocab";
    const auto file = GgufFile::open(*model);
    const auto tokenizer = load_tokenizer(file);

    const std::string separator = "\n__ggml_vocab_test__\n";
    const auto text = testing::read_text_file(*input);
    std::vector<std::string> strings;
    for (size_t position = 0; position < text.size();) {
        const size_t end = text.find(separator, position);
        ASSERT_NE(end, std::string::npos) << "the last string has no separator";
        strings.push_back(text.substr(position, end - position));
        position = end + separator.size();
    }
    std::vector<std::vector<int32_t>> expected;
    std::istringstream lines(testing::read_text_file(*output));
    for (std::string line; std::getline(lines, line);) {
        std::istringstream numbers(line);
        std::vector<int32_t> ids;
        for (int32_t id; numbers >> id;) ids.push_back(id);
        expected.push_back(ids);
    }
    ASSERT_EQ(strings.size(), expected.size());
    Counts counts;
    for (size_t i = 0; i < strings.size(); ++i)
        check_case(*tokenizer, strings[i], expected[i], false, counts);
    EXPECT_GE(counts.cases, 20u);
}

INSTANTIATE_TEST_SUITE_P(
    Families, VocabVectors,
    ::testing::Values(std::pair{"llama-bpe", "arch/llama3-tiny.gguf"},
                      std::pair{"qwen2", "arch/qwen2-tiny.gguf"},
                      std::pair{"gpt-2", "vocab/ggml-vocab-gpt-2.gguf"},
                      std::pair{"deepseek-llm", "vocab/ggml-vocab-deepseek-llm.gguf"},
                      std::pair{"deepseek-coder", "vocab/ggml-vocab-deepseek-coder.gguf"},
                      std::pair{"falcon", "vocab/ggml-vocab-falcon.gguf"},
                      std::pair{"starcoder", "vocab/ggml-vocab-starcoder.gguf"},
                      std::pair{"mpt", "vocab/ggml-vocab-mpt.gguf"},
                      std::pair{"refact", "vocab/ggml-vocab-refact.gguf"},
                      std::pair{"llama-spm", "vocab/ggml-vocab-llama-spm.gguf"},
                      std::pair{"phi-3", "vocab/ggml-vocab-phi-3.gguf"}),
    [](const auto& info) {
        std::string name = info.param.first;
        std::erase(name, '-');
        return name;
    });

}  // namespace
}  // namespace llcuda
