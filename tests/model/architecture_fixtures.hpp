#pragma once
// The architecture fixtures of ../shared/models/arch: tiny random-weight models made by Hugging
// Face transformers and converted by llama.cpp's converter, with transformers' float32 logits
// (top 10 per position, log-sum-exp) and greedy continuations in reference.json.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backend/cpu/thread_pool.hpp"
#include "model/decoder.hpp"
#include "model/kv_cache.hpp"
#include "test_paths.hpp"

namespace llcuda::testing {

inline const std::vector<std::string>& architecture_fixture_names() {
    static const std::vector<std::string> names{"llama3-tiny", "qwen2-tiny", "qwen3-tiny",
                                                "gemma3-tiny"};
    return names;
}

// A test name from a fixture name ("llama3-tiny" -> "llama3_tiny": gtest names have no '-').
struct FixtureTestName {
    template <typename Info>
    std::string operator()(const Info& info) const {
        std::string name = info.param;
        std::replace(name.begin(), name.end(), '-', '_');
        return name;
    }
};

struct ReferencePosition {
    std::vector<int32_t> top_ids;
    std::vector<float> top_logits;
    float logsumexp = 0.0f;
};

struct ReferencePrompt {
    std::vector<int32_t> ids;
    std::vector<ReferencePosition> positions;  // one per id: the logits of the next token
    std::vector<int32_t> greedy;
    std::vector<float> greedy_margins;
    // Greedy tokens two correct engines must agree on: those before the first step whose top-1
    // margin is under `margin` (below it, rounding may pick the runner-up).
    size_t certain_greedy_steps(float margin) const {
        size_t steps = 0;
        while (steps < greedy.size() && greedy_margins[steps] >= margin) ++steps;
        return steps;
    }
};

inline std::optional<std::string> architecture_fixture(const std::string& name) {
    return shared_model("arch/" + name + ".gguf");
}

inline std::vector<ReferencePrompt> reference_prompts(const std::string& name) {
    const auto path = shared_model("arch/reference.json");
    if (!path) return {};
    const auto reference = nlohmann::json::parse(read_text_file(*path));
    std::vector<ReferencePrompt> prompts;
    for (const auto& dev : reference.at(name).at("dev")) {
        ReferencePrompt prompt;
        prompt.ids = dev.at("ids").get<std::vector<int32_t>>();
        for (const auto& position : dev.at("positions")) {
            prompt.positions.push_back({position.at("top_ids").get<std::vector<int32_t>>(),
                                        position.at("top_logits").get<std::vector<float>>(),
                                        position.at("logsumexp").get<float>()});
        }
        prompt.greedy = dev.at("greedy").get<std::vector<int32_t>>();
        prompt.greedy_margins = dev.at("greedy_margins").get<std::vector<float>>();
        prompts.push_back(std::move(prompt));
    }
    return prompts;
}

// The CPU reference decoder's logits for every position of `ids`, in one batch: [ids][vocab].
inline std::vector<float> reference_logits_at_every_position(const Decoder& model,
                                                             const std::vector<int32_t>& ids,
                                                             ThreadPool& pool,
                                                             DType kv_type = DType::F32) {
    KvCache cache(model.spec(), ids.size() + 32, model.spec().layer_count, 1, kv_type);
    TokenBatch batch;
    for (size_t i = 0; i < ids.size(); ++i) batch.add(ids[i], 0, i, true);
    std::vector<float> logits;
    model.forward(batch, cache, pool, logits);
    return logits;
}

// log(sum(exp(logits))) computed in double.
inline double log_sum_exp(const float* logits, size_t size) {
    double largest = logits[0];
    for (size_t i = 1; i < size; ++i) largest = std::max<double>(largest, logits[i]);
    double sum = 0.0;
    for (size_t i = 0; i < size; ++i) sum += std::exp(static_cast<double>(logits[i]) - largest);
    return largest + std::log(sum);
}

}  // namespace llcuda::testing
