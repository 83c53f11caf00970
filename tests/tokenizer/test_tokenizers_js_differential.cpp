// llcuda's byte-level BPE against tokenizers.js (Hugging Face's algorithms in Node) on
// thousands of generated strings per vocabulary; tokenizers_js/run.py writes the cases (and
// prints their seed) before this test runs, and it skips when node or npm is missing.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <gtest/gtest.h>
#include <pcre2.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/gguf/gguf_file.hpp"
#include "test_paths.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llcuda {
namespace {

// Whether `text` has a code point that PCRE2's Unicode tables leave unassigned (\p{Cn}): Node
// knows a newer Unicode (16: Egyptian hieroglyphs extended, ...), where such a character may be a
// letter, so the two references legitimately cut it differently.
bool unknown_to_pcre2(const std::string& text) {
    static const auto code = [] {
        int error = 0;
        PCRE2_SIZE offset = 0;
        return pcre2_compile(reinterpret_cast<PCRE2_SPTR>(R"(\p{Cn})"), PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    }();
    auto* match = pcre2_match_data_create(1, nullptr);
    const int found = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                                  0, match, nullptr);
    pcre2_match_data_free(match);
    return found >= 0;
}

TEST(TokenizersJs, GeneratedStringsTokenizeAsHuggingFaceAndRoundTrip) {
    if (!std::filesystem::exists(LLCUDA_TOKENIZERS_JS_CASES))
        GTEST_SKIP() << "no " << LLCUDA_TOKENIZERS_JS_CASES
                     << " (needs node, npm and the registry)";
    const auto cases = nlohmann::json::parse(testing::read_text_file(LLCUDA_TOKENIZERS_JS_CASES));
    const auto seed = cases["seed"].get<uint64_t>();
    for (const auto& [name, entries] : cases["vocabularies"].items()) {
        const auto model = testing::shared_model("arch/" + name + ".gguf");
        if (!model) GTEST_SKIP() << "needs ../shared/models/arch";
        const auto file = GgufFile::open(*model);
        const auto tokenizer = load_tokenizer(file);
        size_t mismatches = 0;
        size_t compared = 0;
        for (const auto& entry : entries) {
            const auto text = entry["text"].get<std::string>();
            EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, false, false)), text);
            if (unknown_to_pcre2(text)) continue;
            ++compared;
            const auto ids = tokenizer->encode(text, false, true);
            if (ids != entry["ids"].get<std::vector<int32_t>>() && ++mismatches <= 5) {
                ADD_FAILURE() << name << ", seed " << seed << ": '" << text << "' gives "
                              << ::testing::PrintToString(ids) << ", tokenizers.js "
                              << entry["ids"].dump();
            }
        }
        EXPECT_EQ(mismatches, 0u) << name << ": of " << compared << " strings, seed " << seed;
        // Strings with code points newer than PCRE2's Unicode are only round-tripped.
        EXPECT_GE(compared, entries.size() * 8 / 10);
        std::printf("%s: %zu of %zu strings identical to tokenizers.js (seed %llu)\n", name.c_str(),
                    compared, entries.size(), static_cast<unsigned long long>(seed));
        EXPECT_GE(entries.size(), 10000u);
    }
}

}  // namespace
}  // namespace llcuda
