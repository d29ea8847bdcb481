#include "hw/profile.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "support/temp_dir.h"

namespace sparkctl::hw {
namespace {

constexpr std::uint64_t kMiB = 1024ull * 1024ull;

TEST(ProfileTest, DgxSparkBudgetIs85PercentOfTotal) {
    auto p = find_profile("dgx-spark");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->memory_total_bytes, 124610ull * kMiB);
    double expected = 0.85 * 124610.0 * static_cast<double>(kMiB);
    EXPECT_NEAR(static_cast<double>(p->budget_bytes()), expected, 1.0);
    // About 18.3 GiB reserved, about 103.4 GiB of budget.
    EXPECT_NEAR(static_cast<double>(p->os_reserve_bytes) / (1024.0 * kMiB), 18.25, 0.05);
    EXPECT_NEAR(static_cast<double>(p->budget_bytes()) / (1024.0 * kMiB), 103.44, 0.05);
    EXPECT_TRUE(p->unified_memory);
    EXPECT_EQ(p->nodes, 1);
    EXPECT_EQ(p->memory_bandwidth_bytes_per_s, 273'000'000'000ull);
    EXPECT_EQ(p->gpu_compute_capability, "12.1");
    EXPECT_EQ(p->cpu_cores, 20);
    EXPECT_EQ(p->interconnect_gbps, 200.0);
    // NVIDIA publishes only the sparse FP4 peak; dense FP4 stays unknown.
    EXPECT_EQ(p->compute_sparse.fp4_flops_per_s, 1e15);
    EXPECT_FALSE(p->compute_dense.fp4_flops_per_s.has_value());
}

TEST(ProfileTest, EveryBuiltinHasASourceForEveryFigure) {
    ASSERT_GE(profile_names().size(), 6u);
    for (const std::string& name : profile_names()) {
        auto p = find_profile(name);
        ASSERT_TRUE(p.ok()) << name;
        EXPECT_EQ(p->name, name);
        EXPECT_FALSE(p->description.empty()) << name;
        EXPECT_GT(p->memory_total_bytes, 0u) << name;
        EXPECT_LE(p->os_reserve_bytes, p->memory_total_bytes) << name;
        EXPECT_FALSE(p->os_reserve_rule.empty()) << name;
        std::vector<std::string> missing = unsourced_fields(*p);
        std::string joined;
        for (const auto& f : missing) joined += f + " ";
        EXPECT_TRUE(missing.empty()) << name << ": no source for " << joined;
        for (const auto& [field, citation] : p->sources) {
            EXPECT_FALSE(citation.empty()) << name << " " << field;
        }
    }
}

TEST(ProfileTest, SparseFiguresAreNeverBelowDense) {
    for (const std::string& name : profile_names()) {
        auto p = find_profile(name);
        ASSERT_TRUE(p.ok());
        auto check = [&](const std::optional<double>& dense, const std::optional<double>& sparse) {
            if (dense && sparse) {
                EXPECT_LE(*dense, *sparse) << name;
            }
        };
        check(p->compute_dense.fp4_flops_per_s, p->compute_sparse.fp4_flops_per_s);
        check(p->compute_dense.fp8_flops_per_s, p->compute_sparse.fp8_flops_per_s);
        check(p->compute_dense.bf16_flops_per_s, p->compute_sparse.bf16_flops_per_s);
        check(p->compute_dense.int8_ops_per_s, p->compute_sparse.int8_ops_per_s);
    }
}

TEST(ProfileTest, FindIsCaseInsensitiveAndKnowsAliases) {
    struct Case {
        const char* input;
        const char* name;
    };
    const Case cases[] = {
        {"DGX-Spark", "dgx-spark"},   {"spark", "dgx-spark"},
        {"GB10", "dgx-spark"},        {" gb10 ", "dgx-spark"},
        {"5090", "rtx-5090"},         {"RTX-5090", "rtx-5090"},
        {"h100", "h100-sxm"},         {"H100-SXM5", "h100-sxm"},
        {"pro6000", "rtx-pro-6000"},  {"strix-halo", "ryzen-ai-max-395"},
        {"m3-ultra", "m3-ultra-512"},
    };
    for (const Case& c : cases) {
        auto p = find_profile(c.input);
        ASSERT_TRUE(p.ok()) << c.input << ": " << p.error().message;
        EXPECT_EQ(p->name, c.name) << c.input;
    }
}

TEST(ProfileTest, UnknownNameListsTheBuiltins) {
    auto p = find_profile("tpu-v5");
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code, base::Errc::not_found);
    EXPECT_NE(p.error().message.find("tpu-v5"), std::string::npos);
    EXPECT_NE(p.error().message.find("dgx-spark"), std::string::npos);
}

TEST(ProfileTest, H100DenseIsHalfTheDatasheetSparseFigure) {
    auto p = find_profile("h100");
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->memory_total_bytes, 81559ull * kMiB);
    EXPECT_FALSE(p->unified_memory);
    EXPECT_DOUBLE_EQ(*p->compute_dense.fp8_flops_per_s * 2, *p->compute_sparse.fp8_flops_per_s);
    EXPECT_DOUBLE_EQ(*p->compute_dense.bf16_flops_per_s * 2, *p->compute_sparse.bf16_flops_per_s);
    EXPECT_FALSE(p->compute_dense.fp4_flops_per_s.has_value());
}

TEST(ProfileTest, UnifiedComparisonMachinesReserveWhatTheGpuCannotUse) {
    auto ryzen = find_profile("ryzen-ai-max-395");
    ASSERT_TRUE(ryzen.ok());
    EXPECT_TRUE(ryzen->unified_memory);
    EXPECT_EQ(ryzen->budget_bytes(), 96ull * 1024 * kMiB);
    auto mac = find_profile("m3-ultra-512");
    ASSERT_TRUE(mac.ok());
    EXPECT_EQ(mac->budget_bytes(), 384ull * 1024 * kMiB);
}

// ---- TOML files -------------------------------------------------------------------------

const char* kGood = R"(
name = "My-Box"
description = "a test box"
aliases = ["box"]
unified_memory = false
memory_total_bytes = 1_073_741_824
os_reserve_bytes = 104_857_600
memory_bandwidth_bytes_per_s = 100_000_000_000
[gpu]
name = "Test GPU"
compute_capability = "8.9"
[compute_dense]
bf16_flops_per_s = 1.5e14
[compute_sparse]
bf16_flops_per_s = 3e14
[sources]
"memory_total_bytes" = "measured"
"gpu.name" = "nvidia-smi"
)";

TEST(ProfileTomlTest, GoodFileParses) {
    auto p = parse_profile_toml(kGood, "box.toml");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->name, "my-box");
    EXPECT_EQ(p->memory_total_bytes, 1073741824u);
    EXPECT_EQ(p->budget_bytes(), 1073741824u - 104857600u);
    EXPECT_EQ(p->gpu_compute_capability, "8.9");
    EXPECT_EQ(p->compute_dense.bf16_flops_per_s, 1.5e14);
    EXPECT_EQ(p->nodes, 1);
    EXPECT_EQ(p->sources.at("gpu.name"), "nvidia-smi");
}

TEST(ProfileTomlTest, FractionReserve) {
    auto p = parse_profile_toml(
        "name='x'\nunified_memory=true\nmemory_total_bytes=1000\nos_reserve_fraction=0.25\n",
        "x.toml");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->os_reserve_bytes, 250u);
    EXPECT_EQ(p->budget_bytes(), 750u);
}

struct BadCase {
    const char* what;
    const char* text;
    const char* expect_in_message;
};

TEST(ProfileTomlTest, BadFilesNameTheFileAndKey) {
    const std::string base = "name='x'\nunified_memory=false\n";
    const BadCase cases[] = {
        {"missing total", "name='x'\nunified_memory=false\nos_reserve_bytes=1\n",
         "key 'memory_total_bytes': missing"},
        {"missing name", "unified_memory=false\nmemory_total_bytes=10\nos_reserve_bytes=1\n",
         "key 'name': missing"},
        {"missing unified", "name='x'\nmemory_total_bytes=10\nos_reserve_bytes=1\n",
         "key 'unified_memory': missing"},
        {"missing reserve", "name='x'\nunified_memory=false\nmemory_total_bytes=10\n",
         "key 'os_reserve_bytes': missing"},
        {"both reserves",
         "name='x'\nunified_memory=false\nmemory_total_bytes=10\nos_reserve_bytes=1\n"
         "os_reserve_fraction=0.1\n",
         "not both"},
        {"wrong type total",
         "name='x'\nunified_memory=false\nmemory_total_bytes='big'\nos_reserve_bytes=1\n",
         "key 'memory_total_bytes': must be an integer"},
        {"wrong type bool",
         "name='x'\nunified_memory='yes'\nmemory_total_bytes=10\n"
         "os_reserve_bytes=1\n",
         "key 'unified_memory': must be true or false"},
        {"wrong type compute",
         "name='x'\nunified_memory=false\nmemory_total_bytes=10\nos_reserve_bytes=1\n"
         "[compute_dense]\nfp8_flops_per_s='fast'\n",
         "key 'compute_dense.fp8_flops_per_s': must be a number"},
        {"unknown top key",
         "name='x'\nunified_memory=false\nmemory_total_bytes=10\nos_reserve_bytes=1\nvram=3\n",
         "key 'vram': unknown key"},
        {"unknown nested key",
         "name='x'\nunified_memory=false\nmemory_total_bytes=10\nos_reserve_bytes=1\n"
         "[gpu]\nnmae='typo'\n",
         "key 'gpu.nmae': unknown key"},
        {"unknown source field",
         "name='x'\nunified_memory=false\nmemory_total_bytes=10\nos_reserve_bytes=1\n"
         "[sources]\n'gpu.vram'='x'\n",
         "key 'sources.gpu.vram': names no profile field"},
        {"negative total",
         "name='x'\nunified_memory=false\nmemory_total_bytes=-10\nos_reserve_bytes=1\n",
         "key 'memory_total_bytes': must not be negative"},
        {"negative bandwidth",
         "name='x'\nunified_memory=false\nmemory_total_bytes=10\nos_reserve_bytes=1\n"
         "memory_bandwidth_bytes_per_s=-1\n",
         "key 'memory_bandwidth_bytes_per_s': must not be negative"},
        {"negative compute",
         "name='x'\nunified_memory=false\nmemory_total_bytes=10\nos_reserve_bytes=1\n"
         "[compute_sparse]\nfp4_flops_per_s=-1e15\n",
         "key 'compute_sparse.fp4_flops_per_s': must be a non-negative number"},
        {"reserve above total",
         "name='x'\nunified_memory=false\nmemory_total_bytes=10\nos_reserve_bytes=11\n",
         "larger than memory_total_bytes"},
        {"fraction 1",
         "name='x'\nunified_memory=false\nmemory_total_bytes=10\n"
         "os_reserve_fraction=1.0\n",
         "must be below 1"},
        {"zero total", "name='x'\nunified_memory=false\nmemory_total_bytes=0\nos_reserve_bytes=0\n",
         "must be positive"},
        {"zero nodes",
         "name='x'\nunified_memory=false\nmemory_total_bytes=10\nos_reserve_bytes=1\nnodes=0\n",
         "key 'nodes'"},
        {"malformed toml", "name = \n", "bad.toml:1"},
    };
    for (const BadCase& c : cases) {
        auto p = parse_profile_toml(c.text, "bad.toml");
        ASSERT_FALSE(p.ok()) << c.what;
        EXPECT_EQ(p.error().code, base::Errc::bad_input) << c.what;
        EXPECT_NE(p.error().message.find("bad.toml"), std::string::npos)
            << c.what << ": " << p.error().message;
        EXPECT_NE(p.error().message.find(c.expect_in_message), std::string::npos)
            << c.what << ": " << p.error().message;
    }
}

class ProfileFileTest : public test::TempDirTest {
  protected:
    std::filesystem::path write(const std::string& name, const std::string& text) {
        return temp_.write(name, text);
    }
};

TEST_F(ProfileFileTest, LoadsAFileAndNamesItInErrors) {
    auto good = load_profile_file(write("box.toml", kGood));
    ASSERT_TRUE(good.ok()) << good.error().message;
    EXPECT_EQ(good->name, "my-box");

    std::filesystem::path bad = write("bad.toml", "name='x'\nunified_memory=false\n");
    auto r = load_profile_file(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find(bad.string()), std::string::npos) << r.error().message;

    auto missing = load_profile_file(dir_ / "nope.toml");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, base::Errc::not_found);
}

TEST_F(ProfileFileTest, BuiltinDataFilesLoadThroughTheFilePathToo) {
    // The schema is the same for files and built-ins: data/hardware/*.toml load as files.
    std::filesystem::path data =
        std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "data" /
        "hardware";
    if (const char* src = std::getenv("SPARKCTL_SOURCE_DIR")) {
        data = std::filesystem::path(src) / "data" / "hardware";
    }
    ASSERT_TRUE(std::filesystem::exists(data)) << data;
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(data)) {
        if (entry.path().extension() != ".toml") continue;
        auto p = load_profile_file(entry.path());
        ASSERT_TRUE(p.ok()) << p.error().message;
        auto builtin = find_profile(p->name);
        ASSERT_TRUE(builtin.ok()) << p->name;
        EXPECT_EQ(builtin->memory_total_bytes, p->memory_total_bytes);
        ++n;
    }
    EXPECT_EQ(static_cast<std::size_t>(n), profile_names().size());
}

}  // namespace
}  // namespace sparkctl::hw
