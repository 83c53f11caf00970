#pragma once
// Renders a parsed Jinja template against JSON variables, with Python-like values: the
// filters, tests, methods and globals (raise_exception, namespace, range, strftime_now) that
// chat templates use. Errors are llcuda::Error naming the line; raise_exception's message is
// passed on as the template wrote it.
#include <string>

#include "chat/jinja_ast.hpp"

namespace llcuda::jinja {

std::string render(const Body& body, const Json& variables);

// Python's json.dumps (", " and ": " separators, non-ASCII kept), as the tojson filter writes.
std::string to_python_json(const Json& value, int indent = -1);

}  // namespace llcuda::jinja
