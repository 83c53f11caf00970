// Feeds arbitrary bytes to everything that reads a GGUF file: the container parser, the
// model's hyperparameters and tensor table, and the tokenizer. Any outcome but success or
// llcuda::Error (a crash, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/error.hpp"
#include "core/gguf/gguf_file.hpp"
#include "model/decoder.hpp"
#include "tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto file = std::make_shared<const llcuda::GgufFile>(
            llcuda::GgufFile::from_memory({data, size}, "fuzz-input"));
        for (const auto& [key, value] : file->metadata()) (void)value.to_display_string();
        try {
            const auto tokenizer = llcuda::load_tokenizer(*file);
            (void)tokenizer->decode(tokenizer->encode("Hello wörld 🦙 <s>", true, true));
        } catch (const llcuda::Error&) {
        }
        llcuda::Decoder model(file);
        if (model.spec().embedding_dim * model.spec().layer_count < (1u << 16)) {
            llcuda::ThreadPool pool(1);
            llcuda::KvCache cache(model.spec(), 4);
            std::vector<float> logits;
            const int32_t bos = 1;
            model.forward({&bos, 1}, cache, pool, logits);
        }
    } catch (const llcuda::Error&) {
    }
    return 0;
}
