// `llcuda doctor`: is this machine and this build ready to run models on the GPU, and if not,
// what to do. Exit codes (for scripts) are listed in kExitCodes and in README.md.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/commands.hpp"
#include "backend/cpu/kernels/kernel_table.hpp"
#include "backend/cpu/memory_bandwidth.hpp"
#include "backend/cuda/architecture_coverage.hpp"
#include "backend/cuda/cuda_device.hpp"
#include "backend/cuda/nvml_library.hpp"
#include "core/error.hpp"
#include "core/tensor.hpp"
#include "engine/gpu_plan.hpp"
#include "engine/placement.hpp"
#include "model/memory_estimate.hpp"
#include "model/model_spec.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"
#include "store/progress_reporter.hpp"

namespace llcuda {
namespace {

enum DoctorExit {
    kReady = 0,
    kNoGpu = 2,            // no driver, no device, or a build without CUDA
    kGpuUnusable = 3,      // a GPU is there but this build cannot run on it
    kModelDoesNotFit = 4,  // with -m: the whole model does not fit in free VRAM
};

constexpr const char* kExitCodes =
    "Exit codes: 0 ready; 2 no usable NVIDIA GPU (driver, device or a build without CUDA); 3 a GPU "
    "is present "
    "but this build cannot use it (architecture not compiled, smoke test failed); 4 with -m, the "
    "model does not "
    "fit in free GPU memory (partial offload needed); 1 bad arguments or model file.";

struct DoctorArguments {
    bool json = false;
    std::string model;
    std::string store;
    size_t context_size = 4096;
    std::string gpu_memory;  // the most llcuda may take on each GPU (a smaller card's plan)
};

std::string version_text(int version) {
    return fmt::format("{}.{}", version / 1000, (version % 1000) / 10);
}

uint64_t physical_memory_bytes() {
    return static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
           static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
}

struct Report {
    nlohmann::json json;
    std::vector<std::string> lines;
    std::vector<std::string> problems;  // each says what to do
    int exit_code = kReady;
    void line(std::string text) { lines.push_back(std::move(text)); }
    void fail(int code, std::string problem) {
        if (exit_code == kReady || code < exit_code) exit_code = code;
        problems.push_back(std::move(problem));
    }
};

void check_gpus(Report& report, const NvmlLibrary& nvml, std::vector<CudaDeviceProbe>& usable) {
    const auto system = query_cuda_system();
    const auto architectures = compiled_cuda_architectures();
    std::string built;
    for (const auto& entry : architectures) built += (built.empty() ? "" : ",") + entry;
    report.json["build"] = {
        {"cuda", system.built_with_cuda},
        {"cuda_runtime", system.built_with_cuda ? version_text(system.runtime_version) : ""},
        {"architectures", architectures}};
    report.line(system.built_with_cuda
                    ? fmt::format("build: CUDA backend compiled (runtime {}), architectures {}",
                                  version_text(system.runtime_version), built)
                    : "build: without CUDA (CPU only)");
    const std::string driver = nvml.driver_version();
    report.json["driver"] = {
        {"version", driver},
        {"cuda", system.driver_version > 0 ? version_text(system.driver_version) : ""},
        {"nvml", nvml.available() ? "loaded" : nvml.problem()}};
    if (system.driver_version > 0 || !driver.empty()) {
        report.line(fmt::format("driver: {} (supports CUDA {}){}",
                                driver.empty() ? "version unknown" : driver,
                                version_text(system.driver_version),
                                nvml.available() ? "" : "; NVML: " + nvml.problem()));
    } else {
        report.line("driver: none found");
    }
    report.json["gpus"] = nlohmann::json::array();
    if (!system.problem.empty()) {
        report.line("GPU: none usable: " + system.problem);
        report.fail(kNoGpu, system.problem);
        return;
    }
    for (int index = 0; index < system.device_count; ++index) {
        const auto probe = probe_cuda_device(index);
        const auto status = nvml.device_status(static_cast<unsigned>(index));
        const auto coverage =
            architecture_coverage(probe.compute_major, probe.compute_minor, architectures);
        nlohmann::json gpu = {
            {"index", index},
            {"name", probe.name},
            {"compute_capability", fmt::format("{}.{}", probe.compute_major, probe.compute_minor)},
            {"multiprocessors", probe.multiprocessors},
            {"memory_total", probe.total_bytes},
            {"memory_free", probe.free_bytes},
            {"coverage", coverage.coverage == Coverage::Native   ? "native"
                         : coverage.coverage == Coverage::PtxJit ? "ptx-jit"
                                                                 : "missing"},
            {"smoke_test", probe.smoke_test_passed},
            {"usable", probe.usable},
            {"problem", probe.problem}};
        if (status.temperature_celsius) gpu["temperature_c"] = *status.temperature_celsius;
        if (status.power_watts) gpu["power_w"] = *status.power_watts;
        if (status.power_limit_watts) gpu["power_limit_w"] = *status.power_limit_watts;
        if (status.gpu_utilization_percent)
            gpu["utilization_percent"] = *status.gpu_utilization_percent;
        if (status.memory_utilization_percent)
            gpu["memory_utilization_percent"] = *status.memory_utilization_percent;
        report.json["gpus"].push_back(gpu);

        report.line(fmt::format("GPU {}: {}, compute capability {}.{}, {} SMs", index, probe.name,
                                probe.compute_major, probe.compute_minor, probe.multiprocessors));
        report.line(fmt::format("  memory: {} total, {} free", format_bytes(probe.total_bytes),
                                format_bytes(probe.free_bytes)));
        std::string health;
        if (status.temperature_celsius)
            health += fmt::format("temperature {} C", *status.temperature_celsius);
        if (status.power_watts) {
            health +=
                fmt::format("{}power {:.0f} W", health.empty() ? "" : ", ", *status.power_watts);
            if (status.power_limit_watts)
                health += fmt::format(" of {:.0f} W", *status.power_limit_watts);
        }
        if (status.gpu_utilization_percent) {
            health += fmt::format("{}utilisation {}% (memory {}%)", health.empty() ? "" : ", ",
                                  *status.gpu_utilization_percent,
                                  status.memory_utilization_percent.value_or(0));
        }
        report.line("  " + (health.empty()
                                ? "temperature, power, utilisation: unavailable (no NVML)"
                                : health));
        report.line(fmt::format("  build coverage: {}", coverage.description));
        report.line(fmt::format("  smoke test: {}", probe.smoke_test_passed
                                                        ? "passed (" + probe.smoke_test_detail + ")"
                                                        : "FAILED: " + probe.problem));
        if (coverage.coverage == Coverage::Missing) report.fail(kGpuUnusable, coverage.description);
        if (!probe.usable) {
            report.fail(kGpuUnusable, fmt::format("GPU {}: {}", index, probe.problem));
        } else {
            usable.push_back(probe);
        }
    }
}

// What `--device cuda --gpu-layers auto` would do: the layers on each GPU (in segments over
// several), the rest on the CPU, or why it cannot run.
void plan_over_every_gpu(Report& report, nlohmann::json& model, const DoctorArguments& arguments,
                         const GgufFile& file, const ModelSpec& hparams) {
    PlacementRequest request;
    request.device = "cuda";
    request.gpu_layers = "auto";
    request.context_size = arguments.context_size;
    request.gpu_memory = arguments.gpu_memory;
    try {
        const auto placement = decide_placement(request, file, hparams);
        report.line("  plan (--device cuda --gpu-layers auto): " + placement.note);
        auto segments = nlohmann::json::array();
        for (const auto& span : placement.spans)
            segments.push_back({{"device", TensorDevice{true, span.device}.to_string()},
                                {"first_layer", span.first_layer},
                                {"end_layer", span.end_layer}});
        model["plan"] = {
            {"gpu_layers", placement.gpu_layers}, {"segments", segments}, {"note", placement.note}};
    } catch (const Error& error) {
        report.line(std::string("  plan (--device cuda --gpu-layers auto): cannot run: ") +
                    error.what());
        model["plan"] = {{"error", error.what()}};
    }
}

void check_model(Report& report, const DoctorArguments& arguments,
                 const std::vector<CudaDeviceProbe>& gpus) {
    const std::string path =
        resolve_model_argument(arguments.model, ModelStore::root_or_default(arguments.store));
    const auto file = GgufFile::open(path);
    const auto hparams = read_model_spec(file);
    const auto estimate = estimate_memory(file, hparams, arguments.context_size);
    report.line(fmt::format("model: {} ({}, {} layers, {} of weights)", path, hparams.architecture,
                            hparams.layer_count, format_bytes(estimate.weight_bytes)));
    nlohmann::json model = {{"path", path},
                            {"architecture", hparams.architecture},
                            {"layers", hparams.layer_count},
                            {"context_size", arguments.context_size},
                            {"weights", estimate.weight_bytes}};
    model["gpus"] = nlohmann::json::array();
    const uint64_t cap = arguments.gpu_memory.empty()
                             ? UINT64_MAX
                             : parse_memory_size(arguments.gpu_memory, "--gpu-memory");
    for (size_t i = 0; i < gpus.size(); ++i) {
        const uint64_t usable = std::min<uint64_t>(gpus[i].free_bytes, cap);
        const auto fit = fit_layers(file, hparams, arguments.context_size, usable);
        model["gpus"].push_back({{"needed_for_all_layers", fit.bytes_for_all},
                                 {"free", gpus[i].free_bytes},
                                 {"layers_that_fit", fit.layers_that_fit}});
        const std::string needed = fmt::format(
            "needs {} at context {} (KV cache in F16), {} free{}", format_bytes(fit.bytes_for_all),
            arguments.context_size, format_bytes(gpus[i].free_bytes),
            cap == UINT64_MAX ? ""
                              : fmt::format(", {} usable (--gpu-memory {})", format_bytes(usable),
                                            arguments.gpu_memory));
        if (fit.layers_that_fit == hparams.layer_count) {
            report.line(
                fmt::format("  GPU {}: all {} layers fit; {}", i, hparams.layer_count, needed));
        } else {
            report.line(fmt::format("  GPU {}: {} of {} layers fit; {}", i, fit.layers_that_fit,
                                    hparams.layer_count, needed));
            report.fail(kModelDoesNotFit,
                        fmt::format("the model does not fit on GPU {}: use --gpu-layers {} (the "
                                    "rest on the CPU), a "
                                    "smaller context (-c), or a smaller quantization",
                                    i, fit.layers_that_fit));
        }
    }
    if (!gpus.empty()) plan_over_every_gpu(report, model, arguments, file, hparams);
    report.json["model"] = model;
}

// The CPU path: threads, memory, the kernels' ISA and the memory read bandwidth a CPU decode
// step is bounded by (measured now, with every thread).
void check_cpu(Report& report) {
    const unsigned threads = std::thread::hardware_concurrency();
    report.json["cpu"] = {{"threads", threads}, {"memory", physical_memory_bytes()}};
    report.line(
        fmt::format("CPU: {} threads, {} RAM", threads, format_bytes(physical_memory_bytes())));
    nlohmann::json isas = nlohmann::json::array();
    for (CpuIsa isa : {CpuIsa::Avx512Vnni, CpuIsa::Avx2, CpuIsa::Scalar}) {
        const auto kernels = isa == CpuIsa::Avx512Vnni ? avx512_vnni_kernels()
                             : isa == CpuIsa::Avx2     ? avx2_kernels()
                                                       : scalar_kernels();
        std::vector<std::string> types;
        for (const auto& kernel : kernels) types.emplace_back(dtype_name(kernel.weight_type));
        const bool runs = cpu_supports(isa);
        isas.push_back({{"isa", cpu_isa_name(isa)}, {"runs_here", runs}, {"weight_types", types}});
        report.line(fmt::format(
            "  {} kernels: {}{}", cpu_isa_name(isa),
            runs ? "this CPU runs them" : "not on this CPU (or this build)",
            runs ? fmt::format(" ({} types: {})", types.size(), fmt::join(types, " ")) : ""));
    }
    report.json["cpu"]["isas"] = isas;
    try {
        const CpuIsa selected = selected_cpu_isa();
        report.json["cpu"]["selected_isa"] = cpu_isa_name(selected);
        report.line(fmt::format(
            "  fast kernels use {} ({}); a type without its own kernel there runs the next ISA "
            "down's; --cpu-kernels reference runs the scalar float reference",
            cpu_isa_name(selected),
            std::getenv("LLCUDA_CPU_ISA") != nullptr ? "pinned by LLCUDA_CPU_ISA"
                                                     : "the best this CPU runs"));
    } catch (const Error& error) {
        // Not a GPU problem (doctor's exit codes are about the GPU path); runs refuse it too.
        report.line(fmt::format("  fast kernels: {}", error.what()));
    }
    const auto bandwidth = measure_memory_read_bandwidth(threads);
    report.json["cpu"]["memory_read_bytes_per_second"] = bandwidth.bytes_per_second;
    report.line(
        fmt::format("  memory read: {:.1f} GB/s with {} threads (the bound of CPU decode: "
                    "every weight byte once per token)",
                    bandwidth.bytes_per_second / 1e9, bandwidth.threads));
}

int doctor(const DoctorArguments& arguments) {
    Report report;
    report.line("llcuda 0.1.0 doctor");
    check_cpu(report);
    NvmlLibrary nvml;
    std::vector<CudaDeviceProbe> usable;
    check_gpus(report, nvml, usable);
    if (!arguments.model.empty()) check_model(report, arguments, usable);

    report.json["problems"] = report.problems;
    report.json["exit_code"] = report.exit_code;
    if (arguments.json) {
        std::puts(report.json.dump(2).c_str());
    } else {
        for (const auto& line : report.lines) std::puts(line.c_str());
        if (report.problems.empty()) {
            std::puts("result: ready: the GPU path can be used (--device cuda)");
        } else {
            for (const auto& problem : report.problems)
                std::printf("problem: %s\n", problem.c_str());
            std::printf("result: exit code %d (%s)\n", report.exit_code,
                        report.exit_code == kNoGpu ? "no usable NVIDIA GPU"
                        : report.exit_code == kGpuUnusable
                            ? "GPU present but unusable by this build"
                            : "model does not fit in GPU memory");
        }
    }
    return report.exit_code;
}

}  // namespace

void register_doctor_command(CLI::App& app) {
    auto arguments = std::make_shared<DoctorArguments>();
    auto* command = app.add_subcommand(
        "doctor", "Check the GPU, driver and build; with -m, whether a model fits");
    command->footer(kExitCodes);
    command->add_flag("--json", arguments->json, "Print JSON");
    command->add_option("-m,--model", arguments->model,
                        "GGUF file or store name to estimate GPU memory for");
    command->add_option("-c,--ctx-size", arguments->context_size, "Context size for the estimate")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{1} << 20));
    command->add_option("--gpu-memory", arguments->gpu_memory,
                        "With -m: plan for at most this much memory on each GPU (4GiB, 8GB)");
    command->add_option("--store", arguments->store,
                        "Model store directory (default: LLCUDA_STORE or ~/.cache/llcuda)");
    command->callback([arguments] {
        if (!arguments->gpu_memory.empty() && arguments->model.empty())
            throw Error("doctor --gpu-memory plans a model's layers: give the model with -m");
        const int code = doctor(*arguments);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace llcuda
