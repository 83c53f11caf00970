#pragma once
// Between the HTTP threads and the engine: requests wait in a bounded queue, one scheduler
// thread runs them with continuous batching (new ones join between decode steps), and each
// request's text and result come back through its own channel. A channel that is cancelled
// (client gone) or past its deadline stops its generations at the next step.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "llcuda/engine.hpp"

namespace llcuda {

struct ChannelEvent {
    enum class Kind { Text, Finished, Failed } kind = Kind::Text;
    size_t choice = 0;
    std::string text;         // Text
    GenerationResult result;  // Finished
    std::string error;        // Failed

    static ChannelEvent text_event(size_t choice, std::string text) {
        ChannelEvent event;
        event.choice = choice;
        event.text = std::move(text);
        return event;
    }
    static ChannelEvent failure(size_t choice, std::string error) {
        ChannelEvent event;
        event.kind = Kind::Failed;
        event.choice = choice;
        event.error = std::move(error);
        return event;
    }
};

class RequestChannel {
  public:
    using Clock = std::chrono::steady_clock;
    RequestChannel(size_t choices, Clock::time_point deadline)
        : choices_(choices), deadline_(deadline) {}

    void push(ChannelEvent event);
    // The next event, or nothing after `wait`.
    std::optional<ChannelEvent> pop(std::chrono::milliseconds wait);

    void cancel() { cancelled_ = true; }
    // Stops the generations because the server stops: the client hears this reason as an
    // error, never a normal end.
    void abort(std::string reason);
    std::optional<std::string> abort_reason() const;
    bool should_stop() const { return cancelled_ || Clock::now() > deadline_; }
    bool timed_out() const { return Clock::now() > deadline_; }
    size_t choices() const { return choices_; }

  private:
    size_t choices_;
    Clock::time_point deadline_;
    std::atomic<bool> cancelled_{false};
    std::optional<std::string> abort_reason_;  // guarded by mutex_
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<ChannelEvent> events_;
};

struct SchedulerStatistics {
    size_t queued = 0;  // waiting for a slot
    size_t active = 0;  // generating
};

class RequestScheduler {
  public:
    // on_result hears every generation that ends, finished or cut short, so that its tokens
    // are counted whether or not a client is still there to receive them.
    RequestScheduler(Engine& engine, size_t max_queue,
                     std::function<void(const GenerationResult&)> on_result);
    ~RequestScheduler();
    RequestScheduler(const RequestScheduler&) = delete;
    RequestScheduler& operator=(const RequestScheduler&) = delete;

    // Queues one generation per choice; null when the queue is full.
    std::shared_ptr<RequestChannel> submit(const std::vector<int32_t>& prompt_tokens,
                                           const GenerationOptions& options, size_t choices,
                                           std::chrono::seconds timeout);
    SchedulerStatistics statistics() const;
    // Later submits get null; what is queued or running goes on.
    void refuse_new();
    // True when nothing is queued or running.
    bool idle() const;
    // Fails every waiting request and aborts the running ones with `reason`, so that no HTTP
    // thread waits on a generation that will never finish; later submits get null.
    void shutdown(const std::string& reason = "the server is shutting down");
    bool stopping() const;

  private:
    struct Job {
        BatchRequest request;
        std::shared_ptr<RequestChannel> channel;
        size_t choice = 0;
    };
    void loop();

    Engine& engine_;
    size_t max_queue_;
    std::function<void(const GenerationResult&)> on_result_;
    mutable std::mutex mutex_;
    std::condition_variable work_;
    std::deque<Job> queue_;
    std::vector<Job> running_;  // by tag
    size_t active_ = 0;
    bool stopping_ = false;  // the loop ends
    bool refusing_ = false;  // submits get null
    std::thread thread_;
};

}  // namespace llcuda
