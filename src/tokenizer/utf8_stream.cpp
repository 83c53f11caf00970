#include "tokenizer/utf8_stream.hpp"

namespace llcuda {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the sequence a lead byte starts, or 0 if it cannot start one.
size_t sequence_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

// Whether `second` may follow `lead` (rules out overlong forms, surrogates, > U+10FFFF).
bool valid_second_byte(unsigned char lead, unsigned char second) {
    if ((second & 0xC0) != 0x80) return false;
    if (lead == 0xE0) return second >= 0xA0;
    if (lead == 0xED) return second <= 0x9F;
    if (lead == 0xF0) return second >= 0x90;
    if (lead == 0xF4) return second <= 0x8F;
    return true;
}

}  // namespace

std::string Utf8Stream::push(std::string_view bytes) {
    pending_.append(bytes);
    std::string output;
    size_t position = 0;
    while (position < pending_.size()) {
        const auto lead = static_cast<unsigned char>(pending_[position]);
        const size_t length = sequence_length(lead);
        if (length == 0) {
            output.append(kReplacement);
            ++position;
            continue;
        }
        size_t valid = 1;
        while (valid < length && position + valid < pending_.size()) {
            const auto byte = static_cast<unsigned char>(pending_[position + valid]);
            const bool ok = valid == 1 ? valid_second_byte(lead, byte) : (byte & 0xC0) == 0x80;
            if (!ok) break;
            ++valid;
        }
        if (valid == length) {
            output.append(pending_, position, length);
            position += length;
        } else if (position + valid == pending_.size()) {
            break;  // incomplete so far: wait for more bytes
        } else {
            output.append(kReplacement);  // broken sequence: replace and resync after it
            position += valid;
        }
    }
    pending_.erase(0, position);
    return output;
}

std::string Utf8Stream::finish() {
    std::string output = pending_.empty() ? "" : std::string(kReplacement);
    pending_.clear();
    return output;
}

}  // namespace llcuda
