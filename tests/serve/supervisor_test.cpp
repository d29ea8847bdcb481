// The supervisor over real child processes (/bin/sh) and a real HTTP health endpoint
// (net::Server on 127.0.0.1, port 0): readiness, stop with grace and SIGKILL, crash restarts
// with backoff until failed, failed probes, adoption by start time, log rotation.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "net/server.h"
#include "serve/engine_log.h"
#include "serve/loop.h"
#include "serve/proc.h"
#include "serve/supervisor.h"
#include "support/temp_dir.h"

namespace sparkctl::serve {
namespace {

using namespace std::chrono_literals;

TEST(ProcStat, ParsesFieldsAfterTheLastParenthesis) {
    std::string stat =
        "4242 (my (odd) name) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 "
        "987654 12345 67 18446744073709551615\n";
    auto id = parse_proc_stat(stat);
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(id->pid, 4242);
    EXPECT_EQ(id->pgid, 4240);
    EXPECT_EQ(id->start_ticks, 987654u);
    EXPECT_EQ(id->state, 'S');
}

TEST(ProcStat, RejectsTruncatedOrGarbage) {
    EXPECT_FALSE(parse_proc_stat(""));
    EXPECT_FALSE(parse_proc_stat("12 (x) S 1 2"));
    EXPECT_FALSE(parse_proc_stat("12 x) S"));
    EXPECT_FALSE(parse_proc_stat("zz (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"));
}

TEST(ProcStat, ThisProcessAndAWrongStartTime) {
    auto me = read_proc_identity(::getpid());
    ASSERT_TRUE(me) << me.error().message;
    EXPECT_EQ(me->pgid, ::getpgrp());
    EXPECT_TRUE(same_process(*me));
    auto other = *me;
    other.start_ticks += 1;  // a reused pid would have another start time
    EXPECT_FALSE(same_process(other));
    EXPECT_FALSE(read_proc_identity(0));
}

class EngineLogTest : public test::TempDirTest {};

TEST_F(EngineLogTest, RotatesBySizeKeepingCountAndTailsAcrossFiles) {
    auto log = dir_ / "logs" / "a.log";
    LogRotation rotation{100, 2};
    for (int round = 0; round < 4; ++round) {
        auto fd = open_engine_log(log);
        ASSERT_TRUE(fd);
        for (int i = 0; i < 20; ++i) {
            std::string line =
                "round " + std::to_string(round) + " line " + std::to_string(i) + "\n";
            ASSERT_EQ(::write(*fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
        }
        ::close(*fd);
        auto r = rotate_if_needed(log, rotation);
        ASSERT_TRUE(r);
        EXPECT_TRUE(*r);
    }
    EXPECT_EQ(std::filesystem::file_size(log), 0u);
    EXPECT_TRUE(std::filesystem::exists(dir_ / "logs" / "a.log.1"));
    EXPECT_TRUE(std::filesystem::exists(dir_ / "logs" / "a.log.2"));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "logs" / "a.log.3"));
    auto tail = tail_lines(log, 3, 2);
    ASSERT_EQ(tail.size(), 3u);
    EXPECT_EQ(tail[0], "round 3 line 17");
    EXPECT_EQ(tail[2], "round 3 line 19");
    auto small = rotate_if_needed(log, rotation);
    ASSERT_TRUE(small);
    EXPECT_FALSE(*small);
}

// A health endpoint whose answer the test sets: 0 = refuse (not started), else that status.
class Health {
  public:
    Health()
        : server_({}, [this](const net::Request&, net::Responder r) {
              r.respond(net::Response{status_.load(), {}, ""});
          }) {}
    void start() { ASSERT_TRUE(server_.start()); }
    std::uint16_t port() const { return server_.port(); }
    void set(int status) { status_ = status; }
    ~Health() { server_.stop(0); }

  private:
    std::atomic<int> status_{200};
    net::Server server_;
};

class SupervisorTest : public test::TempDirTest {
  protected:
    void SetUp() override {
        auto loop = Loop::create({SIGCHLD});
        ASSERT_TRUE(loop);
        loop_ = std::move(*loop);
        health_ = std::make_unique<Health>();
        health_->start();
    }
    void TearDown() override {
        sup_.reset();
        health_.reset();
        loop_.reset();
    }
    void make(SupervisorOptions options) {
        options.backoff_initial_ms =
            options.backoff_initial_ms == 1'000 ? 20 : options.backoff_initial_ms;
        options.load_probe_interval_ms = 20;
        sup_ = std::make_unique<Supervisor>(
            options,
            [this](const ChildStatus& s) {
                states_.push_back(s.state);
                last_ = s;
            },
            [this](std::function<void()> fn) { loop_->post(std::move(fn)); });
    }
    LaunchSpec sh(const std::string& id, const std::string& script) {
        LaunchSpec spec;
        spec.id = id;
        spec.argv = {"/bin/sh", "-c", script};
        spec.port = health_->port();
        spec.log_path = dir_ / (id + ".log");
        return spec;
    }
    // Runs the loop until `done` holds; false after 20 s.
    bool run_until(const std::function<bool()>& done) {
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            int t = sup_->next_timeout_ms();
            loop_->run_once(t < 0 || t > 100 ? 100 : t);
            sup_->advance();
        }
        return true;
    }
    State state(const std::string& id) {
        auto s = sup_->status(id);
        return s ? s->state : State::unloaded;
    }

    std::unique_ptr<Loop> loop_;
    std::unique_ptr<Health> health_;
    std::unique_ptr<Supervisor> sup_;
    std::vector<State> states_;
    ChildStatus last_;  // the last change reported
};

// A live (not zombie) process in group `pgid`: killed members may stay zombies until init reaps
// them, and kill(-pgid, 0) counts those.
bool group_alive(pid_t pgid) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        auto id = read_proc_identity(std::stoi(name));
        if (id && id->pgid == pgid && id->state != 'Z') return true;
    }
    return false;
}

TEST_F(SupervisorTest, ReadyThenStoppedWithSigterm) {
    make({});
    health_->set(503);  // llama.cpp while loading
    ASSERT_TRUE(sup_->launch(sh("a", "echo engine says hi; exec sleep 60")));
    auto proc = sup_->status("a")->proc;
    EXPECT_GT(proc.pid, 0);
    EXPECT_EQ(proc.pgid, proc.pid);  // its own group
    EXPECT_TRUE(same_process(proc));
    ASSERT_TRUE(run_until([&] {
        return std::filesystem::exists(dir_ / "a.log") &&
               temp_.read("a.log").find("engine says hi") != std::string::npos;
    }));
    EXPECT_EQ(state("a"), State::loading);
    health_->set(200);
    ASSERT_TRUE(run_until([&] { return state("a") == State::ready; }));
    sup_->stop("a", false);
    EXPECT_EQ(state("a"), State::draining);
    ASSERT_TRUE(run_until([&] { return sup_->empty(); }));
    EXPECT_FALSE(group_alive(proc.pgid));
    EXPECT_EQ(states_.back(), State::unloaded);
}

TEST_F(SupervisorTest, GraceThenSigkillForAnEngineIgnoringSigterm) {
    SupervisorOptions o;
    o.stop_grace_ms = 200;
    make(o);
    ASSERT_TRUE(sup_->launch(sh("a", "trap '' TERM; echo up; while :; do sleep 0.05; done")));
    auto pgid = sup_->status("a")->proc.pgid;
    ASSERT_TRUE(run_until([&] { return state("a") == State::ready; }));
    sup_ = std::make_unique<Supervisor>(o, nullptr, [](std::function<void()>) {});
    // The replaced supervisor's destructor killed the group and reaped its leader; the leader's
    // child (the `sleep`) gets the SIGKILL too, but kill() returns before it has died, so it
    // is polled for, with a deadline (it was seen alive right after, once in 740 tests).
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (group_alive(pgid) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_FALSE(group_alive(pgid));

    make(o);
    ASSERT_TRUE(sup_->launch(sh("b", "trap '' TERM; echo trapped; while :; do sleep 0.05; done")));
    ASSERT_TRUE(run_until([&] {
        return state("b") == State::ready &&
               temp_.read("b.log").find("trapped") != std::string::npos;
    }));
    sup_->stop("b", false);
    ASSERT_TRUE(run_until([&] { return sup_->empty(); }));
    EXPECT_EQ(last_.state, State::unloaded);
    EXPECT_EQ(last_.last_exit, "signal 9");  // SIGTERM ignored: killed after the grace
}

TEST_F(SupervisorTest, CrashesRestartWithBackoffThenFailWithTheLogTail) {
    SupervisorOptions o;
    o.restart_limit = 2;
    make(o);
    ASSERT_TRUE(sup_->launch(sh("c", "echo boom before exit; exit 3")));
    ASSERT_TRUE(run_until([&] { return state("c") == State::failed; }));
    auto s = sup_->status("c");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->restarts, 2);
    EXPECT_EQ(s->last_exit, "exit 3");
    EXPECT_EQ(s->proc.pid, 0);
    EXPECT_NE(s->failure.find("3 exits"), std::string::npos) << s->failure;
    EXPECT_NE(s->failure.find("boom before exit"), std::string::npos) << s->failure;
    int restarting = 0;
    for (auto st : states_) restarting += st == State::restarting;
    EXPECT_EQ(restarting, 2);
    sup_->forget("c");
    EXPECT_TRUE(sup_->empty());
}

TEST_F(SupervisorTest, FailedProbesOfAReadyEngineRestartIt) {
    SupervisorOptions o;
    o.probe_interval_ms = 20;
    o.probe_failures_to_restart = 2;
    make(o);
    ASSERT_TRUE(sup_->launch(sh("p", "exec sleep 60")));
    ASSERT_TRUE(run_until([&] { return state("p") == State::ready; }));
    auto first = sup_->status("p")->proc;
    health_->set(500);
    ASSERT_TRUE(run_until([&] { return state("p") == State::restarting; }));
    EXPECT_FALSE(group_alive(first.pgid));
    EXPECT_EQ(sup_->status("p")->last_exit, "signal 9");
    health_->set(200);
    ASSERT_TRUE(run_until([&] { return state("p") == State::ready; }));
    EXPECT_EQ(sup_->status("p")->restarts, 1);
    EXPECT_NE(sup_->status("p")->proc.pid, first.pid);
}

TEST_F(SupervisorTest, AdoptsOnlyTheRecordedProcessAndStopsIt) {
    make({});
    // A process group started outside this supervisor, as by a daemon that was kill -9'd.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attr, &empty);
    const char* argv[] = {"/bin/sleep", "60", nullptr};
    pid_t pid = 0;
    ASSERT_EQ(::posix_spawn(&pid, argv[0], nullptr, &attr, const_cast<char**>(argv), environ), 0);
    posix_spawnattr_destroy(&attr);
    auto proc = read_proc_identity(pid);
    ASSERT_TRUE(proc);

    auto wrong = *proc;
    wrong.start_ticks += 7;
    EXPECT_FALSE(sup_->adopt(sh("x", ""), wrong));
    ASSERT_TRUE(sup_->adopt(sh("x", ""), *proc));
    EXPECT_TRUE(sup_->status("x")->adopted);
    ASSERT_TRUE(run_until([&] { return state("x") == State::ready; }));
    sup_->stop("x", false);
    // Not our child to reap through the supervisor: the test, its parent, reaps it.
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(wstatus));
    EXPECT_EQ(WTERMSIG(wstatus), SIGTERM);
    ASSERT_TRUE(run_until([&] { return sup_->empty(); }));
}

}  // namespace
}  // namespace sparkctl::serve
