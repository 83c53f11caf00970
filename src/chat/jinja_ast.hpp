#pragma once
// The parsed form of a Jinja template: expressions and statements as trees.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace llcuda::jinja {

using Json = nlohmann::ordered_json;

// The variable that holds a {% filter %} block's rendered body while its filter runs.
inline constexpr const char* kFilterBlockInput = " filter block input";

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        Literal,      // value
        Name,         // name
        List,         // items
        Dict,         // keyed items
        Attribute,    // a.name
        Index,        // a[b]
        Slice,        // a[b:c] (b, c may be null)
        Call,         // a(items, keyed)
        Filter,       // a | name(items, keyed)
        Test,         // a is [not] name(items)
        Unary,        // op a  ("not", "-")
        Binary,       // a op b
        Conditional,  // a if b else c
    } kind = Kind::Literal;
    size_t line = 0;
    Json value;
    std::string name;  // Name, Attribute, Call's function, Filter, Test, or the operator
    bool negated = false;
    ExprPtr a, b, c;
    std::vector<ExprPtr> items;
    std::vector<std::pair<std::string, ExprPtr>> keyed;  // keyword arguments, dict entries
    std::vector<ExprPtr> keys;                           // dict keys (Dict)
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
    enum class Kind {
        Text,
        Output,
        If,
        For,
        Set,    // {% set x = e %}, {% set a, b = e %}, {% set ns.x = e %}, {% set x %}body{% endset
                // %}
        Macro,  // {% macro name(parameters) %}body{% endmacro %}
        Break,  // {% break %} (the loopcontrols extension transformers loads)
        Continue,     // {% continue %}
        FilterBlock,  // {% filter name(arguments) %}body{% endfilter %}: expr filters `body`
    } kind = Kind::Text;
    size_t line = 0;
    std::string text;                                // Text
    ExprPtr expr;                                    // Output, For's iterable, Set's value
    std::vector<std::pair<ExprPtr, Body>> branches;  // If: condition and body, in order
    Body body, else_body;              // For, If (else), Macro, Set and FilterBlock (body)
    std::vector<std::string> targets;  // For: loop variables; Set: names; Macro: name, parameters
    std::vector<ExprPtr> defaults;     // Macro: each parameter's default (null when none)
    std::string attribute;             // Set: ns.attribute
    ExprPtr condition;                 // For: "if" filter
};

}  // namespace llcuda::jinja
