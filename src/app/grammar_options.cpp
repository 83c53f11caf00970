#include "app/grammar_options.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "grammar/grammar.hpp"
#include "grammar/json_schema_grammar.hpp"

namespace llcuda {
namespace {

std::string read_file(const std::string& path, const char* flag) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw Error(fmt::format("{}: cannot read '{}'", flag, path));
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

}  // namespace

void add_grammar_options(CLI::App& command, GrammarArguments& arguments) {
    auto* grammar = command.add_option("--grammar-file", arguments.grammar_file,
                                       "Hold the output to this GBNF grammar (llama.cpp's syntax, "
                                       "start rule 'root')");
    command
        .add_option("--json-schema", arguments.json_schema,
                    "Hold the output to JSON valid against this schema: a file, or the schema "
                    "itself when it starts with '{'")
        ->excludes(grammar);
}

std::string grammar_from_arguments(const GrammarArguments& arguments) {
    if (!arguments.grammar_file.empty()) {
        std::string text = read_file(arguments.grammar_file, "--grammar-file");
        try {
            static_cast<void>(grammar::parse_gbnf(text));
        } catch (const Error& error) {
            throw Error(fmt::format("--grammar-file {}: {}", arguments.grammar_file, error.what()));
        }
        return text;
    }
    if (arguments.json_schema.empty()) return "";
    const size_t first = arguments.json_schema.find_first_not_of(" \t\r\n");
    const bool inline_schema = first != std::string::npos && arguments.json_schema[first] == '{';
    const std::string text =
        inline_schema ? arguments.json_schema : read_file(arguments.json_schema, "--json-schema");
    const auto schema = nlohmann::json::parse(text, nullptr, false);
    if (schema.is_discarded() || !schema.is_object())
        throw Error("--json-schema: the schema is not a JSON object");
    try {
        std::string gbnf = grammar::json_schema_to_gbnf(schema);
        static_cast<void>(grammar::parse_gbnf(gbnf));
        return gbnf;
    } catch (const Error& error) {
        throw Error(fmt::format("--json-schema: {}", error.what()));
    }
}

}  // namespace llcuda
