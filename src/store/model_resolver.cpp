#include "store/model_resolver.hpp"

#include <fmt/format.h>

#include <filesystem>

#include "core/error.hpp"
#include "store/model_store.hpp"

namespace llcuda {

std::string resolve_model_argument(const std::string& argument, const std::string& store_root) {
    if (argument.empty()) return argument;
    std::error_code error;
    if (std::filesystem::exists(argument, error)) return argument;
    const bool looks_like_path = argument.find(".gguf") != std::string::npos &&
                                 argument.find(':') == std::string::npos &&
                                 (argument.front() == '/' || argument.front() == '.');
    if (!looks_like_path && std::filesystem::exists(store_root, error)) {
        ModelStore store(store_root);
        if (const auto entry = store.find(argument)) {
            store.touch(argument);
            return entry->path;
        }
    }
    throw Error(fmt::format(
        "'{}' is neither a file nor a model in the store ({}); `llcuda models` lists the store, "
        "`llcuda pull OWNER/REPO FILE` adds to it",
        argument, store_root));
}

}  // namespace llcuda
