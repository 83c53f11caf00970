#pragma once
// What `-m` means everywhere: a path to a GGUF file, or a name in the model store.
#include <string>

namespace llcuda {

// Empty stays empty (the embedded model); an existing file is itself; otherwise the store at
// `store_root` is asked, and an unknown name is an error that says how to get the model.
std::string resolve_model_argument(const std::string& argument, const std::string& store_root);

}  // namespace llcuda
