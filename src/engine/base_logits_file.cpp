#include "engine/base_logits_file.hpp"

#include <fmt/format.h>

#include <array>
#include <cstring>

#include "core/error.hpp"

namespace llcuda {
namespace {

constexpr std::array<char, 8> kMagic{'L', 'L', 'C', 'K', 'L', 'D', '0', '1'};
// A sanity bound on what a header may claim before anything is allocated for it.
constexpr uint32_t kMaxVocabulary = 1u << 22;
constexpr uint32_t kMaxContext = 1u << 20;

size_t scored_rows(const BaseLogitsHeader& header) {
    return header.context - 1 - header.first_scored;
}

}  // namespace

BaseLogitsWriter::BaseLogitsWriter(const std::string& path, const BaseLogitsHeader& header)
    : path_(path), out_(path, std::ios::binary | std::ios::trunc) {
    if (!out_) throw Error(fmt::format("--kl-divergence-base: cannot write '{}'", path));
    out_.write(kMagic.data(), kMagic.size());
    out_.write(reinterpret_cast<const char*>(&header), sizeof(header));
}

void BaseLogitsWriter::write(const ScoredChunk& chunk) {
    out_.write(reinterpret_cast<const char*>(chunk.tokens.data()),
               static_cast<std::streamsize>(chunk.tokens.size() * sizeof(int32_t)));
    out_.write(reinterpret_cast<const char*>(chunk.logits.data()),
               static_cast<std::streamsize>(chunk.logits.size() * sizeof(float)));
    if (!out_) throw Error(fmt::format("--kl-divergence-base: writing '{}' failed", path_));
}

void BaseLogitsWriter::close() {
    out_.close();
    if (!out_) throw Error(fmt::format("--kl-divergence-base: writing '{}' failed", path_));
}

BaseLogitsReader::BaseLogitsReader(const std::string& path)
    : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw Error(fmt::format("--kl-divergence-base: cannot read '{}'", path));
    std::array<char, 8> magic{};
    in_.read(magic.data(), magic.size());
    in_.read(reinterpret_cast<char*>(&header_), sizeof(header_));
    if (!in_ || magic != kMagic) {
        throw Error(
            fmt::format("--kl-divergence-base: '{}' is not a file of base logits written "
                        "by llcuda perplexity --kl-divergence-base",
                        path));
    }
    if (header_.vocab_size == 0 || header_.vocab_size > kMaxVocabulary || header_.context < 4 ||
        header_.context > kMaxContext || header_.first_scored + 1 >= header_.context) {
        throw Error(fmt::format("--kl-divergence-base: '{}' has an impossible header", path));
    }
}

std::optional<ScoredChunk> BaseLogitsReader::next() {
    ScoredChunk chunk;
    chunk.tokens.resize(header_.context);
    in_.read(reinterpret_cast<char*>(chunk.tokens.data()),
             static_cast<std::streamsize>(chunk.tokens.size() * sizeof(int32_t)));
    if (in_.gcount() == 0 && in_.eof()) return std::nullopt;
    chunk.first_scored = header_.first_scored;
    chunk.logits.resize(scored_rows(header_) * header_.vocab_size);
    in_.read(reinterpret_cast<char*>(chunk.logits.data()),
             static_cast<std::streamsize>(chunk.logits.size() * sizeof(float)));
    if (!in_) throw Error(fmt::format("--kl-divergence-base: '{}' is truncated", path_));
    return chunk;
}

}  // namespace llcuda
