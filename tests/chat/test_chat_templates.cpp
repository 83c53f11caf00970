// Chat templates as real models ship them (Llama 3, Mistral, Gemma, ChatML/Qwen 2.5 with
// tools), rendered as transformers' apply_chat_template renders them, plus the Jinja
// features they rely on and clear errors for what is not supported.
#include <gtest/gtest.h>

#include <chrono>

#include "chat/chat_template.hpp"
#include "chat/jinja_parser.hpp"
#include "chat/jinja_renderer.hpp"
#include "core/error.hpp"

namespace llcuda {
namespace {

using jinja::Json;

const char* const kLlama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% "
    "endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

const char* const kMistral =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ "
    "'[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
    "message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant "
    "roles are supported!') }}{% endif %}{% endfor %}";

const char* const kGemma =
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
    "supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') "
    "%}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ "
    "'<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% "
    "endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";

// Qwen 2.5's, with its indentation: trim_blocks, lstrip_blocks and "{%-" must remove it all.
const char* const kQwen25 = R"({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
)";

Json conversation() {
    return Json::parse(R"([{"role": "user", "content": "Hi "},
                           {"role": "assistant", "content": " Hello!"},
                           {"role": "user", "content": "Tell me a story"}])");
}

std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return "";
}

TEST(ChatTemplates, Llama3) {
    ChatTemplate chat(kLlama3, "<|begin_of_text|>", "<|eot_id|>");
    auto messages = conversation();
    messages.insert(messages.begin(), Json{{"role", "system"}, {"content", "You are kind."}});
    EXPECT_EQ(chat.render(messages, true),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are "
              "kind.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_"
              "header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|"
              "end_header_id|>\n\nTell me a story<|eot_id|><|start_header_id|>assistant<|end_"
              "header_id|>\n\n");
    EXPECT_EQ(chat.render(Json::parse(R"([{"role": "user", "content": "x"}])"), false),
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>");
}

TEST(ChatTemplates, MistralAndItsRoleCheck) {
    ChatTemplate chat(kMistral, "<s>", "</s>");
    EXPECT_EQ(chat.render(conversation(), true),
              "<s>[INST] Hi  [/INST] Hello!</s>[INST] Tell me a story [/INST]");
    const auto error = error_of(
        [&] { chat.render(Json::parse(R"([{"role": "assistant", "content": "x"}])"), true); });
    EXPECT_NE(error.find("Conversation roles must alternate"), std::string::npos) << error;
}

TEST(ChatTemplates, GemmaRenamesTheAssistantAndRefusesSystem) {
    ChatTemplate chat(kGemma, "<bos>", "<eos>");
    EXPECT_EQ(chat.render(conversation(), true),
              "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_"
              "turn>\n<start_of_turn>user\nTell me a story<end_of_turn>\n<start_of_turn>model\n");
    const auto error = error_of(
        [&] { chat.render(Json::parse(R"([{"role": "system", "content": "x"}])"), true); });
    EXPECT_NE(error.find("System role not supported"), std::string::npos) << error;
}

TEST(ChatTemplates, Qwen25WithoutAndWithTools) {
    ChatTemplate chat(kQwen25, "", "<|im_end|>");
    EXPECT_EQ(chat.render(Json::parse(R"([{"role": "user", "content": "Hi"}])"), true),
              "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
              "assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");

    const auto messages = Json::parse(R"([
        {"role": "system", "content": "S"},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather",
                                              "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "22C"}])");
    const auto tools = Json::parse(
        R"([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}])");
    EXPECT_EQ(chat.render(messages, true, Json{{"tools", tools}}),
              "<|im_start|>system\nS\n\n# Tools\n\nYou may call one or more functions to assist "
              "with the user query.\n\nYou are provided with function signatures within "
              "<tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": "
              "{\"name\": \"get_weather\", \"parameters\": {}}}\n</tools>\n\nFor each function "
              "call, return a json object with function name and arguments within "
              "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
              "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\n"
              "Weather?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": "
              "\"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
              "<|im_start|>user\n<tool_response>\n22C\n</tool_response><|im_end|>\n"
              "<|im_start|>assistant\n");
}

std::string render(const std::string& source, const Json& variables = Json::object()) {
    return jinja::render(jinja::parse_template(source), variables);
}

TEST(Jinja, ExpressionsFiltersTestsAndLoops) {
    EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 * 3 + 1 }}"),
              "3 -4 2 3.5 7");
    EXPECT_EQ(render("{{ 'a' ~ 1 ~ none }} {{ [1, 2] + [3] }} {{ 'x' if false else 'y' }}"),
              "a1None [1, 2, 3] y");
    EXPECT_EQ(render("{{ xs[1:] }}{{ xs[-1] }}{{ 'abc'[:2] }}", {{"xs", {1, 2, 3}}}), "[2, 3]3ab");
    EXPECT_EQ(render("{{ ' a ' | trim | upper }}|{{ xs | length }}|{{ xs | join('-') }}",
                     {{"xs", {1, 2, 3}}}),
              "A|3|1-2-3");
    EXPECT_EQ(render("{{ d | tojson }}|{{ d | tojson(indent=2) }}",
                     {{"d", Json::parse(R"({"k": [1, "é"]})")}}),
              "{\"k\": [1, \"é\"]}|{\n  \"k\": [\n    1,\n    \"é\"\n  ]\n}");
    EXPECT_EQ(render("{{ y is defined }}{{ y is not defined }}{{ none is none }}{{ 3 is odd }}"),
              "FalseTrueTrueTrue");
    EXPECT_EQ(render("{% for k, v in d.items() %}{{ loop.index }}{{ k }}={{ v }}{% if not "
                     "loop.last %},{% endif %}{% endfor %}",
                     {{"d", Json::parse(R"({"a": 1, "b": 2})")}}),
              "1a=1,2b=2");
    EXPECT_EQ(render("{% for x in xs if x > 1 %}{{ x }}{% else %}empty{% endfor %}|{% for x in "
                     "[] %}{% else %}empty{% endfor %}",
                     {{"xs", {1, 2, 3}}}),
              "23|empty");
    EXPECT_EQ(render("{% set ns = namespace(found=false) %}{% for x in xs %}{% if x == 2 %}{% "
                     "set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}",
                     {{"xs", {1, 2, 3}}}),
              "True");
    EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"), "1");
    EXPECT_EQ(render("{{ 'Hello'.startswith('He') }} {{ ' x '.strip() }} {{ 'a,b'.split(',') }} "
                     "{{ d.get('z', 5) }}",
                     {{"d", Json::object()}}),
              "True x ['a', 'b'] 5");
    EXPECT_EQ(render("{{ tools | selectattr('type', 'equalto', 'f') | map(attribute='n') | list "
                     "}}",
                     {{"tools", Json::parse(R"([{"type": "f", "n": 1}, {"type": "g", "n": 2}])")}}),
              "[1]");
    EXPECT_EQ(render("{{ x | default('d') }} {{ '' | default('e', true) }}"), "d e");
}

// What the real templates of ../shared/models/templates use beyond the basics (each was a
// difference from jinja2 in test_template_parity.py; the outputs are jinja2's).
TEST(Jinja, MacrosLoopControlsBlocksAndPythonValues) {
    EXPECT_EQ(render("{% macro m(a, b='B', c=none) %}[{{ a }}{{ b }}{{ c }}]{% endmacro %}"
                     "{{ m(1) }}{{ m(1, 2) }}{{ m(1, c=3) }}{{ m is defined }}"),
              "[1BNone][12None][1B3]True");
    // A macro sees its parameters and the template's globals, and namespaces by reference.
    EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% macro bump() %}{% set ns.n = ns.n + 1 %}"
                     "{{ g }}{% endmacro %}{% for i in [1, 2] %}{{ bump() }}{% endfor %}{{ ns.n }}",
                     {{"g", "g"}}),
              "gg2");
    EXPECT_NE(error_of([] {
                  render("{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}");
              }).find("more than 100 deep"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  render("{% macro m(a) %}{% endmacro %}{{ m(b=1) }}");
              }).find("no parameter 'b'"),
              std::string::npos);
    EXPECT_EQ(render("{% for i in range(9) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == "
                     "4 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
              "023");
    EXPECT_EQ(render("{% set x %}a{{ 1 }}{% endset %}{{ x }}|{% filter upper %}b{{ 'c' }}{% "
                     "endfilter %}|{% set a, b = 1, 2 %}{{ b }}{{ a }}"),
              "a1|BC|21");
    EXPECT_EQ(render("{{ '-' * 3 }}{{ [0] * 2 }}{{ 'abcde'[::-1] }}{{ 'abcde'[1::2] }}{{ [1, 2, "
                     "3][::-2] }}"),
              "---[0, 0]edcbabd[3, 1]");
    EXPECT_EQ(
        render("{{ d | tojson(ensure_ascii=true, sort_keys=true) }}|{{ d | "
               "tojson(separators=(',', ':')) }}|{% for k, v in d | dictsort %}{{ k }}{% endfor %}",
               {{"d", Json::parse(R"({"z": "é😀", "A": 1})")}}),
        "{\"A\": 1, \"z\": \"\\u00e9\\ud83d\\ude00\"}|{\"z\":\"é😀\",\"A\":1}|"
        "Az");
    // Markup + str escapes the str (markupsafe); `~` does not.
    EXPECT_EQ(render("{{ 'a'|safe + '\"<' }}{{ 'b'|safe ~ '\"' }}"), "a&#34;&lt;b\"");
    // map() is a generator in Python: tojson refuses it until `| list`.
    EXPECT_NE(error_of([] {
                  render("{{ [1] | map('string') | tojson }}");
              }).find("not JSON serializable"),
              std::string::npos);
    EXPECT_EQ(render("{{ [1] | map('string') | list | tojson }}{{ [3, 1] | min }}"), "[\"1\"]1");
    EXPECT_EQ(render("{{ strftime_now is defined }}{{ nothing | trim }}."), "True.");
}

TEST(Jinja, WhitespaceControlAsTransformersRendersIt) {
    // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before one.
    EXPECT_EQ(render("{% if true %}\n  yes\n  {% endif %}\nend"), "  yes\nend");
    EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
    EXPECT_EQ(render("x\n{#- comment -#}\ny"), "xy");
    EXPECT_EQ(render("  {{ 'k' }}\n"), "  k\n");  // expressions keep their indentation
}

TEST(Jinja, ErrorsNameTheLineAndTheProblem) {
    const auto parse_error = [](const std::string& source) {
        return error_of([&] { jinja::parse_template(source); });
    };
    EXPECT_NE(parse_error("a\n{% call m() %}{% endcall %}").find("line 2"), std::string::npos);
    EXPECT_NE(parse_error("{% call m() %}").find("'{% call %}' is not supported"),
              std::string::npos);
    EXPECT_NE(parse_error("{% macro m() %}").find("missing '{% endmacro %}'"), std::string::npos);
    EXPECT_NE(parse_error("{% for x in y %}{% endfor %}{% break %}").find("outside a for loop"),
              std::string::npos);
    EXPECT_NE(parse_error("{% for x in y %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}")
                  .find("outside a for loop"),
              std::string::npos);
    EXPECT_NE(parse_error("{% if x %}never closed").find("missing '{% endif %}'"),
              std::string::npos);
    EXPECT_NE(parse_error("{{ 'unterminated }}").find("string is not closed"), std::string::npos);
    EXPECT_NE(parse_error("{{ x ").find("not closed"), std::string::npos);
    EXPECT_NE(parse_error("{{ }}").find("expression is missing"), std::string::npos);
    EXPECT_NE(error_of([] { render("{{ x | frobnicate }}"); }).find("unknown filter 'frobnicate'"),
              std::string::npos);
    EXPECT_NE(error_of([] { render("{{ missing.attr }}"); }).find("undefined"), std::string::npos);
    EXPECT_NE(error_of([] { render("{{ 1 + 'a' }}"); }).find("cannot combine"), std::string::npos);
    // Templates come inside model files: deep nesting and huge loops end in errors.
    EXPECT_NE(parse_error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}")
                  .find("nests too deeply"),
              std::string::npos);
    EXPECT_NE(parse_error("{{ " + std::string(3000, '-') + "1 }}").find("nests too deeply"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  render("{% for i in range(100000000) %}x{% endfor %}");
              }).find("range() of more than"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  // Few long pieces, so that the output limit and not the time budget is
                  // met first even under sanitizers on a loaded machine (64k short pieces took
                  // over the 2 s budget under ASan).
                  render("{% for i in range(1000) %}{{ x }}{% endfor %}",
                         {{"x", std::string(100000, 'x')}});
              }).find("exceeds"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  render(
                      "{% set ns = namespace(x=[1]) %}{% for i in range(40) %}{% set ns.x = "
                      "ns.x + ns.x %}{% endfor %}");
              }).find("a list of more than"),
              std::string::npos);
    // Found by the fuzzer: literals too large for their type, and values of the wrong type.
    EXPECT_NE(parse_error("{{ 99999999999999999999999 }}").find("too large"), std::string::npos);
    EXPECT_NE(error_of([] {
                  ChatTemplate("{{ range('a') }}", "", "").render(Json::array(), true);
              }).find("the chat template failed"),
              std::string::npos);
    const auto template_error = error_of([] { ChatTemplate("{% raw %}", "", ""); });
    EXPECT_NE(template_error.find("--chat-template"), std::string::npos) << template_error;
}

TEST(Jinja, NestedLoopsRunOutOfTheWorkBudgetNamingStepsAndTime) {
    const auto started = std::chrono::steady_clock::now();
    const auto error = error_of([] {
        render(
            "{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor "
            "%}");
    });
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_NE(error.find("line 1"), std::string::npos) << error;
    EXPECT_NE(error.find("budget (at most 5000000 steps and 2000 ms per render)"),
              std::string::npos)
        << error;
    // Many cheap steps run out of the step budget.
    const auto many = error_of([] {
        jinja::render(
            jinja::parse_template("{% for i in range(1000) %}{% for j in range(1000) "
                                  "%}{% endfor %}{% endfor %}"),
            Json::object(),
            jinja::RenderBudget{.max_steps = 100000, .max_time = std::chrono::milliseconds(60000)});
    });
    EXPECT_NE(many.find("ran out of its steps budget"), std::string::npos) << many;
    // Work that steps do not measure well (long strings) is stopped by the clock.
    const auto slow = error_of([] {
        jinja::render(jinja::parse_template("{% for i in range(1000000) %}{{ i }}{% endfor %}"),
                      Json::object(),
                      jinja::RenderBudget{.max_steps = uint64_t{1} << 62,
                                          .max_time = std::chrono::milliseconds(1)});
    });
    EXPECT_NE(slow.find("time budget"), std::string::npos) << slow;
    // An ordinary conversation is far inside the budget.
    Json messages = Json::array();
    for (int i = 0; i < 200; ++i)
        messages.push_back({{"role", i % 2 ? "assistant" : "user"}, {"content", "words"}});
    EXPECT_NO_THROW(ChatTemplate(kLlama3, "<s>", "</s>").render(messages, true));
}

}  // namespace
}  // namespace llcuda
