#pragma once
// The grammar that holds a reply to tool calls (tool_choice "required" or a named function):
// the call written as the model's family writes it (tool_calls.hpp), the name one of the
// request's functions (or the named one) and the arguments valid against that function's
// `parameters` JSON schema, so the reply always parses into tool_calls.
//
//   Hermes (Qwen):  <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>, "\n" between
//   Llama 3.x:      {"name": "f", "parameters": {...}}, "; " between
//   Mistral:        [TOOL_CALLS][{"name": "f", "arguments": {...}}, ...]  or, where the
//                   template writes [ARGS], [TOOL_CALLS]f[ARGS]{...} repeated
//
// Separators are fixed text (no free whitespace) so a model cannot wander between calls.
#include <nlohmann/json.hpp>
#include <string>

#include "chat/tool_calls.hpp"

namespace llcuda {

struct ToolCallGrammarRequest {
    ToolCallFormat format = ToolCallFormat::None;
    const nlohmann::json* tools = nullptr;  // the request's "tools" list (validated)
    std::string only_function;              // tool_choice names one; empty: any of `tools`
    bool parallel = true;                   // false: exactly one call
    bool mistral_arguments_marker = false;  // the template writes [TOOL_CALLS]name[ARGS]{...}
};

// GBNF (root rule "root"). Throws grammar::StructuredOutputError naming the field: a tool's
// parameters with a schema keyword that cannot be enforced ("tools[1].function.parameters"),
// or a format whose calls cannot be constrained yet ("tool_choice": Gemma's).
std::string tool_call_grammar(const ToolCallGrammarRequest& request);

}  // namespace llcuda
