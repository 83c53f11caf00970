#pragma once
// Each subcommand registers its options and its action on the top-level CLI11 app.
#include <CLI/CLI.hpp>

namespace llcuda {

void register_run_command(CLI::App& app);
void register_chat_command(CLI::App& app);
void register_inspect_command(CLI::App& app);
void register_quantize_command(CLI::App& app);
void register_pull_command(CLI::App& app);
void register_models_command(CLI::App& app);
void register_doctor_command(CLI::App& app);
void register_bench_command(CLI::App& app);
void register_synth_command(CLI::App& app);
void register_batch_command(CLI::App& app);
void register_serve_command(CLI::App& app);
void register_perplexity_command(CLI::App& app);
void register_tokenize_command(CLI::App& app);

}  // namespace llcuda
