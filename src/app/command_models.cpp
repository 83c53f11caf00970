// `llcuda models [list|rm|verify|gc]`: what the model store holds, and its upkeep.
#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "core/error.hpp"
#include "store/model_store.hpp"
#include "store/progress_reporter.hpp"

namespace llcuda {
namespace {

struct ModelsArguments {
    std::string store;
    bool json = false;
    std::vector<std::string> names;
    ModelStore open() const { return ModelStore(ModelStore::root_or_default(store)); }
};

std::string format_time(int64_t seconds) {
    const std::time_t time = seconds;
    std::tm parts{};
    localtime_r(&time, &parts);
    char text[32];
    std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M", &parts);
    return text;
}

void list_models(const ModelsArguments& arguments) {
    const auto store = arguments.open();
    const auto entries = store.list();
    if (arguments.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& entry : entries) {
            out.push_back({{"name", entry.name},
                           {"size", entry.size},
                           {"quant", entry.quant},
                           {"architecture", entry.architecture},
                           {"sha256", entry.sha256},
                           {"path", entry.path},
                           {"last_used", entry.last_used}});
        }
        std::puts(out.dump(2).c_str());
        return;
    }
    if (entries.empty()) {
        std::printf("the store at %s is empty; `llcuda pull OWNER/REPO FILE` adds a model\n",
                    store.root().c_str());
        return;
    }
    std::printf("%-60s %10s %-8s %-10s %s\n", "NAME", "SIZE", "QUANT", "ARCH", "LAST USED");
    for (const auto& entry : entries) {
        std::printf("%-60s %10s %-8s %-10s %s\n", entry.name.c_str(),
                    format_bytes(entry.size).c_str(), entry.quant.c_str(),
                    entry.architecture.c_str(), format_time(entry.last_used).c_str());
    }
}

void remove_models(const ModelsArguments& arguments) {
    auto store = arguments.open();
    for (const auto& name : arguments.names) {
        if (!store.remove(name))
            throw Error(fmt::format("no model named '{}' in the store at {}", name, store.root()));
        std::printf("removed %s (its blob is freed by `llcuda models gc` once nothing uses it)\n",
                    name.c_str());
    }
}

void verify_models(const ModelsArguments& arguments) {
    const auto store = arguments.open();
    const auto problems = store.verify();
    for (const auto& problem : problems)
        std::printf("CORRUPT %s: %s\n", problem.name.c_str(), problem.problem.c_str());
    if (!problems.empty()) {
        throw Error(
            fmt::format("{} model(s) failed verification; `llcuda models rm NAME` then pull again",
                        problems.size()));
    }
    std::printf("all %zu model(s) verified\n", store.list().size());
}

void collect_garbage(const ModelsArguments& arguments) {
    auto store = arguments.open();
    const auto result = store.gc();
    std::printf("removed %zu unused blob(s), freed %s\n", result.removed_blobs.size(),
                format_bytes(result.freed_bytes).c_str());
}

}  // namespace

void register_models_command(CLI::App& app) {
    auto arguments = std::make_shared<ModelsArguments>();
    auto* command = app.add_subcommand("models", "List and maintain the model store");
    command->add_option("--store", arguments->store,
                        "Model store directory (default: LLCUDA_STORE or ~/.cache/llcuda)");
    command->add_flag("--json", arguments->json, "Print the list as JSON");
    command->callback([arguments, command] {
        if (command->get_subcommands().empty()) list_models(*arguments);
    });
    command->add_subcommand("list", "List the models (the default)")->callback([arguments] {
        list_models(*arguments);
    });
    auto* remove = command->add_subcommand("rm", "Remove models by name");
    remove->add_option("names", arguments->names, "Model names")->required();
    remove->callback([arguments] { remove_models(*arguments); });
    command->add_subcommand("verify", "Re-hash every model and report corruption")
        ->callback([arguments] { verify_models(*arguments); });
    command->add_subcommand("gc", "Delete blobs no model uses")->callback([arguments] {
        collect_garbage(*arguments);
    });
}

}  // namespace llcuda
