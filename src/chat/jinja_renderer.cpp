#include "chat/jinja_renderer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <utility>

#include "core/error.hpp"
#include "core/json_text.hpp"

namespace llcuda::jinja {
namespace {

// A template value: JSON, undefined (a missing variable, key or attribute), or a callable: a
// macro of the template or one of the globals transformers defines (so `strftime_now is
// defined` holds, as it does in Python).
struct Value {
    Json json;
    bool undefined = false;
    const Node* macro = nullptr;
    const char* builtin = nullptr;
    // Python's types that JSON has no word for, where templates see the difference: a
    // Markup string (`|safe`: `+` with a plain string HTML-escapes that string) and a
    // generator (what map/select/selectattr return: tojson and length refuse it).
    bool markup = false;
    bool generator = false;

    static Value none() { return Value{}; }
    static Value missing() { return Value{Json(), true}; }
};

std::string python_string(const Json& value);

// Python's json.dumps string escapes: ensure_ascii writes every code point above U+007F as
// \uXXXX (UTF-16 surrogate pairs above U+FFFF); invalid UTF-8 becomes U+FFFD.
void dump_python_string(const std::string& text, bool ensure_ascii, std::string& out) {
    if (!ensure_ascii) {
        out += json_text(Json(text));
        return;
    }
    // nlohmann escapes the control characters as Python does; decode its output to code points.
    const std::string escaped = json_text(Json(text));
    for (size_t i = 0; i < escaped.size();) {
        const auto byte = static_cast<unsigned char>(escaped[i]);
        if (byte < 0x80) {
            out += escaped[i++];
            continue;
        }
        const int length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2;
        uint32_t code = byte & (length == 4 ? 0x07 : length == 3 ? 0x0F : 0x1F);
        for (int k = 1; k < length && i + static_cast<size_t>(k) < escaped.size(); ++k)
            code = (code << 6) |
                   (static_cast<unsigned char>(escaped[i + static_cast<size_t>(k)]) & 0x3F);
        i += static_cast<size_t>(length);
        if (code >= 0x10000) {
            code -= 0x10000;
            out +=
                fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF));
        } else {
            out += fmt::format("\\u{:04x}", code);
        }
    }
}

void dump_python_json(const Json& value, const JsonOptions& options, int depth, std::string& out) {
    const int indent = options.indent;
    const auto newline = [&](int level) {
        if (indent < 0) return;
        out += '\n';
        out.append(static_cast<size_t>(indent * level), ' ');
    };
    const std::string& item_separator =
        options.item_separator ? *options.item_separator : (indent < 0 ? ", " : ",");
    const std::string& key_separator = options.key_separator ? *options.key_separator : ": ";
    if (value.is_object()) {
        if (value.empty()) return void(out += "{}");
        std::vector<std::pair<const std::string*, const Json*>> entries;
        for (const auto& [key, item] : value.items()) entries.emplace_back(&key, &item);
        if (options.sort_keys)
            std::sort(entries.begin(), entries.end(),
                      [](const auto& x, const auto& y) { return *x.first < *y.first; });
        out += '{';
        bool first = true;
        for (const auto& [key, item] : entries) {
            if (!first) out += item_separator;
            first = false;
            newline(depth + 1);
            dump_python_string(*key, options.ensure_ascii, out);
            out += key_separator;
            dump_python_json(*item, options, depth + 1, out);
        }
        newline(depth);
        out += '}';
    } else if (value.is_array()) {
        if (value.empty()) return void(out += "[]");
        out += '[';
        for (size_t i = 0; i < value.size(); ++i) {
            if (i > 0) out += item_separator;
            newline(depth + 1);
            dump_python_json(value[i], options, depth + 1, out);
        }
        newline(depth);
        out += ']';
    } else if (value.is_string()) {
        dump_python_string(value.get_ref<const std::string&>(), options.ensure_ascii, out);
    } else if (value.is_boolean()) {
        out += value.get<bool>() ? "true" : "false";
    } else {
        out += json_text(value);
    }
}

std::string python_float(double value) {
    if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e16)
        return fmt::format("{:.1f}", value);
    return fmt::format("{}", value);
}

// str() of a value, as {{ }} prints it.
std::string python_string(const Json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_null()) return "None";
    if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
    if (value.is_number_float()) return python_float(value.get<double>());
    if (value.is_number()) return value.dump();
    // Lists and dicts print as Python would: quoted strings with single quotes.
    const auto element = [](const Json& item) {
        return item.is_string() ? fmt::format("'{}'", item.get<std::string>())
                                : python_string(item);
    };
    std::string out;
    if (value.is_array()) {
        out += '[';
        for (size_t i = 0; i < value.size(); ++i) {
            if (i > 0) out += ", ";
            out += element(value[i]);
        }
        out += ']';
        return out;
    }
    out += '{';
    bool first = true;
    for (const auto& [key, item] : value.items()) {
        if (!first) out += ", ";
        first = false;
        out += fmt::format("'{}': {}", key, element(item));
    }
    out += '}';
    return out;
}

// str() of a value as filters see it: an undefined value is "".
std::string text_of(const Value& v) { return v.undefined ? "" : python_string(v.json); }

// markupsafe.escape.
std::string html_escape(const std::string& text) {
    std::string out;
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

bool truthy(const Value& v) {
    if (v.macro != nullptr || v.builtin != nullptr) return true;
    if (v.undefined) return false;
    const Json& j = v.json;
    if (j.is_null()) return false;
    if (j.is_boolean()) return j.get<bool>();
    if (j.is_number_integer()) return j.get<int64_t>() != 0;
    if (j.is_number()) return j.get<double>() != 0.0;
    // (nlohmann's empty() is false for every string, so strings are checked by length.)
    if (j.is_string()) return !j.get_ref<const std::string&>().empty();
    if (j.is_array() || j.is_object()) return !j.empty();
    return true;
}

std::string trim(const std::string& text, bool left, bool right) {
    const char* blanks = " \t\n\r\f\v";
    size_t begin = left ? text.find_first_not_of(blanks) : 0;
    if (begin == std::string::npos) return "";
    size_t end = right ? text.find_last_not_of(blanks) + 1 : text.size();
    return text.substr(begin, end - begin);
}

// The global functions of transformers' environment and jinja2's defaults that templates call.
constexpr const char* kBuiltins[] = {"raise_exception", "strftime_now", "namespace", "range",
                                     "dict"};

constexpr int64_t kMaxItems = 1 << 20;
constexpr size_t kMaxOutput = size_t{64} << 20;

class Renderer {
  public:
    Renderer(const Json& variables, const RenderBudget& budget)
        : budget_(budget), deadline_(std::chrono::steady_clock::now() + budget.max_time) {
        scopes_.emplace_back();
        for (const auto& [key, value] : variables.items()) scopes_.back()[key] = Value{value};
    }

    std::string run(const Body& body) {
        std::string out;
        render_body(body, out);
        return out;
    }

  private:
    [[noreturn]] void fail(size_t line, const std::string& what) const {
        throw Error(fmt::format("chat template, line {}: {}", line, what));
    }

    // Units of work; the clock is read every 4096 steps (reading it is the costlier part).
    void step(size_t line, uint64_t count = 1) {
        const uint64_t before = steps_;
        steps_ += count;
        if (steps_ > budget_.max_steps) fail(line, over_budget("steps"));
        if ((before >> 12) != (steps_ >> 12) && std::chrono::steady_clock::now() > deadline_)
            fail(line, over_budget("time"));
    }

    std::string over_budget(const char* which) const {
        return fmt::format(
            "rendering ran out of its {} budget (at most {} steps and {} ms per render); the "
            "template does too much work, e.g. nested loops",
            which, budget_.max_steps, budget_.max_time.count());
    }

    Value* lookup(const std::string& name) {
        for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
            const auto found = scope->find(name);
            if (found != scope->end()) return &found->second;
        }
        return nullptr;
    }

    void render_body(const Body& body, std::string& out) {
        for (const auto& node : body) {
            if (loop_control_ != LoopControl::None) return;
            render_node(*node, out);
            // Templates are untrusted (they come inside model files): bound the work.
            if (out.size() > kMaxOutput)
                fail(node->line, fmt::format("the output exceeds {} bytes", kMaxOutput));
        }
    }

    void render_node(const Node& node, std::string& out) {
        step(node.line);
        switch (node.kind) {
            case Node::Kind::Text:
                out += node.text;
                return;
            case Node::Kind::Output: {
                const Value value = evaluate(*node.expr);
                if (!value.undefined) out += python_string(value.json);
                return;
            }
            case Node::Kind::If:
                for (const auto& [condition, body] : node.branches) {
                    if (truthy(evaluate(*condition))) return render_body(body, out);
                }
                return render_body(node.else_body, out);
            case Node::Kind::For:
                return render_for(node, out);
            case Node::Kind::Macro: {
                Value macro;
                macro.macro = &node;
                scopes_.back()[node.targets[0]] = macro;
                return;
            }
            case Node::Kind::Break:
                loop_control_ = LoopControl::Break;
                return;
            case Node::Kind::Continue:
                loop_control_ = LoopControl::Continue;
                return;
            case Node::Kind::FilterBlock: {
                std::string text;
                render_body(node.body, text);
                scopes_.emplace_back();
                scopes_.back()[kFilterBlockInput] = Value{Json(std::move(text))};
                const Value filtered = evaluate(*node.expr);
                scopes_.pop_back();
                out += python_string(filtered.json);
                return;
            }
            case Node::Kind::Set: {
                Value value;
                if (!node.expr) {
                    std::string text;
                    render_body(node.body, text);
                    value = Value{Json(std::move(text))};
                } else {
                    value = evaluate(*node.expr);
                }
                if (node.targets.size() > 1) {
                    if (!value.json.is_array() || value.json.size() != node.targets.size())
                        fail(node.line,
                             fmt::format("cannot unpack into {} names", node.targets.size()));
                    for (size_t t = 0; t < node.targets.size(); ++t)
                        scopes_.back()[node.targets[t]] = Value{value.json[t]};
                    return;
                }
                if (node.attribute.empty()) {
                    scopes_.back()[node.targets[0]] = std::move(value);
                    return;
                }
                Value* target = lookup(node.targets[0]);
                if (target == nullptr || !target->json.is_object())
                    fail(node.line, fmt::format("'{}' is not a namespace", node.targets[0]));
                target->json[node.attribute] = value.json;
                return;
            }
        }
    }

    void render_for(const Node& node, std::string& out) {
        const Value iterable = evaluate(*node.expr);
        std::vector<Json> items;
        if (iterable.json.is_array()) {
            items.assign(iterable.json.begin(), iterable.json.end());
        } else if (iterable.json.is_object()) {
            for (const auto& [key, value] : iterable.json.items()) items.emplace_back(key);
        } else if (iterable.json.is_string()) {
            for (const char c : iterable.json.get<std::string>())
                items.emplace_back(std::string(1, c));
        } else if (!iterable.undefined && !iterable.json.is_null()) {
            fail(node.line, "the for loop's value cannot be iterated");
        }
        std::vector<Json> selected;
        step(node.line, items.size());
        for (const auto& item : items) {
            if (!node.condition) {
                selected.push_back(item);
                continue;
            }
            scopes_.emplace_back();
            bind_targets(node, item);
            const bool keep = truthy(evaluate(*node.condition));
            scopes_.pop_back();
            if (keep) selected.push_back(item);
        }
        if (selected.empty()) return render_body(node.else_body, out);
        const auto length = static_cast<int64_t>(selected.size());
        for (int64_t i = 0; i < length; ++i) {
            step(node.line);  // an empty body still costs a turn
            scopes_.emplace_back();
            bind_targets(node, selected[static_cast<size_t>(i)]);
            Json loop = {{"index0", i},
                         {"index", i + 1},
                         {"first", i == 0},
                         {"last", i + 1 == length},
                         {"length", length},
                         {"revindex", length - i},
                         {"revindex0", length - i - 1}};
            if (i > 0) loop["previtem"] = selected[static_cast<size_t>(i - 1)];
            if (i + 1 < length) loop["nextitem"] = selected[static_cast<size_t>(i + 1)];
            scopes_.back()["loop"] = Value{std::move(loop)};
            render_body(node.body, out);
            scopes_.pop_back();
            const LoopControl control = std::exchange(loop_control_, LoopControl::None);
            if (control == LoopControl::Break) break;
        }
    }

    void bind_targets(const Node& node, const Json& item) {
        if (node.targets.size() == 1) {
            scopes_.back()[node.targets[0]] = Value{item};
            return;
        }
        if (!item.is_array() || item.size() != node.targets.size())
            fail(node.line,
                 fmt::format("cannot unpack into {} loop variables", node.targets.size()));
        for (size_t t = 0; t < node.targets.size(); ++t)
            scopes_.back()[node.targets[t]] = Value{item[t]};
    }

    Value evaluate(const Expr& e) {
        step(e.line);
        switch (e.kind) {
            case Expr::Kind::Literal:
                return Value{e.value};
            case Expr::Kind::Name: {
                if (const Value* value = lookup(e.name)) return *value;
                for (const char* builtin : kBuiltins) {
                    if (e.name == builtin) {
                        Value function;
                        function.builtin = builtin;
                        return function;
                    }
                }
                return Value::missing();
            }
            case Expr::Kind::List: {
                Json list = Json::array();
                for (const auto& item : e.items) list.push_back(evaluate(*item).json);
                return Value{std::move(list)};
            }
            case Expr::Kind::Dict: {
                Json dict = Json::object();
                for (size_t i = 0; i < e.keys.size(); ++i)
                    dict[python_string(evaluate(*e.keys[i]).json)] = evaluate(*e.items[i]).json;
                return Value{std::move(dict)};
            }
            case Expr::Kind::Attribute:
                return member(evaluate(*e.a), Json(e.name), e);
            case Expr::Kind::Index:
                return member(evaluate(*e.a), evaluate(*e.b).json, e);
            case Expr::Kind::Slice:
                return slice(e);
            case Expr::Kind::Call:
                return call(e);
            case Expr::Kind::Filter:
                return filter(e);
            case Expr::Kind::Test: {
                const bool result = test(e);
                return Value{e.negated ? !result : result};
            }
            case Expr::Kind::Unary: {
                const Value value = evaluate(*e.a);
                if (e.name == "not") return Value{!truthy(value)};
                if (!value.json.is_number()) fail(e.line, "unary minus needs a number");
                if (e.name == "+") return value;
                if (value.json.is_number_integer()) return Value{-value.json.get<int64_t>()};
                return Value{-value.json.get<double>()};
            }
            case Expr::Kind::Binary:
                return binary(e);
            case Expr::Kind::Conditional:
                if (truthy(evaluate(*e.b))) return evaluate(*e.a);
                return e.c ? evaluate(*e.c) : Value::missing();
        }
        return Value::missing();
    }

    Value member(const Value& object, const Json& key, const Expr& e) {
        if (object.undefined)
            fail(e.line, fmt::format("cannot read '{}' of an undefined value", python_string(key)));
        const Json& j = object.json;
        if (j.is_object() && key.is_string()) {
            const auto found = j.find(key.get<std::string>());
            return found != j.end() ? Value{*found} : Value::missing();
        }
        if ((j.is_array() || j.is_string()) && key.is_number_integer()) {
            const auto size =
                static_cast<int64_t>(j.is_array() ? j.size() : j.get<std::string>().size());
            int64_t index = key.get<int64_t>();
            if (index < 0) index += size;
            if (index < 0 || index >= size) return Value::missing();
            if (j.is_array()) return Value{j[static_cast<size_t>(index)]};
            return Value{std::string(1, j.get<std::string>()[static_cast<size_t>(index)])};
        }
        return Value::missing();
    }

    Value slice(const Expr& e) {
        const Value object = evaluate(*e.a);
        const Json& j = object.json;
        if (!j.is_array() && !j.is_string()) fail(e.line, "only lists and strings can be sliced");
        const auto size =
            static_cast<int64_t>(j.is_array() ? j.size() : j.get<std::string>().size());
        const auto bound = [&](const ExprPtr& expr, int64_t fallback) {
            if (!expr) return fallback;
            const Json value = evaluate(*expr).json;
            if (!value.is_number_integer()) fail(e.line, "slice bounds must be integers");
            int64_t index = value.get<int64_t>();
            if (index < 0) index += size;
            return std::clamp<int64_t>(index, 0, size);
        };
        int64_t stride = 1;
        if (!e.items.empty()) {
            const Json given = evaluate(*e.items[0]).json;
            if (!given.is_number_integer() || given.get<int64_t>() == 0)
                fail(e.line, "a slice step must be a non-zero integer");
            stride = given.get<int64_t>();
        }
        if (stride < 0) {
            // Python's a[b:c:-n]: from b (default the last) down to just above c.
            const auto lower = [&](const ExprPtr& expr, int64_t fallback) {
                if (!expr) return fallback;
                const Json value = evaluate(*expr).json;
                if (!value.is_number_integer()) fail(e.line, "slice bounds must be integers");
                int64_t index = value.get<int64_t>();
                if (index < 0) index += size;
                return std::clamp<int64_t>(index, -1, size - 1);
            };
            const int64_t first = lower(e.b, size - 1), stop = lower(e.c, -1);
            Json list = Json::array();
            std::string text;
            for (int64_t i = first; i > stop; i += stride) {
                if (j.is_string())
                    text += j.get_ref<const std::string&>()[static_cast<size_t>(i)];
                else
                    list.push_back(j[static_cast<size_t>(i)]);
            }
            return j.is_string() ? Value{Json(std::move(text))} : Value{std::move(list)};
        }
        const int64_t begin = bound(e.b, 0), end = std::max(begin, bound(e.c, size));
        Json list = Json::array();
        std::string text;
        for (int64_t i = begin; i < end; i += stride) {
            if (j.is_string())
                text += j.get_ref<const std::string&>()[static_cast<size_t>(i)];
            else
                list.push_back(j[static_cast<size_t>(i)]);
        }
        return j.is_string() ? Value{Json(std::move(text))} : Value{std::move(list)};
    }

    std::vector<Value> arguments(const Expr& e) {
        std::vector<Value> values;
        for (const auto& item : e.items) values.push_back(evaluate(*item));
        return values;
    }

    const Expr* keyword(const Expr& e, const std::string& name) {
        for (const auto& [key, value] : e.keyed)
            if (key == name) return value.get();
        return nullptr;
    }

    Value call(const Expr& e) {
        const auto args = arguments(e);
        if (e.a->kind == Expr::Kind::Attribute)
            return method(evaluate(*e.a->a), e.a->name, args, e);
        if (e.a->kind != Expr::Kind::Name) fail(e.line, "only functions and methods can be called");
        const std::string& name = e.a->name;
        if (const Value* found = lookup(name); found != nullptr && found->macro != nullptr)
            return call_macro(*found->macro, args, e);
        if (name == "raise_exception") {
            throw Error(fmt::format("the model's chat template rejected the conversation: {}",
                                    args.empty() ? "" : python_string(args[0].json)));
        }
        if (name == "namespace" || name == "dict") {
            Json object = Json::object();
            for (const auto& [key, value] : e.keyed) object[key] = evaluate(*value).json;
            return Value{std::move(object)};
        }
        if (name == "range") {
            int64_t start = 0, stop = 0, step = 1;
            if (args.size() == 1) stop = args[0].json.get<int64_t>();
            if (args.size() >= 2) {
                start = args[0].json.get<int64_t>();
                stop = args[1].json.get<int64_t>();
            }
            if (args.size() == 3) step = args[2].json.get<int64_t>();
            if (step == 0) fail(e.line, "range() step must not be 0");
            if ((stop - start) / step > kMaxItems)
                fail(e.line, fmt::format("range() of more than {} items", kMaxItems));
            this->step(e.line, static_cast<uint64_t>(std::max<int64_t>(0, (stop - start) / step)));
            Json list = Json::array();
            for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) list.push_back(i);
            return Value{std::move(list)};
        }
        if (name == "strftime_now") {
            const std::time_t now = std::time(nullptr);
            std::tm local{};
            localtime_r(&now, &local);
            char buffer[128];
            const std::string format = args.empty() ? "%Y-%m-%d" : python_string(args[0].json);
            const size_t size = std::strftime(buffer, sizeof buffer, format.c_str(), &local);
            return Value{std::string(buffer, size)};
        }
        fail(e.line, fmt::format("unknown function '{}'", name));
    }

    // A macro runs in a scope of its own above the template's globals (jinja2 gives a macro its
    // parameters and the template's top-level names, not its caller's locals) and returns
    // what its body renders.
    Value call_macro(const Node& macro, const std::vector<Value>& args, const Expr& e) {
        const size_t parameters = macro.targets.size() - 1;
        if (args.size() > parameters)
            fail(e.line, fmt::format("macro '{}' takes {} arguments, not {}", macro.targets[0],
                                     parameters, args.size()));
        std::map<std::string, Value> scope;
        for (size_t p = 0; p < parameters; ++p) {
            const std::string& parameter = macro.targets[p + 1];
            if (p < args.size()) {
                scope[parameter] = args[p];
            } else if (const Expr* given = keyword(e, parameter)) {
                scope[parameter] = evaluate(*given);
            } else if (macro.defaults[p]) {
                scope[parameter] = evaluate(*macro.defaults[p]);
            } else {
                scope[parameter] = Value::missing();
            }
        }
        for (const auto& [key, value] : e.keyed) {
            if (std::find(macro.targets.begin() + 1, macro.targets.end(), key) ==
                macro.targets.end())
                fail(e.line,
                     fmt::format("macro '{}' has no parameter '{}'", macro.targets[0], key));
        }
        if (++macro_depth_ > kMaxMacroDepth)
            fail(e.line, fmt::format("macros call each other more than {} deep", kMaxMacroDepth));
        std::vector<std::map<std::string, Value>> caller_scopes;
        caller_scopes.swap(scopes_);
        scopes_.push_back(caller_scopes.front());
        scopes_.push_back(std::move(scope));
        std::string out;
        try {
            render_body(macro.body, out);
        } catch (...) {
            scopes_.swap(caller_scopes);
            --macro_depth_;
            throw;
        }
        // Namespaces changed inside the macro are the template's (jinja2 passes them by
        // reference); the globals scope comes back with those changes.
        caller_scopes.front() = std::move(scopes_.front());
        scopes_.swap(caller_scopes);
        --macro_depth_;
        loop_control_ = LoopControl::None;
        return Value{Json(std::move(out))};
    }

    Value method(const Value& object, const std::string& name, const std::vector<Value>& args,
                 const Expr& e) {
        const Json& j = object.json;
        const auto arg = [&](size_t i) -> std::string {
            if (i >= args.size() || !args[i].json.is_string())
                fail(e.line, fmt::format("{}() needs a string argument", name));
            return args[i].json.get<std::string>();
        };
        if (j.is_string()) {
            const std::string text = j.get<std::string>();
            if (name == "strip") return Value{trim(text, true, true)};
            if (name == "lstrip") return Value{trim(text, true, false)};
            if (name == "rstrip") return Value{trim(text, false, true)};
            if (name == "upper" || name == "lower") {
                std::string changed = text;
                for (auto& c : changed)
                    c = static_cast<char>(name == "upper"
                                              ? std::toupper(static_cast<unsigned char>(c))
                                              : std::tolower(static_cast<unsigned char>(c)));
                return Value{changed};
            }
            if (name == "startswith") return Value{text.starts_with(arg(0))};
            if (name == "endswith") return Value{text.ends_with(arg(0))};
            if (name == "replace") {
                const std::string from = arg(0), to = arg(1);
                std::string result;
                size_t at = 0;
                for (size_t found;
                     !from.empty() && (found = text.find(from, at)) != std::string::npos;
                     at = found + from.size())
                    result += text.substr(at, found - at) + to;
                return Value{result + text.substr(at)};
            }
            if (name == "split") {
                Json parts = Json::array();
                const std::string separator = args.empty() ? " " : arg(0);
                size_t at = 0;
                for (size_t found; (found = text.find(separator, at)) != std::string::npos;
                     at = found + separator.size())
                    parts.push_back(text.substr(at, found - at));
                parts.push_back(text.substr(at));
                return Value{std::move(parts)};
            }
        }
        if (j.is_object()) {
            if (name == "items") {
                Json pairs = Json::array();
                for (const auto& [key, value] : j.items())
                    pairs.push_back(Json::array({key, value}));
                return Value{std::move(pairs)};
            }
            if (name == "keys" || name == "values") {
                Json list = Json::array();
                for (const auto& [key, value] : j.items())
                    list.push_back(name == "keys" ? Json(key) : value);
                return Value{std::move(list)};
            }
            if (name == "get") {
                const auto found = j.find(arg(0));
                if (found != j.end()) return Value{*found};
                return args.size() > 1 ? args[1] : Value::none();
            }
        }
        fail(e.line, fmt::format("unknown method '{}'", name));
    }

    Value filter(const Expr& e) {
        const Value value = evaluate(*e.a);
        const auto args = arguments(e);
        const Json& j = value.json;
        const std::string& name = e.name;
        if (name == "trim") return Value{trim(text_of(value), true, true)};
        if ((name == "length" || name == "count") && value.generator)
            fail(e.line, "object of type 'generator' has no len() (add '| list')");
        if (name == "length" || name == "count") {
            if (j.is_string()) return Value{static_cast<int64_t>(j.get<std::string>().size())};
            if (j.is_array() || j.is_object()) return Value{static_cast<int64_t>(j.size())};
            return Value{int64_t{0}};
        }
        if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
            std::string text = text_of(value);
            bool word_start = true;
            for (auto& c : text) {
                const auto u = static_cast<unsigned char>(c);
                const bool upper =
                    name == "upper" || ((name == "title" || name == "capitalize") && word_start);
                c = static_cast<char>(upper ? std::toupper(u) : std::tolower(u));
                word_start = name == "title" ? std::isspace(u) != 0 : false;
            }
            return Value{text};
        }
        if (name == "tojson") {
            if (value.generator)
                fail(e.line, "Object of type generator is not JSON serializable (add '| list')");
            // transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None,
            // separators=None, sort_keys=False), each settable by position or keyword.
            JsonOptions options;
            static const char* const kParameters[] = {"ensure_ascii", "indent", "separators",
                                                      "sort_keys"};
            for (size_t p = 0; p < 4; ++p) {
                Json given;
                if (p < args.size()) {
                    given = args[p].json;
                } else if (const Expr* named = keyword(e, kParameters[p])) {
                    given = evaluate(*named).json;
                } else {
                    continue;
                }
                if (p == 0) options.ensure_ascii = truthy(Value{given});
                if (p == 1 && given.is_number_integer())
                    options.indent =
                        static_cast<int>(std::clamp<int64_t>(given.get<int64_t>(), 0, 64));
                if (p == 1 && !given.is_null() && !given.is_number_integer())
                    fail(e.line, "tojson's indent must be an integer");
                if (p == 2 && !given.is_null()) {
                    if (!given.is_array() || given.size() != 2 || !given[0].is_string() ||
                        !given[1].is_string())
                        fail(e.line, "tojson's separators must be two strings");
                    options.item_separator = given[0].get<std::string>();
                    options.key_separator = given[1].get<std::string>();
                }
                if (p == 3) options.sort_keys = truthy(Value{given});
            }
            for (const auto& [key, unused] : e.keyed) {
                if (std::find(std::begin(kParameters), std::end(kParameters), key) ==
                    std::end(kParameters))
                    fail(e.line, fmt::format("tojson has no parameter '{}'", key));
            }
            return Value{to_python_json(j, options)};
        }
        if (name == "default" || name == "d") {
            const bool use_for_falsy = args.size() > 1 && truthy(args[1]);
            if (value.undefined || (use_for_falsy && !truthy(value)))
                return args.empty() ? Value{std::string()} : args[0];
            return value;
        }
        if (name == "min" || name == "max") {
            if (!j.is_array()) fail(e.line, fmt::format("{} needs a list", name));
            if (j.empty()) return Value::missing();
            const Json* best = &j[0];
            for (const auto& item : j) {
                const int order = compare(item, *best);
                if (name == "min" ? order < 0 : order > 0) best = &item;
            }
            return Value{*best};
        }
        if (name == "first" || name == "last") {
            if (j.is_array() && !j.empty()) return Value{name == "first" ? j.front() : j.back()};
            if (j.is_string() && !j.get<std::string>().empty()) {
                const std::string text = j.get<std::string>();
                return Value{std::string(1, name == "first" ? text.front() : text.back())};
            }
            return Value::missing();
        }
        if (name == "join") {
            const std::string separator = args.empty() ? "" : python_string(args[0].json);
            std::string out;
            for (size_t i = 0; j.is_array() && i < j.size(); ++i)
                out += (i ? separator : "") + python_string(j[i]);
            return Value{out};
        }
        if (name == "string") return Value{text_of(value)};
        if (name == "int") {
            if (j.is_number()) return Value{static_cast<int64_t>(j.get<double>())};
            try {
                return Value{static_cast<int64_t>(std::stoll(python_string(j)))};
            } catch (...) {
                return Value{int64_t{0}};
            }
        }
        if (name == "list") {
            if (j.is_array()) return Value{j};
            Json list = Json::array();
            if (j.is_string())
                for (const char c : j.get<std::string>()) list.push_back(std::string(1, c));
            return Value{std::move(list)};
        }
        if (name == "reverse") {
            if (j.is_string()) {
                std::string text = j.get<std::string>();
                std::reverse(text.begin(), text.end());
                return Value{text};
            }
            Json list = j;
            if (list.is_array()) std::reverse(list.begin(), list.end());
            return Value{std::move(list)};
        }
        if (name == "replace" && args.size() >= 2) {
            const std::vector<Value> pair = {args[0], args[1]};
            return method(Value{python_string(j)}, "replace", pair, e);
        }
        if (name == "safe") {
            Value marked{Json(text_of(value))};
            marked.markup = true;
            return marked;
        }
        if (name == "e" || name == "escape") {
            Value marked{Json(value.markup ? text_of(value) : html_escape(text_of(value)))};
            marked.markup = true;
            return marked;
        }
        if (name == "dictsort") {
            if (!j.is_object()) fail(e.line, "dictsort needs a mapping");
            std::vector<std::pair<std::string, Json>> pairs;
            for (const auto& [key, item] : j.items()) pairs.emplace_back(key, item);
            // jinja2 compares keys case-insensitively unless case_sensitive=true.
            std::stable_sort(pairs.begin(), pairs.end(), [](const auto& x, const auto& y) {
                std::string a = x.first, b = y.first;
                for (auto& c : a)
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                for (auto& c : b)
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                return a < b;
            });
            Json list = Json::array();
            for (auto& [key, item] : pairs) list.push_back(Json::array({key, std::move(item)}));
            return Value{std::move(list)};
        }
        if (name == "items") return method(value, "items", {}, e);
        if (name == "map") {
            const Expr* attribute = keyword(e, "attribute");
            Json list = Json::array();
            for (const auto& item : j.is_array() ? j : Json::array()) {
                if (attribute) {
                    const Value member_value = member(Value{item}, evaluate(*attribute).json, e);
                    list.push_back(member_value.json);
                } else if (!args.empty()) {
                    list.push_back(apply_named_filter(python_string(args[0].json), item, e));
                }
            }
            return generator(std::move(list));
        }
        if (name == "selectattr" || name == "rejectattr") {
            if (args.empty()) fail(e.line, fmt::format("{} needs an attribute", name));
            const Json attribute = args[0].json;
            Json list = Json::array();
            for (const auto& item : j.is_array() ? j : Json::array()) {
                const Value member_value = member(Value{item}, attribute, e);
                bool pass = truthy(member_value);
                if (args.size() >= 2) {
                    const std::string test_name = python_string(args[1].json);
                    const Json expected = args.size() >= 3 ? args[2].json : Json();
                    pass = named_test(test_name, member_value, expected, e);
                }
                if (pass == (name == "selectattr")) list.push_back(item);
            }
            return generator(std::move(list));
        }
        fail(e.line, fmt::format("unknown filter '{}'", name));
    }

    static Value generator(Json list) {
        Value value{std::move(list)};
        value.generator = true;
        return value;
    }

    Json apply_named_filter(const std::string& name, const Json& item, const Expr& e) {
        if (name == "trim") return trim(python_string(item), true, true);
        if (name == "string") return python_string(item);
        if (name == "tojson") return to_python_json(item, {});
        fail(e.line, fmt::format("map() with filter '{}' is not supported", name));
    }

    bool named_test(const std::string& name, const Value& value, const Json& argument,
                    const Expr& e) {
        const Json& j = value.json;
        if (name == "defined") return !value.undefined;
        if (name == "undefined") return value.undefined;
        if (name == "none") return !value.undefined && j.is_null();
        if (name == "string") return j.is_string();
        if (name == "number") return j.is_number();
        if (name == "integer") return j.is_number_integer();
        if (name == "float") return j.is_number_float();
        if (name == "boolean") return j.is_boolean();
        if (name == "mapping") return j.is_object();
        if (name == "sequence" || name == "iterable")
            return j.is_array() || j.is_string() || j.is_object();
        if (name == "true") return j.is_boolean() && j.get<bool>();
        if (name == "false") return j.is_boolean() && !j.get<bool>();
        if (name == "equalto" || name == "eq" || name == "==" || name == "sameas")
            return !value.undefined && j == argument;
        if (name == "ne" || name == "!=") return value.undefined || j != argument;
        if (name == "even" || name == "odd") {
            if (!j.is_number_integer()) return false;
            return (j.get<int64_t>() % 2 == 0) == (name == "even");
        }
        if (name == "divisibleby")
            return j.is_number_integer() && argument.is_number_integer() &&
                   argument.get<int64_t>() != 0 && j.get<int64_t>() % argument.get<int64_t>() == 0;
        fail(e.line, fmt::format("unknown test '{}'", name));
    }

    bool test(const Expr& e) {
        const Value value = evaluate(*e.a);
        const Json argument = e.items.empty() ? Json() : evaluate(*e.items[0]).json;
        return named_test(e.name, value, argument, e);
    }

    static int compare(const Json& a, const Json& b) {
        if (a.is_number() && b.is_number()) {
            const double x = a.get<double>(), y = b.get<double>();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        if (a.is_string() && b.is_string())
            return a.get<std::string>().compare(b.get<std::string>());
        return a == b ? 0 : (a < b ? -1 : 1);
    }

    static bool equal(const Value& a, const Value& b) {
        if (a.undefined || b.undefined) return a.undefined && b.undefined;
        if (a.json.is_number() && b.json.is_number() && !a.json.is_boolean() &&
            !b.json.is_boolean())
            return a.json.get<double>() == b.json.get<double>();
        return a.json == b.json;
    }

    // Values grow by concatenation too ({% set x = x + x %} in a loop): bound them.
    Value checked(const Expr& e, Value value) const {
        if (value.json.is_string() && value.json.get_ref<const std::string&>().size() > kMaxOutput)
            fail(e.line, fmt::format("a string longer than {} bytes", kMaxOutput));
        if (value.json.is_array() && value.json.size() > static_cast<size_t>(kMaxItems))
            fail(e.line, fmt::format("a list of more than {} items", kMaxItems));
        return value;
    }

    Value binary(const Expr& e) {
        const std::string& op = e.name;
        if (op == "and") {
            Value left = evaluate(*e.a);
            return truthy(left) ? evaluate(*e.b) : left;
        }
        if (op == "or") {
            Value left = evaluate(*e.a);
            return truthy(left) ? left : evaluate(*e.b);
        }
        const Value left = evaluate(*e.a);
        const Value right = evaluate(*e.b);
        const Json& x = left.json;
        const Json& y = right.json;
        if (op == "==") return Value{equal(left, right)};
        if (op == "!=") return Value{!equal(left, right)};
        if (op == "in" || op == "not in") {
            bool found = false;
            if (y.is_string() && x.is_string())
                found = y.get<std::string>().find(x.get<std::string>()) != std::string::npos;
            else if (y.is_array())
                found = std::find(y.begin(), y.end(), x) != y.end();
            else if (y.is_object() && x.is_string())
                found = y.contains(x.get<std::string>());
            return Value{op == "in" ? found : !found};
        }
        if (op == "<") return Value{compare(x, y) < 0};
        if (op == ">") return Value{compare(x, y) > 0};
        if (op == "<=") return Value{compare(x, y) <= 0};
        if (op == ">=") return Value{compare(x, y) >= 0};
        if (op == "~")
            return checked(e, Value{(left.undefined ? "" : python_string(x)) +
                                    (right.undefined ? "" : python_string(y))});
        if (op == "+") {
            if (x.is_string() && y.is_string() && (left.markup || right.markup)) {
                // Markup + str escapes the str (markupsafe), as jinja2 does without autoescape.
                const auto side = [](const Value& v) {
                    return v.markup ? v.json.get<std::string>()
                                    : html_escape(v.json.get<std::string>());
                };
                Value joined = checked(e, Value{side(left) + side(right)});
                joined.markup = true;
                return joined;
            }
            if (x.is_string() && y.is_string())
                return checked(e, Value{x.get<std::string>() + y.get<std::string>()});
            if (x.is_array() && y.is_array()) {
                Json joined = x;
                joined.insert(joined.end(), y.begin(), y.end());
                return checked(e, Value{std::move(joined)});
            }
        }
        if (op == "*" && (x.is_string() || x.is_array()) && y.is_number_integer()) {
            // Python's repetition: "-" * 3; the result is bounded like any other value.
            const int64_t times = std::max<int64_t>(0, y.get<int64_t>());
            const size_t unit = x.is_string() ? x.get_ref<const std::string&>().size() : x.size();
            if (unit != 0 && static_cast<uint64_t>(times) > kMaxOutput / unit)
                fail(e.line, fmt::format("a repetition longer than {} bytes", kMaxOutput));
            step(e.line, static_cast<uint64_t>(times));
            Json repeated = x.is_string() ? Json(std::string()) : Json::array();
            for (int64_t t = 0; t < times; ++t) {
                if (x.is_string())
                    repeated.get_ref<std::string&>() += x.get_ref<const std::string&>();
                else
                    repeated.insert(repeated.end(), x.begin(), x.end());
            }
            return checked(e, Value{std::move(repeated)});
        }
        if (!x.is_number() || !y.is_number()) {
            fail(e.line, fmt::format("'{}' cannot combine {} and {}", op,
                                     left.undefined ? "an undefined value" : x.type_name(),
                                     right.undefined ? "an undefined value" : y.type_name()));
        }
        const bool integers = x.is_number_integer() && y.is_number_integer();
        if (integers && op != "/") {
            const int64_t a = x.get<int64_t>(), b = y.get<int64_t>();
            if (op == "+") return Value{a + b};
            if (op == "-") return Value{a - b};
            if (op == "*") return Value{a * b};
            if (b == 0) fail(e.line, "division by zero");
            // Python's floor division and modulo: the sign follows the divisor.
            const int64_t quotient = a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
            if (op == "//") return Value{quotient};
            if (op == "%") return Value{a - quotient * b};
        }
        const double a = x.get<double>(), b = y.get<double>();
        if (op == "+") return Value{a + b};
        if (op == "-") return Value{a - b};
        if (op == "*") return Value{a * b};
        if (b == 0) fail(e.line, "division by zero");
        if (op == "/") return Value{a / b};
        if (op == "//") return Value{std::floor(a / b)};
        return Value{a - std::floor(a / b) * b};
    }

    enum class LoopControl { None, Break, Continue };
    static constexpr int kMaxMacroDepth = 100;  // recursion; each level is a C++ stack frame set

    RenderBudget budget_;
    LoopControl loop_control_ = LoopControl::None;
    int macro_depth_ = 0;
    std::chrono::steady_clock::time_point deadline_;
    uint64_t steps_ = 0;
    std::vector<std::map<std::string, Value>> scopes_;
};

}  // namespace

std::string to_python_json(const Json& value, const JsonOptions& options) {
    std::string out;
    dump_python_json(value, options, 0, out);
    return out;
}

std::string render(const Body& body, const Json& variables, const RenderBudget& budget) {
    return Renderer(variables, budget).run(body);
}

}  // namespace llcuda::jinja
