#pragma once
// Small helpers shared by the quantizers of both block families.
#include <cmath>
#include <cstddef>

namespace llcuda {

// The element of largest magnitude, keeping its sign: symmetric formats map it to the most
// negative code so that the full code range is used.
inline float signed_absolute_max(const float* in, size_t count) {
    float best = 0.0f;
    for (size_t i = 0; i < count; ++i) {
        if (std::fabs(in[i]) > std::fabs(best)) best = in[i];
    }
    return best;
}

}  // namespace llcuda
