#pragma once
// Hugging Face Hub access: resolve URLs, file metadata (the LFS SHA-256 the hub publishes),
// repository listings, and files already in the local Hugging Face cache.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llcuda {

struct HubSettings {
    std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT
    std::string token;                                // HF_TOKEN
    std::string cache_dir;  // HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub
    static HubSettings from_environment();
    std::vector<std::string> auth_headers() const;
};

struct HubFileInfo {
    std::string url;
    std::string sha256;  // empty when the file is not in LFS (the hub then gives a git hash)
    uint64_t size = 0;   // 0 when unknown
    std::string commit;
};

std::string resolve_url(const HubSettings& hub, const std::string& repo,
                        const std::string& revision, const std::string& file);
HubFileInfo fetch_file_info(const HubSettings& hub, const std::string& repo,
                            const std::string& revision, const std::string& file);
std::vector<std::string> list_repo_files(const HubSettings& hub, const std::string& repo,
                                         const std::string& revision);
// The .gguf file whose name carries the quant tag (case-insensitive); an error lists the
// candidates when there are none or several.
std::string pick_file_for_quant(const std::vector<std::string>& files, const std::string& quant,
                                const std::string& repo);

struct CachedFile {
    std::string path;
    std::string sha256;  // from the cache's blob name, when it is one
};
std::optional<CachedFile> find_in_hf_cache(const HubSettings& hub, const std::string& repo,
                                           const std::string& revision, const std::string& file);

// Turns a status the hub answered into an error message with what to do about it.
std::string describe_hub_status(long status, const std::string& repo, const std::string& file);

}  // namespace llcuda
