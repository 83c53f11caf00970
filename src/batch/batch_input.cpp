#include "batch/batch_input.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

#include "core/error.hpp"
#include "grammar/structured_output.hpp"

namespace llcuda {
namespace {

const std::set<std::string> kKnownFields = {
    "id",         "prompt",         "max_tokens", "temperature", "top_k",           "top_p",
    "min_p",      "repeat_penalty", "seed",       "stop",        "response_format", "grammar",
    "json_schema"};

std::string id_text(const nlohmann::json& id) {
    if (id.is_string()) return id.get<std::string>();
    if (id.is_number_integer()) return id.dump();
    throw Error("\"id\" must be a string or an integer");
}

template <typename T>
T number_field(const nlohmann::json& fields, const char* name, T fallback) {
    const auto found = fields.find(name);
    if (found == fields.end() || found->is_null()) return fallback;
    if (!found->is_number()) throw Error(fmt::format("\"{}\" must be a number", name));
    if constexpr (std::is_integral_v<T>) {
        if (!found->is_number_integer())
            throw Error(fmt::format("\"{}\" must be an integer", name));
        if (std::is_unsigned_v<T> && found->get<int64_t>() < 0 && !found->is_number_unsigned())
            throw Error(fmt::format("\"{}\" must not be negative", name));
    }
    return found->get<T>();
}

}  // namespace

std::vector<BatchItem> read_batch_input(std::istream& input) {
    std::vector<BatchItem> items;
    std::map<std::string, size_t> first_line_of;
    std::string text;
    for (size_t line = 1; std::getline(input, text); ++line) {
        if (!text.empty() && text.back() == '\r') text.pop_back();
        if (text.find_first_not_of(" \t") == std::string::npos) continue;
        BatchItem item;
        item.index = items.size();
        item.line = line;
        item.id = fmt::format("line-{}", line);
        try {
            item.fields = nlohmann::json::parse(text);
            if (!item.fields.is_object()) throw Error("the line is not a JSON object");
            if (item.fields.contains("id")) item.id = id_text(item.fields["id"]);
            for (const auto& [key, value] : item.fields.items()) {
                if (!kKnownFields.contains(key))
                    throw Error(fmt::format("unknown field \"{}\"", key));
            }
            make_batch_request(item.fields, {});  // validates types and ranges now
        } catch (const nlohmann::json::parse_error& error) {
            item.error = fmt::format("line {} is not valid JSON: {}", line, error.what());
        } catch (const Error& error) {
            item.error = fmt::format("line {}: {}", line, error.what());
        }
        const auto [first, inserted] = first_line_of.emplace(item.id, line);
        if (!inserted) {
            item.error = fmt::format("line {}: id \"{}\" already appeared on line {}", line,
                                     item.id, first->second);
        }
        items.push_back(std::move(item));
    }
    return items;
}

namespace {

void json_grammar(const nlohmann::json& fields, GenerationOptions& options) {
    nlohmann::json format = fields.value("response_format", nlohmann::json());
    if (const auto schema = fields.find("json_schema"); schema != fields.end()) {
        if (!format.is_null()) throw Error("give \"json_schema\" or \"response_format\", not both");
        format = {{"type", "json_schema"}, {"json_schema", {{"schema", *schema}}}};
    }
    try {
        options.grammar =
            grammar::structured_output_grammar(format, fields.value("grammar", nlohmann::json()));
    } catch (const grammar::StructuredOutputError& error) {
        const bool bare_schema = fields.contains("json_schema");
        throw Error(
            fmt::format("\"{}\": {}", bare_schema ? "json_schema" : error.field(), error.what()));
    }
}

}  // namespace

BatchRequest make_batch_request(const nlohmann::json& fields, const GenerationOptions& defaults) {
    const auto prompt = fields.find("prompt");
    if (prompt == fields.end()) throw Error("\"prompt\" is missing");
    if (!prompt->is_string()) throw Error("\"prompt\" must be a string");
    BatchRequest request;
    request.prompt = prompt->get<std::string>();
    auto& options = request.options;
    options = defaults;
    auto& sampling = options.sampling;
    options.max_tokens = number_field<size_t>(fields, "max_tokens", options.max_tokens);
    sampling.temperature = number_field<float>(fields, "temperature", sampling.temperature);
    sampling.top_k = number_field<int>(fields, "top_k", sampling.top_k);
    sampling.top_p = number_field<float>(fields, "top_p", sampling.top_p);
    sampling.min_p = number_field<float>(fields, "min_p", sampling.min_p);
    sampling.repeat_penalty =
        number_field<float>(fields, "repeat_penalty", sampling.repeat_penalty);
    sampling.seed = number_field<uint64_t>(fields, "seed", sampling.seed);
    sampling.validate();
    if (const auto stop = fields.find("stop"); stop != fields.end() && !stop->is_null()) {
        options.stop.clear();
        if (stop->is_string()) {
            options.stop.push_back(stop->get<std::string>());
        } else if (stop->is_array()) {
            for (const auto& entry : *stop) {
                if (!entry.is_string()) throw Error("\"stop\" must be a string or strings");
                options.stop.push_back(entry.get<std::string>());
            }
        } else {
            throw Error("\"stop\" must be a string or an array of strings");
        }
    }
    // Structured output as the server takes it (response_format, grammar), or a bare schema.
    json_grammar(fields, options);
    return request;
}

}  // namespace llcuda
