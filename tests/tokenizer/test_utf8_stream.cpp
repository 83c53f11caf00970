#include <gtest/gtest.h>

#include "tokenizer/utf8_stream.hpp"

namespace llcuda {
namespace {

TEST(Utf8Stream, HoldsBackSplitCharacters) {
    Utf8Stream stream;
    const std::string llama = "\xF0\x9F\xA6\x99";  // U+1F999, 4 bytes
    EXPECT_EQ(stream.push("a"), "a");
    EXPECT_EQ(stream.push(llama.substr(0, 1)), "");
    EXPECT_EQ(stream.push(llama.substr(1, 2)), "");
    EXPECT_EQ(stream.push(llama.substr(3) + "b"), llama + "b");
    EXPECT_EQ(stream.finish(), "");
}

TEST(Utf8Stream, EveryByteSplitOfMixedTextReassembles) {
    const std::string text = "héllo 日本語 🦙!";
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        Utf8Stream stream;
        std::string first = stream.push(text.substr(0, cut));
        std::string second = stream.push(text.substr(cut));
        EXPECT_EQ(first + second + stream.finish(), text);
    }
}

TEST(Utf8Stream, InvalidBytesBecomeReplacementCharacters) {
    Utf8Stream stream;
    const std::string replacement = "\xEF\xBF\xBD";
    EXPECT_EQ(stream.push("\x80x"), replacement + "x");    // stray continuation byte
    EXPECT_EQ(stream.push("\xC3(y"), replacement + "(y");  // lead byte without continuation
    EXPECT_EQ(stream.push("\xC0\xAF"), replacement + replacement);  // overlong form
    EXPECT_EQ(stream.push("\xED\xA0\x80"), replacement + replacement + replacement);  // surrogate
    EXPECT_EQ(stream.push("\xE6\x97"), "");
    EXPECT_EQ(stream.finish(), replacement);  // ended mid-character
}

}  // namespace
}  // namespace llcuda
