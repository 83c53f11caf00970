// The web chat page served at GET /, embedded in the binary (src/server/web/chat.html).
#pragma once

#include <string_view>

namespace llcuda {

std::string_view web_chat_page();

}  // namespace llcuda
