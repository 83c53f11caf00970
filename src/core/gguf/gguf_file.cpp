#include "core/gguf/gguf_file.hpp"

#include <fmt/format.h>

#include <bit>

#include "core/error.hpp"
#include "core/gguf/byte_cursor.hpp"

namespace llcuda {
namespace {

// Nested arrays are legal GGUF, but no real model nests more than one level; a bound keeps a
// hostile file from exhausting the stack.
constexpr int kMaxArrayDepth = 4;

size_t minimum_encoded_size(GgufType type) {
    switch (type) {
        case GgufType::UInt8:
        case GgufType::Int8:
        case GgufType::Bool:
            return 1;
        case GgufType::UInt16:
        case GgufType::Int16:
            return 2;
        case GgufType::UInt32:
        case GgufType::Int32:
        case GgufType::Float32:
            return 4;
        case GgufType::UInt64:
        case GgufType::Int64:
        case GgufType::Float64:
        case GgufType::String:
            return 8;  // a string is at least its length field
        case GgufType::Array:
            return 12;  // element type + count
    }
    return 1;
}

GgufValue read_value(ByteCursor& cursor, GgufType type, const std::string& key, int depth);

GgufValue read_array(ByteCursor& cursor, const std::string& key, int depth) {
    if (depth >= kMaxArrayDepth) {
        throw Error(
            fmt::format("metadata '{}': arrays nested deeper than {} levels", key, kMaxArrayDepth));
    }
    const auto element_type_id = cursor.read<uint32_t>("array element type");
    if (!is_valid_gguf_type(element_type_id)) {
        throw Error(
            fmt::format("metadata '{}': unknown array element type {}", key, element_type_id));
    }
    const auto element_type = static_cast<GgufType>(element_type_id);
    const auto count = cursor.read<uint64_t>("array length");
    if (count > cursor.remaining() / minimum_encoded_size(element_type)) {
        throw Error(
            fmt::format("metadata '{}': array of {} {} values cannot fit in the {} bytes left", key,
                        count, gguf_type_name(element_type), cursor.remaining()));
    }
    std::vector<GgufValue> items;
    items.reserve(count);
    for (uint64_t i = 0; i < count; ++i)
        items.push_back(read_value(cursor, element_type, key, depth + 1));
    return GgufValue::array(element_type, std::move(items));
}

GgufValue read_value(ByteCursor& cursor, GgufType type, const std::string& key, int depth) {
    switch (type) {
        case GgufType::UInt8:
            return {type, uint64_t{cursor.read<uint8_t>("uint8 value")}};
        case GgufType::Int8:
            return {type, int64_t{cursor.read<int8_t>("int8 value")}};
        case GgufType::UInt16:
            return {type, uint64_t{cursor.read<uint16_t>("uint16 value")}};
        case GgufType::Int16:
            return {type, int64_t{cursor.read<int16_t>("int16 value")}};
        case GgufType::UInt32:
            return {type, uint64_t{cursor.read<uint32_t>("uint32 value")}};
        case GgufType::Int32:
            return {type, int64_t{cursor.read<int32_t>("int32 value")}};
        case GgufType::UInt64:
            return {type, cursor.read<uint64_t>("uint64 value")};
        case GgufType::Int64:
            return {type, cursor.read<int64_t>("int64 value")};
        case GgufType::Float32:
            return {type, double{cursor.read<float>("float32 value")}};
        case GgufType::Float64:
            return {type, cursor.read<double>("float64 value")};
        case GgufType::Bool: {
            const auto byte = cursor.read<uint8_t>("bool value");
            if (byte > 1)
                throw Error(fmt::format("metadata '{}': bool stored as {}, not 0 or 1", key, byte));
            return {type, byte == 1};
        }
        case GgufType::String:
            return {type, cursor.read_string("string value")};
        case GgufType::Array:
            return read_array(cursor, key, depth);
    }
    throw Error(fmt::format("metadata '{}': unknown value type", key));
}

bool multiply_overflows(uint64_t a, uint64_t b, uint64_t& result) {
    return __builtin_mul_overflow(a, b, &result);
}

}  // namespace

GgufFile GgufFile::open(const std::string& path) {
    GgufFile file;
    file.mapping_ = std::make_shared<MappedFile>(path);
    file.bytes_ = file.mapping_->bytes();
    file.description_ = path;
    file.parse();
    return file;
}

GgufFile GgufFile::from_memory(std::span<const uint8_t> bytes, std::string description) {
    GgufFile file;
    file.bytes_ = bytes;
    file.description_ = std::move(description);
    file.parse();
    return file;
}

void GgufFile::parse() {
    ByteCursor cursor(bytes_, description_);
    const auto magic = cursor.read<uint32_t>("magic");
    if (magic != kGgufMagic) {
        throw Error(description_ + ": not a GGUF file (the first four bytes are not \"GGUF\")");
    }
    version_ = cursor.read<uint32_t>("version");
    if (version_ == 1) {
        throw Error(description_ +
                    ": GGUF version 1 is obsolete; re-convert the model with a current converter");
    }
    if (version_ != 2 && version_ != 3) {
        const bool swapped = __builtin_bswap32(version_) == 2 || __builtin_bswap32(version_) == 3;
        throw Error(description_ +
                    (swapped ? ": big-endian GGUF files are not supported"
                             : ": unsupported GGUF version " + std::to_string(version_)));
    }
    const auto tensor_count = cursor.read<uint64_t>("tensor count");
    const auto metadata_count = cursor.read<uint64_t>("metadata count");
    // Each entry needs at least a key length and a type (metadata), or a name length, a
    // dimension count, a type and an offset (tensors); larger counts cannot be genuine.
    if (metadata_count > cursor.remaining() / 12) {
        throw Error(fmt::format("{}: claims {} metadata entries, more than its {} bytes can hold",
                                description_, metadata_count, bytes_.size()));
    }
    if (tensor_count > cursor.remaining() / 24) {
        throw Error(fmt::format("{}: claims {} tensors, more than its {} bytes can hold",
                                description_, tensor_count, bytes_.size()));
    }

    metadata_.reserve(metadata_count);
    for (uint64_t i = 0; i < metadata_count; ++i) {
        auto key = cursor.read_string("metadata key");
        const auto type_id = cursor.read<uint32_t>("metadata value type");
        if (!is_valid_gguf_type(type_id)) {
            throw Error(fmt::format("{}: metadata '{}' has unknown value type {}", description_,
                                    key, type_id));
        }
        auto value = read_value(cursor, static_cast<GgufType>(type_id), key, 0);
        if (!metadata_index_.emplace(key, metadata_.size()).second) {
            throw Error(fmt::format("{}: metadata key '{}' appears twice", description_, key));
        }
        metadata_.emplace_back(std::move(key), std::move(value));
    }

    if (const auto* alignment = find("general.alignment")) {
        if (!alignment->is_integer())
            throw Error(description_ + ": general.alignment is not an integer");
        alignment_ = alignment->as_uint();
        if (alignment_ == 0 || !std::has_single_bit(alignment_) || alignment_ > (1u << 20)) {
            throw Error(fmt::format("{}: general.alignment {} is not a power of two up to 1 MiB",
                                    description_, alignment_));
        }
    }

    tensors_.reserve(tensor_count);
    for (uint64_t i = 0; i < tensor_count; ++i) {
        GgufTensorInfo tensor;
        tensor.name = cursor.read_string("tensor name");
        const auto dims = cursor.read<uint32_t>("tensor dimension count");
        if (dims == 0 || dims > kMaxTensorDims) {
            throw Error(fmt::format("{}: tensor '{}' has {} dimensions (1 to {} allowed)",
                                    description_, tensor.name, dims, kMaxTensorDims));
        }
        tensor.element_count = 1;
        for (uint32_t d = 0; d < dims; ++d) {
            const auto extent = cursor.read<uint64_t>("tensor dimension");
            if (extent == 0 || extent > (uint64_t{1} << 40) ||
                multiply_overflows(tensor.element_count, extent, tensor.element_count) ||
                tensor.element_count > (uint64_t{1} << 48)) {
                throw Error(fmt::format("{}: tensor '{}' has an impossible dimension {}",
                                        description_, tensor.name, extent));
            }
            tensor.shape.push_back(extent);
        }
        const auto type_id = cursor.read<uint32_t>("tensor type");
        const auto traits = find_dtype(type_id);
        if (!traits) {
            throw Error(fmt::format("{}: tensor '{}' has type {}, which llcuda does not support",
                                    description_, tensor.name, ggml_type_name(type_id)));
        }
        tensor.type = traits->type;
        if (tensor.shape[0] % traits->block_elements != 0) {
            throw Error(fmt::format(
                "{}: tensor '{}' has rows of {} elements, not a multiple of the {} block size {}",
                description_, tensor.name, tensor.shape[0], traits->name, traits->block_elements));
        }
        tensor.byte_count = tensor.element_count / traits->block_elements * traits->block_bytes;
        tensor.offset = cursor.read<uint64_t>("tensor offset");
        if (tensor.offset % alignment_ != 0) {
            throw Error(
                fmt::format("{}: tensor '{}' offset {} is not a multiple of the alignment {}",
                            description_, tensor.name, tensor.offset, alignment_));
        }
        if (!tensor_index_.emplace(tensor.name, tensors_.size()).second) {
            throw Error(
                fmt::format("{}: tensor name '{}' appears twice", description_, tensor.name));
        }
        tensors_.push_back(std::move(tensor));
    }

    data_offset_ = (cursor.position() + alignment_ - 1) / alignment_ * alignment_;
    const uint64_t data_size = bytes_.size() > data_offset_ ? bytes_.size() - data_offset_ : 0;
    for (const auto& tensor : tensors_) {
        if (tensor.offset > data_size || tensor.byte_count > data_size - tensor.offset) {
            throw Error(
                fmt::format("{}: tensor '{}' ({} bytes at offset {}) runs past the end of the "
                            "file; the file is truncated or corrupt",
                            description_, tensor.name, tensor.byte_count, tensor.offset));
        }
    }
}

const GgufValue* GgufFile::find(const std::string& key) const {
    const auto found = metadata_index_.find(key);
    return found == metadata_index_.end() ? nullptr : &metadata_[found->second].second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    const auto found = tensor_index_.find(name);
    return found == tensor_index_.end() ? nullptr : &tensors_[found->second];
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& tensor) const {
    return bytes_.data() + data_offset_ + tensor.offset;
}

namespace {
template <typename Fn>
auto with_key_context(const std::string& description, const std::string& key, Fn&& fn) {
    try {
        return fn();
    } catch (const Error& error) {
        throw Error(fmt::format("{}: metadata '{}': {}", description, key, error.what()));
    }
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
    const auto* value = find(key);
    if (!value)
        throw Error(fmt::format("{}: required metadata '{}' is missing", description_, key));
    return with_key_context(description_, key, [&] { return value->as_string(); });
}

uint64_t GgufFile::get_uint(const std::string& key) const {
    const auto value = find_uint(key);
    if (!value)
        throw Error(fmt::format("{}: required metadata '{}' is missing", description_, key));
    return *value;
}

std::optional<uint64_t> GgufFile::find_uint(const std::string& key) const {
    const auto* value = find(key);
    if (!value) return std::nullopt;
    return with_key_context(description_, key, [&] { return value->as_uint(); });
}

std::optional<double> GgufFile::find_double(const std::string& key) const {
    const auto* value = find(key);
    if (!value) return std::nullopt;
    return with_key_context(description_, key, [&] { return value->as_double(); });
}

std::optional<std::string> GgufFile::find_string(const std::string& key) const {
    const auto* value = find(key);
    if (!value) return std::nullopt;
    return with_key_context(description_, key, [&] { return value->as_string(); });
}

}  // namespace llcuda
