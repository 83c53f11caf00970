#pragma once
// Summary statistics of repeated measurements: mean, sample standard deviation and percentiles
// (linear interpolation between the closest ranks, as numpy's default).
#include <cstddef>
#include <vector>

namespace llcuda {

struct Summary {
    size_t count = 0;
    double mean = 0, stddev = 0, min = 0, max = 0, p50 = 0, p95 = 0, p99 = 0;
};

double percentile(std::vector<double> values, double percent);  // percent in [0, 100]
Summary summarize(const std::vector<double>& values);

}  // namespace llcuda
