// The sweep grid of `llcuda bench --sweep`: parsing, every combination in a fixed order, and
// settings applied to the options (bad keys and values rejected by name).
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "engine/bench_sweep.hpp"

namespace llcuda {
namespace {

TEST(BenchSweep, GridHasEveryCombinationFirstAxisSlowest) {
    const auto axes = parse_sweep({"gpu-layers=0,16,all", "kv-type=f16,q8_0"});
    ASSERT_EQ(axes.size(), 2u);
    const auto grid = sweep_grid(axes);
    ASSERT_EQ(grid.size(), 6u);
    const SweepPoint first = {{"gpu-layers", "0"}, {"kv-type", "f16"}};
    const SweepPoint second = {{"gpu-layers", "0"}, {"kv-type", "q8_0"}};
    const SweepPoint last = {{"gpu-layers", "all"}, {"kv-type", "q8_0"}};
    EXPECT_EQ(grid[0], first);
    EXPECT_EQ(grid[1], second);
    EXPECT_EQ(grid[5], last);
}

TEST(BenchSweep, NoAxesIsOneRunAndOneValueIsOneRun) {
    EXPECT_EQ(sweep_grid({}).size(), 1u);
    EXPECT_TRUE(sweep_grid({})[0].empty());
    EXPECT_EQ(sweep_grid(parse_sweep({"threads=4"})).size(), 1u);
    EXPECT_EQ(sweep_grid(parse_sweep({"threads=1,2", "ubatch-size=64,128,256", "gen=8,16"})).size(),
              12u);
}

TEST(BenchSweep, BadSpecificationsAreNamed) {
    const auto message = [](const std::vector<std::string>& specs) {
        try {
            parse_sweep(specs);
        } catch (const Error& error) {
            return std::string(error.what());
        }
        return std::string();
    };
    EXPECT_NE(message({"colour=red"}).find("unknown key 'colour'"), std::string::npos);
    EXPECT_NE(message({"threads"}).find("KEY=V1,V2"), std::string::npos);
    EXPECT_NE(message({"threads=1,,2"}).find("empty value"), std::string::npos);
    EXPECT_NE(message({"threads=1", "threads=2"}).find("given twice"), std::string::npos);
}

TEST(BenchSweep, SettingsReachTheOptions) {
    BenchmarkOptions options;
    apply_sweep_setting(options, "model", "a.gguf");
    apply_sweep_setting(options, "gpu-layers", "auto");
    apply_sweep_setting(options, "batch-size", "1024");
    apply_sweep_setting(options, "ubatch-size", "128");
    apply_sweep_setting(options, "kv-type", "q8_0");
    apply_sweep_setting(options, "threads", "3");
    apply_sweep_setting(options, "cuda-graphs", "off");
    apply_sweep_setting(options, "kernel-overlap", "off");
    apply_sweep_setting(options, "l2-prefetch", "off");
    apply_sweep_setting(options, "rope-fusion", "off");
    apply_sweep_setting(options, "row-parallel-attention", "off");
    apply_sweep_setting(options, "flash-attn", "off");
    apply_sweep_setting(options, "prompt", "64");
    apply_sweep_setting(options, "gen", "32");
    apply_sweep_setting(options, "depth", "4096");
    apply_sweep_setting(options, "parallel", "8");
    EXPECT_EQ(options.engine.model_path, "a.gguf");
    EXPECT_EQ(options.engine.gpu_layers, "auto");
    EXPECT_EQ(options.engine.batch_size, 1024u);
    EXPECT_EQ(options.engine.ubatch_size, 128u);
    EXPECT_EQ(options.engine.kv_type, "q8_0");
    EXPECT_EQ(options.engine.threads, 3u);
    EXPECT_FALSE(options.engine.cuda_graphs);
    EXPECT_FALSE(options.engine.kernel_overlap);
    EXPECT_FALSE(options.engine.l2_prefetch);
    EXPECT_FALSE(options.engine.rope_fusion);
    EXPECT_FALSE(options.engine.row_parallel_attention);
    EXPECT_FALSE(options.engine.flash_attention);
    EXPECT_EQ(options.prompt_tokens, 64u);
    EXPECT_EQ(options.generated_tokens, 32u);
    EXPECT_EQ(options.depth, 4096u);
    EXPECT_EQ(options.parallel, 8u);
    EXPECT_THROW(apply_sweep_setting(options, "threads", "0"), Error);
    EXPECT_THROW(apply_sweep_setting(options, "threads", "2x"), Error);
    EXPECT_THROW(apply_sweep_setting(options, "cuda-graphs", "maybe"), Error);
    EXPECT_THROW(apply_sweep_setting(options, "flash-attn", "maybe"), Error);
}

}  // namespace
}  // namespace llcuda
