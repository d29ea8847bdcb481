// sparkctl serve --simulate, end to end: the real daemon in a temporary HOME and
// XDG_RUNTIME_DIR (its own process group), its engines the stand-in (`simulate serve`), and the
// real clients (up, down, ps, logs, status). Waits are polls with deadlines; every process the
// test caused is found by the HOME in its environment, and must be gone at the end.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "base/process.h"
#include "base/strings.h"
#include "e2e/serve_daemon.h"
#include "net/client.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using ServeE2e = ServeDaemonTest;

// Stand-ins get fixed timing: `simulate serve` cannot price a `-hf REPO:QUANT` model argument.
// Two 70B deployments on dgx-spark (budget 103 GiB): each fits alone, not both together.
constexpr const char* kTwoBig = R"(
[[models]]
id = "big-a"
model = "llama-3.1-70b"
engine = "llama.cpp"
quant = "Q8_0"
simulate_args = ["--timing", "fixed:5,1"]

[[models]]
id = "big-b"
model = "llama-3.3-70b"
engine = "llama.cpp"
quant = "Q6_K"
simulate_args = ["--timing", "fixed:5,1"]
)";

TEST_F(ServeE2e, UpPsLogsDownWithTheIssuesShape) {
    config(R"(
[[models]]
id = "small"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
simulate_args = ["--timing", "fixed:5,1"]
)");
    start_daemon();
    auto before = ps();
    for (const char* k : {"budget_bytes", "reserved_bytes", "mem_available_bytes", "deployments"}) {
        EXPECT_TRUE(before.contains(k)) << k;
    }
    EXPECT_EQ(before["reserved_bytes"], 0);
    EXPECT_EQ(before["deployments"][0]["state"], "unloaded");

    auto up = box_.run({"up", "small"});
    ASSERT_EQ(up.exit_code, 0) << up.err << daemon_log();
    auto d = deployment("small");
    for (const char* k :
         {"id", "model", "engine", "quant", "state", "port", "pid", "pinned", "in_flight", "queued",
          "planned_bytes", "measured_bytes", "restarts", "idle_s", "last_exit"}) {
        EXPECT_TRUE(d.contains(k)) << k;
    }
    EXPECT_EQ(d["state"], "ready");
    EXPECT_EQ(d["engine"], "llama.cpp");
    EXPECT_EQ(d["quant"], "Q4_K_M");
    ASSERT_TRUE(d["pid"].is_number());
    EXPECT_EQ(ps()["reserved_bytes"], d["planned_bytes"]);

    // The engine answers on its port, and wants the key serve gave it.
    net::Client client;
    net::ClientRequest req;
    req.port = d["port"].get<std::uint16_t>();
    req.target = "/health";
    auto health = client.fetch(req);
    ASSERT_TRUE(health) << health.error().message;
    EXPECT_EQ(health->status, 200);
    req.method = "POST";  // /v1/models is public on llama.cpp; completions need the key
    req.target = "/v1/completions";
    req.headers = {{"Content-Type", "application/json"}};
    req.body = R"({"prompt": "hi", "max_tokens": 1})";
    auto models = client.fetch(req);
    ASSERT_TRUE(models);
    EXPECT_EQ(models->status, 401);

    auto logs = box_.run({"logs", "small", "--lines", "5"});
    EXPECT_EQ(logs.exit_code, 0) << logs.err;
    EXPECT_FALSE(logs.out.empty());

    pid_t engine = d["pid"].get<pid_t>();
    auto down = box_.run({"down", "small"});
    ASSERT_EQ(down.exit_code, 0) << down.err;
    EXPECT_EQ(deployment("small")["state"], "unloaded");
    EXPECT_EQ(ps()["reserved_bytes"], 0);
    EXPECT_NE(::kill(engine, 0) == 0 && processes_of(box_.home()).count(engine) == 1, true);

    auto unknown = box_.run({"down", "nope"});
    EXPECT_EQ(unknown.exit_code, 2);
}

TEST_F(ServeE2e, ClientsExit1WithoutADaemon) {
    auto r = box_.run({"ps"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no sparkctl serve answers"), std::string::npos) << r.err;
}

TEST_F(ServeE2e, SecondDeploymentEvictsTheFirst) {
    config(kTwoBig);
    start_daemon();
    ASSERT_EQ(box_.run({"up", "big-a"}).exit_code, 0) << daemon_log();
    pid_t first = deployment("big-a")["pid"].get<pid_t>();
    auto r = box_.run({"up", "big-b"});
    ASSERT_EQ(r.exit_code, 0) << r.err << daemon_log();
    EXPECT_EQ(deployment("big-a")["state"], "unloaded");
    EXPECT_EQ(deployment("big-b")["state"], "ready");
    EXPECT_EQ(processes_of(box_.home()).count(first), 0u);
    auto doc = ps();
    EXPECT_LE(doc["reserved_bytes"].get<std::uint64_t>(), doc["budget_bytes"].get<std::uint64_t>());
}

TEST_F(ServeE2e, APinnedDeploymentIsNeverEvicted) {
    config(std::string(kTwoBig) +
           "\n[[models]]\nid = \"pinned\"\nmodel = \"llama-3.1-70b\"\n"
           "engine = \"llama.cpp\"\nquant = \"Q8_0\"\npin = true\n"
           "simulate_args = [\"--timing\", \"fixed:5,1\"]\n");
    start_daemon();
    // Pinned: loaded at start.
    ASSERT_TRUE(eventually([&] { return deployment("pinned")["state"] == "ready"; }))
        << daemon_log();
    auto r = box_.run({"up", "big-b", "--json"});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    auto doc = r.json();
    ASSERT_TRUE(doc.contains("admission")) << r.out;
    EXPECT_GT(doc["admission"]["needed_bytes"].get<std::uint64_t>(), 0u);
    EXPECT_GT(doc["admission"]["reserved_bytes"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(deployment("pinned")["state"], "ready");
    EXPECT_EQ(deployment("big-b")["state"], "unloaded");
}

TEST_F(ServeE2e, LiveMemoryRefusalThroughTheMeminfoSeam) {
    config(kTwoBig);
    // 8 GiB available: less than either deployment needs plus the headroom.
    auto meminfo = box_.write("meminfo", "MemTotal: 131072000 kB\nMemAvailable: 8388608 kB\n");
    box_.env["SPARKCTL_MEMINFO"] = meminfo.string();
    start_daemon();
    auto r = box_.run({"up", "big-a", "--json"});
    EXPECT_EQ(r.exit_code, 3) << r.err;
    auto doc = r.json();
    EXPECT_EQ(doc["admission"]["mem_available_bytes"], 8ull << 30);
    EXPECT_EQ(deployment("big-a")["state"], "unloaded");
    EXPECT_TRUE(processes_of(box_.home()).size() == 1);  // the daemon alone
}

TEST_F(ServeE2e, ACrashingEngineRestartsWithBackoffThenFails) {
    // An unknown stand-in flag: the engine exits 2 at once, every time.
    config(R"(
[[models]]
id = "crashy"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
simulate_args = ["--no-such-stand-in-flag"]
)");
    start_daemon();
    auto r = box_.run({"up", "crashy"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("failed"), std::string::npos) << r.err;
    auto d = deployment("crashy");
    EXPECT_EQ(d["state"], "failed");
    EXPECT_EQ(d["restarts"], 3);
    EXPECT_EQ(d["last_exit"], "exit 2");
    EXPECT_TRUE(d["pid"].is_null());
}

TEST_F(ServeE2e, KillNineThenRestartReattachesWithoutOrphans) {
    config(kTwoBig);
    start_daemon();
    ASSERT_EQ(box_.run({"up", "big-a"}).exit_code, 0) << daemon_log();
    auto before = deployment("big-a");
    pid_t engine = before["pid"].get<pid_t>();
    ASSERT_EQ(stop_daemon(SIGKILL), 128 + SIGKILL);
    EXPECT_EQ(processes_of(box_.home()).count(engine), 1u);  // the engine outlives the daemon

    start_daemon();
    ASSERT_TRUE(eventually([&] { return deployment("big-a")["state"] == "ready"; }))
        << daemon_log();
    auto after = deployment("big-a");
    EXPECT_EQ(after["pid"], before["pid"]);  // reattached, not restarted
    EXPECT_EQ(ps()["reserved_bytes"], before["planned_bytes"]);
    // The ledger still holds it: the other one needs an eviction of big-a.
    ASSERT_EQ(box_.run({"up", "big-b"}).exit_code, 0) << daemon_log();
    EXPECT_EQ(processes_of(box_.home()).count(engine), 0u);
    EXPECT_EQ(stop_daemon(SIGTERM), 0);
    EXPECT_TRUE(processes_of(box_.home()).empty());
    EXPECT_FALSE(fs::exists(socket_));
}

TEST_F(ServeE2e, SighupReloadsTheConfig) {
    config(R"(
[[models]]
id = "one"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
simulate_args = ["--timing", "fixed:5,1"]
)");
    start_daemon();
    EXPECT_EQ(ps()["deployments"].size(), 1u);
    config(R"(
[[models]]
id = "two"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
pin = true
simulate_args = ["--timing", "fixed:5,1"]
)");
    ::kill(pid_, SIGHUP);
    ASSERT_TRUE(eventually([&] { return deployment("two")["state"] == "ready"; })) << daemon_log();
    auto doc = ps();
    ASSERT_EQ(doc["deployments"].size(), 1u);  // "one" removed
    EXPECT_EQ(doc["deployments"][0]["id"], "two");
}

TEST_F(ServeE2e, OneDaemonPerSocketAndListenNamesTheGateway) {
    config("");
    start_daemon({"--listen", "127.0.0.1:0"});
    auto second = box_.run({"serve", "--simulate"});
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.err.find("another sparkctl serve"), std::string::npos) << second.err;
    EXPECT_EQ(fs::status(socket_).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);

    // The gateway answers on the port serve printed; `status --json` names it.
    const std::string marker = "sparkctl serve: listening on http://127.0.0.1:";
    std::string log;
    ASSERT_TRUE(eventually([&] {
        log = daemon_log();
        return log.find(marker) != std::string::npos;
    })) << log;
    auto port = std::stoi(log.substr(log.find(marker) + marker.size()));
    auto status = box_.run({"status", "--json"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    EXPECT_EQ(status.json()["listen"], "http://127.0.0.1:" + std::to_string(port));
    net::Client client;
    net::ClientRequest req;
    req.port = static_cast<std::uint16_t>(port);
    req.target = "/health";
    auto health = client.fetch(req);
    ASSERT_TRUE(health) << health.error().message;
    EXPECT_EQ(health->status, 200);
}

// `up` shows the load while it waits: a plain line per state change when stderr is not a
// terminal; on a terminal (script(1) gives it one) one line rewritten in place with the elapsed
// time and the load deadline.
TEST_F(ServeE2e, UpShowsTheLoadInProgress) {
    config(R"(
[[models]]
id = "slow"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
simulate_args = ["--timing", "fixed:5,1", "--slow-start", "2"]
)");
    start_daemon();
    auto up = box_.run({"up", "slow"});
    ASSERT_EQ(up.exit_code, 0) << up.err << daemon_log();
    EXPECT_NE(up.err.find("slow: loading\n"), std::string::npos) << up.err;
    EXPECT_EQ(up.err.find('\r'), std::string::npos);
    ASSERT_EQ(box_.run({"down", "slow"}).exit_code, 0);

    if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "no script(1) for a terminal";
    base::RunOptions o;
    o.timeout = std::chrono::seconds(60);
    o.env_set = {{"HOME", box_.home().string()},
                 {"XDG_RUNTIME_DIR", runtime_.string()},
                 {"XDG_CONFIG_HOME", (box_.home() / ".config").string()}};
    const std::string cmd = sparkctl_binary().string() + " up slow";
    auto tty = base::run_process({"/usr/bin/script", "-qec", cmd, "/dev/null"}, o);
    ASSERT_TRUE(tty.ok());
    EXPECT_NE(tty->stdout_text.find("\r\033[Kslow: loading "), std::string::npos)
        << tty->stdout_text;
    EXPECT_NE(tty->stdout_text.find("(load deadline "), std::string::npos) << tty->stdout_text;
    EXPECT_NE(tty->stdout_text.find("slow ready on 127.0.0.1:"), std::string::npos);
}

// kind = container outside --simulate, through tests/serve/docker-double.sh (the real docker
// client needs a docker daemon): `docker run -d` with serve's labels, flags and mounts, followed
// by `docker logs -f`, stopped with `docker stop -t`, removed; after kill -9 of the daemon the
// container is reattached by its record and a labelled container nobody records is removed.
class ServeContainerE2e : public ServeDaemonTest {
  protected:
    void SetUp() override {
        ServeDaemonTest::SetUp();
        simulate_ = false;
        docker_dir_ = box_.home() / "docker";
        box_.env["DOCKER_DOUBLE_DIR"] = docker_dir_.string();
        box_.env["DOCKER_DOUBLE_SPARKCTL"] = sparkctl_binary().string();
        box_.env["DOCKER_DOUBLE_STANDIN_ARGS"] = "--timing fixed:5,1";
        // A live reading with room (the simulated pool is --simulate's only).
        box_.env["SPARKCTL_MEMINFO"] = box_.write("meminfo",
                                                  "MemTotal: 131072000 kB\nMemFree: 125829120 kB\n"
                                                  "MemAvailable: 125829120 kB\n")
                                           .string();
        config("docker = \"" + (source_dir() / "tests/serve/docker-double.sh").string() +
               "\"\nhf_cache = \"" + (box_.home() / "hf").string() +
               "\"\n\n[[models]]\nid = \"vc\"\nmodel = \"qwen3-8b\"\nengine = \"vllm\"\n"
               "kind = \"container\"\n");
    }
    // Every docker call so far, each as its arguments.
    std::vector<std::vector<std::string>> calls() const {
        std::vector<std::vector<std::string>> out;
        std::ifstream in(docker_dir_ / "calls");
        std::string line;
        while (std::getline(in, line)) {
            std::vector<std::string> args;
            std::size_t at = 0;
            for (std::size_t tab; (tab = line.find('\t', at)) != std::string::npos; at = tab + 1) {
                args.push_back(line.substr(at, tab - at));
            }
            args.push_back(line.substr(at));
            out.push_back(std::move(args));
        }
        return out;
    }
    std::vector<std::vector<std::string>> calls_of(const std::string& command) const {
        std::vector<std::vector<std::string>> out;
        for (auto& c : calls()) {
            if (!c.empty() && c[0] == command) out.push_back(c);
        }
        return out;
    }
    std::vector<std::string> containers() const {
        std::vector<std::string> out;
        if (!fs::exists(docker_dir_ / "c")) return out;
        for (const auto& e : fs::directory_iterator(docker_dir_ / "c")) {
            out.push_back(e.path().filename().string());
        }
        return out;
    }
    std::string instance() const {
        std::ifstream in(box_.home() / ".local/share/sparkctl/serve/instance");
        std::string id;
        std::getline(in, id);
        return id;
    }
    fs::path docker_dir_;
};

bool has_pair(const std::vector<std::string>& argv, const std::string& flag,
              const std::string& value) {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == flag && argv[i + 1] == value) return true;
    }
    return false;
}

TEST_F(ServeContainerE2e, UpRunsTheContainerAndDownRemovesIt) {
    start_daemon();
    auto up = box_.run({"up", "vc"});
    ASSERT_EQ(up.exit_code, 0) << up.err << daemon_log();
    auto d = deployment("vc");
    EXPECT_EQ(d["state"], "ready");
    const std::string port = std::to_string(d["port"].get<int>());

    auto runs = calls_of("run");
    ASSERT_EQ(runs.size(), 1u);
    const auto& run = runs[0];
    EXPECT_EQ(run[1], "-d");
    EXPECT_TRUE(has_pair(run, "--label", "sparkctl.deployment=vc"));
    ASSERT_FALSE(instance().empty());
    EXPECT_TRUE(has_pair(run, "--label", "sparkctl.instance=" + instance()));
    EXPECT_TRUE(has_pair(run, "--gpus", "all"));
    EXPECT_NE(std::find(run.begin(), run.end(), "--ipc=host"), run.end());
    EXPECT_TRUE(has_pair(run, "-p", "127.0.0.1:" + port + ":" + port));
    EXPECT_TRUE(has_pair(run, "-e", "HF_TOKEN"));  // by name: the value never in an argv
    EXPECT_TRUE(has_pair(run, "-e", "HF_HUB_OFFLINE=1"));
    EXPECT_TRUE(has_pair(run, "-v", (box_.home() / "hf").string() + ":/root/.cache/huggingface"));
    EXPECT_EQ(std::find(run.begin(), run.end(), "--rm"), run.end());

    auto live = containers();
    ASSERT_EQ(live.size(), 1u);
    const std::string id = live[0];
    auto logs = calls_of("logs");
    ASSERT_FALSE(logs.empty());
    EXPECT_EQ(logs.back(), (std::vector<std::string>{"logs", "-f", id}));
    // The stored record holds the container id.
    auto status = box_.run({"logs", "vc", "--lines", "50"});
    EXPECT_EQ(status.exit_code, 0) << status.err;

    auto down = box_.run({"down", "vc"});
    ASSERT_EQ(down.exit_code, 0) << down.err << daemon_log();
    EXPECT_EQ(deployment("vc")["state"], "unloaded");
    auto stops = calls_of("stop");
    ASSERT_EQ(stops.size(), 1u);
    EXPECT_EQ(stops[0], (std::vector<std::string>{"stop", "-t", "10", id}));
    auto rms = calls_of("rm");
    ASSERT_EQ(rms.size(), 1u);
    EXPECT_EQ(rms[0], (std::vector<std::string>{"rm", "-f", id}));
    EXPECT_TRUE(containers().empty());
    EXPECT_EQ(ps()["reserved_bytes"], 0);
}

TEST_F(ServeContainerE2e, KillNineThenRestartReattachesByRecordAndSweepsTheRest) {
    start_daemon();
    ASSERT_EQ(box_.run({"up", "vc"}).exit_code, 0) << daemon_log();
    auto before = deployment("vc");
    ASSERT_EQ(containers().size(), 1u);
    const std::string id = containers()[0];
    ASSERT_EQ(stop_daemon(SIGKILL), 128 + SIGKILL);

    // A container labelled as this instance's that no record claims: a leftover to remove.
    base::RunOptions o;
    o.env_set = {{"DOCKER_DOUBLE_DIR", docker_dir_.string()},
                 {"DOCKER_DOUBLE_SPARKCTL", sparkctl_binary().string()},
                 {"DOCKER_DOUBLE_STANDIN_ARGS", "--timing fixed:5,1"},
                 {"HOME", box_.home().string()}};
    auto stray = base::run_process({(source_dir() / "tests/serve/docker-double.sh").string(), "run",
                                    "-d", "--label", "sparkctl.instance=" + instance(), "image",
                                    "vllm", "serve", "Qwen/Qwen3-8B", "--port", "0"},
                                   o);
    ASSERT_TRUE(stray.ok());
    ASSERT_EQ(stray->exit_code, 0) << stray->stderr_text;
    const std::string stray_id(base::trim(stray->stdout_text));
    ASSERT_EQ(containers().size(), 2u);

    start_daemon();
    ASSERT_TRUE(eventually([&] { return deployment("vc")["state"] == "ready"; })) << daemon_log();
    EXPECT_EQ(calls_of("run").size(), 2u);  // ours, and the stray: nothing new for vc
    EXPECT_EQ(containers(), std::vector<std::string>{id});
    EXPECT_TRUE(
        has_pair(calls_of("ps").back(), "--filter", "label=sparkctl.instance=" + instance()));
    EXPECT_EQ(calls_of("logs").back(), (std::vector<std::string>{"logs", "-f", "--tail", "0", id}));
    EXPECT_EQ(calls_of("rm").back(), (std::vector<std::string>{"rm", "-f", stray_id}));
    EXPECT_EQ(ps()["reserved_bytes"], before["planned_bytes"]);

    // SIGTERM: the container is stopped and removed with the daemon.
    EXPECT_EQ(stop_daemon(SIGTERM), 0) << daemon_log();
    EXPECT_TRUE(containers().empty());
}

// Opt-in, not in CI: a llama-server built locally from llama.cpp's public source, named by
// $SPARKCTL_LLAMA_SERVER (the llama_server option's own variable). `up` of a generated GGUF
// runs it for real (native, the live /proc/meminfo), its memory is measured from its log, and
// `down` leaves nothing running.
TEST_F(ServeE2e, RealLlamaServerUpMeasuresAndDownLeavesNothing) {
    const char* bin = std::getenv("SPARKCTL_LLAMA_SERVER");
    if (bin == nullptr || *bin == '\0') GTEST_SKIP() << "set SPARKCTL_LLAMA_SERVER";
    ASSERT_TRUE(fs::exists(bin)) << "SPARKCTL_LLAMA_SERVER=" << bin;
    const fs::path gguf = box_.home() / "tiny.gguf";
    auto mk = box_.run({"dev", "make-gguf", "--arch", "llama", "--out", gguf.string()});
    ASSERT_EQ(mk.exit_code, 0) << mk.err;
    simulate_ = false;
    box_.env["SPARKCTL_LLAMA_SERVER"] = bin;
    config("[[models]]\nid = \"tiny\"\nmodel = \"" + gguf.string() +
           "\"\nengine = \"llama.cpp\"\ncontext = 512\n");
    start_daemon();
    auto up = box_.run({"up", "tiny"});
    ASSERT_EQ(up.exit_code, 0) << up.err << daemon_log();
    auto d = deployment("tiny");
    EXPECT_EQ(d["state"], "ready");
    ASSERT_TRUE(d["pid"].is_number());
    ASSERT_TRUE(d["measured_bytes"].is_number_unsigned()) << d.dump() << daemon_log();
    EXPECT_GT(d["measured_bytes"].get<std::uint64_t>(), 0u);
    const pid_t engine = d["pid"].get<pid_t>();
    EXPECT_EQ(::getpgid(engine), engine);  // its own process group

    auto down = box_.run({"down", "tiny"});
    ASSERT_EQ(down.exit_code, 0) << down.err;
    EXPECT_EQ(deployment("tiny")["state"], "unloaded");
    EXPECT_EQ(processes_of(box_.home()).count(engine), 0u);
    EXPECT_NE(::kill(-engine, 0), 0);  // no process of its group is left
    EXPECT_EQ(ps()["reserved_bytes"], 0);
}

// `bench run ID`: the engine itself is measured (its own port and key from the admin API, which
// ps never shows), its record gives the engine, quant and launch flags, and the simulator's
// prediction of the same deployment sits beside the measurement.
TEST_F(ServeE2e, BenchRunMeasuresADeploymentsEngine) {
    config(R"(
[[models]]
id = "small"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
bench = true
simulate_args = ["--timing", "fixed:5,1"]
)");
    start_daemon();
    const std::vector<std::string> run{
        "bench",           "run", "small",           "--requests", "3",
        "--prompt-tokens", "16",  "--output-tokens", "4",          "--json"};
    auto idle = box_.run(run);
    EXPECT_EQ(idle.exit_code, 2) << idle.err;
    EXPECT_NE(idle.err.find("'small' is not loaded"), std::string::npos) << idle.err;

    ASSERT_EQ(box_.run({"up", "small"}).exit_code, 0) << daemon_log();
    const json listed = deployment("small");
    EXPECT_FALSE(listed.contains("api_key"));
    auto r = box_.run(run);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const json d = r.json();
    EXPECT_EQ(d["endpoint"], "http://127.0.0.1:" + std::to_string(listed["port"].get<int>()));
    EXPECT_EQ(d["engine"], "llama.cpp");
    EXPECT_EQ(d["completed"], 3);  // the engine wants serve's key: bench sent it
    EXPECT_EQ(d["valid"], true);
    EXPECT_EQ(d["deployment"]["id"], "small");
    EXPECT_EQ(d["deployment"]["quant"], "Q4_K_M");
    EXPECT_EQ(d["deployment"]["bench"], true);
    const json& argv = d["deployment"]["launch_argv"];
    ASSERT_TRUE(argv.is_array());
    bool masked = false;
    for (std::size_t i = 1; i < argv.size(); ++i) {
        if (argv[i - 1] == "--api-key") masked = argv[i] == "***";
    }
    EXPECT_TRUE(masked) << argv.dump();
    ASSERT_TRUE(d["predicted"].is_object()) << d.value("predicted_reason", json()).dump();
    EXPECT_GT(d["predicted"]["ttft_ms"]["p50"].get<double>(), 0);
    EXPECT_TRUE(d["error_ratio"]["ttft_ms"]["p50"].is_number());
    EXPECT_TRUE(d["error_ratio"]["output_tokens_per_s"].is_number());

    auto unknown = box_.run({"bench", "run", "nope", "--json"});
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("nope"), std::string::npos);
}

}  // namespace
}  // namespace sparkctl::test
