#pragma once
// The options every command that loads a model shares: device, GPU layers, KV cache type,
// context, threads, CUDA graphs.
#include <CLI/CLI.hpp>

#include "llcuda/engine.hpp"

namespace llcuda {

void add_engine_options(CLI::App& command, EngineOptions& options);

// Refuses "-3" for an unsigned option, which CLI11 would otherwise wrap to a huge count.
CLI::Validator non_negative();

// The prefix cache on, and --no-prefix-cache to turn it off, for the commands that run several
// prompts on one engine (serve, chat, batch).
void add_prefix_cache_option(CLI::App& command, EngineOptions& options);

// Generation length, sampling (all but the seed, whose default differs by command) and stop
// strings.
void add_sampling_options(CLI::App& command, GenerationOptions& options);

// Where the model runs, layer by layer, and the GPU memory it holds (for --verbose).
void print_placement(const ModelSummary& summary);

}  // namespace llcuda
