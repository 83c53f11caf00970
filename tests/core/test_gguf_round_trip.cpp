#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/gguf/gguf_file.hpp"
#include "core/gguf/gguf_writer.hpp"

namespace llcuda {
namespace {

GgufWriter every_value_type() {
    GgufWriter writer;
    writer.set("u8", {GgufType::UInt8, uint64_t{200}});
    writer.set("i8", {GgufType::Int8, int64_t{-100}});
    writer.set("u16", {GgufType::UInt16, uint64_t{60000}});
    writer.set("i16", {GgufType::Int16, int64_t{-30000}});
    writer.set("u32", GgufValue::u32(4000000000u));
    writer.set("i32", GgufValue::i32(-2000000000));
    writer.set("u64", GgufValue::u64(uint64_t{1} << 60));
    writer.set("i64", {GgufType::Int64, int64_t{-(int64_t{1} << 60)}});
    writer.set("f32", GgufValue::f32(1.5f));
    writer.set("f64", {GgufType::Float64, 3.141592653589793});
    writer.set("bool", GgufValue::boolean(true));
    writer.set("string", GgufValue::string("héllo\n"));
    writer.set("array", GgufValue::array(GgufType::Int32, {GgufValue::i32(1), GgufValue::i32(-2)}));
    writer.set("nested",
               GgufValue::array(GgufType::Array,
                                {GgufValue::array(GgufType::String, {GgufValue::string("a")})}));
    writer.set("empty", GgufValue::array(GgufType::Float32, {}));
    return writer;
}

TEST(GgufRoundTrip, EveryMetadataTypeSurvives) {
    auto writer = every_value_type();
    const auto bytes = writer.serialize();
    const auto file = GgufFile::from_memory(bytes, "memory");
    EXPECT_EQ(file.version(), 3u);
    EXPECT_EQ(file.metadata().size(), 15u);
    EXPECT_EQ(file.find("u8")->as_uint(), 200u);
    EXPECT_EQ(file.find("i8")->as_int(), -100);
    EXPECT_EQ(file.find("u16")->as_uint(), 60000u);
    EXPECT_EQ(file.find("i16")->as_int(), -30000);
    EXPECT_EQ(file.find("u32")->as_uint(), 4000000000u);
    EXPECT_EQ(file.find("i32")->as_int(), -2000000000);
    EXPECT_EQ(file.find("u64")->as_uint(), uint64_t{1} << 60);
    EXPECT_EQ(file.find("i64")->as_int(), -(int64_t{1} << 60));
    EXPECT_EQ(file.find("f32")->as_double(), 1.5);
    EXPECT_EQ(file.find("f64")->as_double(), 3.141592653589793);
    EXPECT_TRUE(file.find("bool")->as_bool());
    EXPECT_EQ(file.find("string")->as_string(), "héllo\n");
    EXPECT_EQ(file.find("array")->as_array().items.at(1).as_int(), -2);
    EXPECT_EQ(file.find("nested")->as_array().items.at(0).as_array().items.at(0).as_string(), "a");
    EXPECT_TRUE(file.find("empty")->as_array().items.empty());
    EXPECT_EQ(file.find("f32")->type(), GgufType::Float32);
    EXPECT_THROW(file.find("string")->as_uint(), Error);
    EXPECT_THROW(file.get_uint("missing"), Error);
    EXPECT_THROW(file.get_string("u8"), Error);
    // Writing what was read gives the same bytes.
    GgufWriter copy;
    for (const auto& [key, value] : file.metadata()) copy.set(key, value);
    EXPECT_EQ(copy.serialize(), bytes);
}

TEST(GgufRoundTrip, TensorsAreAlignedAndIntact) {
    GgufWriter writer;
    writer.set("general.alignment", GgufValue::u32(64));
    std::vector<uint8_t> first(3 * 4), second(34 * 2);
    for (size_t i = 0; i < first.size(); ++i) first[i] = static_cast<uint8_t>(i);
    for (size_t i = 0; i < second.size(); ++i) second[i] = static_cast<uint8_t>(255 - i);
    writer.add_tensor("first", DType::F32, {3}, first);
    writer.add_tensor("second", DType::Q8_0, {32, 2}, second);
    const auto bytes = writer.serialize();
    const auto file = GgufFile::from_memory(bytes, "memory");
    ASSERT_EQ(file.tensors().size(), 2u);
    EXPECT_EQ(file.alignment(), 64u);
    EXPECT_EQ(file.data_offset() % 64, 0u);
    const auto* tensor = file.find_tensor("second");
    ASSERT_NE(tensor, nullptr);
    EXPECT_EQ(tensor->offset % 64, 0u);
    EXPECT_EQ(tensor->shape, (std::vector<uint64_t>{32, 2}));
    EXPECT_EQ(tensor->type, DType::Q8_0);
    EXPECT_EQ(tensor->byte_count, 68u);
    EXPECT_EQ(std::vector<uint8_t>(file.tensor_data(*tensor), file.tensor_data(*tensor) + 68),
              second);
    EXPECT_EQ(std::vector<uint8_t>(file.tensor_data(file.tensors()[0]),
                                   file.tensor_data(file.tensors()[0]) + 12),
              first);
}

TEST(GgufRoundTrip, WriterRefusesInconsistentTensors) {
    GgufWriter writer;
    EXPECT_THROW(writer.add_tensor("t", DType::F32, {4}, std::vector<uint8_t>(15)), Error);
    EXPECT_THROW(writer.add_tensor("t", DType::Q4_0, {31}, std::vector<uint8_t>(18)), Error);
    writer.add_tensor("t", DType::F32, {1}, std::vector<uint8_t>(4));
    EXPECT_THROW(writer.add_tensor("t", DType::F32, {1}, std::vector<uint8_t>(4)), Error);
}

TEST(GgufRoundTrip, WriteGoesThroughATemporaryFile) {
    const auto directory = std::filesystem::temp_directory_path() / "llcuda_gguf_write_test";
    std::filesystem::create_directories(directory);
    const auto path = (directory / "model.gguf").string();
    every_value_type().write(path);
    EXPECT_EQ(GgufFile::open(path).find("u8")->as_uint(), 200u);
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
        EXPECT_EQ(entry.path().filename(), "model.gguf") << "left behind: " << entry.path();
    }
    EXPECT_THROW(every_value_type().write((directory / "missing-dir" / "x.gguf").string()), Error);
    std::filesystem::remove_all(directory);
}

TEST(GgufRoundTrip, OpenReportsMissingAndEmptyFiles) {
    EXPECT_THROW(GgufFile::open("/nonexistent/model.gguf"), Error);
    EXPECT_THROW(GgufFile::open("/"), Error);
    const auto empty = (std::filesystem::temp_directory_path() / "llcuda_empty.gguf").string();
    { std::ofstream touch(empty); }
    EXPECT_THROW(GgufFile::open(empty), Error);
    std::filesystem::remove(empty);
}

}  // namespace
}  // namespace llcuda
