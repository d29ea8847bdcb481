// The doctor's parsers and checks on outputs captured from real machines (fixtures/README.md)
// and, for what no capture shows, on a machine built in the test.
#include "doctor/doctor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "hw/profile.h"
#include "support/temp_dir.h"

namespace sparkctl::doctor {
namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024ull * 1024ull;
using test::TempDir;

std::filesystem::path fixtures() {
    return std::filesystem::path(SPARKCTL_TEST_SOURCE_DIR) / "tests" / "doctor" / "fixtures";
}

std::string read(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    EXPECT_TRUE(in.good()) << "missing fixture " << p;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Files and directories from a tree (a fixture or a temp dir); programs, environment, disk and
// ports from maps. A program not in `programs` does not exist.
class FakeMachine : public Machine {
  public:
    explicit FakeMachine(const std::filesystem::path& root) : tree_(make_machine(root)) {}

    std::map<std::string, base::ProcessResult> programs;  // "docker info" -> result
    std::map<std::string, std::string> env;
    std::uint64_t disk_free = 1000 * kGiB;
    bool port_is_free = true;
    std::vector<std::string> ran;

    base::Result<std::string> read_file(const std::filesystem::path& path) override {
        return tree_->read_file(path);
    }
    base::Result<base::ProcessResult> run(const std::vector<std::string>& argv,
                                          std::chrono::milliseconds) override {
        std::string key;
        for (const std::string& a : argv) key += (key.empty() ? "" : " ") + a;
        ran.push_back(key);
        auto it = programs.find(key);
        if (it == programs.end()) return base::make_error(base::Errc::not_found, argv[0]);
        return it->second;
    }
    base::Result<std::vector<std::string>> list_dir(const std::filesystem::path& path) override {
        return tree_->list_dir(path);
    }
    std::optional<std::string> getenv(const std::string& name) override {
        auto it = env.find(name);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    base::Result<std::uint64_t> disk_free_bytes(const std::filesystem::path&) override {
        return disk_free;
    }
    bool port_free(int) override { return port_is_free; }

  private:
    std::unique_ptr<Machine> tree_;
};

base::ProcessResult exited(int code, std::string out, std::string err = "") {
    base::ProcessResult r;
    r.exit_code = code;
    r.stdout_text = std::move(out);
    r.stderr_text = std::move(err);
    return r;
}

// A fixture's captured command outputs, as the programs of a FakeMachine.
void load_commands(FakeMachine& m, const std::string& box) {
    const auto dir = fixtures() / box / "commands";
    if (std::filesystem::exists(dir / "nvidia-smi.out")) {
        m.programs["nvidia-smi"] = exited(0, read(dir / "nvidia-smi.out"));
    }
    if (std::filesystem::exists(dir / "docker-info.out")) {
        const bool failed = std::filesystem::exists(dir / "docker-info.rc");
        const std::string err =
            std::filesystem::exists(dir / "docker-info.err") ? read(dir / "docker-info.err") : "";
        m.programs["docker info"] = exited(failed ? 1 : 0, read(dir / "docker-info.out"), err);
    }
}

Inputs spark_inputs() {
    Inputs in;
    const hw::HardwareProfile spark = hw::find_profile("dgx-spark").value();
    in.budget_bytes = spark.budget_bytes();
    in.budget_origin = "hardware profile dgx-spark";
    return in;
}

const Check& find(const std::vector<Check>& checks, const std::string& id) {
    auto it =
        std::find_if(checks.begin(), checks.end(), [&](const Check& c) { return c.id == id; });
    if (it == checks.end()) {
        ADD_FAILURE() << "no check " << id;
        static const Check none{};
        return none;
    }
    return *it;
}

TEST(RootedMachine, ReadsFilesAndRunsProgramsUnderItsRoot) {
    TempDir t;
    t.write("proc/meminfo", "MemTotal: 1 kB\n");
    t.write("bin/nvidia-smi", "#!/bin/sh\necho captured \"$1\"\n");
    std::filesystem::permissions(t.path() / "bin/nvidia-smi", std::filesystem::perms::owner_all);
    auto m = make_machine(t.path());
    EXPECT_EQ(m->read_file("/proc/meminfo").value(), "MemTotal: 1 kB\n");
    EXPECT_EQ(m->list_dir("/proc").value(), std::vector<std::string>{"meminfo"});
    EXPECT_EQ(m->list_dir("/sys/class/infiniband").error().code, base::Errc::not_found);
    auto smi = m->run({"nvidia-smi", "-L"}, std::chrono::seconds(10));
    ASSERT_TRUE(smi.ok()) << smi.error().message;
    EXPECT_EQ(smi->stdout_text, "captured -L\n");
    // A bare name that the root lacks does not fall through to this machine's PATH.
    auto sh = m->run({"sh", "-c", "true"}, std::chrono::seconds(10));
    ASSERT_FALSE(sh.ok());
    EXPECT_EQ(sh.error().code, base::Errc::not_found);
}

TEST(NvidiaSmiTable, ParsesTheGb10Capture) {
    auto t = parse_nvidia_smi_table(read(fixtures() / "spark-healthy/commands/nvidia-smi.out"));
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(t->driver_version, "580.126.09");
    EXPECT_EQ(t->cuda_version, "13.0");
    EXPECT_EQ(t->gpu_names, std::vector<std::string>{"NVIDIA GB10"});
}

TEST(NvidiaSmiTable, RejectsTextWithoutTheBanner) {
    auto t = parse_nvidia_smi_table(
        "NVIDIA-SMI has failed because it couldn't communicate with "
        "the NVIDIA driver.\n");
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("Driver Version"), std::string::npos);
}

TEST(NvidiaSmiTable, SkipsProcessRowsAndReadsSeveralGpus) {
    // Handcrafted in the capture's layout: two GPU rows and a process row.
    const std::string text =
        "| NVIDIA-SMI 580.126.09             Driver Version: 580.126.09     CUDA Version: 13.0 |\n"
        "|   0  NVIDIA H100 80GB HBM3          On  |   00000000:18:00.0 Off |     0 |\n"
        "|   1  NVIDIA H100 80GB HBM3          Off |   00000000:2A:00.0 Off |     0 |\n"
        "|    0   N/A  N/A            3270      C   python3                 4MiB |\n";
    auto t = parse_nvidia_smi_table(text);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->gpu_names,
              (std::vector<std::string>{"NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"}));
}

TEST(DockerInfo, ParsesRuntimesOfARealDaemon) {
    const DockerInfo d =
        parse_docker_info(read(fixtures() / "spark-healthy/commands/docker-info.out"), "");
    EXPECT_EQ(d.server_version, "28.0.0-rc.1");
    EXPECT_EQ(d.runtimes, (std::vector<std::string>{"io.containerd.runc.v2", "nvidia", "runc"}));
    EXPECT_EQ(d.default_runtime, "runc");
    EXPECT_EQ(d.server_error, "");
}

TEST(DockerInfo, ClientWithoutDaemonGivesTheError) {
    const DockerInfo d = parse_docker_info(read(fixtures() / "no-gpu/commands/docker-info.out"),
                                           read(fixtures() / "no-gpu/commands/docker-info.err"));
    EXPECT_EQ(d.server_version, "");
    EXPECT_NE(d.server_error.find("Cannot connect to the Docker daemon"), std::string::npos);
}

TEST(SysfsState, ParsesPortStates) {
    auto a = parse_sysfs_state("4: ACTIVE\n");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->code, 4);
    EXPECT_EQ(a->name, "ACTIVE");
    EXPECT_FALSE(parse_sysfs_state("ACTIVE"));
    EXPECT_FALSE(parse_sysfs_state("x: y"));
    EXPECT_FALSE(parse_sysfs_state(""));
}

TEST(Checks, HealthySparkPassesWithWarningsOnly) {
    FakeMachine m(fixtures() / "spark-healthy");
    load_commands(m, "spark-healthy");
    const auto checks = run_checks(m, spark_inputs());
    EXPECT_FALSE(any_failed(checks));
    EXPECT_EQ(find(checks, "gpu").status, Status::ok);
    EXPECT_EQ(find(checks, "nvidia_driver").status, Status::ok);
    EXPECT_NE(find(checks, "nvidia_driver").detail.find("CUDA 13.0"), std::string::npos);
    EXPECT_EQ(find(checks, "memory_available").status, Status::ok);
    // The capture has no Swap lines: unknown, a warning.
    EXPECT_EQ(find(checks, "swap").status, Status::warn);
    EXPECT_EQ(find(checks, "docker").status, Status::ok);
    EXPECT_EQ(find(checks, "nvidia_runtime").status, Status::ok);
    for (const Check& c : checks) EXPECT_EQ(c.id.rfind("fabric.", 0), std::string::npos);
}

TEST(Checks, SwapInUseFailsRopsOne) {
    FakeMachine m(fixtures() / "swap-on");
    const auto checks = run_checks(m, spark_inputs());
    const Check& swap = find(checks, "swap");
    EXPECT_EQ(swap.status, Status::fail);
    EXPECT_EQ(swap.rule, "R-OPS-1");
    // 16777212 - 10853772 kB used.
    EXPECT_NE(swap.detail.find("5.65 GiB"), std::string::npos) << swap.detail;
    EXPECT_NE(swap.fix.find("swapoff"), std::string::npos);
    // MemAvailable 27.6 GiB against the 103 GiB budget.
    EXPECT_EQ(find(checks, "memory_available").status, Status::warn);
    EXPECT_TRUE(any_failed(checks));
}

TEST(Checks, SwapOnButUnusedWarns) {
    TempDir t;
    t.write("proc/meminfo",
            "MemTotal: 1000 kB\nMemAvailable: 900 kB\nSwapTotal: 100 kB\nSwapFree: 100 kB\n");
    FakeMachine m(t.path());
    Inputs in;
    in.budget_bytes = 500 * 1024;
    EXPECT_EQ(find(run_checks(m, in), "swap").status, Status::warn);
}

TEST(Checks, ThisBoxWithoutGpuFails) {
    FakeMachine m(fixtures() / "no-gpu");
    load_commands(m, "no-gpu");
    const auto checks = run_checks(m, spark_inputs());
    EXPECT_EQ(find(checks, "nvidia_driver").status, Status::fail);
    EXPECT_NE(find(checks, "nvidia_driver").detail.find("nvidia-smi not found"), std::string::npos);
    EXPECT_EQ(find(checks, "gpu").status, Status::fail);
    // 24 GiB of memory cannot hold the dgx-spark budget.
    EXPECT_EQ(find(checks, "memory_available").status, Status::fail);
    EXPECT_EQ(find(checks, "swap").status, Status::ok);
    EXPECT_EQ(find(checks, "oom_daemon").status, Status::warn);
    const Check& docker = find(checks, "docker");
    EXPECT_EQ(docker.status, Status::warn);
    EXPECT_NE(docker.detail.find("Cannot connect"), std::string::npos);
    EXPECT_EQ(find(checks, "nvidia_runtime").detail, "not checked: no docker daemon");
}

TEST(Checks, FindsAnOomDaemonAndWarnsAboutThePageCache) {
    TempDir t;
    t.write("proc/meminfo",
            "MemTotal: 104857600 kB\nMemFree: 10485760 kB\n"
            "MemAvailable: 94371840 kB\nCached: 83886080 kB\n");
    t.write("proc/1/comm", "systemd\n");
    t.write("proc/812/comm", "earlyoom\n");
    t.write("proc/self/comm", "earlyoom\n");  // not a pid: ignored
    FakeMachine m(t.path());
    Inputs in;
    in.budget_bytes = 80 * kGiB;
    const auto checks = run_checks(m, in);
    EXPECT_EQ(find(checks, "oom_daemon").status, Status::ok);
    EXPECT_EQ(find(checks, "oom_daemon").detail, "running: earlyoom (pid 812)");
    const Check& cache = find(checks, "page_cache");
    EXPECT_EQ(cache.status, Status::warn);  // MemFree 10 GiB < 80 GiB, cache 80 GiB
    EXPECT_NE(cache.fix.find("drop_caches"), std::string::npos);
    EXPECT_EQ(find(checks, "memory_available").status, Status::ok);
}

TEST(Checks, EnginesImagesPortAndDisk) {
    FakeMachine m(fixtures() / "spark-healthy");
    load_commands(m, "spark-healthy");
    // llama-server prints its version on stderr (engines/installed.h).
    m.programs["llama-server --version"] = exited(0, "", "version: 6918 (abc1234)\n");
    const std::string vllm_image = engines::default_version(engines::Engine::vllm).image;
    m.programs["docker image inspect --format {{.Id}} " + vllm_image] = exited(0, "sha256:1\n");
    m.port_is_free = false;
    m.disk_free = 20 * kGiB;
    m.env["HF_HOME"] = "/data/hf";
    const auto checks = run_checks(m, spark_inputs());
    const Check& llama = find(checks, "engine.llama_cpp");
    EXPECT_EQ(llama.status, Status::ok);
    EXPECT_NE(llama.detail.find("6918"), std::string::npos);
    EXPECT_EQ(find(checks, "engine.vllm").status, Status::ok);  // through its image
    const Check& sglang = find(checks, "engine.sglang");
    EXPECT_EQ(sglang.status, Status::warn);
    EXPECT_NE(sglang.fix.find("SPARKCTL_SGLANG_PYTHON"), std::string::npos);
    const Check& images = find(checks, "images");
    EXPECT_EQ(images.status, Status::warn);
    EXPECT_NE(images.detail.find("present: " + vllm_image), std::string::npos);
    EXPECT_NE(
        images.fix.find("docker pull " + engines::default_version(engines::Engine::sglang).image),
        std::string::npos);
    EXPECT_EQ(find(checks, "port").status, Status::warn);
    const Check& disk = find(checks, "disk");
    EXPECT_EQ(disk.status, Status::warn);
    EXPECT_NE(disk.detail.find("/data/hf/hub"), std::string::npos);
}

TEST(HfHubCache, FollowsHuggingfaceHubOrder) {
    TempDir t;
    FakeMachine m(t.path());
    m.env["HOME"] = "/home/u";
    EXPECT_EQ(hf_hub_cache(m), "/home/u/.cache/huggingface/hub");
    m.env["XDG_CACHE_HOME"] = "/c";
    EXPECT_EQ(hf_hub_cache(m), "/c/huggingface/hub");
    m.env["HF_HOME"] = "/h";
    EXPECT_EQ(hf_hub_cache(m), "/h/hub");
    m.env["HF_HUB_CACHE"] = "/hub";
    EXPECT_EQ(hf_hub_cache(m), "/hub");
}

TEST(Fabric, HealthyPairIsUpWithMtu9000) {
    FakeMachine m(fixtures() / "cluster-healthy");
    m.env["NCCL_SOCKET_IFNAME"] = "enp1s0f0np0";
    m.env["NCCL_IB_HCA"] = "rocep1s0f0,roceP2p1s0f0";
    Inputs in = spark_inputs();
    in.fabric = Fabric{};
    const auto checks = run_checks(m, in);
    EXPECT_EQ(find(checks, "fabric.devices").status, Status::ok);
    const Check& links = find(checks, "fabric.links");
    EXPECT_EQ(links.status, Status::ok) << links.detail;
    // roceP2p1s0f1 is the uncabled second port: down, and not required.
    EXPECT_EQ(links.detail.find("roceP2p1s0f1"), std::string::npos);
    EXPECT_EQ(find(checks, "fabric.mtu").status, Status::ok);
    EXPECT_EQ(find(checks, "fabric.nccl_env").status, Status::ok);
    EXPECT_EQ(find(checks, "fabric.links").rule, "R-OPS-4");
}

TEST(Fabric, OneHalfOfTheQsfpPortDownFails) {
    FakeMachine m(fixtures() / "cluster-port-down");
    Inputs in = spark_inputs();
    in.fabric = Fabric{};
    const auto checks = run_checks(m, in);
    const Check& links = find(checks, "fabric.links");
    EXPECT_EQ(links.status, Status::fail);
    EXPECT_NE(links.detail.find("down: roceP2p1s0f0"), std::string::npos) << links.detail;
    const Check& nccl = find(checks, "fabric.nccl_env");
    EXPECT_EQ(nccl.status, Status::warn);
    EXPECT_NE(nccl.detail.find("NCCL_IB_HCA"), std::string::npos);
    EXPECT_TRUE(any_failed(checks));
}

TEST(Fabric, ConfiguredDevicesMustExistAndMtuMustBe9000) {
    TempDir t;
    t.write("sys/class/infiniband/rocep1s0f0/ports/1/state", "4: ACTIVE\n");
    t.write("sys/class/infiniband/rocep1s0f0/ports/1/phys_state", "5: LinkUp\n");
    t.write("sys/class/infiniband/rocep1s0f0/device/net/enp1s0f0np0/mtu", "1500\n");
    FakeMachine m(t.path());
    Fabric f;
    f.roce_hcas = {"rocep1s0f0", "roceP2p1s0f0"};
    f.fabric_interface = "enp1s0f0np0";
    Inputs in;
    in.budget_bytes = 1;
    in.fabric = f;
    const auto checks = run_checks(m, in);
    EXPECT_EQ(find(checks, "fabric.devices").status, Status::fail);
    EXPECT_EQ(find(checks, "fabric.mtu").status, Status::warn);
    EXPECT_NE(find(checks, "fabric.mtu").detail.find("enp1s0f0np0 1500"), std::string::npos);
    EXPECT_EQ(find(checks, "fabric.nccl_env").status, Status::ok);  // from [cluster]
}

TEST(Fabric, NoRdmaDeviceFails) {
    TempDir t;
    FakeMachine m(t.path());
    Inputs in;
    in.fabric = Fabric{};
    const auto checks = run_checks(m, in);
    EXPECT_EQ(find(checks, "fabric.devices").status, Status::fail);
}

}  // namespace
}  // namespace sparkctl::doctor
