#pragma once
// An owned allocation of GPU memory (freed on destruction), movable, not copyable.
#include <cstddef>
#include <utility>

#include "backend/cuda/device_memory.hpp"

namespace llcuda {

class DeviceBuffer {
  public:
    DeviceBuffer() = default;
    DeviceBuffer(size_t bytes, int device)
        : pointer_(cuda_allocate(bytes, device)), bytes_(bytes), device_(device) {}
    ~DeviceBuffer() { cuda_release(pointer_, device_); }
    DeviceBuffer(DeviceBuffer&& other) noexcept { swap(other); }
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
        DeviceBuffer moved(std::move(other));
        swap(moved);
        return *this;
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    void* get() const { return pointer_; }
    template <typename T>
    T* as() const {
        return static_cast<T*>(pointer_);
    }
    size_t bytes() const { return bytes_; }

  private:
    void swap(DeviceBuffer& other) noexcept {
        std::swap(pointer_, other.pointer_);
        std::swap(bytes_, other.bytes_);
        std::swap(device_, other.device_);
    }

    void* pointer_ = nullptr;
    size_t bytes_ = 0;
    int device_ = 0;
};

}  // namespace llcuda
