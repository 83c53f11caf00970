#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "app/commands.hpp"
#include "core/error.hpp"

namespace {

// CLI11 exits with codes of its own (105, 106, 114, ...) and, for a word that is not a
// command, only says that one is required. Usage errors exit 1 and name what was wrong.
int report_usage_error(const CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
    // --help, --version, and the exit codes commands choose (doctor's 2, 3, 4)
    if (error.get_exit_code() == 0 || dynamic_cast<const CLI::RuntimeError*>(&error) != nullptr)
        return app.exit(error);
    if (argc > 1 && argv[1][0] != '-') {
        std::string commands;
        bool known = false;
        for (const auto* command : app.get_subcommands({})) {
            known = known || command->get_name() == argv[1];
            commands += (commands.empty() ? "" : ", ") + command->get_name();
        }
        if (!known) {
            std::fprintf(stderr, "llcuda: error: '%s' is not a command (commands: %s)\n", argv[1],
                         commands.c_str());
            return 1;
        }
    }
    std::fprintf(stderr, "llcuda: error: %s\nRun with --help for more information.\n",
                 error.what());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"llcuda: run GGUF language models locally, on NVIDIA GPUs or the CPU"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "llcuda 0.1.0");
    llcuda::register_run_command(app);
    llcuda::register_chat_command(app);
    llcuda::register_inspect_command(app);
    llcuda::register_quantize_command(app);
    llcuda::register_pull_command(app);
    llcuda::register_models_command(app);
    llcuda::register_doctor_command(app);
    llcuda::register_bench_command(app);
    llcuda::register_synth_command(app);
    llcuda::register_batch_command(app);
    llcuda::register_perplexity_command(app);
    llcuda::register_tokenize_command(app);
#ifdef LLCUDA_HAVE_SERVER
    llcuda::register_serve_command(app);
#endif
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return report_usage_error(app, error, argc, argv);
    } catch (const llcuda::Error& error) {
        std::fprintf(stderr, "llcuda: error: %s\n", error.what());
        return 1;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr,
                     "llcuda: error: out of memory; use a smaller model, context (-c) or "
                     "--parallel\n");
        return 1;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "llcuda: internal error: %s\n", error.what());
        return 2;
    }
    return 0;
}
