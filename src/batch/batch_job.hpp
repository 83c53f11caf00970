#pragma once
// One `llcuda batch` run: the input's items, which of them still need to run (a rerun skips
// the ids that already succeeded), their results as they come in, and the totals for the
// summary. A single process and MPI rank 0 both keep one; run_batch_items() does the work on
// an engine with continuous batching.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "batch/batch_input.hpp"
#include "batch/batch_output.hpp"
#include "llcuda/engine.hpp"

namespace llcuda {

struct BatchTotals {
    size_t items = 0, skipped = 0, succeeded = 0, failed = 0, invalid = 0;
    uint64_t prompt_tokens = 0, completion_tokens = 0;
    std::vector<double> time_to_first_token_ms, latency_ms;  // of the items run now
};

// What one item produced, as it travels from the process that ran it to the one that writes.
struct BatchItemResult {
    size_t index = 0;
    nlohmann::json record;  // the output line
    double time_to_first_token_ms = 0, latency_ms = 0;

    nlohmann::json to_json() const;
    static BatchItemResult from_json(const nlohmann::json& value);
};

class BatchJob {
  public:
    BatchJob(const std::string& input_path, const std::string& output_path);

    const BatchItem* take();  // the next item to run; null when all have been handed out
    size_t to_run() const { return to_run_; }
    size_t completed() const { return completed_; }
    void complete(const BatchItemResult& result);
    void finish();  // writes the output in input order
    const BatchTotals& totals() const { return totals_; }
    const std::string& output_path() const { return output_path_; }

    std::function<void(size_t completed, size_t to_run)> on_progress;

  private:
    std::vector<BatchItem> items_;
    std::unique_ptr<BatchOutput> output_;
    std::string output_path_;
    std::deque<size_t> pending_;
    size_t to_run_ = 0;
    size_t completed_ = 0;
    BatchTotals totals_;
};

// Runs items from `take` (null: none now) on the engine with continuous batching and hands each
// result to `done`. `between_steps` runs after every forward pass.
void run_batch_items(Engine& engine, const GenerationOptions& defaults,
                     const std::function<const BatchItem*()>& take,
                     const std::function<void(const BatchItemResult&)>& done,
                     const std::function<void()>& between_steps = {});

}  // namespace llcuda
