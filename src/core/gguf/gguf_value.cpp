#include "core/gguf/gguf_value.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace llcuda {

const char* gguf_type_name(GgufType type) {
    switch (type) {
        case GgufType::UInt8:
            return "uint8";
        case GgufType::Int8:
            return "int8";
        case GgufType::UInt16:
            return "uint16";
        case GgufType::Int16:
            return "int16";
        case GgufType::UInt32:
            return "uint32";
        case GgufType::Int32:
            return "int32";
        case GgufType::Float32:
            return "float32";
        case GgufType::Bool:
            return "bool";
        case GgufType::String:
            return "string";
        case GgufType::Array:
            return "array";
        case GgufType::UInt64:
            return "uint64";
        case GgufType::Int64:
            return "int64";
        case GgufType::Float64:
            return "float64";
    }
    return "unknown";
}

bool is_valid_gguf_type(uint32_t type) { return type <= static_cast<uint32_t>(GgufType::Float64); }

GgufValue GgufValue::array(GgufType element_type, std::vector<GgufValue> items) {
    auto contents = std::make_shared<GgufArray>(GgufArray{element_type, std::move(items)});
    return {GgufType::Array, std::shared_ptr<const GgufArray>(std::move(contents))};
}

bool GgufValue::is_integer() const {
    return std::holds_alternative<uint64_t>(storage_) || std::holds_alternative<int64_t>(storage_);
}

bool GgufValue::is_number() const {
    return is_integer() || std::holds_alternative<double>(storage_);
}

namespace {
[[noreturn]] void wrong_type(const char* wanted, GgufType actual) {
    throw Error(fmt::format("expected a {} value, found {}", wanted, gguf_type_name(actual)));
}
}  // namespace

uint64_t GgufValue::as_uint() const {
    if (const auto* value = std::get_if<uint64_t>(&storage_)) return *value;
    if (const auto* value = std::get_if<int64_t>(&storage_); value && *value >= 0) {
        return static_cast<uint64_t>(*value);
    }
    wrong_type("non-negative integer", type_);
}

int64_t GgufValue::as_int() const {
    if (const auto* value = std::get_if<int64_t>(&storage_)) return *value;
    if (const auto* value = std::get_if<uint64_t>(&storage_);
        value && *value <= static_cast<uint64_t>(INT64_MAX)) {
        return static_cast<int64_t>(*value);
    }
    wrong_type("integer", type_);
}

double GgufValue::as_double() const {
    if (const auto* value = std::get_if<double>(&storage_)) return *value;
    if (const auto* value = std::get_if<uint64_t>(&storage_)) return static_cast<double>(*value);
    if (const auto* value = std::get_if<int64_t>(&storage_)) return static_cast<double>(*value);
    wrong_type("number", type_);
}

bool GgufValue::as_bool() const {
    if (const auto* value = std::get_if<bool>(&storage_)) return *value;
    wrong_type("bool", type_);
}

const std::string& GgufValue::as_string() const {
    if (const auto* value = std::get_if<std::string>(&storage_)) return *value;
    wrong_type("string", type_);
}

const GgufArray& GgufValue::as_array() const {
    if (const auto* value = std::get_if<std::shared_ptr<const GgufArray>>(&storage_))
        return **value;
    wrong_type("array", type_);
}

std::string GgufValue::to_display_string(size_t max_items) const {
    switch (type_) {
        case GgufType::String: {
            const auto& text = as_string();
            if (text.size() > 120)
                return fmt::format("\"{}...\" ({} bytes)", text.substr(0, 117), text.size());
            return "\"" + text + "\"";
        }
        case GgufType::Bool:
            return as_bool() ? "true" : "false";
        case GgufType::Float32:
        case GgufType::Float64:
            return fmt::format("{}", as_double());
        case GgufType::Array: {
            const auto& contents = as_array();
            std::string text = fmt::format("[{} x {}: ", contents.items.size(),
                                           gguf_type_name(contents.element_type));
            for (size_t i = 0; i < contents.items.size() && i < max_items; ++i) {
                if (i > 0) text += ", ";
                text += contents.items[i].to_display_string(max_items);
            }
            if (contents.items.size() > max_items) text += ", ...";
            return text + "]";
        }
        default:
            return std::holds_alternative<int64_t>(storage_) ? fmt::format("{}", as_int())
                                                             : fmt::format("{}", as_uint());
    }
}

}  // namespace llcuda
