#include "test_paths.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace llcuda::testing {

std::string test_data(const std::string& name) {
    return std::string(LLCUDA_TEST_DATA) + "/" + name;
}

std::optional<std::string> shared_model(const std::string& relative_path) {
    const std::string path = std::string(LLCUDA_SHARED_MODELS) + "/" + relative_path;
    if (!std::filesystem::exists(path)) return std::nullopt;
    return path;
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace llcuda::testing
