// libFuzzer target for byte-level BPE: arbitrary bytes (invalid UTF-8 included) through every
// pre-tokenizer of the table, with and without special tokens. Anything but a round trip
// (decode(encode(text)) == text) or an llcuda::Error is a bug.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "tokenizer/byte_unicode.hpp"
#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

// The 256 byte pieces, a few merges that form words and digit runs, and two special tokens.
llcuda::Vocabulary small_vocabulary(std::string_view pre) {
    llcuda::Vocabulary vocabulary;
    vocabulary.model = llcuda::TokenizerModel::ByteLevelBpe;
    vocabulary.pre = std::string(pre);
    for (int byte = 0; byte < 256; ++byte)
        vocabulary.pieces.push_back(llcuda::byte_to_unicode(static_cast<uint8_t>(byte)));
    const std::string space = llcuda::byte_to_unicode(' ');
    for (const auto& [left, right] : std::vector<std::pair<std::string, std::string>>{
             {"t", "h"}, {"th", "e"}, {space, "the"}, {"1", "2"}, {"12", "3"}, {"\xC3\xA4", "b"}}) {
        vocabulary.merges.push_back(left + " " + right);
        vocabulary.pieces.push_back(left + right);
    }
    vocabulary.types.assign(vocabulary.pieces.size(), llcuda::TokenType::Normal);
    for (const auto* special : {"<|endoftext|>", "<tool>"}) {
        vocabulary.pieces.push_back(special);
        vocabulary.types.push_back(llcuda::TokenType::Control);
    }
    vocabulary.scores.assign(vocabulary.pieces.size(), 0.0f);
    vocabulary.eos_id = static_cast<int32_t>(vocabulary.pieces.size() - 2);
    vocabulary.add_bos = false;
    return vocabulary;
}

const std::vector<std::unique_ptr<llcuda::Tokenizer>>& tokenizers() {
    static const auto all = [] {
        std::vector<std::unique_ptr<llcuda::Tokenizer>> list;
        for (const auto& spec : llcuda::pre_tokenizer_table())
            list.push_back(llcuda::make_tokenizer(small_vocabulary(spec.names.front())));
        return list;
    }();
    return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const auto& all = tokenizers();
    const auto& tokenizer = *all[data[0] % all.size()];
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        if (tokenizer.decode(tokenizer.encode(text, true, false)) != text) std::abort();
        (void)tokenizer.decode(tokenizer.encode(text, true, true));
    } catch (const llcuda::Error&) {
    }
    return 0;
}
