#pragma once
// The input of `llcuda batch`: one JSON object per line, {"id": ..., "prompt": ..., and any of
// max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, seed, stop}. Every line
// becomes an item: a request, or the error that makes it unusable (bad JSON, a missing prompt,
// a wrong type, an unknown field, a duplicate id), so that one bad line is recorded and the
// rest still run.
#include <cstddef>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llcuda/engine.hpp"

namespace llcuda {

struct BatchItem {
    size_t index = 0;       // position among the input's items
    size_t line = 0;        // 1-based line number in the input
    std::string id;         // the "id" field as text, or "line-N" when it has none
    std::string error;      // empty when the line is a valid request
    nlohmann::json fields;  // the line's object, to hand to another process as it was read
};

// Blank lines are skipped; every other line yields an item.
std::vector<BatchItem> read_batch_input(std::istream& input);

// The request of a valid item: `defaults` for the options the line does not set. Throws
// llcuda::Error for bad values.
BatchRequest make_batch_request(const nlohmann::json& fields, const GenerationOptions& defaults);

}  // namespace llcuda
