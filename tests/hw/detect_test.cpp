#include "hw/detect.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace sparkctl::hw {
namespace {

constexpr std::uint64_t kMiB = 1024ull * 1024ull;

std::filesystem::path fixture_dir() {
    if (const char* src = std::getenv("SPARKCTL_SOURCE_DIR")) {
        return std::filesystem::path(src) / "tests" / "hw" / "fixtures";
    }
    return std::filesystem::path(__FILE__).parent_path() / "fixtures";
}

std::string fixture(const std::string& name) {
    std::ifstream in(fixture_dir() / name, std::ios::binary);
    EXPECT_TRUE(in.good()) << "missing fixture " << (fixture_dir() / name);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// ---- /proc/meminfo ----------------------------------------------------------------------

TEST(MeminfoTest, SparkAfterStopFixture) {
    auto m = parse_meminfo(fixture("meminfo-spark-after-stop.txt"));
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(m->memory_total_bytes, 127600816ull * 1024);
    EXPECT_EQ(m->memory_available_bytes, 40174336ull * 1024);
    EXPECT_EQ(m->memory_free_bytes, 3139656ull * 1024);
    // Published without swap lines: swap is unknown, not zero.
    EXPECT_FALSE(m->swap_total_bytes.has_value());
    // MemTotal of a Spark is the 124,610 MiB pool CUDA reports.
    EXPECT_EQ(m->memory_total_bytes / kMiB, 124610u);
}

TEST(MeminfoTest, SparkNvitopFixtureIsIndentedAndStillParses) {
    auto m = parse_meminfo(fixture("meminfo-spark-nvitop.txt"));
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(m->memory_total_bytes, 127600748ull * 1024);
    EXPECT_EQ(m->memory_available_bytes, 118566368ull * 1024);
}

TEST(MeminfoTest, SwapLinesHandcrafted) {
    auto m = parse_meminfo(
        "MemTotal: 1000 kB\nMemAvailable: 500 kB\nSwapTotal: 2048 kB\nSwapFree: 1024 kB\n");
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->swap_total_bytes, 2048u * 1024);
    EXPECT_EQ(m->swap_free_bytes, 1024u * 1024);
}

TEST(MeminfoTest, BadInputs) {
    EXPECT_FALSE(parse_meminfo("").ok());
    EXPECT_FALSE(parse_meminfo("MemTotal: 10 kB\n").ok());      // no MemAvailable
    EXPECT_FALSE(parse_meminfo("MemAvailable: 10 kB\n").ok());  // no MemTotal
    auto junk = parse_meminfo("MemTotal: lots kB\nMemAvailable: 1 kB\n");
    ASSERT_FALSE(junk.ok());
    EXPECT_NE(junk.error().message.find("MemTotal"), std::string::npos);
    EXPECT_FALSE(parse_meminfo("MemTotal: 99999999999999999999 kB\nMemAvailable: 1 kB\n").ok());
    EXPECT_FALSE(parse_meminfo("MemTotal: 18446744073709551615 kB\nMemAvailable: 1 kB\n").ok());
}

// ---- /proc/cpuinfo ----------------------------------------------------------------------

TEST(CpuinfoTest, Gb10ExcerptNamesTheArmCores) {
    auto c = parse_cpuinfo(fixture("cpuinfo-gb10-excerpt.txt"));
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->logical_cpus, 2);
    ASSERT_EQ(c->core_kinds.size(), 1u);
    EXPECT_EQ(c->core_kinds[0].first, "Cortex-A725");
    EXPECT_EQ(c->model, "2x Cortex-A725");
}

TEST(CpuinfoTest, HybridArmHandcrafted) {
    std::string text;
    for (int i = 0; i < 20; ++i) {
        text += "processor\t: " + std::to_string(i) +
                "\nCPU implementer\t: 0x41\nCPU part\t: " + (i < 10 ? "0xd87" : "0xd85") + "\n\n";
    }
    auto c = parse_cpuinfo(text);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->logical_cpus, 20);
    EXPECT_EQ(c->model, "10x Cortex-A725 + 10x Cortex-X925");
}

TEST(CpuinfoTest, X86ModelNameHandcrafted) {
    auto c = parse_cpuinfo(
        "processor\t: 0\nmodel name\t: AMD Ryzen 9 9950X3D 16-Core Processor\n\n"
        "processor\t: 1\nmodel name\t: AMD Ryzen 9 9950X3D 16-Core Processor\n");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->logical_cpus, 2);
    EXPECT_EQ(c->model, "AMD Ryzen 9 9950X3D 16-Core Processor");
    EXPECT_TRUE(c->core_kinds.empty());
}

TEST(CpuinfoTest, UnknownArmPartAndEmpty) {
    auto c = parse_cpuinfo("processor: 0\nCPU implementer: 0x61\nCPU part: 0x022\n");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->model, "1x Arm part 0x022 (implementer 0x61)");
    EXPECT_FALSE(parse_cpuinfo("").ok());
    EXPECT_EQ(arm_core_name("0x41", "0xD85"), "Cortex-X925");
}

// ---- nvidia-smi ----------------------------------------------------------------------------

TEST(NvidiaSmiTest, Gb10ReportsNoMemory) {
    auto g = parse_nvidia_smi_csv(fixture("nvidia-smi-gb10.csv"));
    ASSERT_TRUE(g.ok()) << g.error().message;
    ASSERT_EQ(g->size(), 1u);
    EXPECT_EQ((*g)[0].name, "NVIDIA GB10");
    EXPECT_EQ((*g)[0].index, 0);
    EXPECT_FALSE((*g)[0].memory_total_bytes.has_value());
    EXPECT_FALSE((*g)[0].memory_free_bytes.has_value());
}

TEST(NvidiaSmiTest, Gb10NoHeaderWithGivenColumns) {
    const std::string_view cols[] = {"name", "memory.total", "driver_version"};
    auto g = parse_nvidia_smi_csv(fixture("nvidia-smi-gb10-noheader.csv"), cols);
    ASSERT_TRUE(g.ok()) << g.error().message;
    ASSERT_EQ(g->size(), 1u);
    EXPECT_EQ((*g)[0].name, "NVIDIA GB10");
    EXPECT_FALSE((*g)[0].memory_total_bytes.has_value());
    EXPECT_EQ((*g)[0].driver_version, "580.126.09");
}

TEST(NvidiaSmiTest, MemoryOnlyQueryHasNoNameAndIsRejected) {
    auto g = parse_nvidia_smi_csv(fixture("nvidia-smi-gb10-memory-only.csv"));
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.error().message.find("name"), std::string::npos);
}

TEST(NvidiaSmiTest, H100NumbersExact) {
    auto g = parse_nvidia_smi_csv(fixture("nvidia-smi-h100.csv"));
    ASSERT_TRUE(g.ok()) << g.error().message;
    ASSERT_EQ(g->size(), 1u);
    EXPECT_EQ((*g)[0].name, "NVIDIA H100 80GB HBM3");
    EXPECT_EQ((*g)[0].memory_total_bytes, 81559ull * kMiB);
    EXPECT_EQ((*g)[0].memory_total_bytes, 85520809984ull);
    EXPECT_EQ((*g)[0].driver_version, "590.48.01");
    EXPECT_EQ((*g)[0].memory_source, "nvidia-smi");
}

TEST(NvidiaSmiTest, H100TwoGpusNoHeaderWithUnits) {
    const std::string_view cols[] = {"index", "name", "memory.total", "memory.used", "memory.free"};
    auto g = parse_nvidia_smi_csv(fixture("nvidia-smi-h100-2gpu-noheader.csv"), cols);
    ASSERT_TRUE(g.ok()) << g.error().message;
    ASSERT_EQ(g->size(), 2u);
    EXPECT_EQ((*g)[1].index, 1);
    EXPECT_EQ((*g)[1].memory_total_bytes, 81559ull * kMiB);
    EXPECT_EQ((*g)[1].memory_used_bytes, 37155ull * kMiB);
    EXPECT_EQ((*g)[1].memory_free_bytes, 43925ull * kMiB);
    EXPECT_EQ((*g)[0].memory_used_bytes, 0u);
}

TEST(NvidiaSmiTest, Rtx5090AndRtxPro6000) {
    auto g = parse_nvidia_smi_csv(fixture("nvidia-smi-rtx5090.csv"));
    ASSERT_TRUE(g.ok()) << g.error().message;
    ASSERT_EQ(g->size(), 1u);
    EXPECT_EQ((*g)[0].name, "NVIDIA GeForce RTX 5090");
    EXPECT_EQ((*g)[0].memory_total_bytes, 32607ull * kMiB);
    EXPECT_EQ((*g)[0].memory_free_bytes, 32119ull * kMiB);
    EXPECT_EQ((*g)[0].memory_used_bytes, 2ull * kMiB);

    auto p = parse_nvidia_smi_csv(fixture("nvidia-smi-rtx-pro-6000.csv"));
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_EQ(p->size(), 1u);
    EXPECT_EQ((*p)[0].name, "NVIDIA RTX PRO 6000 Blackwell Workstation Edition");
    EXPECT_EQ((*p)[0].memory_total_bytes, 97887ull * kMiB);
    EXPECT_EQ((*p)[0].memory_used_bytes, 2643ull * kMiB);
    EXPECT_EQ((*p)[0].driver_version, "596.59");
}

TEST(NvidiaSmiTest, SparkctlQueryFormatHandcrafted) {
    // The exact query detect() runs (noheader, nounits); no published capture of it exists.
    auto g = parse_nvidia_smi_csv(
        "NVIDIA GB10, [N/A], [N/A], [N/A], 12.1, 580.95.05\n"
        "NVIDIA GeForce RTX 5090, 32607, 492, 31640, 12.0, 595.71.05\n");
    ASSERT_TRUE(g.ok()) << g.error().message;
    ASSERT_EQ(g->size(), 2u);
    EXPECT_EQ((*g)[0].compute_capability, "12.1");
    EXPECT_FALSE((*g)[0].memory_total_bytes);
    EXPECT_EQ((*g)[1].memory_total_bytes, 32607ull * kMiB);
    EXPECT_EQ((*g)[1].compute_capability, "12.0");
}

TEST(NvidiaSmiTest, BadRows) {
    EXPECT_TRUE(parse_nvidia_smi_csv("").value().empty());
    auto short_row = parse_nvidia_smi_csv("NVIDIA GB10, [N/A]\n");
    ASSERT_FALSE(short_row.ok());
    EXPECT_NE(short_row.error().message.find("line 1"), std::string::npos);
    auto junk = parse_nvidia_smi_csv("X, lots, 1, 1, 8.0, 1\n");
    ASSERT_FALSE(junk.ok());
    EXPECT_NE(junk.error().message.find("memory.total"), std::string::npos);
    EXPECT_TRUE(parse_nvidia_smi_csv("X, [Not Supported], Not Supported, N/A, 8.0, 1\n").ok());
}

// ---- detect() through the seam ------------------------------------------------------------

class FakeSystem : public System {
  public:
    std::map<std::string, std::string> files;
    std::optional<base::Result<base::ProcessResult>> smi;  // nullopt: nvidia-smi not installed
    std::vector<std::vector<std::string>> ran;

    base::Result<std::string> read_file(const std::filesystem::path& path) override {
        auto it = files.find(path.string());
        if (it == files.end()) {
            return base::make_error(base::Errc::not_found, path.string() + ": no such file");
        }
        return it->second;
    }
    base::Result<base::ProcessResult> run(const std::vector<std::string>& argv,
                                          std::chrono::milliseconds timeout) override {
        ran.push_back(argv);
        EXPECT_GT(timeout.count(), 0);
        if (!smi) return base::make_error(base::Errc::not_found, argv[0] + ": not found");
        return *smi;
    }
};

base::ProcessResult exited(int code, std::string out) {
    base::ProcessResult r;
    r.exit_code = code;
    r.stdout_text = std::move(out);
    return r;
}

TEST(DetectTest, SparkIsUnifiedAndUsesMemAvailable) {
    FakeSystem sys;
    sys.files["/proc/meminfo"] = fixture("meminfo-spark-nvitop.txt");
    sys.files["/proc/cpuinfo"] = fixture("cpuinfo-gb10-excerpt.txt");
    sys.smi = exited(0, "NVIDIA GB10, [N/A], [N/A], [N/A], 12.1, 580.173.02\n");
    auto d = detect(sys);
    ASSERT_TRUE(d.ok()) << d.error().message;
    ASSERT_EQ(sys.ran.size(), 1u);
    EXPECT_EQ(sys.ran[0][0], "nvidia-smi");
    EXPECT_EQ(sys.ran[0][1],
              "--query-gpu=name,memory.total,memory.used,memory.free,compute_cap,driver_version");
    EXPECT_EQ(sys.ran[0][2], "--format=csv,noheader,nounits");
    EXPECT_TRUE(d->nvidia_smi_found);
    EXPECT_TRUE(d->unified_memory);
    ASSERT_EQ(d->gpus.size(), 1u);
    const GpuInfo& g = d->gpus[0];
    EXPECT_TRUE(g.unified_memory);
    EXPECT_EQ(g.memory_source, "/proc/meminfo");
    EXPECT_EQ(g.memory_total_bytes, 127600748ull * 1024);
    EXPECT_EQ(g.memory_free_bytes, 118566368ull * 1024);
    EXPECT_EQ(g.compute_capability, "12.1");
    EXPECT_FALSE(d->swap_on());
    EXPECT_TRUE(d->warnings.empty());

    HardwareProfile p = profile_from_detection(*d);
    EXPECT_EQ(p.name, "local");
    EXPECT_TRUE(p.detected);
    EXPECT_EQ(p.memory_total_bytes, 127600748ull * 1024);
    EXPECT_EQ(p.memory_bandwidth_bytes_per_s, 273'000'000'000ull);  // dgx-spark figure
    EXPECT_NEAR(static_cast<double>(p.budget_bytes()),
                0.85 * static_cast<double>(p.memory_total_bytes), 2.0);
    EXPECT_EQ(p.sources.at("memory_total_bytes"), "detected: /proc/meminfo MemTotal");
    EXPECT_TRUE(unsourced_fields(p).empty());
}

TEST(DetectTest, DiscreteGpuKeepsItsOwnMemoryAndUnknownBandwidth) {
    FakeSystem sys;
    sys.files["/proc/meminfo"] =
        "MemTotal: 65000000 kB\nMemAvailable: 60000000 kB\nSwapTotal: 8388604 kB\n"
        "SwapFree: 8000000 kB\n";
    sys.files["/proc/cpuinfo"] = "processor: 0\nmodel name: Test CPU\n";
    sys.smi = exited(0, "NVIDIA GeForce RTX 5090, 32607, 492, 31640, 12.0, 595.71.05\n");
    auto d = detect(sys);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_FALSE(d->unified_memory);
    EXPECT_TRUE(d->swap_on());
    EXPECT_TRUE(d->swap_in_use());
    ASSERT_EQ(d->gpus.size(), 1u);
    EXPECT_EQ(d->gpus[0].memory_source, "nvidia-smi");

    HardwareProfile p = profile_from_detection(*d);
    EXPECT_EQ(p.memory_total_bytes, 32607ull * kMiB);
    EXPECT_EQ(p.os_reserve_bytes, 1024ull * kMiB);
    EXPECT_FALSE(p.memory_bandwidth_bytes_per_s.has_value());
    EXPECT_TRUE(p.compute_dense.empty());
    EXPECT_FALSE(p.notes.empty());
    EXPECT_EQ(p.cpu_description, "Test CPU");
    EXPECT_TRUE(unsourced_fields(p).empty());
}

TEST(DetectTest, NoNvidiaSmiMeansNoGpuNotAnError) {
    FakeSystem sys;
    sys.files["/proc/meminfo"] = fixture("meminfo-spark-after-stop.txt");
    auto d = detect(sys);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_FALSE(d->nvidia_smi_found);
    EXPECT_TRUE(d->gpus.empty());
    // /proc/cpuinfo is missing in this fake: a warning, not an error.
    ASSERT_EQ(d->warnings.size(), 1u);
    EXPECT_NE(d->warnings[0].find("cpu"), std::string::npos);
    HardwareProfile p = profile_from_detection(*d);
    EXPECT_EQ(p.memory_total_bytes, 127600816ull * 1024);
    EXPECT_TRUE(p.gpu_name.empty());
}

TEST(DetectTest, FailingOrTimedOutNvidiaSmiIsAWarning) {
    FakeSystem sys;
    sys.files["/proc/meminfo"] = "MemTotal: 1000 kB\nMemAvailable: 500 kB\n";
    sys.files["/proc/cpuinfo"] = "processor: 0\n";
    base::ProcessResult failed = exited(9, "");
    failed.stderr_text =
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n";
    sys.smi = failed;
    auto d = detect(sys);
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(d->gpus.empty());
    ASSERT_EQ(d->warnings.size(), 1u);
    EXPECT_NE(d->warnings[0].find("couldn't communicate"), std::string::npos);

    base::ProcessResult slow = exited(-1, "");
    slow.timed_out = true;
    sys.smi = slow;
    auto d2 = detect(sys);
    ASSERT_TRUE(d2.ok());
    ASSERT_EQ(d2->warnings.size(), 1u);
    EXPECT_NE(d2->warnings[0].find("timed out"), std::string::npos);

    sys.smi = exited(0, "garbage line\n");
    auto d3 = detect(sys);
    ASSERT_TRUE(d3.ok());
    EXPECT_EQ(d3->warnings.size(), 1u);
}

TEST(DetectTest, UnreadableMeminfoIsAnError) {
    FakeSystem sys;
    auto d = detect(sys);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, base::Errc::not_found);
    sys.files["/proc/meminfo"] = "nonsense\n";
    EXPECT_FALSE(detect(sys).ok());
}

TEST(ResolveTest, NamesFilesAndLocal) {
    FakeSystem sys;
    auto spark = resolve_hardware("Spark", sys);
    ASSERT_TRUE(spark.ok());
    EXPECT_EQ(spark->name, "dgx-spark");
    EXPECT_TRUE(sys.ran.empty());  // a name never runs detection

    auto missing = resolve_hardware("/nonexistent/box.toml", sys);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, base::Errc::not_found);

    auto unknown = resolve_hardware("nope", sys);
    ASSERT_FALSE(unknown.ok());
    EXPECT_FALSE(resolve_hardware("", sys).ok());

    sys.files["/proc/meminfo"] = fixture("meminfo-spark-nvitop.txt");
    sys.files["/proc/cpuinfo"] = fixture("cpuinfo-gb10-excerpt.txt");
    sys.smi = exited(0, "NVIDIA GB10, [N/A], [N/A], [N/A], 12.1, 580.173.02\n");
    auto local = resolve_hardware("LOCAL", sys);
    ASSERT_TRUE(local.ok()) << local.error().message;
    EXPECT_EQ(local->name, "local");
    EXPECT_TRUE(local->unified_memory);
}

TEST(RealSystemTest, ReadsProcFilesWhoseSizeIsZero) {
    // /proc/meminfo has st_size 0; a size-trusting reader returns "" (see docs/dev/hw.md).
    if (!std::filesystem::exists("/proc/meminfo")) GTEST_SKIP() << "no /proc";
    auto sys = make_real_system();
    auto text = sys->read_file("/proc/meminfo");
    ASSERT_TRUE(text.ok()) << text.error().message;
    auto m = parse_meminfo(*text);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_GT(m->memory_total_bytes, 0u);
}

}  // namespace
}  // namespace sparkctl::hw
