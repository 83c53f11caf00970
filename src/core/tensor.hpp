#pragma once
// A dense, contiguous, row-major tensor of floats (F32, F16 or BF16) on the CPU or a GPU.
// Copies share storage; to() and clone() make new storage.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.hpp"

namespace llcuda {

struct TensorDevice {
    bool is_cuda = false;
    int index = 0;
    static TensorDevice parse(const std::string& text);  // "cpu", "cuda", "cuda:N"
    std::string to_string() const;
    bool operator==(const TensorDevice& other) const {
        return is_cuda == other.is_cuda && index == other.index;
    }
};

class Tensor {
  public:
    Tensor(std::vector<int64_t> shape, DType dtype, TensorDevice device);  // zero-filled

    const std::vector<int64_t>& shape() const { return shape_; }
    DType dtype() const { return dtype_; }
    const TensorDevice& device() const { return device_; }
    size_t numel() const;
    size_t nbytes() const;
    void* data();  // host pointer on the CPU, device pointer on a GPU
    const void* data() const;

    Tensor to(const TensorDevice& device) const;
    void copy_from_host(const void* source, size_t bytes);
    void copy_to_host(void* destination, size_t bytes) const;

  private:
    struct Storage;
    std::vector<int64_t> shape_;
    DType dtype_;
    TensorDevice device_;
    std::shared_ptr<Storage> storage_;
};

}  // namespace llcuda
