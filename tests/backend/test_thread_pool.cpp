#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "backend/cpu/thread_pool.hpp"
#include "core/error.hpp"

namespace llcuda {
namespace {

TEST(ThreadPool, CoversEveryIndexOnce) {
    ThreadPool pool(4);
    for (const size_t count : {0, 1, 3, 4, 5, 1000}) {
        std::vector<std::atomic<int>> hits(count);
        pool.parallel_for(count, [&](size_t begin, size_t end) {
            for (size_t i = begin; i < end; ++i) hits[i]++;
        });
        for (size_t i = 0; i < count; ++i)
            ASSERT_EQ(hits[i].load(), 1) << "count " << count << " index " << i;
    }
}

// Ranges are claimed as threads go, in chunks of at least min_chunk; a job no longer than
// min_chunk stays on the calling thread.
TEST(ThreadPool, ChunksAreAtLeastMinChunkAndSmallJobsStayOnTheCaller) {
    ThreadPool pool(2);
    for (const size_t count : {5, 64, 1000}) {
        std::vector<std::atomic<int>> hits(count);
        std::atomic<bool> short_range{false};
        pool.parallel_for(
            count,
            [&](size_t begin, size_t end) {
                if (end - begin < 8 && end != count) short_range = true;
                for (size_t i = begin; i < end; ++i) hits[i]++;
            },
            8);
        EXPECT_FALSE(short_range.load()) << "count " << count;
        for (size_t i = 0; i < count; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i;
    }
    const auto caller = std::this_thread::get_id();
    std::atomic<bool> elsewhere{false};
    for (int repeat = 0; repeat < 100; ++repeat)
        pool.parallel_for(
            8,
            [&](size_t, size_t) { elsewhere = elsewhere || std::this_thread::get_id() != caller; },
            8);
    EXPECT_FALSE(elsewhere.load());
}

// Many short jobs back to back (a decode step's pattern): every index once in every job, even
// while a worker may still be finishing the job before.
TEST(ThreadPool, BackToBackJobsEachCoverEveryIndexOnce) {
    ThreadPool pool(3);
    std::vector<std::atomic<int>> hits(37);
    for (int job = 0; job < 2000; ++job) {
        pool.parallel_for(hits.size(), [&](size_t begin, size_t end) {
            for (size_t i = begin; i < end; ++i) hits[i]++;
        });
    }
    for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 2000) << "index " << i;
}

TEST(ThreadPool, RethrowsAWorkersException) {
    ThreadPool pool(3);
    EXPECT_THROW(pool.parallel_for(30,
                                   [](size_t begin, size_t) {
                                       if (begin > 0) throw std::runtime_error("boom");
                                   }),
                 std::runtime_error);
    std::atomic<size_t> total{0};  // still usable afterwards
    pool.parallel_for(10, [&](size_t begin, size_t end) { total += end - begin; });
    EXPECT_EQ(total.load(), 10u);
}

// A wrapped negative count or a typo must not start thousands of threads (which exhausted the
// machine's thread limit when it was allowed).
TEST(ThreadPool, RefusesCountsBeyondTheLimitNamingTheOption) {
    try {
        ThreadPool pool(ThreadPool::max_thread_count() + 1);
        FAIL() << "a pool beyond the limit was created";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("-t/--threads"), std::string::npos);
    }
    EXPECT_NO_THROW(ThreadPool(ThreadPool::default_thread_count()));
}

}  // namespace
}  // namespace llcuda
