#pragma once
// A horizontal bar chart as a standalone SVG file: one bar per benchmark row, the best one
// highlighted, each labelled with its settings and value (± standard deviation).
#include <string>
#include <vector>

namespace llcuda {

struct ChartBar {
    std::string label;
    double value = 0;
    double spread = 0;  // drawn as a whisker; 0: none
};

// higher_is_better picks which bar is highlighted (tokens/s: higher; latency: lower).
std::string bar_chart_svg(const std::string& title, const std::string& axis_label,
                          const std::vector<ChartBar>& bars, bool higher_is_better);

}  // namespace llcuda
