#include "batch/mpi_batch.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <chrono>
#include <cstring>
#include <deque>

#include "core/error.hpp"
#include "core/json_text.hpp"

namespace llcuda {
namespace {

enum Tag : int {
    kRequest = 1,   // worker -> 0: int, how many items it can take
    kWork = 2,      // 0 -> worker: JSON array of items; empty: nothing more
    kResult = 3,    // worker -> 0: one BatchItemResult as JSON
    kFinished = 4,  // worker -> 0: all its results are sent
};

void check(int code, const char* what) {
    if (code != MPI_SUCCESS) throw Error(fmt::format("MPI {} failed (code {})", what, code));
}

void send_text(const std::string& text, int destination, int tag) {
    check(MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, destination, tag,
                   MPI_COMM_WORLD),
          "send");
}

std::string receive_text(const MPI_Status& probed) {
    int count = 0;
    MPI_Get_count(&probed, MPI_CHAR, &count);
    std::string text(static_cast<size_t>(count), '\0');
    check(MPI_Recv(text.data(), count, MPI_CHAR, probed.MPI_SOURCE, probed.MPI_TAG, MPI_COMM_WORLD,
                   MPI_STATUS_IGNORE),
          "receive");
    return text;
}

nlohmann::json item_to_json(const BatchItem& item) {
    return {{"index", item.index}, {"line", item.line}, {"id", item.id}, {"fields", item.fields}};
}

BatchItem item_from_json(const nlohmann::json& value) {
    BatchItem item;
    item.index = value.at("index").get<size_t>();
    item.line = value.at("line").get<size_t>();
    item.id = value.at("id").get<std::string>();
    item.fields = value.at("fields");
    return item;
}

// Rank 0's side of the protocol: answers whatever has arrived.
class Coordinator {
  public:
    Coordinator(BatchJob& job, int workers) : job_(job), workers_(workers) {}

    void serve_pending() {
        for (;;) {
            int flag = 0;
            MPI_Status status;
            check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status), "probe");
            if (!flag) return;
            handle(status);
        }
    }

    void serve_until_workers_finish() {
        while (finished_ < workers_) {
            MPI_Status status;
            check(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &status), "probe");
            handle(status);
        }
    }

  private:
    void handle(const MPI_Status& status) {
        if (status.MPI_TAG == kRequest) {
            int wanted = 0;
            check(MPI_Recv(&wanted, 1, MPI_INT, status.MPI_SOURCE, kRequest, MPI_COMM_WORLD,
                           MPI_STATUS_IGNORE),
                  "receive");
            auto items = nlohmann::json::array();
            for (int i = 0; i < wanted; ++i) {
                const BatchItem* item = job_.take();
                if (item == nullptr) break;
                items.push_back(item_to_json(*item));
            }
            send_text(items.dump(), status.MPI_SOURCE, kWork);
        } else if (status.MPI_TAG == kResult) {
            job_.complete(BatchItemResult::from_json(nlohmann::json::parse(receive_text(status))));
        } else if (status.MPI_TAG == kFinished) {
            receive_text(status);
            ++finished_;
        } else {
            throw Error(fmt::format("unexpected MPI message (tag {}) from rank {}", status.MPI_TAG,
                                    status.MPI_SOURCE));
        }
    }

    BatchJob& job_;
    int workers_;
    int finished_ = 0;
};

}  // namespace

MpiSession::MpiSession() {
    check(MPI_Init(nullptr, nullptr), "init");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() { MPI_Finalize(); }

std::vector<RankReport> run_batch_over_mpi(const MpiSession& session, Engine& engine,
                                           const GenerationOptions& defaults, BatchJob* job) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    RankReport mine;
    mine.rank = session.rank();
    mine.device = engine.summary().device_description;
    auto count = [&](const BatchItemResult& result) {
        ++mine.items;
        mine.completion_tokens += result.record.value("completion_tokens", uint64_t{0});
        mine.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    };

    if (session.rank() == 0) {
        if (job == nullptr) throw Error("MPI rank 0 needs the batch job");
        Coordinator coordinator(*job, session.size() - 1);
        run_batch_items(
            engine, defaults,
            [&] {
                coordinator.serve_pending();
                return job->take();
            },
            [&](const BatchItemResult& result) {
                count(result);
                job->complete(result);
            },
            [&] { coordinator.serve_pending(); });
        coordinator.serve_until_workers_finish();
    } else {
        std::deque<BatchItem> received;  // stable addresses while the engine runs them
        size_t next = 0;
        bool no_more = false;
        const int wanted = static_cast<int>(engine.summary().parallel);
        run_batch_items(
            engine, defaults,
            [&]() -> const BatchItem* {
                if (next == received.size() && !no_more) {
                    check(MPI_Send(&wanted, 1, MPI_INT, 0, kRequest, MPI_COMM_WORLD), "send");
                    MPI_Status status;
                    check(MPI_Probe(0, kWork, MPI_COMM_WORLD, &status), "probe");
                    const auto items = nlohmann::json::parse(receive_text(status));
                    no_more = items.empty();
                    for (const auto& item : items) received.push_back(item_from_json(item));
                }
                return next < received.size() ? &received[next++] : nullptr;
            },
            [&](const BatchItemResult& result) {
                count(result);
                send_text(json_text(result.to_json()), 0, kResult);
            });
        send_text("", 0, kFinished);
    }

    // One summary: every rank's figures to rank 0.
    constexpr int kDeviceChars = 96;
    double figures[3] = {static_cast<double>(mine.items),
                         static_cast<double>(mine.completion_tokens), mine.seconds};
    char device[kDeviceChars] = {};
    std::strncpy(device, mine.device.c_str(), kDeviceChars - 1);
    const bool root = session.rank() == 0;
    std::vector<double> all_figures(root ? 3 * session.size() : 0);
    std::vector<char> all_devices(root ? kDeviceChars * session.size() : 0);
    check(MPI_Gather(figures, 3, MPI_DOUBLE, all_figures.data(), 3, MPI_DOUBLE, 0, MPI_COMM_WORLD),
          "gather");
    check(MPI_Gather(device, kDeviceChars, MPI_CHAR, all_devices.data(), kDeviceChars, MPI_CHAR, 0,
                     MPI_COMM_WORLD),
          "gather");
    std::vector<RankReport> reports;
    for (int r = 0; root && r < session.size(); ++r) {
        RankReport report;
        report.rank = r;
        report.items = static_cast<size_t>(all_figures[3 * r]);
        report.completion_tokens = static_cast<uint64_t>(all_figures[3 * r + 1]);
        report.seconds = all_figures[3 * r + 2];
        report.device = std::string(all_devices.data() + kDeviceChars * r);
        reports.push_back(report);
    }
    return reports;
}

}  // namespace llcuda
