#pragma once
// An error that becomes an OpenAI-style error response: HTTP status and
// {"error": {"message", "type", "param", "code"}}.
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.hpp"

namespace llcuda {

class ApiError : public Error {
  public:
    ApiError(int status, std::string message, std::string param = "")
        : Error(message), status_(status), param_(std::move(param)) {}
    int status() const { return status_; }
    const std::string& param() const { return param_; }

  private:
    int status_;
    std::string param_;
};

// The JSON body for a status and message (type and code follow OpenAI's use per status).
nlohmann::json error_body(int status, const std::string& message, const std::string& param = "");

}  // namespace llcuda
