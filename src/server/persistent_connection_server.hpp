#pragma once
// cpp-httplib's server with one read buffer per connection instead of one per request.
//
// Why: httplib 0.11 (Debian's libcpp-httplib) makes a new SocketStream, with a new read
// buffer, for every request of a keep-alive connection, so the bytes of a pipelined second
// request that arrived with the first are thrown away and it is never answered. httplib still
// parses every request (its process_request); this only keeps a connection's bytes in one
// stream, lets a handler end the connection after its response, and lets the handlers ask
// whether their client is still connected. (Header-only: the server's sources are listed in
// the shared src/CMakeLists.txt.)
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>

#include "server/connection_stream.hpp"

namespace llcuda {

class PersistentConnectionServer : public httplib::Server {
  public:
    // The request header that carries the connection's socket to the handlers; a client's own
    // header of that name is removed first.
    static constexpr const char* kSocketHeader = "LLCUDA-Connection-Socket";

    // True when the client of this request has closed its side of the connection.
    static bool client_gone(const httplib::Request& request) {
        const auto socket = request.get_header_value(kSocketHeader);
        return !socket.empty() && !peer_connected(std::stoi(socket));
    }

    // Ends this request's connection after its response: what follows on it is not a request
    // (a body left unread, bytes that did not parse). Tells the client so.
    void close_after_response(const httplib::Request& request, httplib::Response& response) {
        response.set_header("Connection", "close");
        const auto socket = request.get_header_value(kSocketHeader);
        if (socket.empty()) return;
        std::lock_guard lock(closing_mutex_);
        closing_.insert(std::stoi(socket));
    }

    // How long one read may wait for bytes before the request is answered 400 (--read-timeout).
    void set_request_read_timeout(std::chrono::seconds timeout) {
        read_timeout_ = timeout;
        set_read_timeout(timeout.count(), 0);
    }

  private:
    // An idle keep-alive connection is checked this often for the server stopping, so that
    // stop() never waits the whole keep-alive timeout for a client that sends nothing.
    static constexpr std::chrono::milliseconds kIdleSlice{100};

    bool process_and_close_socket(socket_t socket) override {
        const auto write_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::seconds(write_timeout_sec_) +
            std::chrono::microseconds(write_timeout_usec_));
        ConnectionStream stream(socket, read_timeout_, write_timeout);
        const auto add_socket_header = [socket](httplib::Request& request) {
            request.headers.erase(kSocketHeader);
            request.headers.emplace(kSocketHeader, std::to_string(socket));
        };
        bool served = true;
        for (size_t count = 0; count < keep_alive_max_count_; ++count) {
            if (!stream.has_buffered_bytes() && !wait_for_request(socket)) break;
            bool connection_closed = false;
            served = process_request(stream, count + 1 == keep_alive_max_count_, connection_closed,
                                     add_socket_header);
            if (take_close_mark(socket) || !served || connection_closed) break;
        }
        take_close_mark(socket);  // a mark left by a request that failed mid-way
        ::shutdown(socket, SHUT_RDWR);
        ::close(socket);
        return served;
    }

    // The next request's first bytes, within the keep-alive timeout, unless the server stops.
    bool wait_for_request(int socket) const {
        const auto until =
            std::chrono::steady_clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
        while (is_running() && std::chrono::steady_clock::now() < until)
            if (wait_readable(socket, kIdleSlice)) return true;
        return false;
    }

    bool take_close_mark(int socket) {
        std::lock_guard lock(closing_mutex_);
        return closing_.erase(socket) > 0;
    }

    std::chrono::seconds read_timeout_{60};
    std::mutex closing_mutex_;
    std::set<int> closing_;  // sockets to close after the response being written
};

}  // namespace llcuda
