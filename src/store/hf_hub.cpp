#include "store/hf_hub.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "store/http_client.hpp"
#include "store/sha256.hpp"

namespace llcuda {
namespace fs = std::filesystem;
namespace {

std::string environment(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return text;
}

std::string unquote(std::string text) {
    if (text.rfind("W/", 0) == 0) text.erase(0, 2);
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
        text = text.substr(1, text.size() - 2);
    return text;
}

void check_repo(const std::string& repo) {
    if (repo.empty() || repo.find("..") != std::string::npos || repo.front() == '/' ||
        repo.find_first_of(" \t\n?#") != std::string::npos) {
        throw Error(
            fmt::format("'{}' is not a Hugging Face repository name (expected owner/name)", repo));
    }
}

}  // namespace

HubSettings HubSettings::from_environment() {
    HubSettings hub;
    if (const auto endpoint = environment("HF_ENDPOINT"); !endpoint.empty())
        hub.endpoint = endpoint;
    while (!hub.endpoint.empty() && hub.endpoint.back() == '/') hub.endpoint.pop_back();
    hub.token = environment("HF_TOKEN");
    if (const auto cache = environment("HF_HUB_CACHE"); !cache.empty()) {
        hub.cache_dir = cache;
    } else if (const auto home = environment("HF_HOME"); !home.empty()) {
        hub.cache_dir = home + "/hub";
    } else if (const auto user_home = environment("HOME"); !user_home.empty()) {
        hub.cache_dir = user_home + "/.cache/huggingface/hub";
    }
    return hub;
}

std::vector<std::string> HubSettings::auth_headers() const {
    if (token.empty()) return {};
    return {"Authorization: Bearer " + token};
}

std::string resolve_url(const HubSettings& hub, const std::string& repo,
                        const std::string& revision, const std::string& file) {
    check_repo(repo);
    return fmt::format("{}/{}/resolve/{}/{}", hub.endpoint, repo, revision, file);
}

std::string describe_hub_status(long status, const std::string& repo, const std::string& file) {
    const std::string what = file.empty() ? repo : repo + "/" + file;
    switch (status) {
        case 401:
            return fmt::format(
                "{}: the hub wants authentication (401); set HF_TOKEN to a token with access, "
                "and accept the model's license on its page if it is gated",
                what);
        case 403:
            return fmt::format("{}: access denied (403); this HF_TOKEN cannot read it", what);
        case 404:
            return fmt::format("{}: not found (404); check the repository and file names", what);
        case 429:
            return fmt::format("{}: the hub is rate-limiting (429); wait and retry", what);
        default:
            return fmt::format("{}: the hub answered HTTP {}", what, status);
    }
}

HubFileInfo fetch_file_info(const HubSettings& hub, const std::string& repo,
                            const std::string& revision, const std::string& file) {
    HttpRequest request;
    request.url = resolve_url(hub, repo, revision, file);
    request.headers = hub.auth_headers();
    request.follow_redirects = false;  // the redirect itself carries the LFS hash and size
    const auto response = http_head(request);
    if (response.status >= 400 || response.status < 200) {
        throw Error(describe_hub_status(response.status, repo, file));
    }
    HubFileInfo info;
    info.url = request.url;
    const auto header = [&](const std::string& name) {
        const auto found = response.headers.find(name);
        return found == response.headers.end() ? std::string() : found->second;
    };
    std::string etag = unquote(header("x-linked-etag"));
    if (etag.empty()) etag = unquote(header("etag"));
    if (is_sha256_hex(lower(etag))) info.sha256 = lower(etag);
    std::string size = header("x-linked-size");
    if (size.empty() && response.status < 300) size = header("content-length");
    if (!size.empty()) info.size = std::strtoull(size.c_str(), nullptr, 10);
    info.commit = header("x-repo-commit");
    return info;
}

std::vector<std::string> list_repo_files(const HubSettings& hub, const std::string& repo,
                                         const std::string& revision) {
    check_repo(repo);
    HttpRequest request;
    request.url = fmt::format("{}/api/models/{}/revision/{}", hub.endpoint, repo, revision);
    request.headers = hub.auth_headers();
    const auto response = http_get(request);
    if (response.status != 200) throw Error(describe_hub_status(response.status, repo, ""));
    std::vector<std::string> files;
    try {
        const auto listing = nlohmann::json::parse(response.body);
        for (const auto& sibling : listing.at("siblings")) {
            files.push_back(sibling.at("rfilename").get<std::string>());
        }
    } catch (const std::exception& error) {
        throw Error(fmt::format("{}: the hub's file listing is not what llcuda expects: {}", repo,
                                error.what()));
    }
    return files;
}

std::string pick_file_for_quant(const std::vector<std::string>& files, const std::string& quant,
                                const std::string& repo) {
    std::vector<std::string> ggufs, matches;
    const std::string tag = lower(quant);
    for (const auto& file : files) {
        const std::string name = lower(file);
        if (name.size() < 5 || name.substr(name.size() - 5) != ".gguf") continue;
        ggufs.push_back(file);
        // The tag must stand alone: "q4_k_m" matches "model-Q4_K_M.gguf" but "q4_k" does not.
        for (size_t at = name.find(tag); at != std::string::npos; at = name.find(tag, at + 1)) {
            const char before = at == 0 ? '-' : name[at - 1];
            const char after = name[at + tag.size()];
            if (!std::isalnum(static_cast<unsigned char>(before)) &&
                (after == '.' || after == '-')) {
                matches.push_back(file);
                break;
            }
        }
    }
    if (matches.size() == 1) return matches[0];
    std::string listing;
    for (const auto& file : (matches.empty() ? ggufs : matches)) listing += "\n  " + file;
    if (matches.empty()) {
        throw Error(fmt::format("{} has no GGUF file tagged {}; its GGUF files:{}", repo, quant,
                                listing.empty() ? std::string("\n  (none)") : listing));
    }
    throw Error(
        fmt::format("{} has several GGUF files tagged {}; name one:{}", repo, quant, listing));
}

std::optional<CachedFile> find_in_hf_cache(const HubSettings& hub, const std::string& repo,
                                           const std::string& revision, const std::string& file) {
    if (hub.cache_dir.empty()) return std::nullopt;
    std::string folder = "models--" + repo;
    for (size_t at = folder.find('/'); at != std::string::npos; at = folder.find('/', at + 2)) {
        folder.replace(at, 1, "--");
    }
    const fs::path repo_dir = fs::path(hub.cache_dir) / folder;
    std::string commit = revision;
    if (std::ifstream ref(repo_dir / "refs" / revision); ref) std::getline(ref, commit);
    const fs::path snapshot = repo_dir / "snapshots" / commit / file;
    std::error_code error;
    if (!fs::is_regular_file(snapshot, error)) return std::nullopt;
    CachedFile cached;
    cached.path = snapshot.string();
    const auto target = fs::canonical(snapshot, error);
    if (!error && is_sha256_hex(target.filename().string()))
        cached.sha256 = target.filename().string();
    return cached;
}

}  // namespace llcuda
