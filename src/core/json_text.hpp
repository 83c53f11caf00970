#pragma once
// JSON as text that never throws on invalid UTF-8 (such bytes become U+FFFD): generated text and
// user input reach JSON output, and neither is guaranteed valid UTF-8.
#include <string>

namespace llcuda {

template <typename Json>
std::string json_text(const Json& value) {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace llcuda
