#pragma once
// The grammar a request asks for, from OpenAI's response_format or llama.cpp's grammar field
// (the server, batch lines): response_format {"type": "text" | "json_object" | "json_schema",
// "json_schema": {"name", "schema", "strict", "description"}}, grammar: GBNF text. Every
// problem is a StructuredOutputError naming the field, so the caller answers with a 400
// instead of generating unconstrained.
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.hpp"

namespace llcuda::grammar {

class StructuredOutputError : public Error {
  public:
    StructuredOutputError(std::string field, const std::string& message)
        : Error(message), field_(std::move(field)) {}
    const std::string& field() const { return field_; }  // "response_format.json_schema.schema"

  private:
    std::string field_;
};

// The GBNF for a request's response_format and grammar (either may be null or absent); empty
// for none or type "text". The GBNF returned parses.
std::string structured_output_grammar(const nlohmann::json& response_format,
                                      const nlohmann::json& grammar);

}  // namespace llcuda::grammar
