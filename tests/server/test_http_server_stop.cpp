// A server stopped before its listening thread began must not listen: httplib's own stop()
// does nothing then, and `llcuda serve` with a model that failed to load at once hung in CI
// (hostile_inputs: `serve --parallel 1024 -c 1048576` ran past its 30 s).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "server/http_server.hpp"

namespace llcuda {
namespace {

ServerOptions any_port() {
    ServerOptions options;
    options.port = 0;
    options.http_threads = 2;
    return options;
}

// run() on its own thread; true when it returned within the time.
bool run_returns(HttpServer& server, std::chrono::seconds within) {
    auto running = std::async(std::launch::async, [&server] { server.run(); });
    return running.wait_for(within) == std::future_status::ready;
}

TEST(HttpServerStop, StopBeforeRunMeansRunReturnsAtOnce) {
    HttpServer server(any_port());
    server.stop();
    const bool returned = run_returns(server, std::chrono::seconds(5));
    EXPECT_TRUE(returned);
    if (!returned) std::_Exit(1);  // a listening thread cannot be joined; end the test run
}

TEST(HttpServerStop, StopRightAfterRunStartsEndsIt) {
    for (int attempt = 0; attempt < 50; ++attempt) {
        HttpServer server(any_port());
        std::thread http([&server] { server.run(); });
        if (attempt % 2 == 1) std::this_thread::sleep_for(std::chrono::microseconds(attempt * 20));
        server.stop();  // returns only once run() listens no more, or never will
        http.join();
    }
}

}  // namespace
}  // namespace llcuda
