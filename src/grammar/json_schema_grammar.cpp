// JSON schema into GBNF: one rule per schema node, shared primitive rules, refs by name so
// recursive schemas stay finite.
#include "grammar/json_schema_grammar.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

namespace llcuda::grammar {
namespace {

// Whitespace between tokens: none, one space, or a newline and an indent of at most 20, so
// a model cannot pad forever (llama.cpp bounds it the same way).
constexpr const char* kPrimitiveRules = R"(ws ::= | " " | "\n" [ \t]{0,20}
char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
string ::= "\"" char* "\""
integer ::= "-"? ("0" | [1-9] [0-9]{0,15})
number ::= integer ("." [0-9]+)? ([eE] [-+]? [0-9]+)?
boolean ::= "true" | "false"
null ::= "null"
value ::= object | array | string | number | boolean | null
object ::= "{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"
array ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
)";

const std::set<std::string> kAnnotations = {"title",    "description", "default",   "examples",
                                            "$schema",  "$id",         "strict",    "$comment",
                                            "readOnly", "writeOnly",   "deprecated"};

class SchemaConverter {
  public:
    SchemaConverter(const nlohmann::json& root, std::string prefix)
        : root_(root), prefix_(std::move(prefix)) {}

    // The root rule and the schema's own rules, each name led by the prefix; the primitive
    // rules they use (kPrimitiveRules) are not included.
    std::string convert() {
        std::string root_expression = visit(root_, "root");
        std::string text = fmt::format("{}root ::= {}\n", prefix_, root_expression);
        for (const auto& [name, body] : rules_) text += fmt::format("{} ::= {}\n", name, body);
        return text;
    }

  private:
    [[noreturn]] static void unsupported(const std::string& keyword,
                                         const std::string& detail = "") {
        throw UnsupportedSchemaKeyword(
            keyword, fmt::format("JSON schema keyword '{}' is not supported{}", keyword, detail));
    }

    std::string new_rule(const std::string& hint, const std::string& body) {
        std::string name = fmt::format("{}{}-{}", prefix_, sanitize(hint), rules_.size());
        rules_[name] = body;
        return name;
    }

    static std::string sanitize(const std::string& hint) {
        std::string name;
        for (char c : hint) name += (std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
        return name.empty() ? "node" : name.substr(0, 40);
    }

    static size_t count_keyword(const nlohmann::json& schema, const char* keyword,
                                size_t fallback) {
        if (!schema.contains(keyword)) return fallback;
        const auto& value = schema[keyword];
        if (!value.is_number_unsigned() &&
            !(value.is_number_integer() && value.get<int64_t>() >= 0)) {
            throw Error(fmt::format("JSON schema '{}' must be a non-negative integer", keyword));
        }
        return value.get<size_t>();
    }

    std::string visit(const nlohmann::json& schema, const std::string& hint) {
        if (schema.is_boolean()) {
            if (schema.get<bool>()) return "value";
            throw Error("JSON schema 'false' accepts nothing");
        }
        if (!schema.is_object())
            throw Error(fmt::format("JSON schema at '{}' must be an object", hint));
        static const std::set<std::string> handled = {
            "type",     "properties",  "required",  "additionalProperties",
            "enum",     "const",       "items",     "minItems",
            "maxItems", "anyOf",       "oneOf",     "$ref",
            "$defs",    "definitions", "minLength", "maxLength",
            "nullable", "format"};
        for (const auto& [keyword, value] : schema.items()) {
            if (!handled.contains(keyword) && !kAnnotations.contains(keyword)) unsupported(keyword);
        }
        std::string expression = visit_without_nullable(schema, hint);
        if (schema.value("nullable", false)) return fmt::format("( {} | null )", expression);
        return expression;
    }

    std::string visit_without_nullable(const nlohmann::json& schema, const std::string& hint) {
        if (schema.contains("$ref")) return visit_reference(schema["$ref"]);
        if (schema.contains("const")) return gbnf_literal(schema["const"].dump());
        if (schema.contains("enum")) {
            if (!schema["enum"].is_array() || schema["enum"].empty()) {
                throw Error("JSON schema 'enum' must be a non-empty array");
            }
            std::string body;
            for (const auto& item : schema["enum"]) {
                body += (body.empty() ? "" : " | ") + gbnf_literal(item.dump());
            }
            return new_rule(hint, body);
        }
        for (const char* keyword : {"anyOf", "oneOf"}) {
            if (!schema.contains(keyword)) continue;
            if (!schema[keyword].is_array() || schema[keyword].empty()) {
                throw Error(fmt::format("JSON schema '{}' must be a non-empty array", keyword));
            }
            std::string body;
            size_t index = 0;
            for (const auto& alternative : schema[keyword]) {
                body += (body.empty() ? "" : " | ") +
                        visit(alternative, fmt::format("{}-{}", hint, index++));
            }
            return new_rule(hint, body);
        }
        if (!schema.contains("type")) {
            if (schema.contains("properties")) return visit_typed(schema, "object", hint);
            if (schema.contains("items")) return visit_typed(schema, "array", hint);
            return "value";
        }
        const auto& type = schema["type"];
        if (type.is_string()) return visit_typed(schema, type.get<std::string>(), hint);
        if (!type.is_array() || type.empty())
            throw Error("JSON schema 'type' must be a string or a non-empty list");
        std::string body;
        for (const auto& one : type) {
            if (!one.is_string()) throw Error("JSON schema 'type' list must hold strings");
            body += (body.empty() ? "" : " | ") + visit_typed(schema, one.get<std::string>(), hint);
        }
        return new_rule(hint, body);
    }

    std::string visit_reference(const nlohmann::json& reference) {
        if (!reference.is_string()) throw Error("JSON schema '$ref' must be a string");
        std::string path = reference.get<std::string>();
        auto known = references_.find(path);
        if (known != references_.end()) return known->second;
        const nlohmann::json* target = nullptr;
        for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
            std::string start = prefix;
            if (path.rfind(start, 0) != 0) continue;
            std::string container = start.substr(2, start.size() - 3);
            std::string name = path.substr(start.size());
            if (root_.contains(container) && root_[container].contains(name))
                target = &root_[container][name];
        }
        if (target == nullptr) {
            unsupported(
                "$ref",
                fmt::format(" for '{}' (only #/$defs/NAME and #/definitions/NAME of this schema)",
                            path));
        }
        std::string name = fmt::format("{}ref-{}-{}", prefix_,
                                       sanitize(path.substr(path.rfind('/') + 1)), rules_.size());
        references_[path] = name;
        rules_[name] = "";  // reserved, so a recursive reference finds it
        rules_[name] = visit(*target, name);
        return name;
    }

    std::string visit_typed(const nlohmann::json& schema, const std::string& type,
                            const std::string& hint) {
        if (type == "object") return visit_object(schema, hint);
        if (type == "array") return visit_array(schema, hint);
        if (type == "string") return visit_string(schema, hint);
        if (type == "number" || type == "integer" || type == "boolean" || type == "null")
            return type;
        throw Error(fmt::format("JSON schema type '{}' is not a JSON type", type));
    }

    std::string visit_object(const nlohmann::json& schema, const std::string& hint) {
        if (schema.contains("additionalProperties") && schema["additionalProperties"] != false) {
            unsupported("additionalProperties", " (only false: structured output is strict)");
        }
        if (!schema.contains("properties")) {
            return schema.contains("additionalProperties") ? "\"{\" ws \"}\"" : "object";
        }
        const auto& properties = schema["properties"];
        if (!properties.is_object()) throw Error("JSON schema 'properties' must be an object");
        std::set<std::string> required;
        if (schema.contains("required")) {
            for (const auto& name : schema["required"]) {
                if (!name.is_string() || !properties.contains(name.get<std::string>())) {
                    throw Error(
                        fmt::format("JSON schema 'required' names {} which is not in 'properties'",
                                    name.dump()));
                }
                required.insert(name.get<std::string>());
            }
        }
        std::vector<std::pair<std::string, bool>> members;  // key-value rule, required
        for (const auto& [name, property] : properties.items()) {
            std::string value = visit(property, hint + "-" + name);
            members.emplace_back(
                new_rule(hint + "-" + name + "-kv",
                         fmt::format("{} ws \":\" ws {} ws",
                                     gbnf_literal(nlohmann::json(name).dump()), value)),
                required.contains(name));
        }
        // Properties in order: rest[i][comma] matches members i.. where `comma` says whether one
        // was written before (so a comma must precede the next), with optional ones skippable.
        std::string after[2] = {"", ""};
        for (size_t i = members.size(); i-- > 0;) {
            std::string next[2];
            for (int comma = 0; comma < 2; ++comma) {
                std::string take = fmt::format("{}{} {}", comma ? "\",\" ws " : "",
                                               members[i].first, after[1].empty() ? "" : after[1]);
                std::string body = members[i].second
                                       ? take
                                       : fmt::format("{} | {}", take,
                                                     after[comma].empty() ? "\"\"" : after[comma]);
                next[comma] = new_rule(hint + "-rest", body);
            }
            after[0] = next[0];
            after[1] = next[1];
        }
        return new_rule(hint, fmt::format("\"{{\" ws {} \"}}\"", after[0]));
    }

    std::string visit_array(const nlohmann::json& schema, const std::string& hint) {
        std::string item =
            schema.contains("items") ? visit(schema["items"], hint + "-item") : "value";
        size_t min = count_keyword(schema, "minItems", 0);
        size_t max = count_keyword(schema, "maxItems", SIZE_MAX);
        if (max < min) throw Error("JSON schema 'maxItems' is below 'minItems'");
        if (max == 0) return "\"[\" ws \"]\"";
        std::string more = max == SIZE_MAX
                               ? fmt::format("{{{},}}", min == 0 ? 0 : min - 1)
                               : fmt::format("{{{},{}}}", min == 0 ? 0 : min - 1, max - 1);
        std::string items = fmt::format("{} ws ( \",\" ws {} ws ){}", item, item, more);
        return new_rule(hint,
                        fmt::format("\"[\" ws {} \"]\"", min == 0 ? "( " + items + " )?" : items));
    }

    std::string visit_string(const nlohmann::json& schema, const std::string& hint) {
        if (schema.contains("format")) {
            static const std::map<std::string, std::string> formats = {
                {"date", R"([0-9]{4} "-" [0-9]{2} "-" [0-9]{2})"},
                {"time",
                 R"([0-9]{2} ":" [0-9]{2} ":" [0-9]{2} ("." [0-9]{1,9})? ("Z" | [+-] [0-9]{2} ":" [0-9]{2}))"},
                {"date-time",
                 R"([0-9]{4} "-" [0-9]{2} "-" [0-9]{2} "T" [0-9]{2} ":" [0-9]{2} ":" [0-9]{2} ("." [0-9]{1,9})? ("Z" | [+-] [0-9]{2} ":" [0-9]{2}))"},
                {"uuid",
                 R"([0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12})"}};
            std::string format =
                schema["format"].is_string() ? schema["format"].get<std::string>() : "";
            auto found = formats.find(format);
            if (found == formats.end())
                unsupported("format",
                            fmt::format(" for '{}' (date, time, date-time, uuid are)", format));
            return new_rule(hint, fmt::format("\"\\\"\" {} \"\\\"\"", found->second));
        }
        size_t min = count_keyword(schema, "minLength", 0);
        size_t max = count_keyword(schema, "maxLength", SIZE_MAX);
        if (max < min) throw Error("JSON schema 'maxLength' is below 'minLength'");
        if (min == 0 && max == SIZE_MAX) return "string";
        std::string count =
            max == SIZE_MAX ? fmt::format("{{{},}}", min) : fmt::format("{{{},{}}}", min, max);
        return new_rule(hint, fmt::format("\"\\\"\" char{} \"\\\"\"", count));
    }

    const nlohmann::json& root_;
    const std::string prefix_;
    std::map<std::string, std::string> rules_;
    std::map<std::string, std::string> references_;
};

}  // namespace

std::string gbnf_literal(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7F) {
            out += fmt::format("\\x{:02X}", byte);
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_schema_to_gbnf(const nlohmann::json& schema) {
    return SchemaConverter(schema, "").convert() + kPrimitiveRules;
}

std::string json_schema_rules(const nlohmann::json& schema, const std::string& prefix) {
    return SchemaConverter(schema, prefix).convert();
}

std::string json_primitive_rules() { return kPrimitiveRules; }

std::string json_object_gbnf() { return std::string("root ::= object\n") + kPrimitiveRules; }

}  // namespace llcuda::grammar
