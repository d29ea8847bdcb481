// The status page in a real browser: headless Chromium (Debian `chromium`) loads / from a running
// gateway, runs the page's JavaScript against /status, /metrics and /status/logs, and the test
// reads the DOM it built (--dump-dom) and keeps a screenshot in the test's output directory.
// The gateway runs over a Registry whose ready deployment is a real stand-in engine (`sparkctl
// simulate serve`, its own process group), with one request relayed through it first.
// Without chromium the test is skipped, except under CI=true, where that fails.
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

#include "net/client.h"
#include "serve/gateway.h"
#include "support/standin_process.h"
#include "support/temp_dir.h"

namespace sparkctl::serve {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kGiB = 1ull << 30;

// Two deployments: "chat" ready on a llama.cpp stand-in, "agents" not loaded (loads fail). The
// model name of "agents" is markup, which the page must show as text.
class TwoDeployments : public Registry {
  public:
    TwoDeployments()
        : chat_({"--as", "llama.cpp", "--timing", "fixed:0,1", "--", "-m", "chat.gguf", "--port",
                 "0", "-a", "chat"}),
          port_(chat_.wait_port("ready on port ")) {}
    int chat_port() const { return port_; }

    std::vector<DeploymentView> deployments() override {
        DeploymentView chat;
        chat.id = "chat";
        chat.model = "qwen3-8b";
        chat.engine = "llama.cpp";
        chat.state = "ready";
        chat.upstream = Upstream{"chat", "llama.cpp", "127.0.0.1", port_, "", ""};
        chat.reserved_bytes = 12 * kGiB;
        DeploymentView agents;
        agents.id = "agents";
        agents.model = kMarkup;
        agents.engine = "vllm";
        agents.state = "unloaded";
        return {chat, agents};
    }
    MemoryView memory() override { return {103 * kGiB, 80 * kGiB}; }
    void ensure_ready(const std::string&,
                      std::function<void(base::Result<Upstream>)> done) override {
        done(base::make_error(base::Errc::does_not_fit, "not in this test"));
    }
    void request_started(const std::string&) override {}
    void request_finished(const std::string&) override {}
    json status() override {
        auto entry = [](const char* id, const char* model, const char* engine, const char* state,
                        json port, json planned) {
            return json{{"id", id},         {"model", model},           {"engine", engine},
                        {"quant", nullptr}, {"state", state},           {"port", port},
                        {"pid", nullptr},   {"pinned", false},          {"in_flight", 0},
                        {"queued", 0},      {"planned_bytes", planned}, {"measured_bytes", nullptr},
                        {"restarts", 0},    {"idle_s", nullptr},        {"last_exit", nullptr}};
        };
        return {{"budget_bytes", 103 * kGiB},
                {"reserved_bytes", 12 * kGiB},
                {"mem_available_bytes", 80 * kGiB},
                {"deployments",
                 {entry("chat", "qwen3-8b", "llama.cpp", "ready", port_, 12 * kGiB),
                  entry("agents", kMarkup, "vllm", "unloaded", nullptr, 40 * kGiB)}}};
    }
    std::vector<std::string> log_tail(const std::string& id, std::size_t) override {
        std::vector<std::string> out;
        if (id != "chat") return out;
        std::istringstream in(chat_.log());
        for (std::string line; std::getline(in, line);) out.push_back(line);
        return out;
    }

    static constexpr const char* kMarkup = "<img src=x onerror=alert(1)>";

  private:
    test::Standin chat_;
    int port_;
};

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

// The test's output: status_page.html (the DOM), status_page.png and chromium.err, under the
// directory ctest runs it in (build/ci/tests/status_page_browser/).
fs::path output_dir() {
    fs::path p = fs::current_path() / "status_page_browser";
    fs::create_directories(p);
    return p;
}

TEST(StatusPageBrowser, RendersTheDeploymentsMemoryRequestsAndLog) {
    const std::string chromium = find_chromium();
    if (chromium.empty()) {
        const char* ci = std::getenv("CI");
        if (ci && std::string(ci) == "true") {
            FAIL() << "chromium is not installed (Debian package chromium); required when CI=true";
        }
        GTEST_SKIP() << "chromium is not installed (Debian package chromium)";
    }
    TwoDeployments reg;
    ASSERT_NE(reg.chat_port(), 0) << "the stand-in did not start";
    auto gw = Gateway::create({}, reg);
    ASSERT_TRUE(gw.ok()) << gw.error().message;
    ASSERT_TRUE((*gw)->start().ok());
    const std::string url = "http://127.0.0.1:" + std::to_string((*gw)->port()) + "/";

    // One streamed request through the gateway, so the page has a request and tokens to show.
    net::Client client;
    net::ClientRequest rq;
    rq.port = (*gw)->port();
    rq.method = "POST";
    rq.target = "/v1/chat/completions";
    rq.headers = {{"Content-Type", "application/json"}};
    rq.body = json{{"model", "chat"},
                   {"messages", {{{"role", "user"}, {"content", "hello"}}}},
                   {"max_tokens", 5},
                   {"stream", true},
                   {"stream_options", {{"include_usage", true}}}}
                  .dump();
    auto answered = client.fetch(rq);
    ASSERT_TRUE(answered.ok()) << answered.error().message;
    ASSERT_EQ(answered->status, 200);

    test::TempDir profile("status_page_chromium");
    const fs::path out = output_dir();
    const fs::path err = out / "chromium.err";
    fs::remove(err);
    fs::remove(out / "status_page.png");
    // The virtual time budget lets the page's polling timers run (several /status and /metrics
    // polls) while network fetches hold virtual time; then the DOM is printed.
    const std::vector<std::string> common{chromium,
                                          "--headless=new",
                                          "--no-sandbox",
                                          "--disable-gpu",
                                          "--disable-dev-shm-usage",
                                          "--no-first-run",
                                          "--user-data-dir=" + profile.path().string(),
                                          "--virtual-time-budget=9000",
                                          "--window-size=1280,1100"};
    std::vector<std::string> dump = common;
    dump.push_back("--dump-dom");
    dump.push_back(url);
    const ProcessRun dom = run_with_deadline(dump, err, std::chrono::seconds(120));
    ASSERT_EQ(dom.status, 0) << "chromium --dump-dom failed; its stderr is in " << err;
    { std::ofstream(out / "status_page.html") << dom.out; }
    const std::string& html = dom.out;
    auto has = [&](const std::string& s) { return html.find(s) != std::string::npos; };

    // The deployments table: each configured id and its state.
    EXPECT_TRUE(has(R"(<tr data-id="chat")")) << html;
    EXPECT_TRUE(has(R"(<tr data-id="agents")"));
    EXPECT_TRUE(has(R"(<td class="state state-ready">ready</td>)"));
    EXPECT_TRUE(has(R"(<td class="state state-unloaded">unloaded</td>)"));
    // The memory bar: the ready deployment's reservation, the budget line, MemAvailable.
    const std::size_t bar = html.find(R"(id="memory-bar")");
    ASSERT_NE(bar, std::string::npos);
    EXPECT_NE(html.find(R"(class="mem-seg" data-id="chat")", bar), std::string::npos);
    EXPECT_EQ(html.find(R"(class="mem-seg" data-id="agents")"), std::string::npos);
    EXPECT_NE(html.find(R"(class="mem-budget")", bar), std::string::npos);
    EXPECT_NE(html.find(R"(class="mem-avail")", bar), std::string::npos);
    EXPECT_TRUE(has("12.0 GiB reserved of a 103.0 GiB budget; MemAvailable 80.0 GiB"));
    // Recent requests and the tokens/s sparkline of the model that answered.
    EXPECT_TRUE(has("<td>/v1/chat/completions</td>"));
    EXPECT_TRUE(has(R"(<span data-model="chat">chat</span>)"));
    EXPECT_TRUE(has(R"(<polyline class="spark")"));
    // The log tail of the first deployment (selected by default): the stand-in's own line.
    EXPECT_TRUE(has("ready on port " + std::to_string(reg.chat_port())));
    // Text from the daemon is text: the markup in a model name is escaped, never an element.
    EXPECT_TRUE(has("&lt;img src=x onerror=alert(1)&gt;"));
    EXPECT_FALSE(has("<img"));
    EXPECT_FALSE(has("cannot reach the gateway"));

    std::vector<std::string> shot = common;
    shot.push_back("--screenshot=" + (out / "status_page.png").string());
    shot.push_back(url);
    const ProcessRun png = run_with_deadline(shot, err, std::chrono::seconds(120));
    EXPECT_EQ(png.status, 0) << "chromium --screenshot failed; its stderr is in " << err;
    EXPECT_GT(fs::exists(out / "status_page.png") ? fs::file_size(out / "status_page.png") : 0,
              1000u);
    (*gw)->stop(0);
}

}  // namespace
}  // namespace sparkctl::serve
