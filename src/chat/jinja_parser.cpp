#include "chat/jinja_parser.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <utility>

#include "chat/jinja_lexer.hpp"
#include "core/error.hpp"

namespace llcuda::jinja {
namespace {

class Parser {
  public:
    explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

    Body parse() {
        Body body = parse_body({});
        if (peek().kind != TokenKind::End) fail("unexpected tag");
        return body;
    }

  private:
    const Token& peek(size_t ahead = 0) const {
        return tokens_[std::min(index_ + ahead, tokens_.size() - 1)];
    }
    const Token& next() { return tokens_[std::min(index_++, tokens_.size() - 1)]; }

    [[noreturn]] void fail(const std::string& what) const {
        throw Error(fmt::format("chat template, line {}: {}", peek().line, what));
    }

    bool at_operator(std::string_view op) const {
        return peek().kind == TokenKind::Operator && peek().text == op;
    }
    bool at_name(std::string_view name) const {
        return peek().kind == TokenKind::Name && peek().text == name;
    }
    void expect_operator(std::string_view op) {
        if (!at_operator(op)) fail(fmt::format("expected '{}'", op));
        ++index_;
    }
    std::string expect_name() {
        if (peek().kind != TokenKind::Name) fail("expected a name");
        return next().text;
    }
    void expect_statement_end() {
        if (peek().kind != TokenKind::StatementEnd) fail("expected '%}'");
        ++index_;
    }

    // Nodes until a statement whose keyword is in `stops` (left unconsumed) or the end.
    Body parse_body(const std::set<std::string>& stops) {
        DepthGuard guard(*this);
        Body body;
        for (;;) {
            const Token& token = peek();
            if (token.kind == TokenKind::End) {
                for (const auto& stop : stops) {
                    if (stop.starts_with("end")) fail(fmt::format("missing '{{% {} %}}'", stop));
                }
                return body;
            }
            if (token.kind == TokenKind::Text) {
                auto node = make_node(Node::Kind::Text);
                node->line = token.line;
                node->text = next().text;
                body.push_back(std::move(node));
            } else if (token.kind == TokenKind::ExpressionStart) {
                ++index_;
                auto node = make_node(Node::Kind::Output);
                node->line = token.line;
                node->expr = parse_expression();
                if (peek().kind != TokenKind::ExpressionEnd) fail("expected '}}'");
                ++index_;
                body.push_back(std::move(node));
            } else if (token.kind == TokenKind::StatementStart) {
                const Token& keyword = peek(1);
                if (keyword.kind == TokenKind::Name && stops.contains(keyword.text)) return body;
                ++index_;
                auto node = parse_statement();
                if (node) body.push_back(std::move(node));
            } else {
                fail("unexpected token");
            }
        }
    }

    NodePtr parse_statement() {
        const size_t line = peek().line;
        const std::string keyword = expect_name();
        if (keyword == "if") {
            auto node = make_node(Node::Kind::If);
            node->line = line;
            ExprPtr condition = parse_expression();
            for (;;) {
                expect_statement_end();
                Body body = parse_body({"elif", "else", "endif"});
                node->branches.emplace_back(std::move(condition), std::move(body));
                ++index_;  // StatementStart
                const std::string end = expect_name();
                if (end == "elif") {
                    condition = parse_expression();
                    continue;
                }
                if (end == "else") {
                    expect_statement_end();
                    node->else_body = parse_body({"endif"});
                    ++index_;
                    expect_name();
                }
                expect_statement_end();
                return node;
            }
        }
        if (keyword == "for") {
            auto node = make_node(Node::Kind::For);
            node->line = line;
            node->targets.push_back(expect_name());
            while (at_operator(",")) {
                ++index_;
                node->targets.push_back(expect_name());
            }
            if (!at_name("in")) fail("expected 'in'");
            ++index_;
            node->expr = parse_or_conditional(false);
            if (at_name("if")) {
                ++index_;
                node->condition = parse_expression();
            }
            expect_statement_end();
            ++loop_depth_;
            node->body = parse_body({"else", "endfor"});
            --loop_depth_;
            ++index_;
            if (expect_name() == "else") {
                expect_statement_end();
                node->else_body = parse_body({"endfor"});
                ++index_;
                expect_name();
            }
            expect_statement_end();
            return node;
        }
        if (keyword == "set") {
            auto node = make_node(Node::Kind::Set);
            node->line = line;
            node->targets.push_back(expect_name());
            if (at_operator(".")) {
                ++index_;
                node->attribute = expect_name();
            }
            while (node->attribute.empty() && at_operator(",")) {
                ++index_;
                node->targets.push_back(expect_name());
            }
            if (peek().kind == TokenKind::StatementEnd && node->attribute.empty() &&
                node->targets.size() == 1) {
                ++index_;  // {% set name %}body{% endset %}
                node->body = parse_body({"endset"});
                index_ += 2;
                expect_statement_end();
                return node;
            }
            expect_operator("=");
            node->expr = parse_expression();
            if (at_operator(",")) {  // {% set a, b = 1, 2 %}: a tuple
                auto list = make(Expr::Kind::List, line);
                list->items.push_back(std::move(node->expr));
                while (at_operator(",")) {
                    ++index_;
                    list->items.push_back(parse_expression());
                }
                node->expr = std::move(list);
            }
            expect_statement_end();
            return node;
        }
        if (keyword == "macro") {
            auto node = make_node(Node::Kind::Macro);
            node->line = line;
            node->targets.push_back(expect_name());
            expect_operator("(");
            while (!at_operator(")")) {
                node->targets.push_back(expect_name());
                ExprPtr fallback;
                if (at_operator("=")) {
                    ++index_;
                    fallback = parse_expression();
                }
                node->defaults.push_back(std::move(fallback));
                if (!at_operator(",")) break;
                ++index_;
            }
            expect_operator(")");
            expect_statement_end();
            const int outer_loops = std::exchange(loop_depth_, 0);  // a macro is not in a loop
            node->body = parse_body({"endmacro"});
            loop_depth_ = outer_loops;
            index_ += 2;
            expect_statement_end();
            return node;
        }
        if (keyword == "break" || keyword == "continue") {
            if (loop_depth_ == 0) fail(fmt::format("'{{% {} %}}' outside a for loop", keyword));
            auto node = make_node(keyword == "break" ? Node::Kind::Break : Node::Kind::Continue);
            node->line = line;
            expect_statement_end();
            return node;
        }
        if (keyword == "filter") {
            // The body's text goes through the filter as the value of a reserved name.
            auto node = make_node(Node::Kind::FilterBlock);
            node->line = line;
            auto input = make(Expr::Kind::Name, line);
            input->name = kFilterBlockInput;
            auto filter = make(Expr::Kind::Filter, line);
            filter->name = expect_name();
            filter->a = std::move(input);
            if (at_operator("(")) parse_arguments(*filter);
            node->expr = std::move(filter);
            expect_statement_end();
            node->body = parse_body({"endfilter"});
            index_ += 2;
            expect_statement_end();
            return node;
        }
        if (keyword == "generation" || keyword == "endgeneration") {
            // Training-time markers some templates carry; they render nothing.
            expect_statement_end();
            return nullptr;
        }
        fail(fmt::format("'{{% {} %}}' is not supported by llcuda's template engine", keyword));
    }

    static NodePtr make_node(Node::Kind kind) {
        auto node = std::make_unique<Node>();
        node->kind = kind;
        return node;
    }

    ExprPtr make(Expr::Kind kind, size_t line) {
        auto expr = std::make_unique<Expr>();
        expr->kind = kind;
        expr->line = line;
        return expr;
    }

    // A hostile template must not exhaust the stack: nesting is bounded.
    struct DepthGuard {
        explicit DepthGuard(Parser& parser) : parser_(parser) {
            if (++parser_.depth_ > kMaxDepth) parser_.fail("the template nests too deeply");
        }
        ~DepthGuard() { --parser_.depth_; }
        Parser& parser_;
    };
    static constexpr int kMaxDepth = 200;

    ExprPtr parse_expression() {
        DepthGuard guard(*this);
        return parse_or_conditional(true);
    }

    // a if b else c (the else part optional: undefined when false).
    ExprPtr parse_or_conditional(bool allow_conditional) {
        ExprPtr value = parse_or();
        if (!allow_conditional || !at_name("if")) return value;
        const size_t line = peek().line;
        ++index_;
        auto expr = make(Expr::Kind::Conditional, line);
        expr->a = std::move(value);
        expr->b = parse_or();
        if (at_name("else")) {
            ++index_;
            expr->c = parse_or_conditional(true);
        }
        return expr;
    }

    ExprPtr binary(std::string op, ExprPtr left, ExprPtr right, size_t line) {
        auto expr = make(Expr::Kind::Binary, line);
        expr->name = std::move(op);
        expr->a = std::move(left);
        expr->b = std::move(right);
        return expr;
    }

    ExprPtr parse_or() {
        ExprPtr left = parse_and();
        while (at_name("or")) {
            const size_t line = next().line;
            left = binary("or", std::move(left), parse_and(), line);
        }
        return left;
    }

    ExprPtr parse_and() {
        ExprPtr left = parse_not();
        while (at_name("and")) {
            const size_t line = next().line;
            left = binary("and", std::move(left), parse_not(), line);
        }
        return left;
    }

    ExprPtr parse_not() {
        if (at_name("not")) {
            DepthGuard guard(*this);
            const size_t line = next().line;
            auto expr = make(Expr::Kind::Unary, line);
            expr->name = "not";
            expr->a = parse_not();
            return expr;
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        ExprPtr left = parse_add();
        for (;;) {
            const size_t line = peek().line;
            if (peek().kind == TokenKind::Operator &&
                (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
                 peek().text == ">" || peek().text == "<=" || peek().text == ">=")) {
                const std::string op = next().text;
                left = binary(op, std::move(left), parse_add(), line);
            } else if (at_name("in")) {
                ++index_;
                left = binary("in", std::move(left), parse_add(), line);
            } else if (at_name("not") && peek(1).kind == TokenKind::Name && peek(1).text == "in") {
                index_ += 2;
                left = binary("not in", std::move(left), parse_add(), line);
            } else if (at_name("is")) {
                ++index_;
                auto test = make(Expr::Kind::Test, line);
                if (at_name("not")) {
                    ++index_;
                    test->negated = true;
                }
                test->name = expect_name();
                test->a = std::move(left);
                if (at_operator("(")) {
                    parse_arguments(*test);
                } else if (peek().kind == TokenKind::String || peek().kind == TokenKind::Integer ||
                           peek().kind == TokenKind::Name) {
                    if (!at_name("and") && !at_name("or") && !at_name("else") && !at_name("if"))
                        test->items.push_back(parse_add());  // "is equalto 3", "is sameas x"
                }
                left = std::move(test);
            } else {
                return left;
            }
        }
    }

    ExprPtr parse_add() {
        ExprPtr left = parse_concat();
        while (at_operator("+") || at_operator("-")) {
            const size_t line = peek().line;
            const std::string op = next().text;
            left = binary(op, std::move(left), parse_concat(), line);
        }
        return left;
    }

    ExprPtr parse_concat() {
        ExprPtr left = parse_multiply();
        while (at_operator("~")) {
            const size_t line = next().line;
            left = binary("~", std::move(left), parse_multiply(), line);
        }
        return left;
    }

    ExprPtr parse_multiply() {
        ExprPtr left = parse_unary();
        while (at_operator("*") || at_operator("/") || at_operator("//") || at_operator("%")) {
            const size_t line = peek().line;
            const std::string op = next().text;
            left = binary(op, std::move(left), parse_unary(), line);
        }
        return left;
    }

    ExprPtr parse_unary() {
        if (at_operator("-") || at_operator("+")) {
            DepthGuard guard(*this);
            const size_t line = peek().line;
            const std::string op = next().text;
            auto expr = make(Expr::Kind::Unary, line);
            expr->name = op;
            expr->a = parse_unary();
            return expr;
        }
        return parse_filters(parse_postfix(parse_primary()));
    }

    void parse_arguments(Expr& call) {
        expect_operator("(");
        while (!at_operator(")")) {
            if (peek().kind == TokenKind::Name && peek(1).kind == TokenKind::Operator &&
                peek(1).text == "=") {
                std::string key = next().text;
                ++index_;
                call.keyed.emplace_back(std::move(key), parse_expression());
            } else {
                call.items.push_back(parse_expression());
            }
            if (!at_operator(",")) break;
            ++index_;
        }
        expect_operator(")");
    }

    ExprPtr parse_filters(ExprPtr value) {
        while (at_operator("|")) {
            const size_t line = next().line;
            auto filter = make(Expr::Kind::Filter, line);
            filter->name = expect_name();
            filter->a = std::move(value);
            if (at_operator("(")) parse_arguments(*filter);
            value = parse_postfix(std::move(filter));
        }
        return value;
    }

    ExprPtr parse_postfix(ExprPtr value) {
        for (;;) {
            const size_t line = peek().line;
            if (at_operator(".")) {
                ++index_;
                auto expr = make(Expr::Kind::Attribute, line);
                expr->name = expect_name();
                expr->a = std::move(value);
                value = std::move(expr);
            } else if (at_operator("[")) {
                ++index_;
                ExprPtr first = at_operator(":") ? nullptr : parse_expression();
                if (at_operator(":")) {
                    ++index_;
                    auto expr = make(Expr::Kind::Slice, line);
                    expr->a = std::move(value);
                    expr->b = std::move(first);
                    if (!at_operator("]") && !at_operator(":")) expr->c = parse_expression();
                    if (at_operator(":")) {  // a[b:c:step]
                        ++index_;
                        if (!at_operator("]")) expr->items.push_back(parse_expression());
                    }
                    value = std::move(expr);
                } else {
                    auto expr = make(Expr::Kind::Index, line);
                    expr->a = std::move(value);
                    expr->b = std::move(first);
                    value = std::move(expr);
                }
                expect_operator("]");
            } else if (at_operator("(")) {
                auto expr = make(Expr::Kind::Call, line);
                expr->a = std::move(value);
                parse_arguments(*expr);
                value = std::move(expr);
            } else {
                return value;
            }
        }
    }

    ExprPtr parse_primary() {
        const Token& token = peek();
        const size_t line = token.line;
        auto literal = [&](Json value) {
            auto expr = make(Expr::Kind::Literal, line);
            expr->value = std::move(value);
            return expr;
        };
        switch (token.kind) {
            case TokenKind::String: {
                std::string text = next().text;
                while (peek().kind == TokenKind::String) text += next().text;  // 'a' 'b'
                return literal(text);
            }
            case TokenKind::Integer: {
                const std::string text = next().text;
                int64_t value = 0;
                const auto [end, error] =
                    std::from_chars(text.data(), text.data() + text.size(), value);
                if (error != std::errc() || end != text.data() + text.size())
                    fail(fmt::format("the number {} is too large", text));
                return literal(value);
            }
            case TokenKind::Float: {
                const std::string text = next().text;
                const double value = std::strtod(text.c_str(), nullptr);
                if (!std::isfinite(value)) fail(fmt::format("the number {} is too large", text));
                return literal(value);
            }
            case TokenKind::Name: {
                const std::string name = next().text;
                if (name == "true" || name == "True") return literal(true);
                if (name == "false" || name == "False") return literal(false);
                if (name == "none" || name == "None") return literal(nullptr);
                auto expr = make(Expr::Kind::Name, line);
                expr->name = name;
                return expr;
            }
            case TokenKind::Operator:
                if (token.text == "(") {
                    ++index_;
                    ExprPtr inner = parse_expression();
                    if (at_operator(",")) {  // a tuple: treated as a list
                        auto list = make(Expr::Kind::List, line);
                        list->items.push_back(std::move(inner));
                        while (at_operator(",")) {
                            ++index_;
                            if (at_operator(")")) break;
                            list->items.push_back(parse_expression());
                        }
                        inner = std::move(list);
                    }
                    expect_operator(")");
                    return inner;
                }
                if (token.text == "[") {
                    ++index_;
                    auto list = make(Expr::Kind::List, line);
                    while (!at_operator("]")) {
                        list->items.push_back(parse_expression());
                        if (!at_operator(",")) break;
                        ++index_;
                    }
                    expect_operator("]");
                    return list;
                }
                if (token.text == "{") {
                    ++index_;
                    auto dict = make(Expr::Kind::Dict, line);
                    while (!at_operator("}")) {
                        dict->keys.push_back(parse_expression());
                        expect_operator(":");
                        dict->items.push_back(parse_expression());
                        if (!at_operator(",")) break;
                        ++index_;
                    }
                    expect_operator("}");
                    return dict;
                }
                break;
            default:
                break;
        }
        fail(token.kind == TokenKind::ExpressionEnd || token.kind == TokenKind::StatementEnd
                 ? "an expression is missing"
                 : fmt::format("unexpected '{}'", token.text));
    }

    std::vector<Token> tokens_;
    size_t index_ = 0;
    int depth_ = 0;
    int loop_depth_ = 0;  // for loops around the statement being parsed
};

}  // namespace

Body parse_template(std::string_view source) { return Parser(tokenize(source)).parse(); }

}  // namespace llcuda::jinja
