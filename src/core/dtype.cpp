#include "core/dtype.hpp"

#include <array>
#include <cctype>

#include "core/error.hpp"
#include "core/quant/blocks.hpp"

namespace llcuda {
namespace {

constexpr std::array<DTypeTraits, 14> kTraits{{
    {DType::F32, "F32", 1, 4},
    {DType::F16, "F16", 1, 2},
    {DType::BF16, "BF16", 1, 2},
    {DType::Q4_0, "Q4_0", kQK4_0, sizeof(BlockQ4_0)},
    {DType::Q4_1, "Q4_1", kQK4_1, sizeof(BlockQ4_1)},
    {DType::Q5_0, "Q5_0", kQK5_0, sizeof(BlockQ5_0)},
    {DType::Q5_1, "Q5_1", kQK5_1, sizeof(BlockQ5_1)},
    {DType::Q8_0, "Q8_0", kQK8_0, sizeof(BlockQ8_0)},
    {DType::Q2_K, "Q2_K", kQK_K, sizeof(BlockQ2_K)},
    {DType::Q3_K, "Q3_K", kQK_K, sizeof(BlockQ3_K)},
    {DType::Q4_K, "Q4_K", kQK_K, sizeof(BlockQ4_K)},
    {DType::Q5_K, "Q5_K", kQK_K, sizeof(BlockQ5_K)},
    {DType::Q6_K, "Q6_K", kQK_K, sizeof(BlockQ6_K)},
    {DType::Q8_K, "Q8_K", kQK_K, sizeof(BlockQ8_K)},
}};

}  // namespace

std::optional<DTypeTraits> find_dtype(uint32_t type_id) {
    for (const auto& traits : kTraits) {
        if (static_cast<uint32_t>(traits.type) == type_id) return traits;
    }
    return std::nullopt;
}

const DTypeTraits& dtype_traits(DType type) {
    for (const auto& traits : kTraits) {
        if (traits.type == type) return traits;
    }
    throw Error("internal error: no traits for type id " +
                std::to_string(static_cast<uint32_t>(type)));
}

std::string_view dtype_name(DType type) { return dtype_traits(type).name; }

bool is_quantized(DType type) { return dtype_traits(type).block_elements > 1; }

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const auto& traits : kTraits) {
        if (traits.name.size() != name.size()) continue;
        bool same = true;
        for (size_t i = 0; i < name.size(); ++i) {
            if (std::toupper(static_cast<unsigned char>(name[i])) != traits.name[i]) same = false;
        }
        if (same) return traits.type;
    }
    return std::nullopt;
}

size_t row_bytes(DType type, uint64_t elements) {
    const auto& traits = dtype_traits(type);
    if (elements % traits.block_elements != 0) {
        throw Error("a row of " + std::to_string(elements) + " elements is not a whole number of " +
                    std::string(traits.name) + " blocks of " +
                    std::to_string(traits.block_elements));
    }
    return static_cast<size_t>(elements / traits.block_elements * traits.block_bytes);
}

std::string ggml_type_name(uint32_t type_id) {
    if (auto traits = find_dtype(type_id)) return std::string(traits->name);
    // Types GGUF defines that llcuda does not (yet) read; named so errors are useful.
    static constexpr std::array<std::pair<uint32_t, const char*>, 16> kOthers{{
        {4, "Q4_2 (removed)"},
        {5, "Q4_3 (removed)"},
        {9, "Q8_1"},
        {16, "IQ2_XXS"},
        {17, "IQ2_XS"},
        {18, "IQ3_XXS"},
        {19, "IQ1_S"},
        {20, "IQ4_NL"},
        {21, "IQ3_S"},
        {22, "IQ2_S"},
        {23, "IQ4_XS"},
        {24, "I8"},
        {25, "I16"},
        {26, "I32"},
        {27, "I64"},
        {28, "F64"},
    }};
    for (const auto& [id, name] : kOthers) {
        if (id == type_id) return name;
    }
    return "unknown type " + std::to_string(type_id);
}

}  // namespace llcuda
