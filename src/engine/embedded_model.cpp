#include "engine/embedded_model.hpp"

extern "C" const uint8_t llcuda_embedded_model_begin[];
extern "C" const uint8_t llcuda_embedded_model_end[];

namespace llcuda {

std::span<const uint8_t> embedded_model_bytes() {
    return {llcuda_embedded_model_begin,
            static_cast<size_t>(llcuda_embedded_model_end - llcuda_embedded_model_begin)};
}

}  // namespace llcuda
