#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "store/model_resolver.hpp"
#include "store/model_store.hpp"
#include "store/sha256.hpp"

namespace llcuda {
namespace {
namespace fs = std::filesystem;

class ModelStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / fmt::format("llcuda-store-test-{}", ::getpid());
        fs::remove_all(root_);
        fs::create_directories(root_);
    }
    void TearDown() override { fs::remove_all(root_); }

    std::string write_file(const std::string& name, const std::string& content) {
        const auto path = (root_ / name).string();
        std::ofstream(path, std::ios::binary) << content;
        return path;
    }

    fs::path root_;
};

TEST(Sha256, KnownDigests) {
    Sha256 empty;
    EXPECT_EQ(empty.hex_digest(),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    Sha256 abc;
    abc.update("a", 1);
    abc.update("bc", 2);
    EXPECT_EQ(abc.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(ModelStoreTest, SameContentSharesOneBlob) {
    ModelStore store((root_ / "store").string());
    const auto first = store.add_file(write_file("a.gguf", "same bytes"), "one/a.gguf");
    const auto second = store.add_file(write_file("b.gguf", "same bytes"), "two/b.gguf");
    EXPECT_EQ(first.sha256, second.sha256);
    EXPECT_EQ(first.path, store.blob_path(first.sha256));
    EXPECT_EQ(
        std::distance(fs::directory_iterator(root_ / "store" / "blobs"), fs::directory_iterator()),
        1);
    EXPECT_EQ(store.list().size(), 2u);
    EXPECT_EQ(store.find("one/a.gguf")->size, 10u);
    EXPECT_FALSE(store.find("missing").has_value());
    EXPECT_TRUE(store.remove("one/a.gguf"));
    EXPECT_EQ(store.gc().removed_blobs.size(), 0u);  // still used by two/b.gguf
    EXPECT_TRUE(store.remove("two/b.gguf"));
    EXPECT_EQ(store.gc().freed_bytes, 10u);
}

TEST_F(ModelStoreTest, ConcurrentAddsNeverCorrupt) {
    const std::string store_root = (root_ / "store").string();
    std::vector<std::string> paths;
    for (int i = 0; i < 8; ++i)
        paths.push_back(
            write_file(fmt::format("f{}", i), std::string(100000, static_cast<char>('a' + i % 3))));
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&, i] {
            ModelStore store(store_root);
            store.add_file(paths[i], fmt::format("model/{}", i));
        });
    }
    for (auto& thread : threads) thread.join();
    ModelStore store(store_root);
    EXPECT_EQ(store.list().size(), 8u);
    EXPECT_TRUE(store.verify().empty());
    EXPECT_EQ(
        std::distance(fs::directory_iterator(root_ / "store" / "blobs"), fs::directory_iterator()),
        3);
}

TEST_F(ModelStoreTest, DamagedManifestIsAClearError) {
    ModelStore store((root_ / "store").string());
    store.add_file(write_file("a.gguf", "x"), "name");
    std::ofstream(root_ / "store" / "manifests" / "name.json") << "{ not json";
    EXPECT_THROW(store.find("name"), Error);
}

TEST_F(ModelStoreTest, ResolverPrefersFilesThenStoreNames) {
    const std::string store_root = (root_ / "store").string();
    ModelStore store(store_root);
    const auto file = write_file("m.gguf", "bytes");
    const auto entry = store.add_file(file, "org/repo/m.gguf");
    EXPECT_EQ(resolve_model_argument("", store_root), "");
    EXPECT_EQ(resolve_model_argument(file, store_root), file);
    EXPECT_EQ(resolve_model_argument("org/repo/m.gguf", store_root), entry.path);
    EXPECT_THROW(resolve_model_argument("org/repo/other.gguf", store_root), Error);
}

}  // namespace
}  // namespace llcuda
