// Models whose metadata and tensors disagree are refused with a message naming the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "core/error.hpp"
#include "core/gguf/gguf_writer.hpp"
#include "core/system_memory.hpp"
#include "engine/embedded_model.hpp"
#include "model/decoder.hpp"
#include "model/model_spec.hpp"

namespace llcuda {
namespace {

// A copy of the embedded model with one change applied to its metadata or tensors.
std::vector<uint8_t> modified_model(
    const std::function<void(const std::string&, GgufValue&)>& edit_metadata,
    const std::string& drop_tensor = "") {
    const auto source = GgufFile::from_memory(embedded_model_bytes(), "embedded");
    GgufWriter writer;
    for (auto [key, value] : source.metadata()) {
        edit_metadata(key, value);
        writer.set(key, value);
    }
    for (const auto& tensor : source.tensors()) {
        if (tensor.name == drop_tensor) continue;
        const uint8_t* data = source.tensor_data(tensor);
        writer.add_tensor(tensor.name, tensor.type, tensor.shape,
                          std::vector<uint8_t>(data, data + tensor.byte_count));
    }
    return writer.serialize();
}

void expect_load_error(const std::vector<uint8_t>& bytes, const std::string& fragment) {
    try {
        Decoder model(std::make_shared<const GgufFile>(GgufFile::from_memory(bytes, "modified")));
        FAIL() << "loaded a model that should fail with '" << fragment << "'";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
    }
}

TEST(ModelValidation, UnmodifiedCopyLoads) {
    const auto bytes = modified_model([](const std::string&, GgufValue&) {});
    EXPECT_NO_THROW(
        Decoder(std::make_shared<const GgufFile>(GgufFile::from_memory(bytes, "copy"))));
}

TEST(ModelValidation, ReportsWhatIsWrong) {
    expect_load_error(modified_model([](const std::string& key, GgufValue& value) {
                          if (key == "general.architecture") value = GgufValue::string("gpt-j");
                      }),
                      "architecture 'gpt-j' is not supported (general.architecture; known: "
                      "llama, mistral, qwen2, qwen3, gemma3, phi3)");
    for (const float epsilon :
         {std::nanf(""), -1e-5f, 0.0f, std::numeric_limits<float>::infinity()}) {
        expect_load_error(modified_model([&](const std::string& key, GgufValue& value) {
                              if (key == "llama.attention.layer_norm_rms_epsilon")
                                  value = GgufValue::f32(epsilon);
                          }),
                          "'llama.attention.layer_norm_rms_epsilon' = ");
    }
    expect_load_error(modified_model([](const std::string& key, GgufValue& value) {
                          if (key == "llama.embedding_length") value = GgufValue::u32(96);
                      }),
                      "has shape");
    expect_load_error(modified_model([](const std::string& key, GgufValue& value) {
                          if (key == "llama.attention.head_count_kv") value = GgufValue::u32(3);
                      }),
                      "cannot be shared by 3 KV heads");
    expect_load_error(modified_model([](const std::string& key, GgufValue& value) {
                          if (key == "llama.block_count") value = GgufValue::u32(0);
                      }),
                      "is not a plausible size");
    expect_load_error(modified_model([](const std::string& key, GgufValue& value) {
                          if (key == "llama.feed_forward_length") value = GgufValue::string("big");
                      }),
                      "llama.feed_forward_length");
    expect_load_error(modified_model([](const std::string&, GgufValue&) {}, "blk.3.ffn_up.weight"),
                      "tensor 'blk.3.ffn_up.weight' is missing");
}

TEST(ModelValidation, OutOfRangeTokensAreRefused) {
    Decoder model(std::make_shared<const GgufFile>(
        GgufFile::from_memory(embedded_model_bytes(), "embedded")));
    ThreadPool pool(1);
    KvCache cache(model.spec(), 8);
    std::vector<float> logits;
    const std::vector<int32_t> bad{1, 512};
    EXPECT_THROW(model.forward(bad, cache, pool, logits), Error);
    EXPECT_THROW(model.forward(std::span<const int32_t>{}, cache, pool, logits), Error);
}

}  // namespace
}  // namespace llcuda

// The GPU memory check before any allocation (issue 17 #11: `serve --parallel 1024 -c 4096` was
// std::bad_alloc), with fake free-memory figures since the check is a pure function of them.
namespace llcuda {
namespace {

constexpr uint64_t kGiB = 1024ull * 1024 * 1024;

TEST(GpuMemoryCheck, FitsWhenWeightsAndKvCacheFitTheFreeMemory) {
    EXPECT_FALSE(gpu_kv_cache_shortfall(2 * kGiB, 6 * kGiB, 8 * kGiB).has_value());
    EXPECT_NO_THROW(check_gpu_kv_cache_fits(0, 0, 0));
}

TEST(GpuMemoryCheck, NamesTheKvCacheItsSizeTheFreeMemoryAndTheFlags) {
    // 1024 sequences x 4096 positions of a 7B-like model: 512 GiB of KV cache on a 139 GiB GPU.
    const auto message = gpu_kv_cache_shortfall(13 * kGiB, 512 * kGiB, 139 * kGiB);
    ASSERT_TRUE(message.has_value());
    EXPECT_NE(message->find("KV cache needs 512.00 GiB"), std::string::npos) << *message;
    EXPECT_NE(message->find("126.00 GiB left of the GPU's 139.00 GiB free"), std::string::npos)
        << *message;
    EXPECT_NE(message->find("-c/--ctx-size"), std::string::npos) << *message;
    EXPECT_NE(message->find("--parallel"), std::string::npos) << *message;
    EXPECT_THROW(check_gpu_kv_cache_fits(13 * kGiB, 512 * kGiB, 139 * kGiB), Error);
}

TEST(GpuMemoryCheck, WeightsLargerThanTheFreeMemoryDoNotWrapAround) {
    const auto message = gpu_kv_cache_shortfall(10 * kGiB, 1, 8 * kGiB);
    ASSERT_TRUE(message.has_value());
    EXPECT_NE(message->find("0.00 GiB left"), std::string::npos) << *message;
    // One byte over is refused; exactly full is accepted.
    EXPECT_TRUE(gpu_kv_cache_shortfall(kGiB, kGiB + 1, 2 * kGiB).has_value());
    EXPECT_FALSE(gpu_kv_cache_shortfall(kGiB, kGiB, 2 * kGiB).has_value());
}

}  // namespace
}  // namespace llcuda

// One rule for the context run and inspect use (issue 17 #15: inspect estimated 4096 for a
// 2048-context model and refused -c 0).
namespace llcuda {
namespace {

TEST(ContextSize, ZeroIsTheTrainedContextUpTo4096AndInspectAgrees) {
    EXPECT_EQ(context_size_to_use(0, 2048), 2048u);
    EXPECT_EQ(context_size_to_use(0, 131072), 4096u);
    EXPECT_EQ(context_size_to_use(512, 2048), 512u);
    EXPECT_THROW(context_size_to_use(size_t{1} << 21, 2048), Error);
    const auto spec = read_model_spec(GgufFile::from_memory(embedded_model_bytes(), "embedded"));
    EXPECT_EQ(context_size_to_use(0, spec.trained_context), 2048u);
}

TEST(ContextSize, WarnsPastTheTrainedLengthOnly) {
    EXPECT_EQ(context_length_warning(2048, 2048), "");
    EXPECT_EQ(context_length_warning(4096, 0), "");  // a model that does not say
    const auto warning = context_length_warning(8192, 2048);
    EXPECT_NE(warning.find("longer than the 2048 positions"), std::string::npos) << warning;
    EXPECT_NE(warning.find("-c/--ctx-size"), std::string::npos) << warning;
}

}  // namespace
}  // namespace llcuda
