#include "grammar/structured_output.hpp"

#include <fmt/format.h>

#include "grammar/grammar.hpp"
#include "grammar/json_schema_grammar.hpp"

namespace llcuda::grammar {
namespace {

[[noreturn]] void refuse(const std::string& field, const std::string& message) {
    throw StructuredOutputError(field, message);
}

std::string schema_grammar(const nlohmann::json& format) {
    const std::string field = "response_format.json_schema";
    const auto found = format.find("json_schema");
    if (found == format.end() || !found->is_object())
        refuse(field, "response_format type 'json_schema' needs a 'json_schema' object");
    for (const auto& item : found->items()) {
        const std::string& key = item.key();
        if (key != "name" && key != "schema" && key != "strict" && key != "description")
            refuse(field + "." + key, fmt::format("unknown field '{}' in {}", key, field));
    }
    if (found->contains("name") && !(*found)["name"].is_string())
        refuse(field + ".name", "'name' must be a string");
    // strict false asks for best effort; the schema is enforced all the same (never looser).
    if (found->contains("strict") && !(*found)["strict"].is_boolean())
        refuse(field + ".strict", "'strict' must be true or false");
    const auto schema = found->find("schema");
    if (schema == found->end() || !schema->is_object())
        refuse(field + ".schema", "'json_schema.schema' must be a JSON schema object");
    try {
        return json_schema_to_gbnf(*schema);
    } catch (const Error& error) {
        // UnsupportedSchemaKeyword names the keyword in its message.
        refuse(field + ".schema", error.what());
    }
}

}  // namespace

std::string structured_output_grammar(const nlohmann::json& response_format,
                                      const nlohmann::json& grammar) {
    std::string gbnf;
    if (!response_format.is_null()) {
        if (!response_format.is_object())
            refuse("response_format", "'response_format' must be an object with a 'type'");
        const auto type = response_format.find("type");
        if (type == response_format.end() || !type->is_string())
            refuse("response_format.type",
                   "'response_format.type' must be 'text', 'json_object' or 'json_schema'");
        const std::string name = type->get<std::string>();
        for (const auto& item : response_format.items()) {
            const std::string& key = item.key();
            if (key != "type" && !(key == "json_schema" && name == "json_schema"))
                refuse(
                    "response_format." + key,
                    fmt::format("unknown field '{}' in response_format of type '{}'", key, name));
        }
        if (name == "json_object") {
            gbnf = json_object_gbnf();
        } else if (name == "json_schema") {
            gbnf = schema_grammar(response_format);
        } else if (name != "text") {
            refuse("response_format.type",
                   fmt::format("unknown response_format type '{}' (text, json_object or "
                               "json_schema)",
                               name));
        }
    }
    if (!grammar.is_null()) {
        if (!grammar.is_string() || grammar.get<std::string>().empty())
            refuse("grammar", "'grammar' must be a non-empty GBNF string");
        if (!gbnf.empty())
            refuse("grammar", "give either 'grammar' or a JSON response_format, not both");
        gbnf = grammar.get<std::string>();
        try {
            static_cast<void>(parse_gbnf(gbnf));
        } catch (const Error& error) {
            refuse("grammar", fmt::format("'grammar' does not parse: {}", error.what()));
        }
        return gbnf;
    }
    if (!gbnf.empty()) {
        try {
            static_cast<void>(parse_gbnf(gbnf));
        } catch (const Error& error) {
            refuse("response_format", fmt::format("the schema's grammar does not parse ({}); "
                                                  "please report this schema",
                                                  error.what()));
        }
    }
    return gbnf;
}

}  // namespace llcuda::grammar
