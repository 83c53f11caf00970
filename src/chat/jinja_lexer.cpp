#include "chat/jinja_lexer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/error.hpp"

namespace llcuda::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class Lexer {
  public:
    explicit Lexer(std::string_view source) : source_(source) {}

    std::vector<Token> run() {
        bool trim_next_text = false;     // the previous tag ended with "-"
        bool drop_next_newline = false;  // trim_blocks after a statement or comment
        while (position_ < source_.size()) {
            const size_t tag = find_tag(position_);
            std::string text(source_.substr(position_, tag - position_));
            bool starts_line = at_line_start(position_);
            if (drop_next_newline && !text.empty() && text[0] == '\n') {
                text.erase(0, 1);
                starts_line = true;
            }
            if (trim_next_text)
                text.erase(0, std::find_if_not(text.begin(), text.end(), is_space) - text.begin());
            drop_next_newline = trim_next_text = false;
            if (tag == source_.size()) {
                emit_text(text);
                position_ = tag;
                break;
            }
            const char type = source_[tag + 1];
            const bool trim_before = tag + 2 < source_.size() && source_[tag + 2] == '-';
            const bool keep_indent = tag + 2 < source_.size() && source_[tag + 2] == '+';
            if (trim_before) {
                text.erase(std::find_if_not(text.rbegin(), text.rend(), is_space).base(),
                           text.end());
            } else if (type != '{' && !keep_indent) {
                // lstrip_blocks: spaces and tabs between a line's start and a block tag go.
                const size_t line_start = text.find_last_of('\n');
                const size_t from = line_start == std::string::npos ? 0 : line_start + 1;
                const bool only_blanks = text.find_first_not_of(" \t", from) == std::string::npos &&
                                         (line_start != std::string::npos || starts_line);
                if (only_blanks) text.erase(from);
            }
            emit_text(text);
            count_lines(position_, tag);
            position_ = tag + 2 + ((trim_before || keep_indent) ? 1 : 0);
            if (type == '#') {
                const size_t close = source_.find("#}", position_);
                if (close == std::string::npos) fail("a comment is not closed");
                trim_next_text = source_[close - 1] == '-';
                count_lines(position_, close);
                position_ = close + 2;
                drop_next_newline = true;
                continue;
            }
            const bool expression = type == '{';
            tokens_.push_back(
                {expression ? TokenKind::ExpressionStart : TokenKind::StatementStart, "", line_});
            trim_next_text = lex_tag(expression);
            drop_next_newline = !expression;
        }
        tokens_.push_back({TokenKind::End, "", line_});
        return std::move(tokens_);
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(fmt::format("chat template, line {}: {}", line_, what));
    }

    size_t find_tag(size_t from) const {
        for (size_t i = from; i + 1 < source_.size(); ++i) {
            if (source_[i] == '{' &&
                (source_[i + 1] == '{' || source_[i + 1] == '%' || source_[i + 1] == '#'))
                return i;
        }
        return source_.size();
    }

    bool at_line_start(size_t text_start) const {
        return text_start == 0 || source_[text_start - 1] == '\n';
    }

    void count_lines(size_t from, size_t to) {
        line_ += static_cast<size_t>(std::count(source_.begin() + static_cast<long>(from),
                                                source_.begin() + static_cast<long>(to), '\n'));
    }

    void emit_text(const std::string& text) {
        if (!text.empty()) tokens_.push_back({TokenKind::Text, text, line_});
    }

    // Tokens up to the closing delimiter; returns whether it was "-}}" / "-%}".
    bool lex_tag(bool expression) {
        const char closer = expression ? '}' : '%';
        for (;;) {
            while (position_ < source_.size() && is_space(source_[position_])) {
                if (source_[position_] == '\n') ++line_;
                ++position_;
            }
            if (position_ >= source_.size())
                fail(expression ? "'{{' is not closed" : "'{%' is not closed");
            const std::string_view rest = source_.substr(position_);
            const bool trimmed =
                rest.size() >= 3 && rest[0] == '-' && rest[1] == closer && rest[2] == '}';
            if (trimmed || (rest.size() >= 2 && rest[0] == closer && rest[1] == '}')) {
                position_ += trimmed ? 3 : 2;
                tokens_.push_back(
                    {expression ? TokenKind::ExpressionEnd : TokenKind::StatementEnd, "", line_});
                return trimmed;
            }
            const char c = rest[0];
            if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
                size_t end = 1;
                while (end < rest.size() &&
                       (std::isalnum(static_cast<unsigned char>(rest[end])) || rest[end] == '_'))
                    ++end;
                tokens_.push_back({TokenKind::Name, std::string(rest.substr(0, end)), line_});
                position_ += end;
            } else if (std::isdigit(static_cast<unsigned char>(c))) {
                size_t end = 0;
                bool is_float = false;
                while (end < rest.size() &&
                       (std::isdigit(static_cast<unsigned char>(rest[end])) ||
                        (rest[end] == '.' && !is_float && end + 1 < rest.size() &&
                         std::isdigit(static_cast<unsigned char>(rest[end + 1]))))) {
                    is_float |= rest[end] == '.';
                    ++end;
                }
                tokens_.push_back({is_float ? TokenKind::Float : TokenKind::Integer,
                                   std::string(rest.substr(0, end)), line_});
                position_ += end;
            } else if (c == '\'' || c == '"') {
                lex_string(c);
            } else {
                static const char* const kTwo[] = {"==", "!=", "<=", ">=", "//", "**"};
                std::string op(1, c);
                for (const char* two : kTwo)
                    if (rest.substr(0, 2) == two) op = two;
                if (std::string_view("+-*/%~|.,:()[]{}<>=!").find(c) == std::string_view::npos)
                    fail(fmt::format("unexpected character '{}'", c));
                tokens_.push_back({TokenKind::Operator, op, line_});
                position_ += op.size();
            }
        }
    }

    void lex_string(char quote) {
        std::string value;
        size_t i = position_ + 1;
        for (;; ++i) {
            if (i >= source_.size()) fail("a string is not closed");
            const char c = source_[i];
            if (c == quote) break;
            if (c == '\n') ++line_;
            if (c != '\\' || i + 1 >= source_.size()) {
                value += c;
                continue;
            }
            const char escaped = source_[++i];
            switch (escaped) {
                case 'n':
                    value += '\n';
                    break;
                case 't':
                    value += '\t';
                    break;
                case 'r':
                    value += '\r';
                    break;
                case '\\':
                    value += '\\';
                    break;
                case '\'':
                    value += '\'';
                    break;
                case '"':
                    value += '"';
                    break;
                default:
                    value += '\\';
                    value += escaped;
            }
        }
        tokens_.push_back({TokenKind::String, value, line_});
        position_ = i + 1;
    }

    std::string_view source_;
    size_t position_ = 0;
    size_t line_ = 1;
    std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace llcuda::jinja
