// The status page in a real browser: headless Chromium (Debian `chromium`) loads / from a running
// gateway, runs the page's JavaScript against /status, /metrics and /status/logs, and the test
// reads the DOM it built (--dump-dom); a screenshot stays in the test's output directory.
// 1. A real `sparkctl serve --simulate --listen 127.0.0.1:0` (serve_daemon.h's fixture) with two
//    deployments, one loaded by a streamed request through the gateway: ids, states, the memory
//    bar, the request, the tokens/s sparkline and the engine log tail.
// 2. A gateway over a test Registry whose daemon text is markup: shown as text, never elements.
// 3. Behind API keys (serve --api-keys-file): the page's files load without a key and the page
//    asks for one (--dump-dom, with a screenshot); then Chromium driven over the DevTools
//    protocol (DevToolsPage below) types a wrong key (refused: "wrong key"), then the right one
//    (the deployments render), and the key is in sessionStorage only: not in the URL or the DOM.
// Without chromium the tests are skipped, except under CI=true, where that fails.
#include <fcntl.h>
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

    // `sparkctl serve --simulate --listen 127.0.0.1:0` with `extra` flags; its port.
    std::uint16_t start_serve(std::vector<std::string> extra = {}) {
        extra.insert(extra.begin(), {"--listen", "127.0.0.1:0"});
        start_daemon(extra);
        const std::string marker = "sparkctl serve: listening on http://127.0.0.1:";
        std::string log;
        EXPECT_TRUE(eventually([&] {
            log = daemon_log();
            return log.find(marker) != std::string::npos;
        })) << log;
        const std::size_t at = log.find(marker);
        return at == std::string::npos
                   ? 0
                   : static_cast<std::uint16_t>(std::stoi(log.substr(at + marker.size())));
    }

    std::string chromium_;
    TempDir profile_{"status_page_chromium"};
};

// Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
// messages each ended by a NUL byte, commands on the browser's fd 3, answers and events on its
// fd 4; the transport of Puppeteer's `pipe: true`): it attaches to the first page, navigates,
// types into the focused element (Input.insertText, the path an input method takes), clicks
// (Input.dispatchMouseEvent at an element's centre) and reads the page with Runtime.evaluate.
// Every read has a deadline; the browser's process group is killed at the end.
class DevToolsPage {
  public:
    DevToolsPage(const std::string& chromium, const fs::path& profile, const fs::path& err) {
        int to[2], from[2];
        if (::pipe2(to, O_CLOEXEC) != 0) return;
        if (::pipe2(from, O_CLOEXEC) != 0) {
            ::close(to[0]);
            ::close(to[1]);
            return;
        }
        pid_ = ::fork();
        if (pid_ == 0) {
            ::setpgid(0, 0);
            // Out of the way of 3 and 4 first, then into place (dup2 clears close-on-exec).
            const int in = ::fcntl(to[0], F_DUPFD, 10);
            const int out = ::fcntl(from[1], F_DUPFD, 10);
            ::dup2(in, 3);
            ::dup2(out, 4);
            if (FILE* f = std::fopen(err.c_str(), "a")) {
                ::dup2(fileno(f), 1);
                ::dup2(fileno(f), 2);
            }
            std::vector<std::string> argv{chromium,
                                          "--headless=new",
                                          "--no-sandbox",
                                          "--disable-gpu",
                                          "--disable-dev-shm-usage",
                                          "--no-first-run",
                                          "--remote-debugging-pipe",
                                          "--user-data-dir=" + profile.string(),
                                          "--window-size=1280,1100",
                                          "about:blank"};
            std::vector<char*> args;
            for (std::string& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        ::close(to[0]);
        ::close(from[1]);
        to_ = to[1];
        from_ = from[0];
        if (pid_ < 0) return;
        const json targets = send("Target.getTargets", json::object(), false);
        for (const json& t : targets.value("targetInfos", json::array())) {
            if (t.value("type", "") != "page") continue;
            const json a = send("Target.attachToTarget",
                                {{"targetId", t["targetId"]}, {"flatten", true}}, false);
            session_ = a.value("sessionId", "");
            break;
        }
        if (!session_.empty()) send("Page.enable", json::object());
    }
    ~DevToolsPage() {
        if (to_ >= 0) ::close(to_);
        if (from_ >= 0) ::close(from_);
        if (pid_ > 0) {
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    DevToolsPage(const DevToolsPage&) = delete;
    DevToolsPage& operator=(const DevToolsPage&) = delete;

    bool attached() const { return !session_.empty(); }

    // One command (on the page's session unless `browser`); its result, or {"error": ...} when
    // the browser answered an error or nothing came within the deadline.
    json send(const std::string& method, const json& params, bool page = true) {
        const int id = next_id_++;
        json msg = {{"id", id}, {"method", method}, {"params", params}};
        if (page) msg["sessionId"] = session_;
        std::string text = msg.dump();
        text.push_back('\0');
        for (std::size_t done = 0; done < text.size();) {
            const ssize_t n = ::write(to_, text.data() + done, text.size() - done);
            if (n <= 0) return json{{"error", "cannot write to chromium"}};
            done += static_cast<std::size_t>(n);
        }
        const auto deadline = Clock::now() + std::chrono::seconds(60);
        for (;;) {
            for (std::size_t end; (end = buf_.find('\0')) != std::string::npos;) {
                json m = json::parse(buf_.substr(0, end), nullptr, false);
                buf_.erase(0, end + 1);
                if (m.is_object() && m.value("id", -1) == id) {
                    if (m.contains("error")) return json{{"error", m["error"]}};
                    return m.value("result", json::object());
                }  // else an event or an earlier answer: not needed
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                    .count();
            if (left <= 0) return json{{"error", method + ": no answer within 60 s"}};
            pollfd p{from_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
            char chunk[65536];
            const ssize_t n = ::read(from_, chunk, sizeof chunk);
            if (n <= 0) return json{{"error", "chromium closed its pipe"}};
            buf_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    // The value of a JavaScript expression in the page (null on an error).
    json eval(const std::string& expression) {
        const json r =
            send("Runtime.evaluate",
                 {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}});
        if (r.contains("error") || r.contains("exceptionDetails")) return nullptr;
        return r["result"].value("value", json(nullptr));
    }

    // Polls `expression` until it is true or `limit` passes.
    bool wait_for(const std::string& expression,
                  std::chrono::seconds limit = std::chrono::seconds(60)) {
        return eventually([&] { return eval(expression) == json(true); }, limit);
    }

    void navigate(const std::string& url) { send("Page.navigate", {{"url", url}}); }

    // Focuses the element and types `text` into it.
    void type(const std::string& selector, const std::string& text) {
        eval("document.querySelector(" + json(selector).dump() + ").focus()");
        send("Input.insertText", {{"text", text}});
    }

    // A left click at the centre of the element.
    void click(const std::string& selector) {
        const json box = eval("(() => { const r = document.querySelector(" + json(selector).dump() +
                              ").getBoundingClientRect(); return [r.x + r.width / 2, r.y + "
                              "r.height / 2]; })()");
        if (!box.is_array()) return;
        for (const char* type : {"mousePressed", "mouseReleased"}) {
            send("Input.dispatchMouseEvent", {{"type", type},
                                              {"x", box[0]},
                                              {"y", box[1]},
                                              {"button", "left"},
                                              {"clickCount", 1}});
        }
    }

  private:
    pid_t pid_ = -1;
    int to_ = -1;
    int from_ = -1;
    std::string buf_;
    int next_id_ = 1;
    std::string session_;
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
    const std::uint16_t port = start_serve();
    ASSERT_NE(port, 0);

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

// A Registry whose text (model name, state, log, what a load waits behind) is markup; nothing is
// ever loaded.
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
                   {"last_exit", kMarkup},
                   {"waiting", {{"reason", "quantum"}, {"behind", kMarkup}, {"until_s", 2.2}}}}}}};
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
    // A waiting load: the state cell says what it waits for, as `sparkctl ps` does.
    EXPECT_TRUE(has_text(html, R"(<td class="state state-unloaded">waiting (&lt;img src=x )"
                               R"(onerror=alert(1)&gt;: 3 s)</td>)"))
        << html;
    EXPECT_FALSE(has_text(html, "<img"));
    (*gw)->stop(0);
}

constexpr const char* kOneDeployment = R"(
[[models]]
id = "chat"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
simulate_args = ["--timing", "fixed:5,1"]
)";

TEST_F(StatusPageBrowser, BehindApiKeysThePageAsksForAKey) {
    config(kOneDeployment);
    box_.write("keys", serve::sha256_hex("the-key") + "\n");
    const std::uint16_t port = start_serve({"--api-keys-file", (box_.home() / "keys").string()});
    ASSERT_NE(port, 0);
    const std::string html =
        render("http://127.0.0.1:" + std::to_string(port) + "/", "api_key_prompt", true);
    EXPECT_TRUE(has_text(html, R"(<section id="key-section">)")) << html;  // not hidden
    EXPECT_TRUE(has_text(html, "This gateway needs an API key"));
    EXPECT_TRUE(has_text(html, R"(<span id="updated" class="error">API key needed</span>)"));
    EXPECT_TRUE(has_text(html, R"(<input id="key-input" type="password")"));
    EXPECT_FALSE(has_text(html, R"(<tr data-id="chat")"));  // no data without the key
    EXPECT_FALSE(has_text(html, "cannot reach the gateway"));
}

TEST_F(StatusPageBrowser, AWrongKeyIsRefusedAndTheRightOneShowsTheDeployments) {
    config(kOneDeployment);
    const std::string key = "k-7f3a9c2e51d04b8e";
    box_.write("keys", serve::sha256_hex(key) + "\n");
    const std::uint16_t port = start_serve({"--api-keys-file", (box_.home() / "keys").string()});
    ASSERT_NE(port, 0);
    const fs::path err = output_dir() / "api_key_devtools.chromium.err";
    fs::remove(err);
    DevToolsPage page(chromium_, profile_.path(), err);
    ASSERT_TRUE(page.attached()) << "no DevTools session; chromium's stderr is in " << err;
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
    page.navigate(url);
    const std::string prompt = "!document.getElementById('key-section').hidden";
    ASSERT_TRUE(page.wait_for(prompt)) << page.eval("document.body.innerText");
    EXPECT_EQ(page.eval("document.activeElement.id"), "key-input");

    page.type("#key-input", "not-the-key");
    page.click("#key-submit");
    ASSERT_TRUE(
        page.wait_for("document.getElementById('key-message').textContent.startsWith('Wrong key')"))
        << page.eval("document.body.innerText");
    EXPECT_EQ(page.eval("sessionStorage.getItem('sparkctl.apiKey')"), nullptr);  // dropped

    page.type("#key-input", key);
    page.click("#key-submit");
    ASSERT_TRUE(
        page.wait_for("document.querySelector('#deployments tr[data-id=\"chat\"]') !== "
                      "null && document.getElementById('key-section').hidden"))
        << page.eval("document.body.innerText");
    EXPECT_EQ(page.eval("sessionStorage.getItem('sparkctl.apiKey')"), key);
    EXPECT_EQ(page.eval("location.href"), url);
    EXPECT_EQ(page.eval("document.getElementById('key-input').value"), "");
    const json dom = page.eval("document.documentElement.outerHTML");
    ASSERT_TRUE(dom.is_string());
    EXPECT_EQ(dom.get<std::string>().find(key), std::string::npos) << "the key is in the DOM";
    EXPECT_NE(dom.get<std::string>().find(R"(<td class="state state-unloaded">unloaded</td>)"),
              std::string::npos);
    std::ofstream(output_dir() / "api_key_devtools.html") << dom.get<std::string>();

    // The tab keeps the key across a reload: the page shows the data without asking again.
    page.eval("window.beforeReload = true");  // gone once the new document is in
    page.send("Page.reload", json::object());
    ASSERT_TRUE(
        page.wait_for("window.beforeReload === undefined && "
                      "document.querySelector('#deployments tr[data-id=\"chat\"]') !== "
                      "null"))
        << page.eval("document.body.innerText");
    EXPECT_EQ(page.eval("document.getElementById('key-section').hidden"), true);
}

}  // namespace
}  // namespace sparkctl::test
