#include "store/file_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.hpp"

namespace llcuda {

FileLock::FileLock(const std::string& path, Mode mode) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw Error(fmt::format("cannot open lock file '{}': {}", path, std::strerror(errno)));
    int result;
    do {
        result = ::flock(fd_, mode == Mode::Exclusive ? LOCK_EX : LOCK_SH);
    } while (result != 0 && errno == EINTR);
    if (result != 0) {
        const int error = errno;
        ::close(fd_);
        throw Error(fmt::format("cannot lock '{}': {}", path, std::strerror(error)));
    }
}

FileLock::~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace llcuda
