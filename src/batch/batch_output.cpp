#include "batch/batch_output.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/json_text.hpp"
#include "store/atomic_file.hpp"

namespace llcuda {
namespace {

std::string json_line(const nlohmann::json& value) { return json_text(value) + "\n"; }

}  // namespace

nlohmann::json output_id(const BatchItem& item) {
    const auto id = item.fields.is_object() ? item.fields.find("id") : item.fields.end();
    if (item.fields.is_object() && id != item.fields.end() &&
        (id->is_string() || id->is_number_integer()))
        return *id;
    return item.id;
}

BatchOutput::BatchOutput(std::string output_path) : path_(std::move(output_path)) {
    // Checked before any item runs, not found at the final rename after the whole job.
    if (std::filesystem::is_directory(path_))
        throw Error(fmt::format("-o {} is a directory; name the output file", path_));
    load(path_);
    load(journal_path());
    for (const auto& [id, result] : results_) recovered_ += result.value("status", "") == "ok";

    // A run killed while writing may leave half a line: start the next record on a new line.
    bool needs_newline = false;
    if (std::ifstream existing(journal_path(), std::ios::binary | std::ios::ate); existing) {
        const auto size = static_cast<std::streamoff>(existing.tellg());
        if (size > 0) {
            existing.seekg(size - 1);
            needs_newline = existing.get() != '\n';
        }
    }
    journal_ = std::fopen(journal_path().c_str(), "ab");
    if (journal_ == nullptr) {
        throw Error(fmt::format("cannot write {}: {}", journal_path(), std::strerror(errno)));
    }
    if (needs_newline) std::fputc('\n', journal_);
}

BatchOutput::~BatchOutput() {
    if (journal_ != nullptr) std::fclose(journal_);
}

void BatchOutput::load(const std::string& path) {
    std::ifstream input(path);
    std::string line;
    while (std::getline(input, line)) {
        // A torn last line or a stray one is simply not a result; that item runs again.
        const auto result = nlohmann::json::parse(line, nullptr, false);
        if (!result.is_object() || !result.contains("id") || !result.contains("status")) continue;
        const auto& id = result["id"];
        auto& kept = results_[id.is_string() ? id.get<std::string>() : id.dump()];
        // An id given twice has its success and then an "invalid" line for the duplicate: the
        // success stands, or every rerun would run that item again.
        if (kept.is_object() && kept.value("status", "") == "ok" &&
            result.value("status", "") != "ok")
            continue;
        kept = result;
    }
}

bool BatchOutput::succeeded(const std::string& id) const {
    const auto found = results_.find(id);
    return found != results_.end() && found->second.value("status", "") == "ok";
}

void BatchOutput::record(const std::string& id, const nlohmann::json& result) {
    const std::string line = json_line(result);
    if (std::fwrite(line.data(), 1, line.size(), journal_) != line.size() ||
        std::fflush(journal_) != 0) {
        throw Error(fmt::format("cannot append to {}: {}", journal_path(), std::strerror(errno)));
    }
    results_[id] = result;
}

void BatchOutput::finish(const std::vector<BatchItem>& items) {
    std::string content;
    for (const auto& item : items) {
        nlohmann::json result;
        if (!item.error.empty()) {
            result = {{"id", output_id(item)}, {"status", "invalid"}, {"error", item.error}};
        } else if (const auto found = results_.find(item.id); found != results_.end()) {
            result = found->second;
        } else {
            result = {{"id", output_id(item)},
                      {"status", "error"},
                      {"error", "not processed (the run ended before this item)"}};
        }
        content += json_line(result);
    }
    if (journal_ != nullptr) {
        fsync(fileno(journal_));
        std::fclose(journal_);
        journal_ = nullptr;
    }
    write_file_atomically(path_, content);
    std::error_code ignored;
    std::filesystem::remove(journal_path(), ignored);
}

}  // namespace llcuda
