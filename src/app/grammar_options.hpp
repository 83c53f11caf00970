#pragma once
// --grammar-file and --json-schema: generation held to a GBNF grammar or a JSON schema
// (GenerationOptions::grammar), for the commands that generate.
#include <CLI/CLI.hpp>
#include <string>

namespace llcuda {

struct GrammarArguments {
    std::string grammar_file;  // GBNF, llama.cpp's syntax
    std::string json_schema;   // a file, or the schema itself when it starts with '{'
};

void add_grammar_options(CLI::App& command, GrammarArguments& arguments);

// The GBNF the flags ask for ("" for none); throws llcuda::Error naming the flag for a file
// that cannot be read, JSON that does not parse, a schema keyword that cannot be enforced and
// a grammar that does not parse.
std::string grammar_from_arguments(const GrammarArguments& arguments);

}  // namespace llcuda
