// The prompt (prefix) cache: which free slot a prompt takes and how much of it is reused
// (table of cases), and on stories260K a multi-turn conversation whose later turns reuse the
// earlier ones' KV cache, giving exactly the texts it gives with the cache off.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/prefix_cache.hpp"
#include "llcuda/engine.hpp"

namespace llcuda {
namespace {

const auto kAlwaysKeep = [](size_t) { return true; };

TEST(PrefixCache, CommonPrefixLength) {
    const std::vector<int32_t> a{1, 2, 3, 4}, b{1, 2, 5}, empty;
    EXPECT_EQ(common_prefix_length(a, b), 2u);
    EXPECT_EQ(common_prefix_length(a, a), 4u);
    EXPECT_EQ(common_prefix_length(a, empty), 0u);
    EXPECT_EQ(common_prefix_length(b, std::vector<int32_t>{7}), 0u);
}

TEST(PrefixCache, TakesTheSlotWithTheLongestPrefixAndKeepsTheLastPromptTokenToEvaluate) {
    const std::vector<int32_t> short_match{1, 2, 9}, long_match{1, 2, 3, 4, 8}, none{5};
    const std::vector<CachedSlot> slots{
        {.slot = 0, .tokens = short_match, .last_used = 1, .can_keep = kAlwaysKeep},
        {.slot = 3, .tokens = long_match, .last_used = 5, .can_keep = kAlwaysKeep},
        {.slot = 2, .tokens = none, .last_used = 0, .can_keep = kAlwaysKeep}};
    const std::vector<int32_t> prompt{1, 2, 3, 4, 5, 6};
    auto choice = choose_slot(slots, prompt);
    EXPECT_EQ(choice.slot, 3u);
    EXPECT_EQ(choice.reused, 4u);
    // The whole prompt cached: its last token is evaluated again for the logits.
    const std::vector<int32_t> cached_prompt{1, 2, 3, 4};
    choice = choose_slot(slots, cached_prompt);
    EXPECT_EQ(choice.slot, 3u);
    EXPECT_EQ(choice.reused, 3u);
    const std::vector<int32_t> one{1};
    EXPECT_EQ(choose_slot(slots, one).reused, 0u);
}

TEST(PrefixCache, WithoutAPrefixTakesTheLeastRecentlyUsedSlot) {
    const std::vector<int32_t> a{1, 2}, b{3, 4}, c{5, 6};
    const std::vector<CachedSlot> slots{
        {.slot = 0, .tokens = a, .last_used = 7, .can_keep = kAlwaysKeep},
        {.slot = 1, .tokens = b, .last_used = 2, .can_keep = kAlwaysKeep},
        {.slot = 2, .tokens = c, .last_used = 4, .can_keep = kAlwaysKeep}};
    const std::vector<int32_t> prompt{9, 9, 9};
    const auto choice = choose_slot(slots, prompt);
    EXPECT_EQ(choice.slot, 1u);
    EXPECT_EQ(choice.reused, 0u);
    // Equal prefixes in two slots: the older goes, the more recent conversation stays.
    const std::vector<CachedSlot> twins{
        {.slot = 4, .tokens = a, .last_used = 9, .can_keep = kAlwaysKeep},
        {.slot = 5, .tokens = a, .last_used = 3, .can_keep = kAlwaysKeep}};
    const std::vector<int32_t> continued{1, 2, 3};
    EXPECT_EQ(choose_slot(twins, continued).slot, 5u);
}

TEST(PrefixCache, ASharedBosDoesNotEvictALongConversation) {
    const std::vector<int32_t> chat{1, 2, 3, 4, 5, 6}, empty;
    const std::vector<int32_t> prompt{1, 7, 8};
    std::vector<CachedSlot> slots{
        {.slot = 0, .tokens = chat, .last_used = 9, .can_keep = kAlwaysKeep},
        {.slot = 1, .tokens = empty, .last_used = 0, .can_keep = kAlwaysKeep}};
    auto choice = choose_slot(slots, prompt);
    EXPECT_EQ(choice.slot, 1u);
    EXPECT_EQ(choice.reused, 0u);
    // The only free slot keeps what it can.
    slots.pop_back();
    choice = choose_slot(slots, prompt);
    EXPECT_EQ(choice.slot, 0u);
    EXPECT_EQ(choice.reused, 1u);
}

TEST(PrefixCache, APrefixTheRingCannotKeepIsNotReused) {
    const std::vector<int32_t> tokens{1, 2, 3, 4, 5};
    std::vector<size_t> asked;
    const std::vector<CachedSlot> slots{
        {.slot = 0, .tokens = tokens, .last_used = 1, .can_keep = [&](size_t length) {
             asked.push_back(length);
             return false;
         }}};
    const std::vector<int32_t> prompt{1, 2, 3, 4, 5, 6, 7};
    const auto choice = choose_slot(slots, prompt);
    EXPECT_EQ(choice.reused, 0u);
    EXPECT_EQ(asked, std::vector<size_t>{5});
    EXPECT_THROW(choose_slot({}, prompt), std::exception);
}

// Three turns of a conversation, each prompt the last one with its reply and a new line, in
// two slots with steps of 5 tokens (the rest of a prompt enters in chunks), greedy and sampled.
std::vector<GenerationResult> conversation(bool prefix_cache) {
    EngineOptions options;
    options.threads = 2;
    options.context_size = 256;
    options.parallel = 2;
    options.batch_size = 5;
    options.prefix_cache = prefix_cache;
    Engine engine(options);
    std::vector<GenerationResult> results;
    for (const bool sampled : {false, true}) {
        std::string prompt = "Once upon a time, there was a little girl named Lily.";
        for (int turn = 0; turn < 3; ++turn) {
            GenerationOptions generation;
            generation.max_tokens = 12;
            generation.sampling.temperature = sampled ? 0.8f : 0.0f;
            generation.sampling.seed = 42;
            results.push_back(engine.generate(prompt, generation));
            prompt += results.back().text + " She said,";
        }
        // Another request in between takes the other slot; the conversation's stays.
        GenerationOptions short_reply;
        short_reply.max_tokens = 4;
        results.push_back(engine.generate("The dog", short_reply));
    }
    return results;
}

TEST(PrefixCache, AConversationGivesTheSameTextsWithAndWithoutTheCache) {
    const auto cached = conversation(true);
    const auto uncached = conversation(false);
    ASSERT_EQ(cached.size(), uncached.size());
    for (size_t i = 0; i < cached.size(); ++i) {
        EXPECT_EQ(cached[i].prompt_tokens, uncached[i].prompt_tokens) << i;
        EXPECT_EQ(cached[i].tokens, uncached[i].tokens) << i;
        EXPECT_EQ(cached[i].text, uncached[i].text) << i;
        EXPECT_EQ(uncached[i].cached_tokens, 0u) << i;
    }
    EXPECT_EQ(cached[0].cached_tokens, 0u);
    // Turns 2 and 3 reuse at least the previous prompt (its reply may retokenize at the seam).
    for (const size_t turn : {1, 2}) {
        EXPECT_GE(cached[turn].cached_tokens, cached[turn - 1].prompt_tokens.size() - 1) << turn;
        EXPECT_LT(cached[turn].cached_tokens, cached[turn].prompt_tokens.size()) << turn;
    }
    // The sampled conversation starts as the greedy one did: its first prompt is in a slot.
    EXPECT_EQ(cached[4].cached_tokens, cached[0].prompt_tokens.size() - 1);
}

}  // namespace
}  // namespace llcuda
