#pragma once
// A GGUF metadata value: every scalar type of the specification, strings and (nested) arrays.
// The original type is kept so a file can be written back unchanged.
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace llcuda {

enum class GgufType : uint32_t {
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
};

const char* gguf_type_name(GgufType type);
bool is_valid_gguf_type(uint32_t type);

struct GgufArray;

class GgufValue {
  public:
    using Storage = std::variant<uint64_t, int64_t, double, bool, std::string,
                                 std::shared_ptr<const GgufArray>>;

    GgufValue() : type_(GgufType::UInt8), storage_(uint64_t{0}) {}
    GgufValue(GgufType type, Storage storage) : type_(type), storage_(std::move(storage)) {}

    static GgufValue u32(uint32_t value) { return {GgufType::UInt32, uint64_t{value}}; }
    static GgufValue i32(int32_t value) { return {GgufType::Int32, int64_t{value}}; }
    static GgufValue u64(uint64_t value) { return {GgufType::UInt64, value}; }
    static GgufValue f32(float value) { return {GgufType::Float32, double{value}}; }
    static GgufValue boolean(bool value) { return {GgufType::Bool, value}; }
    static GgufValue string(std::string value) { return {GgufType::String, std::move(value)}; }
    static GgufValue array(GgufType element_type, std::vector<GgufValue> items);

    GgufType type() const { return type_; }
    bool is_integer() const;
    bool is_number() const;

    // Typed access; each throws llcuda::Error naming the expected and actual type.
    uint64_t as_uint() const;
    int64_t as_int() const;
    double as_double() const;
    bool as_bool() const;
    const std::string& as_string() const;
    const GgufArray& as_array() const;

    // Short human-readable rendering (arrays abbreviated), for `inspect`.
    std::string to_display_string(size_t max_items = 8) const;

  private:
    GgufType type_;
    Storage storage_;
};

struct GgufArray {
    GgufType element_type;
    std::vector<GgufValue> items;
};

}  // namespace llcuda
