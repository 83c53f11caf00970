#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
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
