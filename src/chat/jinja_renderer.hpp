#pragma once
// Renders a parsed Jinja template against JSON variables, with Python-like values: the
// filters, tests, methods and globals (raise_exception, namespace, range, strftime_now) that
// chat templates use. Errors are llcuda::Error naming the line; raise_exception's message is
// passed on as the template wrote it.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "chat/jinja_ast.hpp"

namespace llcuda::jinja {

// Templates are untrusted (they come inside model files), and nested loops multiply: every
// render has a total budget of steps (a node rendered, an expression evaluated, a loop turn)
// and of time, and fails naming both when it runs past either. A real chat template renders
// a long conversation in well under 100000 steps and a millisecond.
struct RenderBudget {
    uint64_t max_steps = 5'000'000;  // about half a second of rendering
    std::chrono::milliseconds max_time{2000};
};

std::string render(const Body& body, const Json& variables, const RenderBudget& budget = {});

// Python's json.dumps options, as transformers' tojson filter passes them (its defaults:
// non-ASCII kept, ", " and ": " separators, "," with an indent).
struct JsonOptions {
    int indent = -1;  // none
    bool ensure_ascii = false;
    bool sort_keys = false;
    std::optional<std::string> item_separator, key_separator;
};

std::string to_python_json(const Json& value, const JsonOptions& options);

}  // namespace llcuda::jinja
