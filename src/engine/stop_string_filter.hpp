#pragma once
// Holds back generated text that might be the start of a stop string, so the caller never
// sees a stop string (or a part of one that then completes).
#include <string>
#include <string_view>
#include <vector>

namespace llcuda {

class StopStringFilter {
  public:
    explicit StopStringFilter(std::vector<std::string> stop_strings);

    // Adds text; returns what is now safe to show. After a stop string is found, stopped()
    // is true and nothing more is returned.
    std::string push(std::string_view text);
    std::string finish();  // the held-back remainder, when generation ends for another reason
    bool stopped() const { return stopped_; }

  private:
    std::vector<std::string> stop_strings_;
    std::string held_;
    bool stopped_ = false;
};

}  // namespace llcuda
