#include "engine/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"

namespace llcuda {

double percentile(std::vector<double> values, double percent) {
    if (values.empty()) throw Error("percentile of no values");
    if (!(percent >= 0.0 && percent <= 100.0)) throw Error("percentile must be within 0..100");
    std::sort(values.begin(), values.end());
    const double rank = percent / 100.0 * static_cast<double>(values.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(rank));
    const size_t above = std::min(below + 1, values.size() - 1);
    const double fraction = rank - static_cast<double>(below);
    return values[below] + (values[above] - values[below]) * fraction;
}

Summary summarize(const std::vector<double>& values) {
    Summary s;
    s.count = values.size();
    if (values.empty()) return s;
    s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.count);
    double squares = 0;
    for (const double v : values) squares += (v - s.mean) * (v - s.mean);
    s.stddev = s.count > 1 ? std::sqrt(squares / static_cast<double>(s.count - 1)) : 0.0;
    const auto [low, high] = std::minmax_element(values.begin(), values.end());
    s.min = *low;
    s.max = *high;
    s.p50 = percentile(values, 50);
    s.p95 = percentile(values, 95);
    s.p99 = percentile(values, 99);
    return s;
}

}  // namespace llcuda
