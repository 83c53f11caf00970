#pragma once
// The framing headers of a request, checked before httplib reads its body: a Content-Length
// that is not a byte count would otherwise be read as strtoull does (-5 as 2^64-5, 20 digits
// as 2^64-1) and the server would wait for bytes that never come before answering anything.
// (Header-only: the server's sources are listed in the shared src/CMakeLists.txt.)
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "server/api_error.hpp"

namespace llcuda {

struct FramingLimits {
    size_t max_body_bytes = 0;
    // A body over max_body_bytes but at most this is read and thrown away before the 413, so
    // that a client still sending it reads the answer (closing on unread bytes resets the
    // connection under the client); a larger one is answered at once and the connection closed.
    size_t max_discarded_bytes = 0;
};

// The 400 or 413 for a request whose Content-Length or Transfer-Encoding is not usable; after
// it, the connection must be closed (its remaining bytes are not a request).
inline std::optional<ApiError> framing_error(const std::string* content_length,
                                             const std::string* transfer_encoding,
                                             const FramingLimits& limits) {
    if (content_length == nullptr) return std::nullopt;
    if (transfer_encoding != nullptr) {
        // Both framings at once is how requests are smuggled past proxies (RFC 9112 6.3).
        return ApiError(400, "the request has both Content-Length and Transfer-Encoding; send one");
    }
    const std::string& text = *content_length;
    const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return std::isdigit(c) != 0;
    });
    uint64_t length = 0;
    const auto parsed = std::from_chars(text.data(), text.data() + text.size(), length);
    if (!digits || parsed.ec != std::errc() || parsed.ptr != text.data() + text.size()) {
        return ApiError(400, fmt::format("the Content-Length header '{}' is not a byte count (a "
                                         "decimal number below 2^64)",
                                         text.substr(0, 40)));
    }
    if (length > limits.max_discarded_bytes) {
        return ApiError(413, fmt::format("the request body is {} bytes (Content-Length); this "
                                         "server takes at most {} (--max-body-bytes)",
                                         length, limits.max_body_bytes));
    }
    return std::nullopt;
}

}  // namespace llcuda
