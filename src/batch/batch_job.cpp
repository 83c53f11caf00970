#include "batch/batch_job.hpp"

#include <fmt/format.h>

#include <fstream>

#include "core/error.hpp"

namespace llcuda {

nlohmann::json BatchItemResult::to_json() const {
    return {{"index", index},
            {"record", record},
            {"ttft_ms", time_to_first_token_ms},
            {"latency_ms", latency_ms}};
}

BatchItemResult BatchItemResult::from_json(const nlohmann::json& value) {
    BatchItemResult result;
    result.index = value.at("index").get<size_t>();
    result.record = value.at("record");
    result.time_to_first_token_ms = value.at("ttft_ms").get<double>();
    result.latency_ms = value.at("latency_ms").get<double>();
    return result;
}

BatchJob::BatchJob(const std::string& input_path, const std::string& output_path)
    : output_path_(output_path) {
    if (input_path == output_path)
        throw Error("the output must be another file than the input (-o names the input)");
    std::ifstream input(input_path);
    if (!input) throw Error(fmt::format("cannot read {}", input_path));
    items_ = read_batch_input(input);
    output_ = std::make_unique<BatchOutput>(output_path);
    totals_.items = items_.size();
    for (const auto& item : items_) {
        if (!item.error.empty()) {
            ++totals_.invalid;
        } else if (output_->succeeded(item.id)) {
            ++totals_.skipped;
        } else {
            pending_.push_back(item.index);
        }
    }
    to_run_ = pending_.size();
}

const BatchItem* BatchJob::take() {
    if (pending_.empty()) return nullptr;
    const size_t index = pending_.front();
    pending_.pop_front();
    return &items_[index];
}

void BatchJob::complete(const BatchItemResult& result) {
    if (result.index >= items_.size()) throw Error("a result for an item that does not exist");
    const auto& record = result.record;
    output_->record(items_[result.index].id, record);
    if (record.value("status", "") == "ok") {
        ++totals_.succeeded;
        totals_.prompt_tokens += record.value("prompt_tokens", uint64_t{0});
        totals_.completion_tokens += record.value("completion_tokens", uint64_t{0});
        totals_.time_to_first_token_ms.push_back(result.time_to_first_token_ms);
        totals_.latency_ms.push_back(result.latency_ms);
    } else {
        ++totals_.failed;
    }
    ++completed_;
    if (on_progress) on_progress(completed_, to_run_);
}

void BatchJob::finish() { output_->finish(items_); }

void run_batch_items(Engine& engine, const GenerationOptions& defaults,
                     const std::function<const BatchItem*()>& take,
                     const std::function<void(const BatchItemResult&)>& done,
                     const std::function<void()>& between_steps) {
    std::vector<const BatchItem*> running(1);
    engine.generate_batch(
        [&](BatchRequest& request) {
            const BatchItem* item = take();
            if (item == nullptr) return false;
            request = make_batch_request(item->fields, defaults);
            request.tag = running.size();
            running.push_back(item);
            return true;
        },
        [&](const BatchRequest& request, GenerationResult&& generated, std::exception_ptr error) {
            const BatchItem& item = *running.at(request.tag);
            BatchItemResult result;
            result.index = item.index;
            result.record = {{"id", output_id(item)}};
            if (error) {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& failure) {
                    result.record["status"] = "error";
                    result.record["error"] = failure.what();
                }
            } else {
                result.record["status"] = "ok";
                result.record["text"] = generated.text;
                result.record["finish_reason"] = generated.finish_reason;
                result.record["prompt_tokens"] = generated.prompt_tokens.size();
                result.record["completion_tokens"] = generated.tokens.size();
                result.time_to_first_token_ms = generated.time_to_first_token_ms;
                result.latency_ms =
                    generated.time_to_first_token_ms + generated.decode_seconds * 1000.0;
            }
            done(result);
        },
        between_steps);
}

}  // namespace llcuda
