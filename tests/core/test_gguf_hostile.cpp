// Hostile and broken GGUF input: every case must end in llcuda::Error with a message naming
// the problem, never a crash, a hang or a huge allocation.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "core/error.hpp"
#include "core/gguf/gguf_file.hpp"
#include "core/gguf/gguf_writer.hpp"
#include "gguf_bytes.hpp"

namespace llcuda {
namespace {

using testing::GgufBytes;

void expect_error(const std::vector<uint8_t>& bytes, const std::string& fragment) {
    try {
        GgufFile::from_memory(bytes, "hostile.gguf");
        FAIL() << "accepted a file that should fail with '" << fragment << "'";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos)
            << "message was: " << error.what() << "\nexpected it to mention: " << fragment;
    }
}

std::vector<uint8_t> valid_file() {
    GgufWriter writer;
    writer.set("general.architecture", GgufValue::string("llama"));
    writer.set("list", GgufValue::array(GgufType::String,
                                        {GgufValue::string("x"), GgufValue::string("yz")}));
    writer.add_tensor("a", DType::F32, {4, 2}, std::vector<uint8_t>(32, 1));
    writer.add_tensor("b", DType::Q8_0, {32}, std::vector<uint8_t>(34, 2));
    return writer.serialize();
}

TEST(GgufHostile, ValidFileParses) {
    EXPECT_EQ(GgufFile::from_memory(valid_file(), "ok").tensors().size(), 2u);
}

TEST(GgufHostile, EveryTruncationIsAnError) {
    const auto bytes = valid_file();
    const auto file = GgufFile::from_memory(bytes, "whole");
    uint64_t end_of_data = 0;
    for (const auto& tensor : file.tensors()) {
        end_of_data = std::max(end_of_data, file.data_offset() + tensor.offset + tensor.byte_count);
    }
    // Only the padding after the last tensor's bytes may be cut without harm.
    for (size_t length = 0; length < end_of_data; ++length) {
        std::vector<uint8_t> prefix(bytes.begin(),
                                    bytes.begin() + static_cast<std::ptrdiff_t>(length));
        EXPECT_THROW(GgufFile::from_memory(prefix, "truncated"), Error) << "length " << length;
    }
}

TEST(GgufHostile, BadMagicAndVersions) {
    expect_error(GgufBytes().put<uint32_t>(0x46554746).put<uint32_t>(3).zeros(16).bytes,
                 "not a GGUF file");
    expect_error(GgufBytes().header(0, 0, 1).bytes, "version 1 is obsolete");
    expect_error(GgufBytes().header(0, 0, 0x03000000).bytes, "big-endian");
    expect_error(GgufBytes().header(0, 0, 99).bytes, "unsupported GGUF version 99");
    EXPECT_NO_THROW(GgufFile::from_memory(GgufBytes().header(0, 0, 2).bytes, "v2"));
}

TEST(GgufHostile, ImpossibleCounts) {
    expect_error(GgufBytes().header(0, uint64_t{1} << 62).bytes, "metadata entries");
    expect_error(GgufBytes().header(~uint64_t{0}, 0).bytes, "tensors");
    expect_error(
        GgufBytes().header(0, 1).string("k").put<uint32_t>(8).put<uint64_t>(~uint64_t{0}).bytes,
        "string value");
    expect_error(GgufBytes().header(0, 1).put<uint64_t>(uint64_t{1} << 40).zeros(16).bytes,
                 "metadata key");
    expect_error(GgufBytes()
                     .header(0, 1)
                     .string("k")
                     .put<uint32_t>(9)
                     .put<uint32_t>(4)
                     .put<uint64_t>(uint64_t{1} << 61)
                     .bytes,
                 "cannot fit");
}

TEST(GgufHostile, BadValueTypes) {
    expect_error(GgufBytes().header(0, 1).string("k").put<uint32_t>(13).put<uint32_t>(0).bytes,
                 "unknown value type 13");
    expect_error(GgufBytes()
                     .header(0, 1)
                     .string("k")
                     .put<uint32_t>(9)
                     .put<uint32_t>(77)
                     .put<uint64_t>(1)
                     .bytes,
                 "unknown array element type 77");
    expect_error(GgufBytes().header(0, 1).string("k").put<uint32_t>(7).put<uint8_t>(2).bytes,
                 "bool stored as 2");
    // An array of one array of one array ... ten levels down.
    GgufBytes deep;
    deep.header(0, 1).string("k").put<uint32_t>(9);
    for (int i = 0; i < 10; ++i) deep.put<uint32_t>(9).put<uint64_t>(1);
    deep.put<uint32_t>(0).put<uint64_t>(0);
    expect_error(deep.bytes, "nested deeper");
}

TEST(GgufHostile, DuplicatesAreRefused) {
    expect_error(GgufBytes().header(0, 2).kv_u32("k", 1).kv_u32("k", 2).bytes, "appears twice");
    auto bytes = GgufBytes()
                     .header(2, 0)
                     .tensor("t", {8}, 0, 0)
                     .tensor("t", {8}, 0, 32)
                     .pad()
                     .zeros(64)
                     .bytes;
    expect_error(bytes, "tensor name 't' appears twice");
}

TEST(GgufHostile, BadTensorShapesAndTypes) {
    expect_error(GgufBytes().header(1, 0).tensor("t", {}, 0, 0).bytes, "0 dimensions");
    expect_error(GgufBytes().header(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).bytes, "5 dimensions");
    expect_error(GgufBytes().header(1, 0).tensor("t", {0}, 0, 0).bytes, "impossible dimension 0");
    expect_error(GgufBytes()
                     .header(1, 0)
                     .tensor("t", {uint64_t{1} << 30, uint64_t{1} << 30, 1u << 30}, 0, 0)
                     .bytes,
                 "impossible dimension");
    expect_error(GgufBytes().header(1, 0).tensor("t", {256}, 16, 0).pad().zeros(256).bytes,
                 "IQ2_XXS");
    expect_error(GgufBytes().header(1, 0).tensor("t", {256}, 999, 0).pad().zeros(256).bytes,
                 "unknown type 999");
    expect_error(GgufBytes().header(1, 0).tensor("t", {33}, 8, 0).pad().zeros(64).bytes,
                 "not a multiple of the Q8_0");
}

TEST(GgufHostile, BadOffsetsAndAlignment) {
    expect_error(GgufBytes().header(1, 0).tensor("t", {8}, 0, 4).pad().zeros(64).bytes,
                 "not a multiple of the alignment");
    expect_error(GgufBytes().header(1, 0).tensor("t", {8}, 0, 0).pad().zeros(16).bytes,
                 "runs past the end");
    expect_error(
        GgufBytes().header(1, 0).tensor("t", {8}, 0, ~uint64_t{0} - 31).pad().zeros(64).bytes,
        "runs past the end");
    expect_error(GgufBytes().header(0, 1).kv_u32("general.alignment", 0).bytes, "power of two");
    expect_error(GgufBytes().header(0, 1).kv_u32("general.alignment", 48).bytes, "power of two");
    expect_error(
        GgufBytes().header(0, 1).string("general.alignment").put<uint32_t>(8).string("x").bytes,
        "not an integer");
}

TEST(GgufHostile, RandomCorruptionNeverCrashes) {
    const auto original = valid_file();
    std::mt19937 rng(2024);
    size_t accepted = 0;
    for (int trial = 0; trial < 5000; ++trial) {
        auto bytes = original;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
        if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
        try {
            const auto file = GgufFile::from_memory(bytes, "corrupt");
            for (const auto& tensor : file.tensors()) {
                ASSERT_LE(file.data_offset() + tensor.offset + tensor.byte_count, bytes.size());
            }
            ++accepted;
        } catch (const Error&) {
        }
    }
    EXPECT_GT(accepted, 0u);  // flips in tensor data are harmless and must still parse
}

}  // namespace
}  // namespace llcuda
