#include <gtest/gtest.h>

#include "engine/stop_string_filter.hpp"

namespace llcuda {
namespace {

TEST(StopStringFilter, StopsBeforeTheStopString) {
    StopStringFilter filter({"\n\n", "END"});
    std::string shown = filter.push("Hello wor");
    shown += filter.push("ld.\n");
    EXPECT_FALSE(filter.stopped());
    shown += filter.push("\nmore");
    EXPECT_TRUE(filter.stopped());
    EXPECT_EQ(shown, "Hello world.");
    EXPECT_EQ(filter.push("anything"), "");
}

TEST(StopStringFilter, HoldsBackAPossiblePrefixThenReleasesIt) {
    StopStringFilter filter({"STOP"});
    EXPECT_EQ(filter.push("abc ST"), "abc ");
    EXPECT_EQ(filter.push("O"), "");
    EXPECT_EQ(filter.push("P?"), "");  // "STOP" completed
    EXPECT_TRUE(filter.stopped());

    StopStringFilter other({"STOP"});
    EXPECT_EQ(other.push("ST"), "");
    EXPECT_EQ(other.push("ART"), "START");
    EXPECT_EQ(other.push("S"), "");
    EXPECT_EQ(other.finish(), "S");
}

TEST(StopStringFilter, NoStopStringsPassEverything) {
    StopStringFilter filter({"", ""});
    EXPECT_EQ(filter.push("text"), "text");
    EXPECT_EQ(filter.finish(), "");
}

}  // namespace
}  // namespace llcuda
