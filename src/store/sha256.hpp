#pragma once
// SHA-256 through OpenSSL, incrementally (downloads hash while they write) or of a whole file.
#include <cstddef>
#include <memory>
#include <string>

namespace llcuda {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, size_t size);
    std::string hex_digest();  // lower-case hex; the object is spent afterwards

  private:
    struct Context;
    std::unique_ptr<Context> context_;
};

std::string sha256_of_file(const std::string& path);

// Whether `text` is a lower-case hex SHA-256 digest (64 characters).
bool is_sha256_hex(const std::string& text);

}  // namespace llcuda
