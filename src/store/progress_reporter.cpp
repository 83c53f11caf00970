#include "store/progress_reporter.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace llcuda {

std::string format_bytes(uint64_t bytes) {
    const double value = static_cast<double>(bytes);
    if (bytes >= (1ull << 30)) return fmt::format("{:.2f} GiB", value / (1ull << 30));
    if (bytes >= (1ull << 20)) return fmt::format("{:.1f} MiB", value / (1ull << 20));
    if (bytes >= (1ull << 10)) return fmt::format("{:.1f} KiB", value / (1ull << 10));
    return fmt::format("{} B", bytes);
}

ProgressReporter::ProgressReporter(std::string label, uint64_t total_bytes, uint64_t already_have,
                                   bool quiet)
    : label_(std::move(label)),
      total_(total_bytes),
      start_bytes_(already_have),
      quiet_(quiet),
      terminal_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressReporter::update(uint64_t bytes_done) {
    if (quiet_) return;
    const auto now = std::chrono::steady_clock::now();
    if (terminal_) {
        if (now - last_draw_ < std::chrono::milliseconds(100)) return;
    } else {
        // Plain output: one line per 10% (or per 10 s when the size is unknown).
        const int decile = total_ > 0 ? static_cast<int>(bytes_done * 10 / total_) : -1;
        if (total_ > 0 ? decile == last_decile_ : now - last_draw_ < std::chrono::seconds(10))
            return;
        last_decile_ = decile;
    }
    last_draw_ = now;
    draw(bytes_done, false);
}

void ProgressReporter::finish(uint64_t bytes_done) {
    if (!quiet_) draw(bytes_done, true);
}

void ProgressReporter::draw(uint64_t bytes_done, bool final) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate =
        seconds > 0 ? static_cast<double>(bytes_done - start_bytes_) / seconds : 0.0;
    std::string eta = "?";
    if (total_ > 0 && rate > 0 && bytes_done <= total_) {
        eta = fmt::format("{:.0f}s", static_cast<double>(total_ - bytes_done) / rate);
    }
    const double fraction =
        total_ > 0 ? static_cast<double>(bytes_done) / static_cast<double>(total_) : 0.0;
    const std::string amounts =
        total_ > 0 ? fmt::format("{} / {}", format_bytes(bytes_done), format_bytes(total_))
                   : format_bytes(bytes_done);
    if (terminal_) {
        const int width = 30;
        const int filled = static_cast<int>(fraction * width);
        std::fprintf(stderr, "\r%s [%s%s] %5.1f%% %s %s/s ETA %s   ", label_.c_str(),
                     std::string(filled, '=').c_str(), std::string(width - filled, ' ').c_str(),
                     fraction * 100, amounts.c_str(),
                     format_bytes(static_cast<uint64_t>(rate)).c_str(), final ? "0s" : eta.c_str());
        if (final) std::fputc('\n', stderr);
    } else {
        std::fprintf(stderr, "%s: %s (%.0f%%) at %s/s%s\n", label_.c_str(), amounts.c_str(),
                     fraction * 100, format_bytes(static_cast<uint64_t>(rate)).c_str(),
                     final ? ", done" : "");
    }
    std::fflush(stderr);
}

}  // namespace llcuda
