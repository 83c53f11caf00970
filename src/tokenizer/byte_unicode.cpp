#include "tokenizer/byte_unicode.hpp"

#include <array>

namespace llcuda {
namespace {

std::string utf8(uint32_t code_point) {
    std::string out;
    if (code_point < 0x80) {
        out += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
        out += static_cast<char>(0xC0 | (code_point >> 6));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else {
        out += static_cast<char>(0xE0 | (code_point >> 12));
        out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    }
    return out;
}

bool printable(uint32_t byte) {
    return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
}

struct Tables {
    std::array<std::string, 256> spelling;
    // Code point to byte, for the code points below U+0144 that the mapping uses; -1 elsewhere.
    std::array<int16_t, 0x144> byte_of{};

    Tables() {
        byte_of.fill(-1);
        uint32_t next = 0x100;  // non-printable bytes take code points from U+0100, in order
        for (uint32_t byte = 0; byte < 256; ++byte) {
            const uint32_t code_point = printable(byte) ? byte : next++;
            spelling[byte] = utf8(code_point);
            byte_of[code_point] = static_cast<int16_t>(byte);
        }
    }
};

const Tables& tables() {
    static const Tables instance;
    return instance;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) { return tables().spelling[byte]; }

std::string bytes_to_unicode(std::string_view bytes) {
    const auto& spelling = tables().spelling;
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char byte : bytes) out += spelling[static_cast<uint8_t>(byte)];
    return out;
}

std::string unicode_to_bytes(std::string_view text) {
    const auto& byte_of = tables().byte_of;
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const auto lead = static_cast<uint8_t>(text[i]);
        uint32_t code_point = lead;
        size_t length = 1;
        if (lead >= 0xC0 && lead < 0xE0 && i + 1 < text.size()) {
            code_point = ((lead & 0x1Fu) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3Fu);
            length = 2;
        } else if (lead >= 0x80) {
            // Three- and four-byte characters (and stray bytes) are never in the mapping.
            length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 1;
            length = std::min(length, text.size() - i);
            out.append(text.substr(i, length));
            i += length;
            continue;
        }
        if (code_point < byte_of.size() && byte_of[code_point] >= 0) {
            out += static_cast<char>(byte_of[code_point]);
        } else {
            out.append(text.substr(i, length));
        }
        i += length;
    }
    return out;
}

}  // namespace llcuda
