#pragma once
// Writes that are all-or-nothing: a temporary file in the same directory, flushed to disk,
// then renamed over the destination.
#include <string>
#include <string_view>

namespace llcuda {

void write_file_atomically(const std::string& path, std::string_view content);
// Moves a finished temporary file into place (rename, or copy + rename across filesystems).
void move_file_atomically(const std::string& from, const std::string& to);

}  // namespace llcuda
