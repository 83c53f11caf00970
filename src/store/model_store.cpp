#include "store/model_store.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"
#include "core/file_type.hpp"
#include "core/gguf/gguf_file.hpp"
#include "store/atomic_file.hpp"
#include "store/file_lock.hpp"
#include "store/sha256.hpp"

namespace llcuda {
namespace fs = std::filesystem;
namespace {

int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Manifest file names: the model name with everything but [A-Za-z0-9._-] percent-encoded, so
// "org/repo/file.gguf" becomes one flat, reversible file name.
std::string escape_name(const std::string& name) {
    std::string escaped;
    for (const unsigned char c : name) {
        if (std::isalnum(c) || c == '.' || c == '_' || c == '-') {
            escaped += static_cast<char>(c);
        } else {
            escaped += fmt::format("%{:02X}", c);
        }
    }
    return escaped;
}

void check_name(const std::string& name) {
    if (name.empty() || name.size() > 512)
        throw Error("a model name must have 1 to 512 characters");
}

nlohmann::json to_json(const ManifestEntry& entry) {
    return {{"name", entry.name},         {"sha256", entry.sha256},
            {"size", entry.size},         {"path", entry.path},
            {"external", entry.external}, {"source", entry.source},
            {"quant", entry.quant},       {"architecture", entry.architecture},
            {"created", entry.created},   {"last_used", entry.last_used}};
}

ManifestEntry from_json(const nlohmann::json& json) {
    ManifestEntry entry;
    entry.name = json.at("name").get<std::string>();
    entry.sha256 = json.at("sha256").get<std::string>();
    entry.size = json.at("size").get<uint64_t>();
    entry.path = json.at("path").get<std::string>();
    entry.external = json.value("external", false);
    entry.source = json.value("source", "");
    entry.quant = json.value("quant", "");
    entry.architecture = json.value("architecture", "");
    entry.created = json.value("created", int64_t{0});
    entry.last_used = json.value("last_used", int64_t{0});
    return entry;
}

std::optional<ManifestEntry> read_manifest(const fs::path& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
        return from_json(nlohmann::json::parse(in));
    } catch (const std::exception& error) {
        throw Error(fmt::format(
            "the store manifest '{}' is damaged ({}); remove it or run `llcuda models rm`",
            path.string(), error.what()));
    }
}

}  // namespace

void describe_gguf(const std::string& path, std::string& quant, std::string& architecture) {
    try {
        const auto file = GgufFile::open(path);
        architecture = file.find_string("general.architecture").value_or("");
        quant = file_type_of(file);
    } catch (const Error&) {
        quant.clear();
        architecture.clear();
    }
}

ModelStore::ModelStore(std::string root) : root_(std::move(root)) {
    std::error_code error;
    for (const char* folder : {"blobs", "manifests", "partial", "locks"}) {
        fs::create_directories(fs::path(root_) / folder, error);
        if (error)
            throw Error(
                fmt::format("cannot create the model store at '{}': {}", root_, error.message()));
    }
}

std::string ModelStore::default_root() {
    if (const char* store = std::getenv("LLCUDA_STORE"); store && *store) return store;
    if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache && *cache)
        return std::string(cache) + "/llcuda";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::string(home) + "/.cache/llcuda";
    throw Error(
        "cannot find a place for the model store: set LLCUDA_STORE or HOME, or pass --store");
}

std::string ModelStore::blob_path(const std::string& sha256) const {
    if (!is_sha256_hex(sha256))
        throw Error(fmt::format("'{}' is not a SHA-256 hex digest", sha256));
    return (fs::path(root_) / "blobs" / ("sha256-" + sha256)).string();
}

std::string ModelStore::partial_path(const std::string& key) const {
    return (fs::path(root_) / "partial" / (escape_name(key) + ".partial")).string();
}

std::string ModelStore::lock_path(const std::string& key) const {
    return (fs::path(root_) / "locks" / (escape_name(key) + ".lock")).string();
}

std::string ModelStore::manifest_path(const std::string& name) const {
    return (fs::path(root_) / "manifests" / (escape_name(name) + ".json")).string();
}

ManifestEntry ModelStore::describe(const std::string& path, const std::string& sha256,
                                   const std::string& name, const std::string& source) const {
    ManifestEntry entry;
    entry.name = name;
    entry.sha256 = sha256;
    entry.size = fs::file_size(path);
    entry.path = path;
    entry.source = source;
    describe_gguf(path, entry.quant, entry.architecture);
    entry.created = now_seconds();
    entry.last_used = entry.created;
    return entry;
}

void ModelStore::write_manifest(const ManifestEntry& entry) {
    write_file_atomically(manifest_path(entry.name), to_json(entry).dump(2) + "\n");
}

ManifestEntry ModelStore::add_file(const std::string& path, const std::string& name) {
    check_name(name);
    const std::string sha256 = sha256_of_file(path);
    const std::string blob = blob_path(sha256);
    FileLock lock(lock_path("store"), FileLock::Mode::Exclusive);
    if (!fs::exists(blob)) {
        const std::string temporary = partial_path("copy-" + sha256);
        std::error_code error;
        fs::copy_file(path, temporary, fs::copy_options::overwrite_existing, error);
        if (error)
            throw Error(fmt::format("cannot copy '{}' into the store: {}", path, error.message()));
        move_file_atomically(temporary, blob);
    }
    auto entry = describe(blob, sha256, name, fs::absolute(path).string());
    write_manifest(entry);
    return entry;
}

ManifestEntry ModelStore::add_downloaded(const std::string& temporary_path,
                                         const std::string& sha256, const std::string& name,
                                         const std::string& source) {
    check_name(name);
    const std::string blob = blob_path(sha256);
    FileLock lock(lock_path("store"), FileLock::Mode::Exclusive);
    if (fs::exists(blob)) {
        fs::remove(temporary_path);  // the same content arrived under another name: deduplicated
    } else {
        move_file_atomically(temporary_path, blob);
    }
    auto entry = describe(blob, sha256, name, source);
    write_manifest(entry);
    return entry;
}

std::optional<ManifestEntry> ModelStore::add_existing_blob(const std::string& sha256,
                                                           const std::string& name,
                                                           const std::string& source) {
    check_name(name);
    const std::string blob = blob_path(sha256);
    FileLock lock(lock_path("store"), FileLock::Mode::Exclusive);
    if (!fs::exists(blob)) return std::nullopt;
    auto entry = describe(blob, sha256, name, source);
    write_manifest(entry);
    return entry;
}

ManifestEntry ModelStore::add_external(const std::string& path, const std::string& sha256,
                                       const std::string& name, const std::string& source) {
    check_name(name);
    FileLock lock(lock_path("store"), FileLock::Mode::Exclusive);
    auto entry = describe(fs::canonical(path).string(), sha256, name, source);
    entry.external = true;
    write_manifest(entry);
    return entry;
}

ManifestEntry ModelStore::add_alias(const std::string& alias, const ManifestEntry& target) {
    check_name(alias);
    FileLock lock(lock_path("store"), FileLock::Mode::Exclusive);
    ManifestEntry entry = target;
    entry.name = alias;
    write_manifest(entry);
    return entry;
}

std::optional<ManifestEntry> ModelStore::find(const std::string& name) const {
    return read_manifest(manifest_path(name));
}

std::vector<ManifestEntry> ModelStore::list() const {
    std::vector<ManifestEntry> entries;
    for (const auto& file : fs::directory_iterator(fs::path(root_) / "manifests")) {
        if (file.path().extension() != ".json") continue;
        if (auto entry = read_manifest(file.path())) entries.push_back(std::move(*entry));
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    return entries;
}

void ModelStore::touch(const std::string& name) {
    FileLock lock(lock_path("store"), FileLock::Mode::Exclusive);
    auto entry = find(name);
    if (!entry) return;
    entry->last_used = now_seconds();
    write_manifest(*entry);
}

bool ModelStore::remove(const std::string& name) {
    FileLock lock(lock_path("store"), FileLock::Mode::Exclusive);
    std::error_code error;
    return fs::remove(manifest_path(name), error);
}

std::vector<VerifyProblem> ModelStore::verify() const {
    FileLock lock(lock_path("store"), FileLock::Mode::Shared);
    std::vector<VerifyProblem> problems;
    for (const auto& entry : list()) {
        std::error_code error;
        const auto size = fs::file_size(entry.path, error);
        if (error) {
            problems.push_back({entry.name, fmt::format("missing: {}", entry.path)});
        } else if (size != entry.size) {
            problems.push_back({entry.name, fmt::format("size is {} bytes, the manifest says {}",
                                                        size, entry.size)});
        } else if (const auto actual = sha256_of_file(entry.path); actual != entry.sha256) {
            problems.push_back({entry.name, fmt::format("SHA-256 is {}, the manifest says {}",
                                                        actual, entry.sha256)});
        }
    }
    return problems;
}

GcResult ModelStore::gc() {
    FileLock lock(lock_path("store"), FileLock::Mode::Exclusive);
    std::set<std::string> referenced;
    for (const auto& entry : list()) {
        if (!entry.external) referenced.insert(fs::path(entry.path).filename().string());
    }
    GcResult result;
    for (const auto& blob : fs::directory_iterator(fs::path(root_) / "blobs")) {
        if (referenced.count(blob.path().filename().string())) continue;
        result.freed_bytes += blob.file_size();
        result.removed_blobs.push_back(blob.path().filename().string());
        fs::remove(blob.path());
    }
    return result;
}

}  // namespace llcuda
