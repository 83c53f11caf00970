#include "model/arch/metadata_reader.hpp"

#include <fmt/format.h>

#include <cmath>

#include "core/error.hpp"

namespace llcuda {
namespace {

constexpr size_t kMaxDimension = size_t{1} << 20;

}  // namespace

MetadataReader::MetadataReader(const GgufFile& file, std::string architecture)
    : file_(file), architecture_(std::move(architecture)) {}

size_t MetadataReader::dimension(const std::string& suffix) const {
    const auto name = key(suffix);
    if (!file_.find(name))
        throw Error(fmt::format("{}: metadata '{}' is missing", file_.description(), name));
    const auto value = file_.get_uint(name);
    if (value == 0 || value > kMaxDimension) {
        throw Error(fmt::format("{}: metadata '{}' = {} is not a plausible size",
                                file_.description(), name, value));
    }
    return static_cast<size_t>(value);
}

size_t MetadataReader::dimension(const std::string& suffix, size_t fallback) const {
    return has(suffix) ? dimension(suffix) : fallback;
}

std::optional<float> MetadataReader::optional_positive(const std::string& suffix) const {
    const auto name = key(suffix);
    const auto value = file_.find_double(name);
    if (!value) return std::nullopt;
    if (!std::isfinite(*value) || !(*value > 0.0) || !std::isfinite(static_cast<float>(*value))) {
        throw Error(fmt::format("{}: metadata '{}' = {} must be a finite number above zero",
                                file_.description(), name, *value));
    }
    return static_cast<float>(*value);
}

float MetadataReader::positive(const std::string& suffix, float fallback) const {
    return optional_positive(suffix).value_or(fallback);
}

std::string MetadataReader::text(const std::string& suffix, const std::string& fallback) const {
    return file_.find_string(key(suffix)).value_or(fallback);
}

}  // namespace llcuda
