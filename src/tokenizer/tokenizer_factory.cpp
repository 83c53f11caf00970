#include "tokenizer/byte_level_bpe_tokenizer.hpp"
#include "tokenizer/sentencepiece_tokenizer.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llcuda {

std::unique_ptr<Tokenizer> make_tokenizer(Vocabulary vocabulary) {
    switch (vocabulary.model) {
        case TokenizerModel::ByteLevelBpe:
            return std::make_unique<ByteLevelBpeTokenizer>(std::move(vocabulary));
        case TokenizerModel::SentencePiece:
            break;
    }
    return std::make_unique<SentencePieceTokenizer>(std::move(vocabulary));
}

std::unique_ptr<Tokenizer> load_tokenizer(const GgufFile& file) {
    return make_tokenizer(read_vocabulary(file));
}

}  // namespace llcuda
