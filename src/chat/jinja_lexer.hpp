#pragma once
// Tokens of a Jinja template as Hugging Face renders chat templates: text between tags,
// `{{ expression }}`, `{% statement %}`, comments dropped, with `-` whitespace control and the
// trim_blocks and lstrip_blocks options that transformers' apply_chat_template turns on.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace llcuda::jinja {

enum class TokenKind {
    Text,
    ExpressionStart,  // {{
    ExpressionEnd,    // }}
    StatementStart,   // {%
    StatementEnd,     // %}
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
};

struct Token {
    TokenKind kind;
    std::string text;  // for String: the decoded value
    size_t line = 1;
};

// Throws llcuda::Error naming the line for an unterminated tag, string or comment.
std::vector<Token> tokenize(std::string_view source);

}  // namespace llcuda::jinja
