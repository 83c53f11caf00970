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
        for (size_t i = 0; i < extra; ++i) workers_.emplace_back([this] { worker_loop(); });
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

void ThreadPool::run_chunks() {
    // Chunks are claimed from one ticket word, (job << 32) | next index, rather than split evenly
    // up front, and the caller waits for chunks done, not for every worker to show up: on a
    // machine whose cores other processes also use, a thread that has lost its core leaves its
    // rows to the others instead of keeping them waiting for a scheduler slice (stories260K, 2
    // threads, load 12 on 2 cores: 27 tok/s with the even split, against 7,800 with 1 thread).
    uint64_t ticket = ticket_.load();
    while (true) {
        const uint64_t job = ticket >> 32;
        const size_t index = static_cast<size_t>(ticket & 0xFFFFFFFFu);
        // Read before the claim; a successful claim proves the caller had not yet closed this
        // job (its closing exchange reads this claim, so these reads happen before it rewrites).
        const auto* body = body_.load(std::memory_order_relaxed);
        const size_t count = count_.load(std::memory_order_relaxed);
        const size_t chunk = chunk_.load(std::memory_order_relaxed);
        if (job != (ticket_.load() >> 32) || index >= count) return;
        if (!ticket_.compare_exchange_weak(ticket, ticket + chunk)) continue;
        try {
            (*body)(index, std::min(count, index + chunk));
        } catch (...) {
            std::lock_guard lock(mutex_);
            if (!first_error_) first_error_ = std::current_exception();
        }
        const size_t chunks = (count + chunk - 1) / chunk;
        if (chunks_done_.fetch_add(1) + 1 == chunks) notify(work_done_, callers_asleep_);
        ticket = ticket_.load();
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

void ThreadPool::worker_loop() {
    size_t seen_generation = 0;
    while (true) {
        wait_for(work_ready_, workers_asleep_,
                 [&] { return stopping_.load() || generation_.load() != seen_generation; });
        if (stopping_) return;
        seen_generation = generation_.load();
        run_chunks();
    }
}

void ThreadPool::parallel_for(size_t count, const std::function<void(size_t, size_t)>& body,
                              size_t min_chunk) {
    if (workers_.empty() || count <= std::max<size_t>(1, min_chunk)) {
        if (count > 0) body(0, count);
        return;
    }
    if (count > 0xFFFFFFFFu) {  // the ticket holds a 32-bit index
        body(0, count);
        return;
    }
    // Four chunks per thread: small enough to even out a stolen core, few enough that claiming
    // costs nothing next to a chunk's rows.
    const size_t chunk = std::max<size_t>({1, min_chunk, count / (4 * size())});
    const size_t chunks = (count + chunk - 1) / chunk;
    // Close the last job (no index left) before its description is rewritten: a worker that
    // read the old one can no longer claim with it.
    const uint64_t job = (ticket_.exchange(kClosed) >> 32) + 1;
    body_.store(&body, std::memory_order_relaxed);
    count_.store(count, std::memory_order_relaxed);
    chunk_.store(chunk, std::memory_order_relaxed);
    first_error_ = nullptr;
    chunks_done_ = 0;
    ticket_.store((job & 0xFFFFFFFFu) << 32);  // publishes the job, index 0
    generation_.fetch_add(1);
    notify(work_ready_, workers_asleep_);
    run_chunks();
    wait_for(work_done_, callers_asleep_, [&] { return chunks_done_.load() == chunks; });
    std::lock_guard lock(mutex_);
    if (first_error_) std::rethrow_exception(std::exchange(first_error_, nullptr));
}

}  // namespace llcuda
