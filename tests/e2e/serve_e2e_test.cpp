// sparkctl serve --simulate, end to end: the real daemon in a temporary HOME and
// XDG_RUNTIME_DIR (its own process group), its engines the stand-in (`simulate serve`), and the
// real clients (up, down, ps, logs, status). Waits are polls with deadlines; every process the
// test caused is found by the HOME in its environment, and must be gone at the end.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "net/client.h"
#include "support/sandbox.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Live (not zombie) processes whose environment has HOME=home: the daemon and its engines.
std::set<pid_t> processes_of(const fs::path& home) {
    std::set<pid_t> out;
    const std::string needle = "HOME=" + home.string();
    for (const auto& entry : fs::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        std::getline(stat, line);
        auto close = line.rfind(')');
        if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z') {
            continue;
        }
        std::ifstream env(entry.path() / "environ", std::ios::binary);
        std::string var;
        while (std::getline(env, var, '\0')) {
            if (var == needle) {
                out.insert(std::stoi(name));
                break;
            }
        }
    }
    return out;
}

// Polls `done` until it holds or `limit` passes.
bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = 30s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(50ms);  // a poll interval under a deadline
    }
    return true;
}

class ServeE2e : public ::testing::Test {
  protected:
    void SetUp() override {
        runtime_ = box_.home() / "run";
        fs::create_directories(runtime_);
        socket_ = (runtime_ / "sparkctl" / "admin.sock").string();
        box_.env["XDG_RUNTIME_DIR"] = runtime_.string();
    }
    void TearDown() override {
        stop_daemon(SIGTERM);
        // Nothing the test started may outlive it: kill leftovers, and fail if there were any.
        auto left = processes_of(box_.home());
        for (pid_t p : left) ::kill(p, SIGKILL);
        EXPECT_TRUE(left.empty()) << left.size() << " processes left behind";
    }

    void config(const std::string& toml) { box_.write(".config/sparkctl/config.toml", toml); }

    // Starts `sparkctl serve --simulate` and waits until `ps` answers.
    void start_daemon(std::vector<std::string> extra = {}) {
        pid_ = ::fork();
        if (pid_ == 0) {
            ::setpgid(0, 0);
            std::string err = (box_.home() / "serve.err").string();
            FILE* f = std::fopen(err.c_str(), "a");
            if (f != nullptr) ::dup2(fileno(f), 2);
            const fs::path& h = box_.home();
            ::setenv("HOME", h.c_str(), 1);
            ::setenv("XDG_CONFIG_HOME", (h / ".config").c_str(), 1);
            ::setenv("XDG_DATA_HOME", (h / ".local/share").c_str(), 1);
            ::setenv("XDG_STATE_HOME", (h / ".local/state").c_str(), 1);
            ::setenv("XDG_CACHE_HOME", (h / ".cache").c_str(), 1);
            ::setenv("XDG_RUNTIME_DIR", runtime_.c_str(), 1);
            for (const char* v : {"SPARKCTL_CONFIG", "SPARKCTL_HARDWARE", "SPARKCTL_DATA_DIR",
                                  "SPARKCTL_MEMINFO"}) {
                ::unsetenv(v);
            }
            for (const auto& [k, v] : box_.env) ::setenv(k.c_str(), v.c_str(), 1);
            std::vector<std::string> all{sparkctl_binary().string(),
                                         "--log-level",
                                         "info",
                                         "serve",
                                         "--simulate",
                                         "--hardware",
                                         "dgx-spark"};
            all.insert(all.end(), extra.begin(), extra.end());
            std::vector<char*> argv;
            for (auto& s : all) argv.push_back(s.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ASSERT_TRUE(eventually([&] {
            return box_.run({"ps", "--json"}).exit_code == 0;
        })) << daemon_log();
    }

    // Signals the daemon and reaps it (SIGKILL after 30 s); its exit status, or -1.
    int stop_daemon(int sig) {
        if (pid_ <= 0) return -1;
        ::kill(pid_, sig);
        int status = -1;
        bool reaped = eventually([&] {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) != pid_) return false;
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            return true;
        });
        if (!reaped) {
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        pid_ = -1;
        return status;
    }

    std::string daemon_log() const {
        std::ifstream in(box_.home() / "serve.err");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

    json ps() {
        auto r = box_.run({"ps", "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.exit_code == 0 ? r.json() : json::object();
    }
    json deployment(const std::string& id) {
        json doc = ps();  // kept: ranging over a member of a temporary would dangle
        for (const auto& d : doc["deployments"]) {
            if (d["id"] == id) return d;
        }
        return json::object();
    }

    Sandbox box_;
    fs::path runtime_;
    std::string socket_;
    pid_t pid_ = -1;
};

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

TEST_F(ServeE2e, OneDaemonPerSocketAndListenServesStatus) {
    config("");
    start_daemon({"--listen", "127.0.0.1:0"});
    auto second = box_.run({"serve", "--simulate"});
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.err.find("another sparkctl serve"), std::string::npos) << second.err;
    EXPECT_EQ(fs::status(socket_).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);

    // /health and /status over TCP, /status in the `ps --json` shape.
    const std::string marker = "listening on 127.0.0.1:";
    std::string log;
    ASSERT_TRUE(eventually([&] {
        log = daemon_log();
        return log.find(marker) != std::string::npos;
    })) << log;
    auto port = std::stoi(log.substr(log.find(marker) + marker.size()));
    net::Client client;
    net::ClientRequest req;
    req.port = static_cast<std::uint16_t>(port);
    req.target = "/status";
    auto status = client.fetch(req);
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(status->status, 200);
    auto doc = json::parse(status->body);
    EXPECT_EQ(doc, ps());
    req.target = "/health";
    auto health = client.fetch(req);
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
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
