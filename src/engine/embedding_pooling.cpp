#include "engine/embedding_pooling.hpp"

#include <fmt/format.h>

#include <cmath>

#include "core/error.hpp"

namespace llcuda {

PoolingChoice read_pooling(const GgufFile& file, const std::string& architecture) {
    const std::string key = architecture + ".pooling_type";
    const auto* value = file.find(key);
    if (value == nullptr) return {Pooling::Mean, false};
    switch (value->as_uint()) {
        case 0:
            return {Pooling::None, true};
        case 1:
            return {Pooling::Mean, true};
        case 2:
            return {Pooling::Cls, true};
        case 3:
            return {Pooling::Last, true};
        default:
            throw Error(fmt::format(
                "{}: {} is {}, a pooling llcuda does not have (0 none, 1 mean, 2 cls, 3 last)",
                file.description(), key, value->as_uint()));
    }
}

std::string pooling_name(Pooling pooling) {
    switch (pooling) {
        case Pooling::None:
            return "none";
        case Pooling::Mean:
            return "mean";
        case Pooling::Cls:
            return "cls";
        case Pooling::Last:
            return "last";
    }
    return "unknown";
}

std::vector<float> pool_embedding(std::span<const float> normed, size_t dim, Pooling pooling) {
    if (dim == 0 || normed.empty() || normed.size() % dim != 0)
        throw Error("pool_embedding: the hidden states are not whole rows");
    const size_t tokens = normed.size() / dim;
    std::vector<float> embedding(dim, 0.0f);
    switch (pooling) {
        case Pooling::None:
            throw Error(
                "this model's pooling type is none (one vector per token), so it gives no "
                "embedding of a whole input");
        case Pooling::Mean: {
            // Summed in double: a long input's mean does not depend on float rounding order.
            std::vector<double> sum(dim, 0.0);
            for (size_t t = 0; t < tokens; ++t)
                for (size_t i = 0; i < dim; ++i) sum[i] += normed[t * dim + i];
            for (size_t i = 0; i < dim; ++i)
                embedding[i] = static_cast<float>(sum[i] / static_cast<double>(tokens));
            break;
        }
        case Pooling::Cls:
            embedding.assign(normed.begin(), normed.begin() + static_cast<std::ptrdiff_t>(dim));
            break;
        case Pooling::Last:
            embedding.assign(normed.end() - static_cast<std::ptrdiff_t>(dim), normed.end());
            break;
    }
    l2_normalise(embedding);
    return embedding;
}

void l2_normalise(std::vector<float>& values) {
    double squares = 0.0;
    for (const float value : values) squares += static_cast<double>(value) * value;
    if (squares == 0.0) return;
    const double scale = 1.0 / std::sqrt(squares);
    for (float& value : values) value = static_cast<float>(value * scale);
}

}  // namespace llcuda
