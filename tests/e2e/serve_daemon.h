// The shared fixture of the `sparkctl serve --simulate` end-to-end tests (serve_e2e_test.cpp,
// gateway_e2e_test.cpp): the real daemon in a temporary HOME and XDG_RUNTIME_DIR (its own process
// group), its engines the stand-in (`simulate serve`), and the real clients. Waits are polls with
// deadlines; every process a test caused is found by the HOME in its environment, and must be
// gone at the end.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/sandbox.h"

namespace sparkctl::test {

using namespace std::chrono_literals;

// Live (not zombie) processes whose environment has HOME=home: the daemon and its engines.
inline std::set<pid_t> processes_of(const std::filesystem::path& home) {
    std::set<pid_t> out;
    const std::string needle = "HOME=" + home.string();
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
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
inline bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = 30s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(50ms);  // a poll interval under a deadline
    }
    return true;
}

class ServeDaemonTest : public ::testing::Test {
  protected:
    void SetUp() override {
        runtime_ = box_.home() / "run";
        std::filesystem::create_directories(runtime_);
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
            const std::filesystem::path& h = box_.home();
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
                                         "--hardware",
                                         "dgx-spark"};
            if (simulate_) all.push_back("--simulate");
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

    nlohmann::json ps() {
        auto r = box_.run({"ps", "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.exit_code == 0 ? r.json() : nlohmann::json::object();
    }
    nlohmann::json deployment(const std::string& id) {
        nlohmann::json doc = ps();  // kept: ranging over a member of a temporary would dangle
        for (const auto& d : doc["deployments"]) {
            if (d["id"] == id) return d;
        }
        return nlohmann::json::object();
    }

    Sandbox box_;
    std::filesystem::path runtime_;
    std::string socket_;
    pid_t pid_ = -1;
    bool simulate_ = true;  // false: real engines (the container double, the opt-in test)
};

}  // namespace sparkctl::test
