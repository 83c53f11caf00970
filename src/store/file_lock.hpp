#pragma once
// An advisory lock on a file (flock), released on destruction. Two llcuda processes that take
// the same lock never change the store at the same time.
#include <string>

namespace llcuda {

class FileLock {
  public:
    enum class Mode { Shared, Exclusive };
    FileLock(const std::string& path, Mode mode);
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

  private:
    int fd_ = -1;
};

}  // namespace llcuda
