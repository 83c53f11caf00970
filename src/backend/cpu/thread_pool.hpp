#pragma once
// A fixed set of worker threads that split index ranges between them. The calling thread
// takes a share too, so a pool of N threads uses N cores. Between calls, workers and the caller
// spin for a short while before they sleep: a decode step makes a few dozen calls microseconds
// apart, and a condition variable's wake-up for each cost more than the work (2 threads were
// 2.2x slower than 1 on stories260K).
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace llcuda {

class ThreadPool {
  public:
    explicit ThreadPool(size_t thread_count);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    size_t size() const { return workers_.size() + 1; }

    // Calls body(begin, end) on disjoint ranges covering [0, count), which threads claim as they
    // go (about four per thread); returns when all are done.
    // The first exception thrown by any range is rethrown here.
    // Ranges are at least min_chunk long, so a job of at most min_chunk indices runs on the
    // calling thread alone (a handoff costs microseconds, more than a tiny job's work).
    void parallel_for(size_t count, const std::function<void(size_t, size_t)>& body,
                      size_t min_chunk = 1);

    static size_t default_thread_count();
    // The most threads a pool takes: 4 per hardware thread, at least kMinimumThreadLimit.
    // Beyond it a count is a mistake (a negative number wrapped, a typo) and would exhaust the
    // process's thread limit.
    static size_t max_thread_count();
    static constexpr size_t kMinimumThreadLimit = 64;

  private:
    void worker_loop();
    void stop_workers();
    void run_chunks();

    // Waits until done() holds: spinning first, then asleep on `wake` (woken by notify()).
    template <typename Done>
    void wait_for(std::condition_variable& wake, std::atomic<size_t>& sleepers, Done done);
    void notify(std::condition_variable& wake, std::atomic<size_t>& sleepers);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable work_ready_;
    std::condition_variable work_done_;
    std::atomic<size_t> workers_asleep_{0};
    std::atomic<size_t> callers_asleep_{0};
    // The job: its description, and the ticket (job number << 32 | first unclaimed index).
    std::atomic<const std::function<void(size_t, size_t)>*> body_{nullptr};
    std::atomic<size_t> count_{0};
    std::atomic<size_t> chunk_{1};
    static constexpr uint64_t kClosed = 0xFFFFFFFFu;  // job 0's index past any count
    std::atomic<uint64_t> ticket_{kClosed};
    std::atomic<size_t> chunks_done_{0};
    std::atomic<size_t> generation_{0};
    std::atomic<bool> stopping_{false};
    std::exception_ptr first_error_;
};

}  // namespace llcuda
