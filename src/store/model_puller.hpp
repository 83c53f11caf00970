#pragma once
// `pull`: gets one file of a Hugging Face repository into the store, reusing the local Hugging
// Face cache when it has the file, resuming partial downloads, retrying transient failures and
// storing nothing whose SHA-256 differs from what the hub published.
#include <string>

#include "store/hf_hub.hpp"
#include "store/model_store.hpp"

namespace llcuda {

struct PullOptions {
    std::string revision = "main";
    bool quiet = false;
    int max_attempts = 5;
    int first_retry_delay_ms = 500;  // doubles after each failed attempt
};

struct PullResult {
    ManifestEntry entry;
    std::string how;  // "downloaded", "resumed", "already in the store", "reused from the Hugging
                      // Face cache"
};

// `spec` is "owner/repo" with `file`, or "owner/repo:QUANT" with an empty file.
PullResult pull_model(ModelStore& store, const HubSettings& hub, const std::string& spec,
                      const std::string& file, const PullOptions& options);

}  // namespace llcuda
