#include "store/atomic_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.hpp"

namespace llcuda {
namespace {

std::string temporary_name(const std::string& path) {
    return fmt::format("{}.tmp.{}", path, ::getpid());
}

void write_all(int fd, std::string_view content, const std::string& path) {
    size_t written = 0;
    while (written < content.size()) {
        const ssize_t result = ::write(fd, content.data() + written, content.size() - written);
        if (result < 0 && errno == EINTR) continue;
        if (result <= 0)
            throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
        written += static_cast<size_t>(result);
    }
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view content) {
    const std::string temporary = temporary_name(path);
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(fmt::format("cannot create '{}': {}", temporary, std::strerror(errno)));
    try {
        write_all(fd, content, temporary);
        if (::fsync(fd) != 0)
            throw Error(fmt::format("cannot flush '{}': {}", temporary, std::strerror(errno)));
    } catch (...) {
        ::close(fd);
        ::unlink(temporary.c_str());
        throw;
    }
    ::close(fd);
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        throw Error(
            fmt::format("cannot rename '{}' to '{}': {}", temporary, path, std::strerror(error)));
    }
}

void move_file_atomically(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) == 0) return;
    if (errno != EXDEV)
        throw Error(fmt::format("cannot move '{}' to '{}': {}", from, to, std::strerror(errno)));
    const std::string temporary = temporary_name(to);
    std::error_code error;
    std::filesystem::copy_file(from, temporary, std::filesystem::copy_options::overwrite_existing,
                               error);
    if (error || ::rename(temporary.c_str(), to.c_str()) != 0) {
        ::unlink(temporary.c_str());
        throw Error(fmt::format("cannot copy '{}' to '{}': {}", from, to,
                                error ? error.message() : std::strerror(errno)));
    }
    ::unlink(from.c_str());
}

}  // namespace llcuda
