#include "server/request_scheduler.hpp"

#include <cstdio>

#include "core/error.hpp"

namespace llcuda {

void RequestChannel::push(ChannelEvent event) {
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(event));
    }
    ready_.notify_one();
}

std::optional<ChannelEvent> RequestChannel::pop(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, wait, [&] { return !events_.empty(); })) return std::nullopt;
    ChannelEvent event = std::move(events_.front());
    events_.pop_front();
    return event;
}

void RequestChannel::abort(std::string reason) {
    {
        std::lock_guard lock(mutex_);
        abort_reason_ = std::move(reason);
    }
    cancelled_ = true;
}

std::optional<std::string> RequestChannel::abort_reason() const {
    std::lock_guard lock(mutex_);
    return abort_reason_;
}

RequestScheduler::RequestScheduler(Engine& engine, size_t max_queue,
                                   std::function<void(const GenerationResult&)> on_result)
    : engine_(engine),
      max_queue_(max_queue),
      on_result_(std::move(on_result)),
      thread_([this] { loop(); }) {}

RequestScheduler::~RequestScheduler() {
    shutdown();
    thread_.join();
}

void RequestScheduler::refuse_new() {
    std::lock_guard lock(mutex_);
    refusing_ = true;
}

bool RequestScheduler::idle() const {
    std::lock_guard lock(mutex_);
    return queue_.empty() && active_ == 0;
}

void RequestScheduler::shutdown(const std::string& reason) {
    {
        std::lock_guard lock(mutex_);
        stopping_ = refusing_ = true;
        for (auto& job : queue_) job.channel->push(ChannelEvent::failure(job.choice, reason));
        queue_.clear();
        for (auto& job : running_)
            if (job.channel) job.channel->abort(reason);
    }
    work_.notify_all();
}

bool RequestScheduler::stopping() const {
    std::lock_guard lock(mutex_);
    return refusing_;
}

std::shared_ptr<RequestChannel> RequestScheduler::submit(const std::vector<int32_t>& prompt_tokens,
                                                         const GenerationOptions& options,
                                                         size_t choices,
                                                         std::chrono::seconds timeout) {
    auto channel =
        std::make_shared<RequestChannel>(choices, RequestChannel::Clock::now() + timeout);
    {
        std::lock_guard lock(mutex_);
        if (refusing_ || queue_.size() + choices > max_queue_) return nullptr;
        for (size_t choice = 0; choice < choices; ++choice) {
            Job job;
            job.request.prompt_tokens = prompt_tokens;
            job.request.options = options;
            // Choices differ by seed; each is reproducible on its own.
            job.request.options.sampling.seed = options.sampling.seed + choice;
            job.channel = channel;
            job.choice = choice;
            queue_.push_back(std::move(job));
        }
    }
    work_.notify_one();
    return channel;
}

SchedulerStatistics RequestScheduler::statistics() const {
    std::lock_guard lock(mutex_);
    return {queue_.size(), active_};
}

void RequestScheduler::loop() {
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
        }
        try {
            engine_.generate_batch(
                [&](BatchRequest& request) {
                    std::lock_guard lock(mutex_);
                    while (!queue_.empty() && queue_.front().channel->should_stop()) {
                        // Gone or expired before it started: never admitted.
                        auto& job = queue_.front();
                        job.channel->push(
                            ChannelEvent::failure(job.choice, "cancelled before it started"));
                        queue_.pop_front();
                    }
                    if (queue_.empty() || stopping_) return false;
                    Job job = std::move(queue_.front());
                    queue_.pop_front();
                    auto channel = job.channel;
                    const size_t choice = job.choice;
                    job.request.on_text = [channel, choice](std::string_view text) {
                        channel->push(ChannelEvent::text_event(choice, std::string(text)));
                    };
                    job.request.options.should_stop = [channel] { return channel->should_stop(); };
                    job.request.tag = running_.size();
                    request = job.request;
                    running_.push_back(std::move(job));
                    ++active_;
                    return true;
                },
                [&](const BatchRequest& request, GenerationResult&& result,
                    std::exception_ptr error) {
                    Job job;
                    {
                        std::lock_guard lock(mutex_);
                        job = std::move(running_.at(request.tag));
                        --active_;
                        if (active_ == 0) running_.clear();
                    }
                    ChannelEvent event;
                    event.choice = job.choice;
                    if (error) {
                        event.kind = ChannelEvent::Kind::Failed;
                        try {
                            std::rethrow_exception(error);
                        } catch (const std::exception& failure) {
                            event.error = failure.what();
                        }
                    } else {
                        if (on_result_) on_result_(result);
                        event.kind = ChannelEvent::Kind::Finished;
                        event.result = std::move(result);
                    }
                    job.channel->push(std::move(event));
                });
        } catch (const std::exception& failure) {
            // The engine itself failed (not one request): every running request hears why.
            std::lock_guard lock(mutex_);
            for (auto& job : running_) {
                if (!job.channel) continue;
                job.channel->push(ChannelEvent::failure(job.choice, failure.what()));
            }
            running_.clear();
            active_ = 0;
            std::fprintf(stderr, "llcuda serve: generation failed: %s\n", failure.what());
        }
    }
}

}  // namespace llcuda
