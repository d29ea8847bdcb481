// The status page in a real browser: headless Chromium (Debian `chromium`) loads / from a running
// gateway, runs the page's JavaScript against /status, /metrics and /status/logs, and the test
// reads the DOM it built (--dump-dom); a screenshot stays in the test's output directory.
// 1. A real `sparkctl serve --simulate --listen 127.0.0.1:0` (serve_daemon.h's fixture) with two
//    deployments, one loaded by a streamed request through the gateway: ids, states, the memory
//    bar, the request, the tokens/s sparkline and the engine log tail.
// 2. A gateway over a test Registry whose daemon text is markup: shown as text, never elements.
// Without chromium the tests are skipped, except under CI=true, where that fails.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/serve_daemon.h"
#include "net/client.h"
#include "serve/gateway.h"
#include "support/temp_dir.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string find_chromium() {
    for (const char* name : {"chromium", "chromium-browser"}) {
        const char* path = std::getenv("PATH");
        std::istringstream dirs(path ? path : "/usr/bin:/bin");
        for (std::string dir; std::getline(dirs, dir, ':');) {
            const fs::path p = fs::path(dir) / name;
            if (::access(p.c_str(), X_OK) == 0) return p.string();
        }
    }
    return "";
}

struct ProcessRun {
    int status = -1;  // exit status; -1: killed at the deadline
    std::string out;
};

// Runs argv in its own process group with stdout captured and stderr to `err_file`; the group is
// killed at the deadline.
ProcessRun run_with_deadline(std::vector<std::string> argv, const fs::path& err_file,
                             std::chrono::seconds limit) {
    ProcessRun run;
    int fds[2];
    if (::pipe(fds) != 0) return run;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(fds[1], 1);
        if (FILE* f = std::fopen(err_file.c_str(), "a")) ::dup2(fileno(f), 2);
        ::close(fds[0]);
        ::close(fds[1]);
        std::vector<char*> args;
        for (std::string& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    const auto deadline = Clock::now() + limit;
    bool killed = false;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            ::kill(-pid, SIGKILL);
            killed = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
        char buf[65536];
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        run.out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    ::kill(-pid, SIGKILL);  // helpers chromium left in its group
    if (!killed) run.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return run;
}

bool has_text(const std::string& html, const std::string& s) {
    return html.find(s) != std::string::npos;
}

// The test's output: NAME.html (the DOM), NAME.png and NAME.chromium.err, under the directory
// ctest runs it in (build/<preset>/tests/status_page_browser/).
fs::path output_dir() {
    fs::path p = fs::current_path() / "status_page_browser";
    fs::create_directories(p);
    return p;
}

class StatusPageBrowser : public ServeDaemonTest {
  protected:
    void SetUp() override {
        ServeDaemonTest::SetUp();
        chromium_ = find_chromium();
        if (chromium_.empty()) {
            const char* ci = std::getenv("CI");
            if (ci && std::string(ci) == "true") {
                FAIL() << "chromium is not installed (Debian package chromium); required when "
                          "CI=true";
            }
            GTEST_SKIP() << "chromium is not installed (Debian package chromium)";
        }
    }

    // Loads `url` in headless Chromium and returns the DOM its scripts built; with `screenshot`,
    // a second run keeps NAME.png. The virtual time budget lets the page's polling timers run
    // (several polls) while network fetches hold virtual time.
    std::string render(const std::string& url, const std::string& name, bool screenshot) {
        const fs::path out = output_dir();
        const fs::path err = out / (name + ".chromium.err");
        fs::remove(err);
        fs::remove(out / (name + ".png"));
        const std::vector<std::string> common{chromium_,
                                              "--headless=new",
                                              "--no-sandbox",
                                              "--disable-gpu",
                                              "--disable-dev-shm-usage",
                                              "--no-first-run",
                                              "--user-data-dir=" + profile_.path().string(),
                                              "--virtual-time-budget=9000",
                                              "--window-size=1280,1100"};
        std::vector<std::string> dump = common;
        dump.push_back("--dump-dom");
        dump.push_back(url);
        const ProcessRun dom = run_with_deadline(dump, err, std::chrono::seconds(120));
        EXPECT_EQ(dom.status, 0) << "chromium --dump-dom failed; its stderr is in " << err;
        std::ofstream(out / (name + ".html")) << dom.out;
        if (screenshot) {
            std::vector<std::string> shot = common;
            shot.push_back("--screenshot=" + (out / (name + ".png")).string());
            shot.push_back(url);
            const ProcessRun png = run_with_deadline(shot, err, std::chrono::seconds(120));
            EXPECT_EQ(png.status, 0) << "chromium --screenshot failed; its stderr is in " << err;
            const fs::path file = out / (name + ".png");
            EXPECT_GT(fs::exists(file) ? fs::file_size(file) : 0, 1000u);
        }
        return dom.out;
    }

    std::string chromium_;
    TempDir profile_{"status_page_chromium"};
};

TEST_F(StatusPageBrowser, RendersTheDeploymentsOfServeSimulate) {
    config(R"(
[[models]]
id = "chat"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
simulate_args = ["--timing", "fixed:5,1"]

[[models]]
id = "big"
model = "llama-3.1-70b"
engine = "llama.cpp"
quant = "Q8_0"
simulate_args = ["--timing", "fixed:5,1"]
)");
    start_daemon({"--listen", "127.0.0.1:0"});
    const std::string marker = "sparkctl serve: listening on http://127.0.0.1:";
    std::string log;
    ASSERT_TRUE(eventually([&] {
        log = daemon_log();
        return log.find(marker) != std::string::npos;
    })) << log;
    const auto port =
        static_cast<std::uint16_t>(std::stoi(log.substr(log.find(marker) + marker.size())));

    // One streamed request loads "chat" and gives the page a request and tokens to show.
    net::Client client;
    net::ClientRequest rq;
    rq.port = port;
    rq.method = "POST";
    rq.target = "/v1/chat/completions";
    rq.headers = {{"Content-Type", "application/json"}};
    rq.body = json{{"model", "chat"},
                   {"messages", {{{"role", "user"}, {"content", "hello"}}}},
                   {"max_tokens", 5},
                   {"stream", true},
                   {"stream_options", {{"include_usage", true}}}}
                  .dump();
    rq.timeout_ms = 60'000;
    auto answered = client.fetch(rq);
    ASSERT_TRUE(answered.ok()) << answered.error().message;
    ASSERT_EQ(answered->status, 200) << answered->body << daemon_log();
    const json chat = deployment("chat");
    ASSERT_EQ(chat["state"], "ready") << chat;

    const std::string html =
        render("http://127.0.0.1:" + std::to_string(port) + "/", "serve_simulate", true);
    auto has = [&](const std::string& s) { return has_text(html, s); };
    // The deployments table: each configured id and its state.
    EXPECT_TRUE(has(R"(<tr data-id="chat")")) << html;
    EXPECT_TRUE(has(R"(<tr data-id="big")"));
    EXPECT_TRUE(has(R"(<td class="state state-ready">ready</td>)"));
    EXPECT_TRUE(has(R"(<td class="state state-unloaded">unloaded</td>)"));
    // The memory bar: the loaded deployment's reservation, the budget line, MemAvailable.
    const std::size_t bar = html.find(R"(id="memory-bar")");
    ASSERT_NE(bar, std::string::npos);
    EXPECT_NE(html.find(R"(class="mem-seg" data-id="chat")", bar), std::string::npos);
    EXPECT_EQ(html.find(R"(class="mem-seg" data-id="big")"), std::string::npos);
    EXPECT_NE(html.find(R"(class="mem-budget")", bar), std::string::npos);
    EXPECT_NE(html.find(R"(class="mem-avail")", bar), std::string::npos);
    EXPECT_TRUE(has(" budget; MemAvailable "));
    // The request, the tokens/s sparkline of the model that answered, and the engine log tail
    // of the running deployment (selected by default): the stand-in's line naming its port.
    EXPECT_TRUE(has("<td>/v1/chat/completions</td>"));
    EXPECT_TRUE(has(R"(<span data-model="chat">chat</span>)"));
    EXPECT_TRUE(has(R"(<polyline class="spark")"));
    EXPECT_TRUE(has("ready on port " + std::to_string(chat["port"].get<int>())));
    EXPECT_TRUE(has(R"(<span id="mode" class="muted">simulated engines</span>)"));
    EXPECT_FALSE(has("cannot reach the gateway"));
}

// A Registry whose text (model name, state, log) is markup; nothing is ever loaded.
class MarkupRegistry : public serve::Registry {
  public:
    static constexpr const char* kMarkup = "<img src=x onerror=alert(1)>";
    std::vector<serve::DeploymentView> deployments() override {
        serve::DeploymentView v;
        v.id = "m";
        v.model = kMarkup;
        v.engine = "vllm";
        v.state = "unloaded";
        return {v};
    }
    serve::MemoryView memory() override { return {100, 50}; }
    void ensure_ready(const std::string&,
                      std::function<void(base::Result<serve::Upstream>)> done) override {
        done(base::make_error(base::Errc::io, "not in this test"));
    }
    bool request_started(const std::string&) override { return true; }
    void request_finished(const std::string&) override {}
    json status() override {
        return {{"budget_bytes", 100},
                {"reserved_bytes", 0},
                {"mem_available_bytes", 50},
                {"deployments",
                 {{{"id", "m"},
                   {"model", kMarkup},
                   {"engine", "vllm"},
                   {"quant", nullptr},
                   {"state", "unloaded"},
                   {"port", nullptr},
                   {"pid", nullptr},
                   {"pinned", false},
                   {"in_flight", 0},
                   {"queued", 0},
                   {"planned_bytes", 10},
                   {"measured_bytes", nullptr},
                   {"restarts", 0},
                   {"idle_s", nullptr},
                   {"last_exit", kMarkup}}}}};
    }
    std::vector<std::string> log_tail(const std::string&, std::size_t) override {
        return {std::string("log ") + kMarkup};
    }
};

TEST_F(StatusPageBrowser, ShowsTheDaemonsTextAsText) {
    MarkupRegistry reg;
    auto gw = serve::Gateway::create({}, reg);
    ASSERT_TRUE(gw.ok()) << gw.error().message;
    ASSERT_TRUE((*gw)->start().ok());
    const std::string html =
        render("http://127.0.0.1:" + std::to_string((*gw)->port()) + "/", "markup", false);
    EXPECT_TRUE(has_text(html, R"(<tr data-id="m")")) << html;
    EXPECT_TRUE(has_text(html, "<td>&lt;img src=x onerror=alert(1)&gt;</td>"));
    EXPECT_TRUE(has_text(html, "log &lt;img src=x onerror=alert(1)&gt;"));
    EXPECT_FALSE(has_text(html, "<img"));
    (*gw)->stop(0);
}

}  // namespace
}  // namespace sparkctl::test
