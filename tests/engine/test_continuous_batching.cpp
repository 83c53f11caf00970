// Continuous batching on stories260K: requests run together (prompt chunks mixed with decode
// steps, slots reused) give exactly what each gives alone, errors and cancellations stay with
// their own request, and the results come back tagged.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "batch_test_support.hpp"
#include "core/error.hpp"
#include "core/gguf/gguf_writer.hpp"
#include "engine/embedded_model.hpp"
#include "llcuda/engine.hpp"
#include "model/model_quantizer.hpp"

namespace llcuda {
namespace {

using testing::mixed_requests;
using testing::run_batched;

EngineOptions options_with(size_t parallel, size_t batch_size) {
    EngineOptions options;
    options.threads = 2;
    options.context_size = 256;
    options.parallel = parallel;
    options.batch_size = batch_size;
    return options;
}

TEST(ContinuousBatching, EachRequestGetsWhatItGetsAlone) {
    const auto requests = mixed_requests();
    Engine alone_engine(options_with(1, 0));
    std::vector<GenerationResult> alone;
    for (const auto& request : requests)
        alone.push_back(alone_engine.generate(request.prompt, request.options));

    // 4 slots for 10 requests, and steps of 7 tokens: long prompts enter in chunks while other
    // sequences decode, and slots are reused.
    Engine engine(options_with(4, 7));
    size_t most_running = 0;
    const auto outcomes = run_batched(engine, requests, &most_running);
    EXPECT_EQ(most_running, 4u);
    ASSERT_EQ(outcomes.size(), requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
        const auto& outcome = outcomes.at(i);
        EXPECT_EQ(outcome.error, "") << i;
        EXPECT_EQ(outcome.result.prompt_tokens, alone[i].prompt_tokens) << i;
        EXPECT_EQ(outcome.result.tokens, alone[i].tokens) << i;
        EXPECT_EQ(outcome.result.text, alone[i].text) << i;
        EXPECT_EQ(outcome.result.finish_reason, alone[i].finish_reason) << i;
        EXPECT_FALSE(outcome.result.tokens.empty()) << i;
    }
    EXPECT_EQ(outcomes.at(5).result.finish_reason, "stop");
}

// The same with Q8_0 weights, whose dot products sum block by block: the batched CPU matmul
// must add in the single-token order for the texts to match.
TEST(ContinuousBatching, QuantizedWeightsGiveTheSameTextInABatch) {
    const auto source = GgufFile::from_memory(embedded_model_bytes(), "embedded");
    GgufWriter writer;
    quantize_model(source, DType::Q8_0, writer);
    const auto path =
        std::filesystem::temp_directory_path() / fmt::format("llcuda_batch_q8_{}.gguf", getpid());
    writer.write(path.string());
    auto requests = mixed_requests();
    auto options = options_with(1, 0);
    options.model_path = path.string();
    Engine alone_engine(options);
    options.parallel = 5;
    options.batch_size = 9;
    Engine engine(options);
    const auto outcomes = run_batched(engine, requests);
    std::filesystem::remove(path);
    for (size_t i = 0; i < requests.size(); ++i) {
        const auto alone = alone_engine.generate(requests[i].prompt, requests[i].options);
        EXPECT_EQ(outcomes.at(i).result.tokens, alone.tokens) << i;
    }
}

TEST(ContinuousBatching, ABadRequestFailsAloneAndCancellationEndsOnlyItsRequest) {
    auto requests = mixed_requests();
    requests.resize(4);
    requests[1].prompt = std::string(3000, 'x');  // longer than the 256-token context
    size_t checks = 0;
    requests[2].options.max_tokens = 100;
    requests[2].options.should_stop = [&checks] { return ++checks > 5; };
    Engine engine(options_with(3, 0));
    const auto outcomes = run_batched(engine, requests);
    ASSERT_EQ(outcomes.size(), 4u);
    EXPECT_NE(outcomes.at(1).error.find("context"), std::string::npos) << outcomes.at(1).error;
    EXPECT_EQ(outcomes.at(2).result.finish_reason, "cancelled");
    EXPECT_LT(outcomes.at(2).result.tokens.size(), 10u);
    for (const uint64_t ok : {0u, 3u}) {
        EXPECT_EQ(outcomes.at(ok).error, "");
        EXPECT_EQ(outcomes.at(ok).result.finish_reason, "length");
    }
}

TEST(ContinuousBatching, NoRequestsReturnsAtOnceAndParallelIsValidated) {
    Engine engine(options_with(2, 0));
    size_t done = 0;
    engine.generate_batch(
        [](BatchRequest&) { return false; },
        [&](const BatchRequest&, GenerationResult&&, std::exception_ptr) { ++done; });
    EXPECT_EQ(done, 0u);
    EXPECT_EQ(engine.summary().parallel, 2u);
    EXPECT_THROW(Engine(options_with(0, 0)), Error);
}

}  // namespace
}  // namespace llcuda
