#pragma once
// `llcuda bench --sweep KEY=V1,V2,...`: the grid of settings to measure (every combination of
// every swept key), applied to the benchmark options one row at a time.
#include <string>
#include <utility>
#include <vector>

#include "engine/benchmark.hpp"

namespace llcuda {

struct SweepAxis {
    std::string key;
    std::vector<std::string> values;
};

using SweepPoint = std::vector<std::pair<std::string, std::string>>;  // key, value

// The keys a sweep accepts, for help texts and errors.
const std::vector<std::string>& sweep_keys();

// Parses "KEY=V1,V2,..." specifications; throws llcuda::Error naming an unknown key, an empty
// value list, or a key given twice.
std::vector<SweepAxis> parse_sweep(const std::vector<std::string>& specifications);

// Every combination, the first axis varying slowest. No axes: one empty point.
std::vector<SweepPoint> sweep_grid(const std::vector<SweepAxis>& axes);

// Sets one key on the options; throws llcuda::Error for values the key does not take.
void apply_sweep_setting(BenchmarkOptions& options, const std::string& key,
                         const std::string& value);

}  // namespace llcuda
