#include "store/model_puller.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "store/file_lock.hpp"
#include "store/http_client.hpp"
#include "store/progress_reporter.hpp"
#include "store/sha256.hpp"

namespace llcuda {
namespace fs = std::filesystem;
namespace {

class TransientFailure : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

uint64_t free_bytes_at(const std::string& directory) {
    struct statvfs info {};
    if (::statvfs(directory.c_str(), &info) != 0) return UINT64_MAX;
    return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
}

void check_disk_space(const std::string& directory, uint64_t needed, const std::string& name) {
    const uint64_t available = free_bytes_at(directory);
    if (needed > available) {
        throw Error(fmt::format(
            "not enough disk space for {}: {} more are needed, {} are free in {}; free some "
            "space, or point --store / LLCUDA_STORE at a larger disk",
            name, format_bytes(needed), format_bytes(available), directory));
    }
}

uint64_t file_size_or_zero(const std::string& path) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    return error ? 0 : size;
}

// Hashes what an earlier attempt left behind, so the digest covers the whole file.
void hash_existing(const std::string& path, uint64_t size, Sha256& hash) {
    if (size == 0) return;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
    std::vector<char> buffer(1 << 20);
    uint64_t remaining = size;
    while (remaining > 0) {
        const ssize_t got = ::read(fd, buffer.data(), std::min<uint64_t>(buffer.size(), remaining));
        if (got <= 0) break;
        hash.update(buffer.data(), static_cast<size_t>(got));
        remaining -= static_cast<uint64_t>(got);
    }
    ::close(fd);
}

struct AttemptState {
    int fd = -1;
    uint64_t written = 0;  // bytes in the partial file
    std::unique_ptr<Sha256> hash;
    std::string write_error;
};

// One GET, appending to the partial file. Returns normally when the whole body arrived.
void download_attempt(const HubSettings& hub, const HubFileInfo& info, const std::string& partial,
                      const std::string& label, bool quiet, AttemptState& state) {
    state.written = file_size_or_zero(partial);
    if (info.size > 0 && state.written > info.size) state.written = 0;  // not ours: start again
    state.hash = std::make_unique<Sha256>();
    hash_existing(partial, state.written, *state.hash);
    state.fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (state.fd < 0)
        throw Error(fmt::format("cannot write '{}': {}", partial, std::strerror(errno)));
    if (::ftruncate(state.fd, static_cast<off_t>(state.written)) != 0 ||
        ::lseek(state.fd, static_cast<off_t>(state.written), SEEK_SET) < 0) {
        throw Error(fmt::format("cannot prepare '{}': {}", partial, std::strerror(errno)));
    }
    const uint64_t resumed_from = state.written;
    ProgressReporter progress(label, info.size, state.written, quiet);
    bool first_chunk = true;

    HttpRequest request;
    request.url = info.url;
    request.headers = hub.auth_headers();
    request.range_start = state.written;
    request.on_body = [&](long status, const char* data, size_t size) {
        if (first_chunk && status == 200 && state.written > 0) {
            // The server ignored the Range request and sends the whole file again.
            state.written = 0;
            state.hash = std::make_unique<Sha256>();
            if (::ftruncate(state.fd, 0) != 0 || ::lseek(state.fd, 0, SEEK_SET) < 0) {
                state.write_error = std::strerror(errno);
                return false;
            }
        }
        first_chunk = false;
        for (size_t done = 0; done < size;) {
            const ssize_t result = ::write(state.fd, data + done, size - done);
            if (result < 0 && errno == EINTR) continue;
            if (result <= 0) {
                state.write_error = std::strerror(errno);
                return false;
            }
            done += static_cast<size_t>(result);
        }
        state.hash->update(data, size);
        state.written += size;
        progress.update(state.written);
        return true;
    };
    HttpResponse response;
    try {
        response = http_get(request);
    } catch (const HttpError& error) {
        ::close(std::exchange(state.fd, -1));
        if (!state.write_error.empty()) {
            throw Error(fmt::format(
                "writing {} failed: {} ({} of it kept in {}; it resumes on the next pull once "
                "there is space)",
                label, state.write_error, format_bytes(state.written), partial));
        }
        if (error.transient()) throw TransientFailure(error.what());
        throw Error(error.what());
    }
    ::close(std::exchange(state.fd, -1));
    if (response.status == 416 && info.size > 0 && resumed_from == info.size)
        return;  // nothing was missing
    if (response.status >= 500 || response.status == 429 || response.status == 408) {
        throw TransientFailure(fmt::format("HTTP {}", response.status));
    }
    if (response.status != 200 && response.status != 206)
        throw Error(describe_hub_status(response.status, label, ""));
    if (info.size > 0 && state.written != info.size) {
        throw TransientFailure(fmt::format("the connection ended after {} of {}",
                                           format_bytes(state.written), format_bytes(info.size)));
    }
    progress.finish(state.written);
}

}  // namespace

PullResult pull_model(ModelStore& store, const HubSettings& hub, const std::string& spec,
                      const std::string& file, const PullOptions& options) {
    std::string repo = spec;
    std::string chosen_file = file;
    std::string alias;
    if (const size_t colon = spec.find(':'); colon != std::string::npos) {
        if (!file.empty()) throw Error("give either REPO FILE or REPO:QUANT, not both");
        repo = spec.substr(0, colon);
        const std::string quant = spec.substr(colon + 1);
        chosen_file =
            pick_file_for_quant(list_repo_files(hub, repo, options.revision), quant, repo);
        alias = spec;
    }
    if (chosen_file.empty())
        throw Error("which file? give REPO FILE, or REPO:QUANT to pick by quantization");
    const std::string name = repo + "/" + chosen_file;
    const auto record_alias = [&](const ManifestEntry& entry) {
        if (!alias.empty()) store.add_alias(alias, entry);
    };

    if (const auto cached = find_in_hf_cache(hub, repo, options.revision, chosen_file)) {
        const std::string sha256 =
            cached->sha256.empty() ? sha256_of_file(cached->path) : cached->sha256;
        auto entry = store.add_external(cached->path, sha256, name, "hf-cache:" + cached->path);
        record_alias(entry);
        return {entry, "reused from the Hugging Face cache"};
    }

    const auto info = fetch_file_info(hub, repo, options.revision, chosen_file);
    FileLock lock(store.lock_path(name),
                  FileLock::Mode::Exclusive);  // one download per file at a time
    if (const auto existing = store.find(name);
        existing && (info.sha256.empty() || existing->sha256 == info.sha256) &&
        fs::exists(existing->path)) {
        record_alias(*existing);
        return {*existing, "already in the store"};
    }
    if (!info.sha256.empty()) {
        if (auto entry = store.add_existing_blob(info.sha256, name, info.url)) {
            record_alias(*entry);
            return {*entry, "already in the store under another name (same SHA-256)"};
        }
    }
    const std::string partial =
        store.partial_path(name + "@" + (info.sha256.empty() ? options.revision : info.sha256));
    const uint64_t already = file_size_or_zero(partial);
    if (info.size > 0)
        check_disk_space(fs::path(partial).parent_path().string(),
                         info.size - std::min(already, info.size), name);

    AttemptState state;
    int delay_ms = options.first_retry_delay_ms;
    for (int attempt = 1;; ++attempt) {
        try {
            download_attempt(hub, info, partial, name, options.quiet, state);
            break;
        } catch (const TransientFailure& failure) {
            if (attempt >= options.max_attempts) {
                throw Error(fmt::format(
                    "downloading {} failed {} times, last: {}; what arrived is kept and the next "
                    "pull resumes it",
                    name, attempt, failure.what()));
            }
            if (!options.quiet) {
                std::fprintf(stderr, "%s: %s; retrying in %d ms (attempt %d of %d)\n", name.c_str(),
                             failure.what(), delay_ms, attempt + 1, options.max_attempts);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
            delay_ms *= 2;
        }
    }
    const std::string sha256 = state.hash ? state.hash->hex_digest() : sha256_of_file(partial);
    if (!info.sha256.empty() && sha256 != info.sha256) {
        fs::remove(partial);
        throw Error(fmt::format(
            "{}: the download's SHA-256 is {} but the hub published {}; the file is corrupt and "
            "was not stored (pull again)",
            name, sha256, info.sha256));
    }
    auto entry = store.add_downloaded(partial, sha256, name, info.url);
    record_alias(entry);
    return {entry, already > 0 ? "resumed" : "downloaded"};
}

}  // namespace llcuda
