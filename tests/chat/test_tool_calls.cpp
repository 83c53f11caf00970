// Tool-call parsing per format: complete replies, the same replies streamed in small pieces,
// and malformed replies, which stay plain content.
#include <gtest/gtest.h>

#include <random>

#include "chat/tool_calls.hpp"

namespace llcuda {
namespace {

const std::vector<std::string> kNames = {"get_weather", "get_time"};

struct Case {
    ToolCallFormat format;
    std::string reply;
    std::string content;                 // expected content
    std::vector<std::string> arguments;  // expected calls' arguments (names alternate below)
    std::vector<std::string> names;
};

std::vector<Case> complete_cases() {
    using F = ToolCallFormat;
    return {
        {F::Hermes,
         "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
         "\"Zürich\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": "
         "{}}\n</tool_call>",
         "Let me check.\n",  // the newline between the calls is no content
         {"{\"city\":\"Zürich\"}", "{}"},
         {"get_weather", "get_time"}},
        // The closing tag cut off by the end of the turn.
        {F::Hermes,
         "<tool_call>{\"name\": \"get_time\", \"arguments\": \"{\\\"zone\\\": \\\"UTC\\\"}\"}",
         "",
         {"{\"zone\":\"UTC\"}"},
         {"get_time"}},
        {F::Llama3,
         "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Bern\", \"days\": 2}}",
         "",
         {"{\"city\":\"Bern\",\"days\":2}"},
         {"get_weather"}},
        {F::Llama3,
         "<|python_tag|>{\"name\": \"get_time\", \"parameters\": {}}; {\"name\": \"get_weather\", "
         "\"parameters\": {\"city\": \"x\"}}",
         "",
         {"{}", "{\"city\":\"x\"}"},
         {"get_time", "get_weather"}},
        {F::Mistral,
         "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lyon\"}}]",
         "",
         {"{\"city\":\"Lyon\"}"},
         {"get_weather"}},
        {F::Mistral,
         "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Lyon\"}[TOOL_CALLS]get_time[ARGS]{}",
         "",
         {"{\"city\":\"Lyon\"}", "{}"},
         {"get_weather", "get_time"}},
        {F::Gemma,
         "Sure.<|tool_call>call:get_weather{city:<|\"|>Zürich, \"old town\"<|\"|>,days:3,"
         "hourly:true}<tool_call|>",
         "Sure.",
         {"{\"city\":\"Zürich, \\\"old town\\\"\",\"days\":3,\"hourly\":true}"},
         {"get_weather"}},
    };
}

void expect_parsed(const Case& c, const ParsedReply& parsed, const std::string& how) {
    EXPECT_EQ(parsed.content, c.content) << how << ": " << c.reply;
    ASSERT_EQ(parsed.calls.size(), c.names.size()) << how << ": " << c.reply;
    for (size_t i = 0; i < c.names.size(); ++i) {
        EXPECT_EQ(parsed.calls[i].name, c.names[i]) << how;
        EXPECT_EQ(parsed.calls[i].arguments, c.arguments[i]) << how;
    }
}

TEST(ToolCalls, EveryFormatComplete) {
    for (const auto& c : complete_cases())
        expect_parsed(c, parse_tool_calls(c.format, c.reply, kNames), "whole");
}

TEST(ToolCalls, EveryFormatStreamedInPiecesOfEachSize) {
    for (const auto& c : complete_cases()) {
        for (size_t piece = 1; piece <= 7; ++piece) {
            ToolCallStream stream(c.format, kNames);
            std::string sent;
            for (size_t at = 0; at < c.reply.size(); at += piece)
                sent += stream.feed(std::string_view(c.reply).substr(at, piece));
            ParsedReply rest = stream.finish();
            rest.content = sent + rest.content;
            expect_parsed(c, rest, "pieces of " + std::to_string(piece));
        }
    }
}

TEST(ToolCalls, StreamedContentIsNotHeldBackLongerThanAMarker) {
    ToolCallStream stream(ToolCallFormat::Hermes, kNames);
    EXPECT_EQ(stream.feed("Hello <tool"), "Hello ");
    EXPECT_EQ(stream.feed("box> world"), "<toolbox> world");
    EXPECT_EQ(stream.finish().content, "");
    ToolCallStream llama(ToolCallFormat::Llama3, kNames);
    EXPECT_EQ(llama.feed("  "), "");
    EXPECT_EQ(llama.feed("Hi {x}"), "  Hi {x}");
}

TEST(ToolCalls, MalformedRepliesArePlainContent) {
    using F = ToolCallFormat;
    const std::vector<std::pair<F, std::string>> malformed = {
        {F::Hermes, "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": "},
        {F::Hermes, "<tool_call>{\"name\": \"unknown_tool\", \"arguments\": {}}</tool_call>"},
        {F::Hermes, "<tool_call>{\"arguments\": {}}</tool_call>"},
        {F::Hermes, "<tool_call>{\"name\": \"get_time\", \"arguments\": [1]}</tool_call>"},
        {F::Hermes, "<tool_call>{\"name\": \"get_time\"} trailing</tool_call>"},
        {F::Llama3, "{\"name\": \"get_time\", \"parameters\": {}} and then words"},
        {F::Llama3, "{not json}"},
        {F::Mistral, "[TOOL_CALLS][{\"name\": \"get_time\"}"},
        {F::Mistral, "[TOOL_CALLS]get_time{}"},
        {F::Gemma, "<|tool_call>call:get_time{zone:<|\"|>UTC}<tool_call|>"},
        {F::Gemma, "<|tool_call>call:get_time{zone:1"},
        {F::None, "<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>"},
    };
    for (const auto& [format, reply] : malformed) {
        const auto parsed = parse_tool_calls(format, reply, kNames);
        EXPECT_TRUE(parsed.calls.empty()) << reply;
        EXPECT_EQ(parsed.content, reply);
        ToolCallStream stream(format, kNames);
        std::string sent;
        for (const char c : reply) sent += stream.feed(std::string(1, c));
        const auto rest = stream.finish();
        EXPECT_TRUE(rest.calls.empty()) << reply;
        EXPECT_EQ(sent + rest.content, reply);
    }
}

// Streamed in random pieces, any reply (the cases above with random bytes cut out and put in)
// ends as the whole reply parses: the same content and the same calls.
TEST(ToolCalls, StreamingEqualsParsingTheWholeReplyOnMutatedReplies) {
    const uint64_t seed = 20261203;
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 random(seed);
    const std::string alphabet = "{}[]\":,; <>|/_tool_call>[TOOL_CALLS][ARGS]abc\\\"";
    for (int round = 0; round < 3000; ++round) {
        const auto cases = complete_cases();
        const Case& c = cases[random() % cases.size()];
        std::string reply = c.reply;
        for (int edit = static_cast<int>(random() % 4); edit > 0 && !reply.empty(); --edit) {
            const size_t at = random() % reply.size();
            if (random() % 2)
                reply.erase(at, 1 + random() % 8);
            else
                reply.insert(at, 1, alphabet[random() % alphabet.size()]);
        }
        const ParsedReply whole = parse_tool_calls(c.format, reply, kNames);
        ToolCallStream stream(c.format, kNames);
        std::string sent;
        for (size_t at = 0; at < reply.size();) {
            const size_t piece = 1 + random() % 6;
            sent += stream.feed(std::string_view(reply).substr(at, piece));
            at += piece;
        }
        ParsedReply rest = stream.finish();
        ASSERT_EQ(sent + rest.content, whole.content) << reply;
        ASSERT_EQ(rest.calls.size(), whole.calls.size()) << reply;
        for (size_t i = 0; i < whole.calls.size(); ++i) {
            ASSERT_EQ(rest.calls[i].name, whole.calls[i].name) << reply;
            ASSERT_EQ(rest.calls[i].arguments, whole.calls[i].arguments) << reply;
        }
    }
}

TEST(ToolCalls, FormatFromTheTemplatesMarkers) {
    EXPECT_EQ(tool_call_format("{{ '<tool_call>' }}"), ToolCallFormat::Hermes);
    EXPECT_EQ(tool_call_format("[TOOL_CALLS]"), ToolCallFormat::Mistral);
    EXPECT_EQ(tool_call_format("<|tool_call>call:"), ToolCallFormat::Gemma);
    EXPECT_EQ(tool_call_format("<|start_header_id|>{% if tools %}"), ToolCallFormat::Llama3);
    EXPECT_EQ(tool_call_format("<|start_header_id|>{{ m.content }}"), ToolCallFormat::None);
}

}  // namespace
}  // namespace llcuda
