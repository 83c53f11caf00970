#pragma once
// What a ModelSpec says about a model, for people (`inspect`, `run -v`) and for JSON
// (`inspect --json`, bench results): the architecture, its dimensions and which features its
// layers use.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/model_spec.hpp"

namespace llcuda {

// Lines such as "gemma3: 34 layers, dim 2560, 8 heads / 4 KV heads of 256, FFN 10240 (GeGLU)".
std::vector<std::string> spec_summary_lines(const ModelSpec& spec, size_t context_size);
nlohmann::json spec_summary_json(const ModelSpec& spec, size_t context_size);

}  // namespace llcuda
