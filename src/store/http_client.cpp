#include "store/http_client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace llcuda {
namespace {

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
    const HttpRequest* request;
    HttpResponse response;
    bool aborted_by_callback = false;
    CURL* handle = nullptr;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    std::string line(data, size * count);
    if (line.rfind("HTTP/", 0) == 0) {
        transfer.response.headers.clear();  // a new response (after a redirect) starts
        return size * count;
    }
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        value.erase(value.find_last_not_of(" \t\r\n") + 1);
        transfer.response.headers[name] = value;
    }
    return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    const size_t bytes = size * count;
    long status = 0;
    curl_easy_getinfo(transfer.handle, CURLINFO_RESPONSE_CODE, &status);
    const bool success = status == 200 || status == 206;
    if (success && transfer.request->on_body) {
        if (!transfer.request->on_body(status, data, bytes)) {
            transfer.aborted_by_callback = true;
            return 0;
        }
        return bytes;
    }
    if (transfer.response.body.size() < (1 << 20)) transfer.response.body.append(data, bytes);
    return bytes;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
    auto& transfer = *static_cast<Transfer*>(user);
    if (transfer.request->on_progress) {
        transfer.request->on_progress(static_cast<uint64_t>(now), static_cast<uint64_t>(total));
    }
    return 0;
}

HttpResponse perform(const HttpRequest& request, bool head_only) {
    global_init();
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(curl_easy_init(), curl_easy_cleanup);
    if (!handle) throw HttpError("libcurl could not start a transfer", false);
    Transfer transfer{&request, {}, false, handle.get()};
    CURL* curl = handle.get();
    curl_slist* header_list = nullptr;
    for (const auto& header : request.headers)
        header_list = curl_slist_append(header_list, header.c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(header_list,
                                                                        curl_slist_free_all);

    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "llcuda/0.1");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, request.stall_timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
    if (head_only) curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    const std::string range = fmt::format("{}-", request.range_start);
    if (request.range_start > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());

    const CURLcode code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &transfer.response.status);
    char* effective = nullptr;
    curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
    if (effective) transfer.response.effective_url = effective;
    if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && transfer.aborted_by_callback)) {
        const bool transient = code != CURLE_UNSUPPORTED_PROTOCOL && code != CURLE_URL_MALFORMAT;
        throw HttpError(fmt::format("{} ({})", curl_easy_strerror(code), request.url), transient);
    }
    if (transfer.aborted_by_callback) throw HttpError("transfer aborted while writing", false);
    return std::move(transfer.response);
}

}  // namespace

HttpResponse http_head(const HttpRequest& request) { return perform(request, true); }
HttpResponse http_get(const HttpRequest& request) { return perform(request, false); }

}  // namespace llcuda
