#pragma once
// Where the tests find their data: tests/data in the repository, and the optional shared
// model folder beside it (tests that need it skip when it is absent).
#include <optional>
#include <string>

namespace llcuda::testing {

std::string test_data(const std::string& name);
std::optional<std::string> shared_model(const std::string& relative_path);
std::string read_text_file(const std::string& path);

}  // namespace llcuda::testing
