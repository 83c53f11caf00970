#pragma once
// The little of HTTP that downloads need, over libcurl: a HEAD that shows the first response's
// headers (Hugging Face puts the LFS hash on its redirect), and a GET that streams the body
// of the final response to a callback, with an optional Range start.
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace llcuda {

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers;  // lower-case names, of the last response
    std::string body;                            // small bodies only (HEAD, JSON, errors)
    std::string effective_url;
};

struct HttpRequest {
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    bool follow_redirects = true;
    uint64_t range_start = 0;  // > 0: ask for bytes range_start..end
    // Receives body bytes of a 200/206 response with its status; returning false aborts.
    std::function<bool(long, const char*, size_t)> on_body;
    // (bytes so far in this transfer, total of this transfer or 0 if unknown)
    std::function<void(uint64_t, uint64_t)> on_progress;
    long connect_timeout_seconds = 30;
    long stall_timeout_seconds = 60;  // abort when under 1 byte/s for this long
};

// An Error (a failure the user can act on: no network, a refused connection), not an internal
// one.
class HttpError : public Error {
  public:
    explicit HttpError(const std::string& message, bool transient)
        : Error("network: " + message), transient_(transient) {}
    bool transient() const { return transient_; }  // worth retrying

  private:
    bool transient_;
};

HttpResponse http_head(const HttpRequest& request);
// Throws HttpError for transport failures (connection refused, cut, stalled).
HttpResponse http_get(const HttpRequest& request);

}  // namespace llcuda
