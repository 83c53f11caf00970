#pragma once
// JSON schema into GBNF (grammar.hpp), for response_format json_schema and for tool calls
// whose arguments must fit a tool's parameter schema.
//
//   std::string gbnf = llcuda::grammar::json_schema_to_gbnf(schema);
//   llcuda::grammar::Grammar grammar = llcuda::grammar::parse_gbnf(gbnf);
//
// Supported: type (object, array, string, number, integer, boolean, null, and lists of them),
// properties + required (strict: properties in key order, as nlohmann::json sorts them, and
// no others;
// additionalProperties may only be false), enum, const, items, minItems/maxItems, anyOf/oneOf,
// $ref to #/$defs/... or #/definitions/..., minLength/maxLength, nullable, format date,
// time, date-time and uuid; annotations (title, description, default, examples, $schema, $id,
// strict) are ignored. Any other keyword throws UnsupportedSchemaKeyword naming it, so the
// server answers 400 instead of running unconstrained.
//
// The generated text starts at the value (no leading or trailing whitespace), so generation
// can end as soon as the value is complete; whitespace between tokens is bounded.
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.hpp"

namespace llcuda::grammar {

class UnsupportedSchemaKeyword : public Error {
  public:
    explicit UnsupportedSchemaKeyword(const std::string& keyword, const std::string& message)
        : Error(message), keyword_(keyword) {}
    const std::string& keyword() const { return keyword_; }

  private:
    std::string keyword_;
};

// The GBNF of values valid against `schema`; root rule "root". Throws UnsupportedSchemaKeyword
// for keywords it cannot enforce and llcuda::Error for malformed schemas.
std::string json_schema_to_gbnf(const nlohmann::json& schema);

// Several schemas in one grammar (a tool call's arguments, one schema per tool): the rules of
// `schema` alone, the root named `<prefix>root` and every other rule led by `prefix`, without
// the primitive rules they refer to (ws, string, value, ...), which json_primitive_rules()
// gives once for the whole grammar. Throws as json_schema_to_gbnf does.
std::string json_schema_rules(const nlohmann::json& schema, const std::string& prefix);
std::string json_primitive_rules();

// The GBNF of any JSON object (response_format json_object).
std::string json_object_gbnf();

// `text` as a GBNF string literal, quotes included.
std::string gbnf_literal(std::string_view text);

}  // namespace llcuda::grammar
