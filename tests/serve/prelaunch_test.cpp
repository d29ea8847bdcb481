// The last steps before a launch (serve/prelaunch.h): the page cache dropped through the
// drop_caches seam (a temporary file, never /proc/sys/vm/drop_caches), and vLLM's
// --gpu-memory-utilization recomputed from the live reading.
#include "serve/prelaunch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "support/temp_dir.h"

namespace sparkctl::serve {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

std::string meminfo(std::uint64_t free_kib, std::uint64_t available_kib) {
    return "MemTotal:       128000000 kB\nMemFree:        " + std::to_string(free_kib) +
           " kB\nMemAvailable:   " + std::to_string(available_kib) + " kB\n";
}

DeploymentSpec llama_spec(std::uint64_t planned_bytes) {
    DeploymentSpec s;
    s.config.id = "m";
    s.engine = "llama.cpp";
    s.argv = {"llama-server", "-m", "m.gguf", "--port", "1234"};
    s.planned_bytes = planned_bytes;
    return s;
}

std::string value_of(const std::vector<std::string>& argv, std::string_view flag) {
    auto it = std::find(argv.begin(), argv.end(), flag);
    return it == argv.end() || it + 1 == argv.end() ? "" : *(it + 1);
}

TEST(Prelaunch, DropWhenTheLoadNeedsMoreThanMemFree) {
    EXPECT_TRUE(wants_drop_caches(40 * kGiB, 41 * kGiB, 2 * kGiB));
    EXPECT_FALSE(wants_drop_caches(40 * kGiB, 42 * kGiB, 2 * kGiB));
    EXPECT_FALSE(wants_drop_caches(0, 2 * kGiB, 2 * kGiB));
}

class PrelaunchFiles : public test::TempDirTest {
  protected:
    PrelaunchOptions options(std::uint64_t free_kib) {
        PrelaunchOptions o;
        o.headroom_bytes = 2 * kGiB;
        o.drop_caches = true;
        o.meminfo_path = temp_.write("meminfo", meminfo(free_kib, 100'000'000));
        o.drop_caches_path = temp_.write("drop_caches", "");
        return o;
    }
};

TEST_F(PrelaunchFiles, WritesOneToDropCachesBeforeALargeLoad) {
    auto spec = llama_spec(40 * kGiB);
    auto o = options(10'000'000);  // ~9.5 GiB free: the load needs the page cache's memory
    ASSERT_TRUE(prepare_launch(spec, 100 * kGiB, o).ok());
    EXPECT_EQ(temp_.read("drop_caches"), "1");
}

TEST_F(PrelaunchFiles, LeavesThePageCacheForASmallLoad) {
    auto spec = llama_spec(4 * kGiB);
    auto o = options(100'000'000);
    ASSERT_TRUE(prepare_launch(spec, 100 * kGiB, o).ok());
    EXPECT_EQ(temp_.read("drop_caches"), "");
    // Not asked: nothing written even when it would be wanted.
    o = options(1'000);
    o.drop_caches = false;
    ASSERT_TRUE(prepare_launch(spec, 100 * kGiB, o).ok());
    EXPECT_EQ(temp_.read("drop_caches"), "");
}

TEST_F(PrelaunchFiles, ANotWritableDropCachesIsAWarningNotAnError) {
    auto spec = llama_spec(40 * kGiB);
    auto o = options(1'000);
    o.drop_caches_path = dir_ / "no" / "such" / "drop_caches";
    EXPECT_TRUE(prepare_launch(spec, 100 * kGiB, o).ok());
    auto r = drop_page_cache(o.drop_caches_path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::io);
    EXPECT_NE(r.error().message.find(o.drop_caches_path.string()), std::string::npos);
}

TEST(Prelaunch, VllmUtilizationIsRecomputedFromTheLiveReading) {
    DeploymentSpec s;
    s.config.id = "v";
    s.engine = "vllm";
    s.memory_total_bytes = 128 * kGiB;
    s.argv = {
        "vllm",       "serve", "m", "--gpu-memory-utilization", "0.80", "--kv-cache-memory-bytes",
        "10737418240"};
    PrelaunchOptions o;
    o.headroom_bytes = 2 * kGiB;
    // Plenty available: the plan's value stays.
    ASSERT_TRUE(prepare_launch(s, 120 * kGiB, o).ok());
    EXPECT_EQ(value_of(s.argv, "--gpu-memory-utilization"), "0.80");
    // 66 GiB available, 2 GiB kept: 64 of 128 GiB -> 0.50.
    ASSERT_TRUE(prepare_launch(s, 66 * kGiB, o).ok());
    EXPECT_EQ(value_of(s.argv, "--gpu-memory-utilization"), "0.50");
    // Without a fixed KV cache size the fraction cannot shrink: refused (exit 3's kind).
    s.argv = {"vllm", "serve", "m", "--gpu-memory-utilization", "0.80"};
    auto r = prepare_launch(s, 66 * kGiB, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::does_not_fit);
}

}  // namespace
}  // namespace sparkctl::serve
