#include "server/web_page.hpp"

extern "C" const char llcuda_web_page_begin[];
extern "C" const char llcuda_web_page_end[];

namespace llcuda {

std::string_view web_chat_page() {
    return {llcuda_web_page_begin,
            static_cast<size_t>(llcuda_web_page_end - llcuda_web_page_begin)};
}

}  // namespace llcuda
