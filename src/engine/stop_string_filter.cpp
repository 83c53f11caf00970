#include "engine/stop_string_filter.hpp"

#include <algorithm>
#include <utility>

namespace llcuda {

StopStringFilter::StopStringFilter(std::vector<std::string> stop_strings)
    : stop_strings_(std::move(stop_strings)) {
    std::erase_if(stop_strings_, [](const std::string& stop) { return stop.empty(); });
}

std::string StopStringFilter::push(std::string_view text) {
    if (stopped_) return "";
    held_.append(text);
    size_t earliest = std::string::npos;
    for (const auto& stop : stop_strings_) earliest = std::min(earliest, held_.find(stop));
    if (earliest != std::string::npos) {
        stopped_ = true;
        std::string shown = held_.substr(0, earliest);
        held_.clear();
        return shown;
    }
    // Keep the longest tail of the text that is a proper prefix of some stop string.
    size_t keep = 0;
    for (const auto& stop : stop_strings_) {
        for (size_t length = std::min(stop.size() - 1, held_.size()); length > keep; --length) {
            if (held_.compare(held_.size() - length, length, stop, 0, length) == 0) {
                keep = length;
                break;
            }
        }
    }
    std::string shown = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return shown;
}

std::string StopStringFilter::finish() {
    if (stopped_) return "";
    return std::exchange(held_, std::string());
}

}  // namespace llcuda
