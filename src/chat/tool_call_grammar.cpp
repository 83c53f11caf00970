#include "chat/tool_call_grammar.hpp"

#include <fmt/format.h>

#include "grammar/json_schema_grammar.hpp"
#include "grammar/structured_output.hpp"

namespace llcuda {
namespace {

using grammar::gbnf_literal;
using nlohmann::json;

[[noreturn]] void refuse(const std::string& field, const std::string& message) {
    throw grammar::StructuredOutputError(field, message);
}

// Rules "tool<i>-root" for the arguments of tool i; OpenAI: no `parameters` is a function
// that takes none.
std::string arguments_rules(const json& function, size_t index) {
    const std::string prefix = fmt::format("tool{}-", index);
    const auto parameters = function.find("parameters");
    if (parameters == function.end() || parameters->is_null())
        return fmt::format("{}root ::= \"{{}}\"\n", prefix);
    const std::string field = fmt::format("tools[{}].function.parameters", index);
    if (!parameters->is_object())
        refuse(field, "a tool's 'parameters' must be a JSON schema object");
    try {
        return grammar::json_schema_rules(*parameters, prefix);
    } catch (const Error& error) {
        // UnsupportedSchemaKeyword names the keyword in its message.
        refuse(field, fmt::format("{} (tool_choice \"required\" or a named function holds the "
                                  "arguments to the tool's schema)",
                                  error.what()));
    }
}

// One call of tool i as the format writes it.
std::string call_expression(ToolCallFormat format, bool arguments_marker, const std::string& name,
                            size_t index) {
    const std::string arguments = fmt::format("tool{}-root", index);
    if (format == ToolCallFormat::Mistral && arguments_marker)
        return fmt::format("{} {}", gbnf_literal(name + "[ARGS]"), arguments);
    const char* key = format == ToolCallFormat::Llama3 ? "parameters" : "arguments";
    return fmt::format(
        "{} {} \"}}\"",
        gbnf_literal(fmt::format("{{\"name\": {}, \"{}\": ", json(name).dump(), key)), arguments);
}

}  // namespace

std::string tool_call_grammar(const ToolCallGrammarRequest& request) {
    if (request.format == ToolCallFormat::Gemma || request.format == ToolCallFormat::None)
        refuse("tool_choice",
               fmt::format("tool_choice \"required\" or a named function cannot constrain the {} "
                           "tool-call format yet; use \"auto\"",
                           tool_call_format_name(request.format)));
    std::string rules, calls;
    const json& tools = *request.tools;
    for (size_t i = 0; i < tools.size(); ++i) {
        const json& function = tools[i]["function"];
        const std::string name = function["name"].get<std::string>();
        if (!request.only_function.empty() && name != request.only_function) continue;
        rules += arguments_rules(function, i);
        calls += (calls.empty() ? "" : " | ") +
                 call_expression(request.format, request.mistral_arguments_marker, name, i);
    }
    // A call, then (parallel) more after the format's separator.
    std::string first, more;
    switch (request.format) {
        case ToolCallFormat::Hermes:
            first = "\"<tool_call>\\n\" call \"\\n</tool_call>\"";
            more = "\"\\n\" " + first;
            break;
        case ToolCallFormat::Llama3:
            first = "call";
            more = "\"; \" call";
            break;
        case ToolCallFormat::Mistral:
            if (request.mistral_arguments_marker) {
                first = "\"[TOOL_CALLS]\" call";
                more = first;
            } else {
                first = "\"[TOOL_CALLS][\" call";
                more = "\", \" call";
            }
            break;
        default:
            break;
    }
    std::string root = request.parallel ? fmt::format("{} ( {} )*", first, more) : first;
    if (request.format == ToolCallFormat::Mistral && !request.mistral_arguments_marker)
        root += " \"]\"";
    return fmt::format("root ::= {}\ncall ::= {}\n{}{}", root, calls, rules,
                       grammar::json_primitive_rules());
}

}  // namespace llcuda
