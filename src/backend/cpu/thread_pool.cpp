#include "backend/cpu/thread_pool.hpp"

#include <fmt/format.h>

#include <algorithm>
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
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
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

void ThreadPool::worker_loop(size_t worker_index) {
    size_t seen_generation = 0;
    while (true) {
        {
            std::unique_lock lock(mutex_);
            work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen_generation; });
            if (stopping_) return;
            seen_generation = generation_;
        }
        run_share(worker_index);
        {
            std::lock_guard lock(mutex_);
            if (--pending_ == 0) work_done_.notify_one();
        }
    }
}

void ThreadPool::parallel_for(size_t count, const std::function<void(size_t, size_t)>& body) {
    if (workers_.empty() || count <= 1) {
        if (count > 0) body(0, count);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        body_ = &body;
        count_ = count;
        pending_ = workers_.size();
        first_error_ = nullptr;
        ++generation_;
    }
    work_ready_.notify_all();
    run_share(0);
    std::unique_lock lock(mutex_);
    work_done_.wait(lock, [&] { return pending_ == 0; });
    body_ = nullptr;
    if (first_error_) std::rethrow_exception(std::exchange(first_error_, nullptr));
}

}  // namespace llcuda
