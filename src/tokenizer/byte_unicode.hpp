#pragma once
// GPT-2's reversible byte <-> Unicode mapping: byte-level BPE vocabularies spell every byte
// as a printable character (the byte itself for printable Latin-1, U+0100 onwards for the
// rest, so a space is "Ġ" U+0120), which keeps merges free of whitespace and control bytes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llcuda {

// The UTF-8 spelling of one byte.
const std::string& byte_to_unicode(uint8_t byte);

// Each byte of `bytes` in its spelling.
std::string bytes_to_unicode(std::string_view bytes);

// Back to bytes: each character of `text` that spells a byte becomes it; any other character
// (a piece outside the mapping) is kept as it is.
std::string unicode_to_bytes(std::string_view text);

}  // namespace llcuda
