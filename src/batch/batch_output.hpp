#pragma once
// Where `llcuda batch` keeps its results so that an interrupted run loses nothing: each result
// is appended to a journal (OUTPUT.partial) and flushed as soon as it exists; at the end the
// output is written in input order, all at once, and the journal removed. A rerun reads both
// files and skips every id that already succeeded (failed ones are tried again).
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "batch/batch_input.hpp"

namespace llcuda {

class BatchOutput {
  public:
    explicit BatchOutput(std::string output_path);
    ~BatchOutput();
    BatchOutput(const BatchOutput&) = delete;
    BatchOutput& operator=(const BatchOutput&) = delete;

    bool succeeded(const std::string& id) const;
    size_t recovered() const { return recovered_; }  // successes read from an earlier run

    // Appends one result ({"id", "status", ...}) to the journal and flushes it.
    void record(const std::string& id, const nlohmann::json& result);

    // Writes the output: for each item in order its result, or an "invalid" record with the
    // item's error; then removes the journal.
    void finish(const std::vector<BatchItem>& items);

    std::string journal_path() const { return path_ + ".partial"; }

  private:
    void load(const std::string& path);

    std::string path_;
    std::map<std::string, nlohmann::json> results_;
    size_t recovered_ = 0;
    std::FILE* journal_ = nullptr;
};

// The id as written in the output: the input's own value (string or number), or "line-N".
nlohmann::json output_id(const BatchItem& item);

}  // namespace llcuda
