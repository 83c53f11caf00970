#pragma once
// Typed reads of an architecture's GGUF metadata ("<arch>.embedding_length", ...) that name the
// key and the file when a value is missing or implausible.
#include <cstddef>
#include <optional>
#include <string>

#include "core/gguf/gguf_file.hpp"

namespace llcuda {

class MetadataReader {
  public:
    MetadataReader(const GgufFile& file, std::string architecture);

    const GgufFile& file() const { return file_; }
    const std::string& architecture() const { return architecture_; }
    // The key under the architecture's prefix: "rope.freq_base" -> "qwen2.rope.freq_base".
    std::string key(const std::string& suffix) const { return architecture_ + "." + suffix; }
    bool has(const std::string& suffix) const { return file_.find(key(suffix)) != nullptr; }

    // A size in 1..2^20; required, or the default when the key is absent.
    size_t dimension(const std::string& suffix) const;
    size_t dimension(const std::string& suffix, size_t fallback) const;
    // A finite number > 0 (epsilons, frequency bases, factors, scales).
    float positive(const std::string& suffix, float fallback) const;
    std::optional<float> optional_positive(const std::string& suffix) const;
    std::string text(const std::string& suffix, const std::string& fallback) const;

  private:
    const GgufFile& file_;
    std::string architecture_;
};

}  // namespace llcuda
