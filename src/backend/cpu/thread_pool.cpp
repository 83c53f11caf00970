#include "backend/cpu/thread_pool.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <system_error>
#include <utility>

#include "core/error.hpp"

namespace llcuda {

size_t ThreadPool::max_thread_count() {
    return std::max<size_t>(kMinimumThreadLimit, 4 * default_thread_count());
}

ThreadPool::ThreadPool(size_t thread_count) {
    if (thread_count > max_thread_count()) {
        throw Error(fmt::format(
            "-t/--threads {} is more than {} (4 per hardware thread, of which there are {}); "
            "more threads than cores only slow the work down",
            thread_count, max_thread_count(), default_thread_count()));
    }
    const size_t extra = thread_count > 1 ? thread_count - 1 : 0;
    try {
        for (size_t i = 0; i < extra; ++i) workers_.emplace_back([this, i] { worker_loop(i + 1); });
    } catch (const std::system_error& error) {
        stop_workers();  // a constructor that throws gets no destructor
        throw Error(fmt::format("cannot start {} CPU threads ({}); use a smaller -t/--threads",
                                thread_count, error.what()));
    }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() {
    stopping_ = true;
    {
        std::lock_guard lock(mutex_);  // a worker between its check and its wait sees it
    }
    work_ready_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
}

size_t ThreadPool::default_thread_count() {
    return std::max<size_t>(1, std::thread::hardware_concurrency());
}

void ThreadPool::run_share(size_t share_index) {
    const size_t shares = size();
    const size_t begin = count_ * share_index / shares;
    const size_t end = count_ * (share_index + 1) / shares;
    if (begin == end) return;
    try {
        (*body_)(begin, end);
    } catch (...) {
        std::lock_guard lock(mutex_);
        if (!first_error_) first_error_ = std::current_exception();
    }
}

namespace {

// How long a thread spins before it sleeps: long enough to span the gaps between the calls of
// one forward pass, short enough not to hold a core that an idle engine should give back.
constexpr auto kSpinTime = std::chrono::microseconds(200);

inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

}  // namespace

template <typename Done>
void ThreadPool::wait_for(std::condition_variable& wake, std::atomic<size_t>& sleepers, Done done) {
    const auto spin_until = std::chrono::steady_clock::now() + kSpinTime;
    for (size_t round = 0; !done(); ++round) {
        relax();
        if (round % 64 == 63 && std::chrono::steady_clock::now() > spin_until) {
            std::unique_lock lock(mutex_);
            ++sleepers;  // seq_cst: a notify() after this sees it, one before it made done() true
            wake.wait(lock, done);
            --sleepers;
            return;
        }
    }
}

void ThreadPool::notify(std::condition_variable& wake, std::atomic<size_t>& sleepers) {
    if (sleepers.load() == 0) return;
    { std::lock_guard lock(mutex_); }
    wake.notify_all();
}

void ThreadPool::worker_loop(size_t worker_index) {
    size_t seen_generation = 0;
    while (true) {
        wait_for(work_ready_, workers_asleep_,
                 [&] { return stopping_.load() || generation_.load() != seen_generation; });
        if (stopping_) return;
        seen_generation = generation_.load();
        run_share(worker_index);
        if (pending_.fetch_sub(1) == 1) notify(work_done_, callers_asleep_);
    }
}

void ThreadPool::parallel_for(size_t count, const std::function<void(size_t, size_t)>& body) {
    if (workers_.empty() || count <= 1) {
        if (count > 0) body(0, count);
        return;
    }
    body_ = &body;
    count_ = count;
    first_error_ = nullptr;
    pending_ = workers_.size();
    generation_.fetch_add(1);  // publishes body_ and count_ to the workers
    notify(work_ready_, workers_asleep_);
    run_share(0);
    wait_for(work_done_, callers_asleep_, [&] { return pending_.load() == 0; });
    body_ = nullptr;
    std::lock_guard lock(mutex_);
    if (first_error_) std::rethrow_exception(std::exchange(first_error_, nullptr));
}

}  // namespace llcuda
