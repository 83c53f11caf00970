#include "core/tensor.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstring>

#include "backend/cuda/device_memory.hpp"
#include "core/error.hpp"

namespace llcuda {

struct Tensor::Storage {
    TensorDevice device;
    size_t bytes = 0;
    std::vector<uint8_t> host;
    void* gpu = nullptr;

    Storage(TensorDevice where, size_t size) : device(where), bytes(size) {
        if (device.is_cuda) {
            gpu = cuda_allocate(bytes, device.index);
            cuda_fill_zero(gpu, bytes, device.index);
        } else {
            host.assign(bytes, 0);
        }
    }
    ~Storage() {
        if (gpu != nullptr) cuda_release(gpu, device.index);
    }
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    void* data() { return device.is_cuda ? gpu : static_cast<void*>(host.data()); }
};

TensorDevice TensorDevice::parse(const std::string& text) {
    if (text == "cpu") return {false, 0};
    if (text == "cuda") return {true, 0};
    if (text.rfind("cuda:", 0) == 0) {
        int index = -1;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data() + 5, end, index);
        if (error == std::errc() && stop == end && index >= 0) return {true, index};
    }
    throw Error(fmt::format("unknown device '{}'; use cpu, cuda or cuda:N", text));
}

std::string TensorDevice::to_string() const {
    return is_cuda ? fmt::format("cuda:{}", index) : "cpu";
}

Tensor::Tensor(std::vector<int64_t> shape, DType dtype, TensorDevice device)
    : shape_(std::move(shape)), dtype_(dtype), device_(device) {
    if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16) {
        throw Error(
            fmt::format("tensors hold float32, float16 or bfloat16, not {}", dtype_name(dtype)));
    }
    uint64_t count = 1;
    for (const auto extent : shape_) {
        if (extent < 0 ||
            (extent > 0 && count > (uint64_t{1} << 40) / static_cast<uint64_t>(extent))) {
            throw Error(fmt::format("impossible tensor dimension {}", extent));
        }
        count *= static_cast<uint64_t>(extent);
    }
    storage_ = std::make_shared<Storage>(
        device_, static_cast<size_t>(count) * dtype_traits(dtype).block_bytes);
}

size_t Tensor::numel() const {
    size_t count = 1;
    for (const auto extent : shape_) count *= static_cast<size_t>(extent);
    return count;
}

size_t Tensor::nbytes() const { return storage_->bytes; }
void* Tensor::data() { return storage_->data(); }
const void* Tensor::data() const { return storage_->data(); }

void Tensor::copy_from_host(const void* source, size_t bytes) {
    if (bytes != nbytes())
        throw Error(fmt::format("copy of {} bytes into a tensor of {}", bytes, nbytes()));
    if (device_.is_cuda) {
        cuda_copy_to_device(data(), source, bytes, device_.index);
    } else if (bytes > 0) {
        std::memcpy(data(), source, bytes);
    }
}

void Tensor::copy_to_host(void* destination, size_t bytes) const {
    if (bytes != nbytes())
        throw Error(fmt::format("copy of {} bytes out of a tensor of {}", bytes, nbytes()));
    if (device_.is_cuda) {
        cuda_copy_to_host(destination, data(), bytes, device_.index);
    } else if (bytes > 0) {
        std::memcpy(destination, data(), bytes);
    }
}

Tensor Tensor::to(const TensorDevice& device) const {
    Tensor result(shape_, dtype_, device);
    if (device.is_cuda && device_.is_cuda) {
        cuda_copy_between_devices(result.data(), data(), nbytes(), device.index);
    } else if (device.is_cuda) {
        result.copy_from_host(data(), nbytes());
    } else {
        copy_to_host(result.data(), nbytes());
    }
    return result;
}

}  // namespace llcuda
