#pragma once
// Requests of every kind (greedy, seeded sampling, stop strings, short and long prompts) for
// the continuous-batching tests on the CPU and the GPU, and a driver that runs them through
// Engine::generate_batch().
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "llcuda/engine.hpp"

namespace llcuda::testing {

struct Outcome {
    GenerationResult result;
    std::string error;
};

inline std::vector<BatchRequest> mixed_requests() {
    const std::vector<std::string> prompts = {
        "Once upon a time",
        "",
        "The little dog ran to the park and saw a big red ball. He wanted to play with it, so",
        "Lily",
        "One day, a girl named Sue went to the store with her mom.",
        "Tom and his friend",
        "The sun was hot.",
        "A cat sat",
        "Once upon a time, there was a tiny bird who could not fly. Every day it watched the other "
        "birds",
        "Ben had a toy car"};
    std::vector<BatchRequest> requests;
    for (size_t i = 0; i < prompts.size(); ++i) {
        BatchRequest request;
        request.prompt = prompts[i];
        request.tag = i;
        request.options.max_tokens = 20 + 13 * (i % 4);
        if (i % 3 == 1) {  // seeded sampling: reproducible per request
            request.options.sampling.temperature = 0.9f;
            request.options.sampling.seed = 100 + i;
        } else {
            request.options.sampling.temperature = 0.0f;
        }
        if (i == 5) request.options.stop = {"."};
        requests.push_back(request);
    }
    return requests;
}

inline std::map<uint64_t, Outcome> run_batched(Engine& engine,
                                               const std::vector<BatchRequest>& requests,
                                               size_t* most_running = nullptr) {
    std::map<uint64_t, Outcome> outcomes;
    size_t next_index = 0, running = 0;
    engine.generate_batch(
        [&](BatchRequest& request) {
            if (next_index == requests.size()) return false;
            request = requests[next_index++];
            ++running;
            if (most_running) *most_running = std::max(*most_running, running);
            return true;
        },
        [&](const BatchRequest& request, GenerationResult&& result, std::exception_ptr error) {
            --running;
            auto& outcome = outcomes[request.tag];
            outcome.result = std::move(result);
            if (error) {
                try {
                    std::rethrow_exception(error);
                } catch (const Error& e) {
                    outcome.error = e.what();
                }
            }
        });
    return outcomes;
}

}  // namespace llcuda::testing
