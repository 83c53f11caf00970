#pragma once
// An httplib::Stream over one accepted socket whose read buffer lives as long as the
// connection, so bytes read ahead (a pipelined request) wait for the next request.
// (Header-only: the server's sources are listed in the shared src/CMakeLists.txt.)
#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

namespace llcuda {

// Waits up to `wait` for one of `events` on the socket.
inline bool wait_for_socket(int socket, short events, std::chrono::milliseconds wait) {
    pollfd entry{.fd = socket, .events = events, .revents = 0};
    int ready = 0;
    do {
        ready = ::poll(&entry, 1, static_cast<int>(wait.count()));
    } while (ready < 0 && errno == EINTR);
    return ready > 0;
}

// Readable (or closed: a read returns at once).
inline bool wait_readable(int socket, std::chrono::milliseconds wait) {
    return wait_for_socket(socket, POLLIN, wait);
}

// False once the peer has closed its side (a read would return 0) or the socket failed.
inline bool peer_connected(int socket) {
    pollfd entry{.fd = socket, .events = POLLIN | POLLRDHUP, .revents = 0};
    if (::poll(&entry, 1, 0) <= 0) return true;  // nothing to read: still there
    if (entry.revents & (POLLERR | POLLHUP | POLLNVAL | POLLRDHUP)) return false;
    char byte = 0;
    const ssize_t peeked = ::recv(socket, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return peeked > 0 || (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

class ConnectionStream : public httplib::Stream {
  public:
    ConnectionStream(int socket, std::chrono::milliseconds read_timeout,
                     std::chrono::milliseconds write_timeout)
        : socket_(socket), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

    bool has_buffered_bytes() const { return next_ < buffered_.size(); }

    bool is_readable() const override {
        return has_buffered_bytes() || wait_readable(socket_, read_timeout_);
    }
    bool is_writable() const override {
        return wait_for_socket(socket_, POLLOUT, write_timeout_) && peer_connected(socket_);
    }

    ssize_t read(char* destination, size_t size) override {
        if (!has_buffered_bytes()) {
            if (!wait_readable(socket_, read_timeout_)) return -1;
            buffered_.resize(kReadChunk);
            ssize_t received = 0;
            do {
                received = ::recv(socket_, buffered_.data(), buffered_.size(), 0);
            } while (received < 0 && errno == EINTR);
            next_ = 0;
            if (received <= 0) {
                buffered_.clear();
                return received;
            }
            buffered_.resize(static_cast<size_t>(received));
        }
        const size_t count = std::min(size, buffered_.size() - next_);
        std::memcpy(destination, buffered_.data() + next_, count);
        next_ += count;
        return static_cast<ssize_t>(count);
    }

    ssize_t write(const char* source, size_t size) override {
        if (!wait_for_socket(socket_, POLLOUT, write_timeout_)) return -1;
        ssize_t sent = 0;
        do {
            sent = ::send(socket_, source, size, MSG_NOSIGNAL);
        } while (sent < 0 && errno == EINTR);
        return sent;
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        address(&getpeername, ip, port);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        address(&getsockname, ip, port);
    }
    socket_t socket() const override { return socket_; }

  private:
    static constexpr size_t kReadChunk = 16384;

    using NameQuery = int (*)(int, sockaddr*, socklen_t*);
    void address(NameQuery query, std::string& ip, int& port) const {
        sockaddr_storage storage{};
        socklen_t length = sizeof storage;
        if (query(socket_, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return;
        char host[NI_MAXHOST] = {}, service[NI_MAXSERV] = {};
        if (getnameinfo(reinterpret_cast<const sockaddr*>(&storage), length, host, sizeof host,
                        service, sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
            ip = host;
            port = std::atoi(service);
        }
    }

    int socket_;
    std::chrono::milliseconds read_timeout_, write_timeout_;
    std::string buffered_;
    size_t next_ = 0;
};

}  // namespace llcuda
