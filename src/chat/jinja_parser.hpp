#pragma once
// Parses a Jinja template (the subset real chat templates use: if/elif/else, for with loop
// variables and else, set including namespace attributes, expressions with filters, tests,
// calls, slices and inline if-else) into a tree. Unsupported tags are errors naming them.
#include <string_view>

#include "chat/jinja_ast.hpp"

namespace llcuda::jinja {

Body parse_template(std::string_view source);

}  // namespace llcuda::jinja
