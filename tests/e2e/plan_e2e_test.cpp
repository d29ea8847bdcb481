// End-to-end tests of `sparkctl plan` (docs/dev/plan.md): the JSON schema, exit statuses, the
// formats, config-file rule edits, and (when a llama-server binary is available) that the
// generated llama.cpp command starts a real llama-server that answers /health.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/process.h"
#include "support/sandbox.h"

namespace sparkctl::test {
namespace {

TEST(PlanE2e, JsonCarriesTheSchema) {
    Sandbox s;
    auto r = s.run({"plan", "qwen3-30b-a3b", "--for", "agents", "--users", "8", "--context",
                    "65536", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = r.json();
    for (const char* k : {"engine", "engine_version", "quant", "variant", "context", "parallel",
                          "nodes", "tensor_parallel", "memory", "performance", "decisions",
                          "commands", "warnings", "suggestions"}) {
        EXPECT_TRUE(j.contains(k)) << k;
    }
    EXPECT_EQ(j["engine"], "vllm");
    EXPECT_EQ(j["engine_version"], "ngc-26.05");
    EXPECT_EQ(j["quant"], "fp8");
    EXPECT_EQ(j["variant"]["repo"], "RedHatAI/Qwen3-30B-A3B-FP8-dynamic");
    EXPECT_EQ(j["parallel"], 8);
    EXPECT_LE(j["memory"]["total_bytes"].get<std::uint64_t>(),
              j["memory"]["budget_bytes"].get<std::uint64_t>());
    for (const auto& d : j["decisions"]) {
        EXPECT_FALSE(d["rule"].get<std::string>().empty());
        EXPECT_TRUE(d.contains("outcome") && d.contains("reason") && d.contains("rejected"));
    }
    bool native = false, container = false;
    for (const auto& c : j["commands"]) {
        EXPECT_TRUE(c.contains("node") && c.contains("argv") && c.contains("env"));
        native |= c["kind"] == "native";
        container |= c["kind"] == "container";
        if (c["role"] == "server") {
            EXPECT_EQ(c["health_url"], "http://127.0.0.1:8000/health");
        }
    }
    EXPECT_TRUE(native && container);
}

TEST(PlanE2e, PerformanceIsFitsPredictionWithAClusterSpeedUp) {
    Sandbox s;
    auto fit = s.run(
        {"fit", "gpt-oss-120b", "--engine", "vllm", "--parallel", "8", "--nodes", "2", "--json"});
    ASSERT_EQ(fit.exit_code, 0) << fit.err;
    const nlohmann::json fj = fit.json();
    const nlohmann::json& fp = fj["performance"];
    auto r =
        s.run({"plan", "gpt-oss-120b", "--for", "batch", "--users", "8", "--nodes", "2", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = r.json();
    const nlohmann::json& p = j["performance"];
    ASSERT_TRUE(p.is_object());
    ASSERT_TRUE(fp.is_object());
    for (const auto& [k, v] : fp.items()) EXPECT_TRUE(p.contains(k)) << k;  // fit's keys
    for (const char* k :
         {"decode_tokens_per_s", "decode_tokens_per_s_total", "prefill_tokens_per_s", "ttft_ms",
          "itl_ms", "decode_ceiling_tokens_per_s", "source", "ceiling_rule", "speedup_vs_one_node",
          "one_node"}) {
        EXPECT_TRUE(p.contains(k)) << k;
    }
    EXPECT_EQ(p["nodes"], 2);
    const double speedup = p["speedup_vs_one_node"].get<double>();
    EXPECT_GT(speedup, 1.0);
    EXPECT_LT(speedup, 2.0);
    EXPECT_NEAR(speedup,
                p["decode_tokens_per_s_total"].get<double>() /
                    p["one_node"]["decode_tokens_per_s_total"].get<double>(),
                1e-9);
    bool cited = false;
    for (const auto& w : j["warnings"]) {
        cited |= w.get<std::string>().find("disagrees with R-ENG-3") != std::string::npos;
    }
    EXPECT_TRUE(cited);
}

TEST(PlanE2e, ExitStatuses) {
    Sandbox s;
    auto fit3 = s.run({"plan", "deepseek-v3", "--for", "chat", "--json"});
    EXPECT_EQ(fit3.exit_code, 3) << fit3.err;
    EXPECT_FALSE(fit3.json()["suggestions"].empty());
    auto refused = s.run(
        {"plan", "qwen3-8b", "--for", "chat", "--users", "4", "--engine", "llama.cpp", "--json"});
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.json()["error"]["message"].get<std::string>().find("R-OPS-3"),
              std::string::npos);
    auto over = s.run({"plan", "qwen3-8b", "--for", "chat", "--users", "4", "--engine", "llama.cpp",
                       "--override", "R-OPS-3"});
    EXPECT_EQ(over.exit_code, 0) << over.err;
    auto bad = s.run({"plan", "qwen3-8b", "--for", "dancing"});
    EXPECT_EQ(bad.exit_code, 2);
}

// Every suggestion is a flag `plan` takes: for every catalog model in the matrix of uses (chat
// for one, agents x8, batch x16 at 8k, long-context for one, and llama.cpp forced for one user),
// the plan run again with each suggestion's flag applied parses and plans (exit 0 or 3).
TEST(PlanE2e, EverySuggestionIsAFlagPlanTakes) {
    Sandbox s;
    auto models = s.run({"models", "--json"});
    ASSERT_EQ(models.exit_code, 0) << models.err;
    const std::vector<std::vector<std::string>> uses = {
        {"--for", "chat"},
        {"--for", "agents", "--users", "8"},
        {"--for", "batch", "--users", "16", "--context", "8192"},
        {"--for", "long-context"},
        {"--for", "chat", "--engine", "llama.cpp"}};
    int applied = 0;
    const nlohmann::json catalog = models.json();
    for (const auto& m : catalog["models"]) {
        for (const auto& use : uses) {
            std::vector<std::string> args = {"plan", m["id"].get<std::string>()};
            args.insert(args.end(), use.begin(), use.end());
            std::vector<std::string> json_args = args;
            json_args.push_back("--json");
            auto r = s.run(json_args);
            if (r.exit_code != 0 && r.exit_code != 3) {  // refused, or nothing it loads
                continue;
            }
            const nlohmann::json plan = r.json();
            for (const auto& sg : plan["suggestions"]) {
                // Apply it: each "--flag value" of the suggestion sets that flag.
                std::vector<std::string> again = args;
                std::istringstream flags(sg["flag"].get<std::string>());
                std::string flag, value;
                while (flags >> flag) {
                    ASSERT_TRUE(flags >> value) << sg["flag"];
                    auto at = std::find(again.begin(), again.end(), flag);
                    if (at != again.end()) {
                        *(at + 1) = value;
                    } else {
                        again.insert(again.end(), {flag, value});
                    }
                }
                auto q = s.run(again);
                std::string cmd;
                for (const std::string& x : again) cmd += " " + x;
                EXPECT_TRUE(q.exit_code == 0 || q.exit_code == 3) << cmd << ": " << q.err;
                if (sg["fits"].get<bool>()) {
                    EXPECT_EQ(q.exit_code, 0) << cmd << ": " << q.err;
                }
                ++applied;
            }
        }
    }
    EXPECT_GT(applied, 20);
}

// A checkpoint named by its repository is the one planned; the model's own id still lets the
// rules choose.
TEST(PlanE2e, NamedCheckpointIsPlannedAsNamed) {
    Sandbox s;
    auto fp8 = s.run({"plan", "Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8", "--for", "chat", "--json"});
    ASSERT_EQ(fp8.exit_code, 0) << fp8.err;
    auto j = fp8.json();
    EXPECT_EQ(j["quant"], "fp8");
    EXPECT_EQ(j["variant"]["repo"], "Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8");
    EXPECT_EQ(j["engine"], "vllm");
    bool said = false;
    for (const auto& d : j["decisions"]) {
        said |= d["facts"].value("named", "") == "Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8";
    }
    EXPECT_TRUE(said);
    auto model = s.run({"plan", "Qwen/Qwen3-Coder-30B-A3B-Instruct", "--for", "chat", "--json"});
    ASSERT_EQ(model.exit_code, 0) << model.err;
    EXPECT_EQ(model.json()["engine"], "llama.cpp");  // R-ENG-1 among all published variants
    // `fit` prices the named checkpoint too (model::named_checkpoint), not the rules' pick.
    auto fit_named =
        s.run({"fit", "nvidia/Llama-3.1-8B-Instruct-NVFP4", "--engine", "vllm", "--json"});
    ASSERT_EQ(fit_named.exit_code, 0) << fit_named.err;
    EXPECT_EQ(fit_named.json()["quant"], "nvfp4");
    auto fit_model = s.run({"fit", "llama-3.1-8b", "--engine", "vllm", "--json"});
    ASSERT_EQ(fit_model.exit_code, 0) << fit_model.err;
    EXPECT_NE(fit_model.json()["quant"], "nvfp4");  // R-QNT-2: NVFP4 only when nothing else fits
}

TEST(PlanE2e, KvCacheDtypeAndWorkingPointInJson) {
    Sandbox s;
    auto fp8 = s.run({"plan", "gpt-oss-120b", "--for", "agents", "--users", "4", "--context",
                      "131072", "--kv-cache-dtype", "fp8", "--json"});
    ASSERT_EQ(fp8.exit_code, 0) << fp8.err;
    auto j = fp8.json();
    EXPECT_EQ(j["kv_cache_dtype"], "fp8");
    const auto& wp = j["performance"]["working_point"];
    ASSERT_TRUE(wp.is_object());
    EXPECT_EQ(wp["depth"], 65536);
    EXPECT_EQ(wp["prompt"], 20000);
    EXPECT_GT(wp["ttft_ms"].get<double>(), j["performance"]["ttft_ms"].get<double>());
    EXPECT_LT(wp["decode_tokens_per_s"].get<double>(),
              j["performance"]["decode_tokens_per_s"].get<double>());
    auto bad = s.run({"plan", "gpt-oss-120b", "--for", "chat", "--kv-cache-dtype", "fp9"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("--kv-cache-dtype: 'fp9'"), std::string::npos) << bad.err;
}

TEST(PlanE2e, FormatsAndConfigRules) {
    Sandbox s;
    auto sh = s.run({"plan", "llama-3.1-70b", "--for", "agents", "--nodes", "2", "--context",
                     "16384", "--format", "sh"});
    ASSERT_EQ(sh.exit_code, 0) << sh.err;
    EXPECT_NE(sh.out.find("read -rp 'NODE0_IP: ' NODE0_IP"), std::string::npos);
    EXPECT_NE(sh.out.find("--tensor-parallel-size 2"), std::string::npos);
    auto compose = s.run({"plan", "gpt-oss-120b", "--for", "agents", "--format", "compose"});
    ASSERT_EQ(compose.exit_code, 0) << compose.err;
    EXPECT_NE(compose.out.find("services:"), std::string::npos);
    auto swap = s.run({"plan", "gpt-oss-20b", "--for", "chat", "--format", "llama-swap"});
    ASSERT_EQ(swap.exit_code, 0) << swap.err;
    EXPECT_NE(swap.out.find("llama-server"), std::string::npos);

    const auto cfg = s.write("cfg.toml", "[rules.R-ENG-1]\nenabled = false\n");
    auto edited = s.run({"--config", cfg.string(), "plan", "qwen3-8b", "--for", "chat", "--json"});
    ASSERT_EQ(edited.exit_code, 0) << edited.err;
    EXPECT_EQ(edited.json()["engine"], "vllm");
    const auto badcfg = s.write("bad.toml", "[rules.R-ENG-9]\nenabled = false\n");
    EXPECT_EQ(s.run({"--config", badcfg.string(), "plan", "qwen3-8b", "--for", "chat"}).exit_code,
              2);
}

// --- a real llama-server, when one is available ---------------------------------------------

// A llama-server built locally from llama.cpp's public source, named by $SPARKCTL_LLAMA_SERVER.
// Opt-in: CI has none, and the project's tests never depend on one.
std::filesystem::path llama_server() {
    if (const char* p = std::getenv("SPARKCTL_LLAMA_SERVER"); p != nullptr && *p != '\0') return p;
    return {};
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// The HTTP status of GET /health, or 0 when nothing answers.
int health_status(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = 0;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        const std::string req =
            "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
            char buf[64] = {};
            if (::read(fd, buf, sizeof buf - 1) > 12) status = std::atoi(buf + 9);
        }
    }
    ::close(fd);
    return status;
}

TEST(PlanE2e, GeneratedLlamaServerCommandAnswersHealth) {
    const std::filesystem::path bin = llama_server();
    if (bin.empty()) GTEST_SKIP() << "set SPARKCTL_LLAMA_SERVER to a llama-server binary";
    ASSERT_TRUE(std::filesystem::exists(bin)) << "SPARKCTL_LLAMA_SERVER=" << bin;
    Sandbox s;
    const std::filesystem::path gguf = s.home() / "tiny.gguf";
    auto mk = s.run({"dev", "make-gguf", "--arch", "llama", "--out", gguf.string()});
    ASSERT_EQ(mk.exit_code, 0) << mk.err;
    auto r = s.run({"plan", gguf.string(), "--for", "chat", "--context", "512", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> argv;
    const nlohmann::json doc = r.json();  // the range must not refer into a temporary
    for (const auto& c : doc["commands"]) {
        if (c["role"] == "server" && c["kind"] == "native") argv = c["argv"];
    }
    ASSERT_FALSE(argv.empty());
    ASSERT_EQ(argv[0], "llama-server");
    argv[0] = bin.string();
    const int port = free_port();
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == "--port") argv[i + 1] = std::to_string(port);
    }
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::setpgid(0, 0);
        std::vector<char*> args;
        for (std::string& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
        status = health_status(port);
        if (status == 200) break;
        int ws = 0;
        if (::waitpid(pid, &ws, WNOHANG) == pid) break;  // exited: the flags were rejected
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling, with a deadline
    }
    ::kill(-pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
    EXPECT_EQ(status, 200);
}

// --- the --format sh script, run for real with a stand-in server (item 8b) -------------------

// A stand-in for llama-server: serves 200 on /health at the --port it is given, forever.
constexpr const char* kFakeServer = R"(#!/bin/sh
port=8080
while [ $# -gt 0 ]; do
  if [ "$1" = --port ]; then port=$2; fi
  shift
done
echo "fake server on $port"
exec python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$port"
)";

std::filesystem::path write_executable(const Sandbox& s, const std::string& name,
                                       const std::string& text) {
    const std::filesystem::path p = s.write(name, text);
    std::filesystem::permissions(p, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add);
    return p;
}

// Runs the script with bash; `env` on top of the inherited environment.
base::ProcessResult run_script(const std::filesystem::path& script,
                               std::vector<std::pair<std::string, std::string>> env) {
    base::RunOptions o;
    o.env_set = std::move(env);
    o.timeout = std::chrono::seconds(120);
    auto r = base::run_process({"bash", script.string()}, o);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : base::ProcessResult{};
}

// The pid in the script's last line: "sparkctl: serving at URL (pid N, log FILE)".
pid_t served_pid(const std::string& out) {
    const std::size_t at = out.rfind("(pid ");
    return at == std::string::npos ? 0 : static_cast<pid_t>(std::atoi(out.c_str() + at + 5));
}

TEST(PlanE2e, ShScriptStartsTheServerWaitsForHealthAndExitsWithItRunning) {
    Sandbox s;
    auto sh = s.run({"plan", "qwen3-8b", "--for", "chat", "--format", "sh"});
    ASSERT_EQ(sh.exit_code, 0) << sh.err;
    const auto script = s.write("run.sh", sh.out);
    const auto fake = write_executable(s, "bin/fake-llama-server", kFakeServer);
    const int port = free_port();
    const std::string logs = (s.home() / "logs").string();
    auto r = run_script(script, {{"LLAMA_SERVER", fake.string()},
                                 {"PORT", std::to_string(port)},
                                 {"LOG_DIR", logs},
                                 {"HEALTH_TIMEOUT", "60"}});
    EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
    const pid_t pid = served_pid(r.stdout_text);
    ASSERT_GT(pid, 0) << r.stdout_text;
    EXPECT_EQ(::kill(pid, 0), 0) << "the server is still running after the script exited";
    EXPECT_EQ(health_status(port), 200);
    ::kill(pid, SIGTERM);
    // Its output went to the log in LOG_DIR.
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(logs) / "sparkctl-qwen3-8b.log"));

    // KIND=container on a vLLM plan runs its docker command the same way (DOCKER: a stand-in
    // that serves on the --port the command carries).
    auto vsh = s.run({"plan", "qwen3-30b-a3b", "--for", "agents", "--users", "8", "--context",
                      "65536", "--format", "sh"});
    ASSERT_EQ(vsh.exit_code, 0) << vsh.err;
    ASSERT_NE(vsh.out.find("\"${DOCKER}\" run"), std::string::npos);
    const auto vscript = s.write("run-vllm.sh", vsh.out);
    const int vport = free_port();
    r = run_script(vscript, {{"KIND", "container"},
                             {"DOCKER", fake.string()},
                             {"PORT", std::to_string(vport)},
                             {"LOG_DIR", logs},
                             {"HF_CACHE", (s.home() / "hf").string()}});
    EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
    const pid_t vpid = served_pid(r.stdout_text);
    ASSERT_GT(vpid, 0) << r.stdout_text;
    EXPECT_EQ(health_status(vport), 200);
    ::kill(vpid, SIGTERM);
}

TEST(PlanE2e, ShScriptFailsWithTheLogTailWhenTheServerDiesOrNeverAnswers) {
    Sandbox s;
    auto sh = s.run({"plan", "qwen3-8b", "--for", "chat", "--format", "sh"});
    ASSERT_EQ(sh.exit_code, 0) << sh.err;
    const auto script = s.write("run.sh", sh.out);
    const std::string logs = (s.home() / "logs").string();
    const auto dies = write_executable(
        s, "bin/dies", "#!/bin/sh\necho 'error: failed to load model: out of memory'\nexit 1\n");
    auto r = run_script(script, {{"LLAMA_SERVER", dies.string()},
                                 {"PORT", std::to_string(free_port())},
                                 {"LOG_DIR", logs}});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.stderr_text.find("exited before"), std::string::npos) << r.stderr_text;
    EXPECT_NE(r.stderr_text.find("failed to load model: out of memory"), std::string::npos);

    const auto hangs = write_executable(s, "bin/hangs", "#!/bin/sh\necho loading\nexec sleep 60\n");
    r = run_script(script, {{"LLAMA_SERVER", hangs.string()},
                            {"PORT", std::to_string(free_port())},
                            {"LOG_DIR", logs},
                            {"HEALTH_TIMEOUT", "3"}});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.stderr_text.find("did not answer within 3s"), std::string::npos) << r.stderr_text;
    EXPECT_NE(r.stderr_text.find("loading"), std::string::npos);  // the log's tail
    const std::size_t at = r.stderr_text.find("stopping pid ");
    ASSERT_NE(at, std::string::npos);
    const pid_t pid = static_cast<pid_t>(std::atoi(r.stderr_text.c_str() + at + 13));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let SIGTERM land
    EXPECT_NE(::kill(pid, 0), 0) << "the server was stopped at the deadline";

    // KIND=container on a llama.cpp plan: refused with a message, not silently nothing.
    r = run_script(script, {{"KIND", "container"}});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.stderr_text.find("no official image"), std::string::npos) << r.stderr_text;
    r = run_script(script, {{"KIND", "podman"}});
    EXPECT_EQ(r.exit_code, 2);
}

// Item 10: --engine-version installed reads the installed engine's version, found through the
// config key llama_server (the resolver plan, doctor and serve share).
TEST(PlanE2e, EngineVersionInstalledReadsTheEngine) {
    Sandbox s;
    // The format LC:common/arg.cpp printed at b6845 ("version: %d (%s)" on stderr).
    const auto fake = write_executable(
        s, "bin/llama-server",
        "#!/bin/sh\necho 'version: 6918 (8fb4bd34a)' >&2\n"
        "echo 'built with cc (Ubuntu 13.3.0-6ubuntu2~24.04) 13.3.0 for aarch64-linux-gnu' >&2\n");
    s.write(".config/sparkctl/config.toml", "llama_server = \"" + fake.string() + "\"\n");
    auto r =
        s.run({"plan", "qwen3-8b", "--for", "chat", "--engine-version", "installed", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = r.json();
    EXPECT_EQ(j["engine_version"], "b6845");
    bool said = false;
    for (const auto& d : j["decisions"]) {
        if (d["step"] == "engine-version") {
            said = d["reason"].get<std::string>().find("version: 6918 (8fb4bd34a)") !=
                   std::string::npos;
        }
    }
    EXPECT_TRUE(said);

    // Nothing installed: PATH without the binary, exit 2 naming what was looked for.
    Sandbox bare;
    bare.env["PATH"] = (bare.home() / "empty").string();
    auto none = bare.run({"plan", "qwen3-8b", "--for", "chat", "--engine-version", "installed"});
    EXPECT_EQ(none.exit_code, 2);
    EXPECT_NE(none.err.find("no llama.cpp is installed here (looked for: `llama-server --version`"),
              std::string::npos)
        << none.err;
}

// Item 10: colour on a terminal (script(1) gives sparkctl one), none with NO_COLOR or a pipe.
TEST(PlanE2e, FitsIsGreenOnATerminalOnly) {
    if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "no script(1) for a terminal";
    const std::string cmd = sparkctl_binary().string() + " plan qwen3-8b --for chat";
    base::RunOptions o;
    o.timeout = std::chrono::seconds(60);
    auto tty = base::run_process({"/usr/bin/script", "-qec", cmd, "/dev/null"}, o);
    ASSERT_TRUE(tty.ok());
    EXPECT_NE(tty->stdout_text.find("\033[32mfits\033[0m"), std::string::npos) << tty->stdout_text;
    o.env_set = {{"NO_COLOR", "1"}};
    auto plain = base::run_process({"/usr/bin/script", "-qec", cmd, "/dev/null"}, o);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->stdout_text.find('\033'), std::string::npos);
    EXPECT_NE(plain->stdout_text.find("fits: total"), std::string::npos);
    Sandbox s;
    auto piped = s.run({"plan", "qwen3-8b", "--for", "chat"});
    EXPECT_EQ(piped.out.find('\033'), std::string::npos);
}

// Item 8a: a real Hugging Face cache layout (the snapshot links to ../../blobs): the container
// mounts the models--org--name directory and serves the snapshot as it sees it.
TEST(PlanE2e, HfCacheDirectoryIsMountedIntoTheContainer) {
    Sandbox s;
    const std::filesystem::path repo = s.home() / "hub" / "models--Qwen--Qwen3-8B";
    const std::filesystem::path blob = repo / "blobs" / "0123abcd";
    std::filesystem::create_directories(blob.parent_path());
    std::filesystem::copy_file(source_dir() / "tests/data/hf_configs/Qwen--Qwen3-8B.json", blob);
    std::filesystem::create_directories(repo / "snapshots" / "abc123");
    std::filesystem::create_symlink("../../blobs/0123abcd", repo / "snapshots/abc123/config.json");
    auto r = s.run({"plan", repo.string(), "--for", "agents", "--users", "4", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = r.json();
    std::vector<std::string> argv;
    for (const auto& c : j["commands"]) {
        if (c["role"] == "server" && c["kind"] == "container") argv = c["argv"];
    }
    ASSERT_FALSE(argv.empty()) << j["commands"].dump();
    const std::string inside = "/models/models--Qwen--Qwen3-8B";
    EXPECT_NE(std::find(argv.begin(), argv.end(), repo.string() + ":" + inside + ":ro"),
              argv.end());
    EXPECT_NE(std::find(argv.begin(), argv.end(), inside + "/snapshots/abc123"), argv.end());
    for (const std::string& a : argv) {
        EXPECT_TRUE(a.find(s.home().string()) == std::string::npos || a.ends_with(":ro")) << a;
    }
}

}  // namespace
}  // namespace sparkctl::test
