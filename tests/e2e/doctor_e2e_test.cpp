// sparkctl doctor end to end: the real binary pointed at captured machines through the test-only
// SPARKCTL_DOCTOR_ROOT (tests/doctor/fixtures): ROOT/proc and ROOT/sys are read, and programs
// named without a '/' run as ROOT/bin/NAME, here scripts that print the captured outputs.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "support/sandbox.h"

namespace sparkctl::test {
namespace {

namespace fs = std::filesystem;

// A listening socket on 127.0.0.1 with a kernel-chosen port, closed on destruction.
class Listener {
  public:
    Listener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(fd_, 1), 0);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
    }
    ~Listener() { ::close(fd_); }
    int port() const { return port_; }

  private:
    int fd_ = -1;
    int port_ = 0;
};

// A port that was free a moment ago (bound, then released).
int free_port() {
    Listener l;
    return l.port();
}

// Copies fixture `box` into the sandbox and writes ROOT/bin scripts that answer nvidia-smi and
// docker from its commands/ directory. Returns the root.
fs::path make_root(const Sandbox& s, const std::string& box) {
    const fs::path src = source_dir() / "tests" / "doctor" / "fixtures" / box;
    const fs::path root = s.home() / "machine";
    fs::copy(src, root, fs::copy_options::recursive);
    const fs::path cmd = root / "commands";
    auto script = [&](const std::string& name, const std::string& body) {
        fs::path p = s.write("machine/bin/" + name, "#!/bin/sh\n" + body);
        ::chmod(p.c_str(), 0755);
    };
    if (fs::exists(cmd / "nvidia-smi.out")) {
        script("nvidia-smi", "cat '" + (cmd / "nvidia-smi.out").string() + "'\n");
    }
    if (fs::exists(cmd / "docker-info.out")) {
        const std::string err = fs::exists(cmd / "docker-info.err")
                                    ? "cat '" + (cmd / "docker-info.err").string() + "' >&2\n"
                                    : "";
        const std::string rc = fs::exists(cmd / "docker-info.rc") ? "1" : "0";
        // `docker image inspect`: no image is present on a captured machine.
        script("docker", "case \"$1\" in\n  info) cat '" + (cmd / "docker-info.out").string() +
                             "'\n" + err + "    exit " + rc + ";;\n  *) exit 1;;\nesac\n");
    }
    return root;
}

// Settings that would otherwise come from this machine's environment.
void isolate(Sandbox& s) {
    // Engines by bare name: looked up under ROOT/bin only, never on this machine's PATH.
    s.env["SPARKCTL_LLAMA_SERVER"] = "llama-server";
    s.env["SPARKCTL_VLLM"] = "vllm";
    s.env["SPARKCTL_SGLANG_PYTHON"] = "python3";
    s.env["SPARKCTL_DOCKER"] = "docker";
    for (const char* v : {"NCCL_SOCKET_IFNAME", "NCCL_IB_HCA", "HF_HOME", "HF_HUB_CACHE",
                          "HUGGINGFACE_HUB_CACHE"}) {
        s.env[v] = "";
    }
}

std::map<std::string, nlohmann::json> by_id(const nlohmann::json& doc) {
    std::map<std::string, nlohmann::json> out;
    for (const auto& c : doc["checks"]) out[c["id"]] = c;
    return out;
}

TEST(DoctorE2e, HealthySparkExitsZero) {
    Sandbox s;
    isolate(s);
    s.env["SPARKCTL_DOCTOR_ROOT"] = make_root(s, "spark-healthy").string();
    const int port = free_port();
    auto r = s.run({"doctor", "--json", "--port", std::to_string(port)});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    auto checks = by_id(r.json());
    EXPECT_EQ(checks["gpu"]["status"], "ok");
    EXPECT_EQ(checks["nvidia_driver"]["status"], "ok");
    EXPECT_NE(checks["nvidia_driver"]["detail"].get<std::string>().find("580.126.09"),
              std::string::npos);
    EXPECT_EQ(checks["docker"]["status"], "ok");
    EXPECT_EQ(checks["nvidia_runtime"]["status"], "ok");
    EXPECT_EQ(checks["nvidia_runtime"]["fix"], nullptr);
    EXPECT_EQ(checks["memory_available"]["rule"], "R-OPS-1");
    EXPECT_EQ(checks["gpu"]["rule"], nullptr);
    EXPECT_EQ(checks["port"]["status"], "ok");
    EXPECT_EQ(checks["engine.llama_cpp"]["status"], "warn");  // none in the capture
    EXPECT_EQ(checks.count("fabric.links"), 0u);
    for (const auto& [id, c] : checks) {
        for (const char* key : {"id", "status", "detail", "fix", "rule"}) {
            EXPECT_TRUE(c.contains(key)) << id << " " << key;
        }
    }
}

TEST(DoctorE2e, TextTableShowsFixes) {
    Sandbox s;
    isolate(s);
    s.env["SPARKCTL_DOCTOR_ROOT"] = make_root(s, "swap-on").string();
    Listener busy;
    auto r = s.run({"doctor", "--port", std::to_string(busy.port())});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_NE(r.out.find("STATUS"), std::string::npos);
    EXPECT_NE(r.out.find("fail   swap"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("fix: sudo swapoff -a"), std::string::npos);
    EXPECT_NE(r.out.find("warn   port"), std::string::npos);
    EXPECT_NE(r.out.find(" fail\n"), std::string::npos);
}

TEST(DoctorE2e, SwapInUseExitsFour) {
    Sandbox s;
    isolate(s);
    s.env["SPARKCTL_DOCTOR_ROOT"] = make_root(s, "swap-on").string();
    auto r = s.run({"doctor", "--json", "--port", std::to_string(free_port())});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    auto checks = by_id(r.json());
    EXPECT_EQ(checks["swap"]["status"], "fail");
    EXPECT_EQ(checks["swap"]["rule"], "R-OPS-1");
}

TEST(DoctorE2e, BoxWithoutGpuFails) {
    Sandbox s;
    isolate(s);
    s.env["SPARKCTL_DOCTOR_ROOT"] = make_root(s, "no-gpu").string();
    auto r =
        s.run({"doctor", "--json", "--hardware", "local", "--port", std::to_string(free_port())});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    auto checks = by_id(r.json());
    EXPECT_EQ(checks["nvidia_driver"]["status"], "fail");
    EXPECT_EQ(checks["gpu"]["status"], "fail");
    EXPECT_EQ(checks["docker"]["status"], "warn");
    // --hardware local: the budget is 0.85 x this box's MemTotal, which it holds.
    EXPECT_NE(checks["memory_available"]["status"], "fail");
}

TEST(DoctorE2e, ClusterWithOneQsfpHalfDown) {
    Sandbox s;
    isolate(s);
    s.env["SPARKCTL_DOCTOR_ROOT"] = make_root(s, "cluster-port-down").string();
    auto plain = s.run({"doctor", "--json", "--port", std::to_string(free_port())});
    EXPECT_EQ(by_id(plain.json()).count("fabric.links"), 0u);  // no cluster configured
    s.write(".config/sparkctl/config.toml",
            "[cluster]\nhosts = [\"spark-a\", \"spark-b\"]\nfabric_interface = \"enp1s0f0np0\"\n"
            "roce_hcas = [\"rocep1s0f0\", \"roceP2p1s0f0\"]\n");
    auto r = s.run({"doctor", "--json", "--port", std::to_string(free_port())});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    auto checks = by_id(r.json());
    EXPECT_EQ(checks["fabric.links"]["status"], "fail");
    EXPECT_EQ(checks["fabric.links"]["rule"], "R-OPS-4");
    EXPECT_NE(checks["fabric.links"]["detail"].get<std::string>().find("roceP2p1s0f0"),
              std::string::npos);
    EXPECT_EQ(checks["fabric.nccl_env"]["status"], "ok");
}

TEST(DoctorE2e, ClusterFlagAndBadInput) {
    Sandbox s;
    isolate(s);
    s.env["SPARKCTL_DOCTOR_ROOT"] = make_root(s, "cluster-healthy").string();
    auto ok = s.run({"doctor", "--json", "--cluster", "--port", std::to_string(free_port())});
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_EQ(by_id(ok.json())["fabric.links"]["status"], "ok");

    auto bad = s.run({"doctor", "--json", "--budget", "lots"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.json()["error"]["message"].get<std::string>().find("--budget"),
              std::string::npos);
    auto port = s.run({"doctor", "--json", "--port", "0"});
    EXPECT_EQ(port.exit_code, 2);
}

}  // namespace
}  // namespace sparkctl::test
