#pragma once
// The content-addressed model store: blobs named by their SHA-256 under blobs/, JSON manifests
// under manifests/ mapping a name ("org/repo/file.gguf", an alias) to a blob. Two names with
// the same content share one blob. Every change is atomic and made under an exclusive lock,
// so concurrent llcuda processes never corrupt the store.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llcuda {

struct ManifestEntry {
    std::string name;
    std::string sha256;
    uint64_t size = 0;
    std::string path;       // the bytes: a blob in the store, or a file we reuse in place
    bool external = false;  // path lies outside the store (e.g. the Hugging Face cache)
    std::string source;     // URL or original path
    std::string quant;      // e.g. "Q4_K_M", from the GGUF header
    std::string architecture;
    int64_t created = 0;  // unix seconds
    int64_t last_used = 0;
};

struct VerifyProblem {
    std::string name;
    std::string problem;  // "missing", "size ...", "hash ..."
};

struct GcResult {
    std::vector<std::string> removed_blobs;
    uint64_t freed_bytes = 0;
};

class ModelStore {
  public:
    explicit ModelStore(std::string root);
    // LLCUDA_STORE if set, else $XDG_CACHE_HOME/llcuda, else ~/.cache/llcuda.
    static std::string default_root();
    // A --store flag's value, or default_root() when the flag was not given.
    static std::string root_or_default(const std::string& flag) {
        return flag.empty() ? default_root() : flag;
    }

    const std::string& root() const { return root_; }
    std::string blob_path(const std::string& sha256) const;
    std::string partial_path(const std::string& key) const;  // downloads in progress
    std::string lock_path(const std::string& key) const;

    // Hashes a local file and stores a copy under `name`.
    ManifestEntry add_file(const std::string& path, const std::string& name);
    // Takes ownership of a finished download whose hash is already known.
    ManifestEntry add_downloaded(const std::string& temporary_path, const std::string& sha256,
                                 const std::string& name, const std::string& source);
    // Records a file that stays where it is (a Hugging Face cache entry).
    // Names a blob the store already holds (the same bytes pulled under another name), without
    // a download; nullopt when there is no blob of that SHA-256.
    std::optional<ManifestEntry> add_existing_blob(const std::string& sha256,
                                                   const std::string& name,
                                                   const std::string& source);
    ManifestEntry add_external(const std::string& path, const std::string& sha256,
                               const std::string& name, const std::string& source);

    // A second name for what `target` names (e.g. "owner/repo:Q4_K_M").
    ManifestEntry add_alias(const std::string& alias, const ManifestEntry& target);

    std::optional<ManifestEntry> find(const std::string& name) const;
    std::vector<ManifestEntry> list() const;
    void touch(const std::string& name);
    bool remove(const std::string& name);
    std::vector<VerifyProblem> verify() const;
    GcResult gc();

  private:
    ManifestEntry describe(const std::string& path, const std::string& sha256,
                           const std::string& name, const std::string& source) const;
    void write_manifest(const ManifestEntry& entry);
    std::string manifest_path(const std::string& name) const;

    std::string root_;
};

// The quantization label of a GGUF file ("Q4_K_M", "F16", ...) and its architecture, or
// empty strings when the file cannot be read.
void describe_gguf(const std::string& path, std::string& quant, std::string& architecture);

}  // namespace llcuda
