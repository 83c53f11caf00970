// Usage: llcuda_sync_floor [SHAPE]   (a shape of `llcuda synth --shape`; default llama3-1b)
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <string>

#include "decode_sync_floor.hpp"
#include "model/synthetic_model.hpp"

int main(int argc, char** argv) {
    try {
        const std::string name = argc > 1 ? argv[1] : "llama3-1b";
        const llcuda::ModelShape& m = llcuda::find_model_shape(name);  // throws if unknown
        fmt::print("{}\n", name);
        measure_sync_floor(
            {m.embedding_dim, m.kv_dim(), m.feed_forward_dim, m.layers, m.vocab_size});
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "llcuda_sync_floor: %s\n", e.what());
        return 1;
    }
}
