#include <cstdio>
#include <exception>

#include "app/commands.hpp"
#include "core/error.hpp"

int main(int argc, char** argv) {
    CLI::App app{"llcuda: run GGUF language models locally, on NVIDIA GPUs or the CPU"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "llcuda 0.1.0");
    llcuda::register_run_command(app);
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
        return app.exit(error);
    } catch (const llcuda::Error& error) {
        std::fprintf(stderr, "llcuda: error: %s\n", error.what());
        return 1;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "llcuda: internal error: %s\n", error.what());
        return 2;
    }
    return 0;
}
