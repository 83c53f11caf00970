#pragma once
// The API key in an Authorization header. The scheme is case-insensitive (RFC 9110 11.1:
// "bearer KEY" is as good as "Bearer KEY"); a header in another form is malformed, which is a
// different mistake from a wrong key and is reported as one. (Header-only: the server's
// sources are listed in the shared src/CMakeLists.txt.)
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace llcuda {

enum class BearerCheck { Accepted, Missing, Malformed, WrongKey };

inline BearerCheck check_bearer_key(std::string_view header, std::string_view key) {
    if (header.empty()) return BearerCheck::Missing;
    constexpr std::string_view kScheme = "bearer";
    const bool has_scheme = header.size() > kScheme.size() &&
                            std::equal(kScheme.begin(), kScheme.end(), header.begin(),
                                       [](char a, char b) {
                                           return a == std::tolower(static_cast<unsigned char>(b));
                                       }) &&
                            (header[kScheme.size()] == ' ' || header[kScheme.size()] == '\t');
    if (!has_scheme) return BearerCheck::Malformed;
    std::string_view token = header.substr(kScheme.size());
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (token.empty()) return BearerCheck::Malformed;
    // Compared in time that does not depend on where the first wrong byte is.
    unsigned difference = token.size() == key.size() ? 0 : 1;
    for (size_t i = 0; i < token.size(); ++i)
        difference |= static_cast<unsigned char>(token[i]) ^
                      static_cast<unsigned char>(key.empty() ? 0 : key[i % key.size()]);
    return difference == 0 ? BearerCheck::Accepted : BearerCheck::WrongKey;
}

}  // namespace llcuda
