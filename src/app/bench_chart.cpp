#include "app/bench_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace llcuda {
namespace {

std::string escaped(const std::string& text) {
    std::string out;
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// A round number at or above `value` for the axis end: 1, 2 or 5 times a power of ten.
double nice_ceiling(double value) {
    if (value <= 0) return 1;
    const double power = std::pow(10.0, std::floor(std::log10(value)));
    for (const double step : {1.0, 2.0, 5.0, 10.0}) {
        if (step * power >= value) return step * power;
    }
    return 10 * power;
}

}  // namespace

std::string bar_chart_svg(const std::string& title, const std::string& axis_label,
                          const std::vector<ChartBar>& bars, bool higher_is_better) {
    constexpr double kLabelWidth = 330, kPlotWidth = 480, kBarHeight = 22, kGap = 8, kTop = 56,
                     kRight = 110;
    const double height = kTop + static_cast<double>(bars.size()) * (kBarHeight + kGap) + 48;
    const double width = kLabelWidth + kPlotWidth + kRight;
    double largest = 0, smallest = 0;
    for (const auto& bar : bars) {
        largest = std::max(largest, bar.value + bar.spread);
        if (bar.value > 0 && (smallest == 0 || bar.value < smallest)) smallest = bar.value;
    }
    // Values over more than two orders of magnitude (CPU against GPU) share a log axis, so
    // that the small ones stay visible.
    const bool log_scale = smallest > 0 && largest / smallest > 100;
    const double low_power = log_scale ? std::floor(std::log10(smallest)) : 0;
    const double high_power = log_scale ? std::ceil(std::log10(largest)) : 0;
    const double axis_end = log_scale ? std::pow(10.0, high_power) : nice_ceiling(largest);
    const auto position = [&](double value) {
        if (!log_scale) return kPlotWidth * value / axis_end;
        if (value <= 0) return 0.0;
        const double fraction = (std::log10(value) - low_power) / (high_power - low_power);
        return kPlotWidth * std::clamp(fraction, 0.0, 1.0);
    };
    size_t best = 0;
    for (size_t i = 1; i < bars.size(); ++i) {
        const bool better =
            higher_is_better ? bars[i].value > bars[best].value : bars[i].value < bars[best].value;
        if (better) best = i;
    }

    std::string svg = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
        "viewBox=\"0 0 {0:.0f} {1:.0f}\" font-family=\"sans-serif\" font-size=\"13\">\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        "<text x=\"{2:.0f}\" y=\"26\" font-size=\"16\" font-weight=\"bold\">{3}</text>\n",
        width, height, 12.0, escaped(title));
    const double bottom = kTop + static_cast<double>(bars.size()) * (kBarHeight + kGap);
    const int ticks = log_scale ? static_cast<int>(high_power - low_power) : 5;
    for (int tick = 0; tick <= ticks; ++tick) {
        const double x = kLabelWidth + kPlotWidth * tick / ticks;
        const double value = log_scale ? std::pow(10.0, low_power + tick) : axis_end * tick / ticks;
        svg += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1:.0f}\" x2=\"{0:.1f}\" y2=\"{2:.0f}\" stroke=\"#ddd\"/>\n"
            "<text x=\"{0:.1f}\" y=\"{3:.0f}\" text-anchor=\"middle\" fill=\"#555\">{4:g}</text>\n",
            x, kTop - 6, bottom, bottom + 16, value);
    }
    svg += fmt::format(
        "<text x=\"{:.0f}\" y=\"{:.0f}\" text-anchor=\"middle\" fill=\"#333\">{}{}</text>\n",
        kLabelWidth + kPlotWidth / 2, bottom + 36, escaped(axis_label),
        log_scale ? " (log scale)" : "");
    for (size_t i = 0; i < bars.size(); ++i) {
        const auto& bar = bars[i];
        const double y = kTop + static_cast<double>(i) * (kBarHeight + kGap);
        const double length = position(bar.value);
        svg += fmt::format(
            "<text x=\"{:.0f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n"
            "<rect x=\"{:.0f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.0f}\" fill=\"{}\"/>\n",
            kLabelWidth - 8, y + kBarHeight * 0.7, escaped(bar.label), kLabelWidth, y, length,
            kBarHeight, i == best ? "#2a7d2e" : "#4a78b5");
        double text_x = kLabelWidth + length + 6;
        if (bar.spread > 0) {
            const double low = kLabelWidth + position(bar.value - bar.spread);
            const double high = kLabelWidth + position(bar.value + bar.spread);
            svg += fmt::format(
                "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#222\"/>\n",
                low, y + kBarHeight / 2, high, y + kBarHeight / 2);
            text_x = std::max(text_x, high + 6);
        }
        const std::string value = bar.spread > 0
                                      ? fmt::format("{:.4g} ± {:.2g}", bar.value, bar.spread)
                                      : fmt::format("{:.4g}", bar.value);
        svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}{}</text>\n", text_x,
                           y + kBarHeight * 0.7, value, i == best ? " (best)" : "");
    }
    svg += "</svg>\n";
    return svg;
}

}  // namespace llcuda
