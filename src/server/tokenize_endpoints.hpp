#pragma once
// POST /tokenize and POST /detokenize with llama-server's request and response shapes:
// {"content", "add_special" (false), "parse_special" (true), "with_pieces" (false)} ->
// {"tokens": [ids]} or [{"id", "piece"}]; {"tokens": [ids]} -> {"content"}.
#include <nlohmann/json.hpp>

#include "llcuda/engine.hpp"

namespace llcuda {

// Both throw ApiError (400, naming the field) for bodies of the wrong shape.
nlohmann::json tokenize_response(const Engine& engine, const nlohmann::json& body);
nlohmann::json detokenize_response(const Engine& engine, const nlohmann::json& body);

}  // namespace llcuda
