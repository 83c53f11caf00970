#include "core/gguf/gguf_writer.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/gguf/gguf_file.hpp"

namespace llcuda {
namespace {

class ByteSink {
  public:
    template <typename T>
    void put(T value) {
        put_bytes(&value, sizeof(T));
    }
    void put_string(const std::string& text) {
        put<uint64_t>(text.size());
        put_bytes(text.data(), text.size());
    }
    void put_bytes(const void* data, size_t size) {
        const size_t old_size = bytes.size();
        bytes.resize(old_size + size);
        if (size > 0) std::memcpy(bytes.data() + old_size, data, size);
    }
    void pad_to(uint64_t alignment) {
        while (bytes.size() % alignment != 0) bytes.push_back(0);
    }
    std::vector<uint8_t> bytes;
};

void put_value(ByteSink& sink, const GgufValue& value) {
    switch (value.type()) {
        case GgufType::UInt8:
            sink.put(static_cast<uint8_t>(value.as_uint()));
            break;
        case GgufType::Int8:
            sink.put(static_cast<int8_t>(value.as_int()));
            break;
        case GgufType::UInt16:
            sink.put(static_cast<uint16_t>(value.as_uint()));
            break;
        case GgufType::Int16:
            sink.put(static_cast<int16_t>(value.as_int()));
            break;
        case GgufType::UInt32:
            sink.put(static_cast<uint32_t>(value.as_uint()));
            break;
        case GgufType::Int32:
            sink.put(static_cast<int32_t>(value.as_int()));
            break;
        case GgufType::UInt64:
            sink.put(value.as_uint());
            break;
        case GgufType::Int64:
            sink.put(value.as_int());
            break;
        case GgufType::Float32:
            sink.put(static_cast<float>(value.as_double()));
            break;
        case GgufType::Float64:
            sink.put(value.as_double());
            break;
        case GgufType::Bool:
            sink.put(static_cast<uint8_t>(value.as_bool() ? 1 : 0));
            break;
        case GgufType::String:
            sink.put_string(value.as_string());
            break;
        case GgufType::Array: {
            const auto& contents = value.as_array();
            sink.put(static_cast<uint32_t>(contents.element_type));
            sink.put<uint64_t>(contents.items.size());
            for (const auto& item : contents.items) {
                if (item.type() != contents.element_type) {
                    throw Error("internal error: GGUF array holds mixed element types");
                }
                put_value(sink, item);
            }
            break;
        }
    }
}

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
    for (auto& [existing_key, existing_value] : metadata_) {
        if (existing_key == key) {
            existing_value = std::move(value);
            return;
        }
    }
    metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, DType type, std::vector<uint64_t> shape,
                            std::vector<uint8_t> data) {
    for (const auto& tensor : tensors_) {
        if (tensor.name == name) throw Error(fmt::format("tensor '{}' added twice", name));
    }
    if (shape.empty() || shape.size() > kMaxTensorDims) {
        throw Error(fmt::format("tensor '{}' must have 1 to {} dimensions", name, kMaxTensorDims));
    }
    uint64_t elements = 1;
    for (const auto extent : shape) elements *= extent;
    const uint64_t expected = row_bytes(type, shape[0]) * (elements / shape[0]);
    if (data.size() != expected) {
        throw Error(fmt::format("tensor '{}': {} bytes given, {} {} elements need {}", name,
                                data.size(), elements, dtype_name(type), expected));
    }
    tensors_.push_back({name, type, std::move(shape), std::move(data)});
}

uint64_t GgufWriter::alignment() const {
    for (const auto& [key, value] : metadata_) {
        if (key == "general.alignment") return value.as_uint();
    }
    return kGgufDefaultAlignment;
}

std::vector<uint8_t> GgufWriter::serialize() const {
    const uint64_t align = alignment();
    ByteSink sink;
    sink.put(kGgufMagic);
    sink.put<uint32_t>(3);
    sink.put<uint64_t>(tensors_.size());
    sink.put<uint64_t>(metadata_.size());
    for (const auto& [key, value] : metadata_) {
        sink.put_string(key);
        sink.put(static_cast<uint32_t>(value.type()));
        put_value(sink, value);
    }
    uint64_t offset = 0;
    for (const auto& tensor : tensors_) {
        sink.put_string(tensor.name);
        sink.put<uint32_t>(static_cast<uint32_t>(tensor.shape.size()));
        for (const auto extent : tensor.shape) sink.put(extent);
        sink.put(static_cast<uint32_t>(tensor.type));
        sink.put(offset);
        offset += (tensor.data.size() + align - 1) / align * align;
    }
    sink.pad_to(align);
    for (const auto& tensor : tensors_) {
        sink.put_bytes(tensor.data.data(), tensor.data.size());
        sink.pad_to(align);
    }
    return std::move(sink.bytes);
}

void GgufWriter::write(const std::string& path) const {
    const auto bytes = serialize();
    const std::string temporary = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out)
            throw Error(fmt::format("cannot create '{}': {}", temporary, std::strerror(errno)));
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
        out.flush();
        if (!out) {
            std::remove(temporary.c_str());
            throw Error(fmt::format("writing '{}' failed (disk full?)", temporary));
        }
    }
    std::error_code error;
    std::filesystem::rename(temporary, path, error);
    if (error) {
        std::remove(temporary.c_str());
        throw Error(fmt::format("cannot move '{}' to '{}': {}", temporary, path, error.message()));
    }
}

}  // namespace llcuda
