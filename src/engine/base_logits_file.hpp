#pragma once
// The base model's logits that `llcuda perplexity --kl-divergence-base FILE` saves and a later
// run compares against: a header (magic, vocabulary size, chunk length, first scored position),
// then per chunk its tokens and the scored positions' logits in float32.
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>

#include "engine/perplexity.hpp"

namespace llcuda {

struct BaseLogitsHeader {
    uint32_t vocab_size = 0;
    uint32_t context = 0;
    uint32_t first_scored = 0;
};

class BaseLogitsWriter {
  public:
    BaseLogitsWriter(const std::string& path, const BaseLogitsHeader& header);
    void write(const ScoredChunk& chunk);
    void close();  // flushes; throws when the disk refused the data

  private:
    std::string path_;
    std::ofstream out_;
};

class BaseLogitsReader {
  public:
    explicit BaseLogitsReader(const std::string& path);
    const BaseLogitsHeader& header() const { return header_; }
    // The next chunk, or nullopt at the end of the file; throws on a truncated file.
    std::optional<ScoredChunk> next();

  private:
    std::string path_;
    std::ifstream in_;
    BaseLogitsHeader header_;
};

}  // namespace llcuda
