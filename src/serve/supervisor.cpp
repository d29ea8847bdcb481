#include "serve/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>

#include "base/log.h"
#include "net/client.h"
#include "serve/container.h"

extern char** environ;

namespace sparkctl::serve {

using base::Errc;
using base::make_error;
using base::Result;

const char* to_string(State state) {
    switch (state) {
        case State::unloaded:
            return "unloaded";
        case State::loading:
            return "loading";
        case State::ready:
            return "ready";
        case State::draining:
            return "draining";
        case State::restarting:
            return "restarting";
        case State::failed:
            return "failed";
    }
    return "unknown";
}

HealthCheck health_check(engines::Engine engine) {
    HealthCheck check;
    // Our choice, not an engine default: SGLang's probe runs a generation behind whatever the
    // scheduler is doing, so it gets 30 s; the others answer from the HTTP thread.
    check.probe_timeout_ms = engine == engines::Engine::sglang ? 30'000 : 5'000;
    return check;
}

struct Supervisor::Child {
    LaunchSpec spec;
    ChildStatus status;
    bool own_child = true;         // false when adopted: watched through /proc, not waitpid
    bool stopping = false;         // stop() asked; an exit then is not a crash
    std::uint64_t generation = 0;  // per process, so a late probe of an earlier one is dropped
    bool probe_in_flight = false;
    int probe_failures = 0;
    Clock::time_point next_probe{};
    Clock::time_point load_deadline{};
    std::optional<Clock::time_point> kill_at;     // SIGKILL due
    std::optional<Clock::time_point> restart_at;  // respawn due (backoff)
    std::deque<Clock::time_point> crashes;        // within the restart window
    bool follow_new_only = false;  // a reattached container: its earlier log is in the file
};

// The HTTP client for probes. Owned by the supervisor and destroyed first (its destructor joins
// the io thread, so no probe callback runs afterwards).
struct Supervisor::Prober {
    net::Client client{net::ClientOptions{}};
};

Supervisor::Supervisor(SupervisorOptions options, std::function<void(const ChildStatus&)> on_change,
                       std::function<void(std::function<void()>)> post)
    : options_(std::move(options)),
      on_change_(std::move(on_change)),
      post_(std::move(post)),
      prober_(std::make_unique<Prober>()) {}

Supervisor::~Supervisor() {
    prober_.reset();
    for (auto& [id, child] : children_) {
        if (child->status.proc.pid != 0) {
            signal_group(*child, SIGKILL);
            if (child->own_child) {
                int wstatus = 0;
                while (::waitpid(child->status.proc.pid, &wstatus, 0) < 0 && errno == EINTR) {
                }
            }
        }
        if (!child->status.container_id.empty()) {
            (void)docker_remove(child->spec.docker, child->status.container_id);
        }
    }
    for (pid_t helper : helpers_) {
        ::kill(-helper, SIGKILL);
        while (::waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
}

void Supervisor::signal_group(Child& child, int sig) {
    const auto& proc = child.status.proc;
    if (proc.pid == 0) return;
    // An adopted group is signalled only while /proc still proves it is the process we recorded.
    if (!child.own_child && !same_process(proc)) return;
    ::kill(-proc.pgid, sig);
}

void Supervisor::set_state(Child& child, State state) {
    child.status.state = state;
    if (on_change_) on_change_(child.status);
}

namespace {

// Starts argv in its own process group, stdin /dev/null, stdout and stderr appended to `log`,
// every other descriptor closed, signals unblocked and reset, `env` added to ours.
Result<pid_t> start_process(const std::string& id, const std::vector<std::string>& argv,
                            const std::vector<std::pair<std::string, std::string>>& env,
                            const std::filesystem::path& log) {
    if (argv.empty()) return make_error(Errc::bad_input, id + ": empty command line");
    auto log_fd = open_engine_log(log);
    if (!log_fd) return log_fd.error();

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, *log_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, *log_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // sockets, the store, signalfd
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group: stopped and killed as a whole
    sigset_t empty_mask;
    sigemptyset(&empty_mask);
    posix_spawnattr_setsigmask(&attr, &empty_mask);  // the loop blocks these; the engine must not
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
    posix_spawnattr_setsigdefault(&attr, &defaults);

    std::vector<std::string> env_storage;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view kv(*e);
        bool overridden = std::any_of(env.begin(), env.end(), [&](const auto& p) {
            return kv.size() > p.first.size() && kv.substr(0, p.first.size()) == p.first &&
                   kv[p.first.size()] == '=';
        });
        if (!overridden) env_storage.emplace_back(kv);
    }
    for (const auto& [k, v] : env) env_storage.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_storage = argv;
    std::vector<char*> cargv;
    for (auto& s : argv_storage) cargv.push_back(s.data());
    cargv.push_back(nullptr);

    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(*log_fd);
    if (rc != 0) {
        return make_error(rc == ENOENT ? Errc::not_found : Errc::io,
                          id + ": " + argv[0] + ": cannot start: " + std::strerror(rc));
    }
    return pid;
}

}  // namespace

Result<void> Supervisor::spawn(Child& child) {
    const auto& spec = child.spec;
    std::vector<std::string> argv = spec.argv;
    if (!spec.docker.empty()) {
        if (child.status.container_id.empty()) {
            // `docker run -d` returns once the container runs (pulling a missing image first:
            // doctor's `images` check names the ones that are not local).
            auto id = docker_run(spec.argv, std::chrono::minutes(5));
            if (!id) return with_context(id.error(), spec.id);
            child.status.container_id = *id;
            child.follow_new_only = false;
            base::log_info("serve: " + spec.id + ": started container " + *id);
        }
        argv = docker_logs_argv(spec.docker, child.status.container_id, child.follow_new_only);
    }
    auto started = start_process(spec.id, argv, spec.env, spec.log_path);
    if (!started) {
        if (!child.status.container_id.empty()) {  // nothing would watch it: not left running
            (void)docker_remove(spec.docker, child.status.container_id);
            child.status.container_id.clear();
        }
        return started.error();
    }
    const pid_t pid = *started;
    child.own_child = true;
    child.status.adopted = false;
    child.status.proc = ProcIdentity{pid, pid, 0, 'R'};
    if (auto id = read_proc_identity(pid)) child.status.proc.start_ticks = id->start_ticks;
    child.generation = next_generation_++;
    child.stopping = false;
    child.probe_in_flight = false;
    child.probe_failures = 0;
    auto now = Clock::now();
    child.next_probe = now;
    double load_s =
        options_.load_base_s + static_cast<double>(spec.weights_bytes) / (options_.load_gbps * 1e9);
    child.load_deadline = now + std::chrono::milliseconds(static_cast<std::int64_t>(load_s * 1e3));
    child.status.load_started = now;
    child.status.load_deadline_s = load_s;
    child.restart_at.reset();
    child.kill_at.reset();
    base::log_info("serve: " + spec.id + ": started pid " + std::to_string(pid));
    set_state(child, State::loading);
    return {};
}

Result<void> Supervisor::launch(LaunchSpec spec) {
    auto it = children_.find(spec.id);
    if (it != children_.end()) {
        if (it->second->status.proc.pid != 0) {
            return make_error(Errc::bad_input, spec.id + ": already running");
        }
        children_.erase(it);
    }
    auto child = std::make_unique<Child>();
    child->status.id = spec.id;
    child->status.port = spec.port;
    child->status.log_path = spec.log_path;
    child->spec = std::move(spec);
    auto r = spawn(*child);
    if (!r) return r.error();
    children_[child->status.id] = std::move(child);
    return {};
}

Result<void> Supervisor::adopt(LaunchSpec spec, ProcIdentity proc) {
    if (!same_process(proc)) {
        return make_error(Errc::not_found, spec.id + ": process " + std::to_string(proc.pid) +
                                               " is gone or is not ours");
    }
    auto child = std::make_unique<Child>();
    child->status.id = spec.id;
    child->status.port = spec.port;
    child->status.log_path = spec.log_path;
    child->status.proc = proc;
    child->status.adopted = true;
    child->own_child = false;
    child->generation = next_generation_++;
    auto now = Clock::now();
    child->next_probe = now;
    double load_s =
        options_.load_base_s + static_cast<double>(spec.weights_bytes) / (options_.load_gbps * 1e9);
    child->load_deadline = now + std::chrono::milliseconds(static_cast<std::int64_t>(load_s * 1e3));
    child->status.load_started = now;
    child->status.load_deadline_s = load_s;
    child->spec = std::move(spec);
    auto& ref = *child;
    children_[ref.status.id] = std::move(child);
    set_state(ref, State::loading);
    return {};
}

Result<void> Supervisor::adopt_container(LaunchSpec spec, std::string container_id) {
    if (children_.count(spec.id) != 0) {
        return make_error(Errc::bad_input, spec.id + ": already running");
    }
    auto child = std::make_unique<Child>();
    child->status.id = spec.id;
    child->status.port = spec.port;
    child->status.log_path = spec.log_path;
    child->status.container_id = std::move(container_id);
    child->follow_new_only = true;
    child->spec = std::move(spec);
    auto r = spawn(*child);
    if (!r) return r.error();
    child->status.adopted = true;
    children_[child->status.id] = std::move(child);
    return {};
}

void Supervisor::stop(const std::string& id, bool now) {
    auto it = children_.find(id);
    if (it == children_.end()) return;
    Child& child = *it->second;
    if (child.status.proc.pid == 0) {  // restarting or failed: nothing runs
        child.status.state = State::unloaded;
        if (on_change_) on_change_(child.status);
        children_.erase(it);
        return;
    }
    if (child.stopping && !now) return;
    child.stopping = true;
    child.restart_at.reset();
    if (!child.status.container_id.empty() && !now) {
        // docker stop: SIGTERM in the container, SIGKILL after the grace. Its follower exits
        // with the container; should it not, killing the follower removes the container.
        const int grace_s = (options_.stop_grace_ms + 999) / 1000;
        auto helper = start_process(
            id, docker_stop_argv(child.spec.docker, child.status.container_id, grace_s), {},
            child.spec.log_path);
        if (helper) {
            helpers_.push_back(*helper);
        } else {
            base::log_warn("serve: " + helper.error().message);
        }
        child.kill_at = Clock::now() + std::chrono::milliseconds(options_.stop_grace_ms) +
                        std::chrono::seconds(10);
        set_state(child, State::draining);
        return;
    }
    signal_group(child, now ? SIGKILL : SIGTERM);
    child.kill_at = Clock::now() + std::chrono::milliseconds(now ? 0 : options_.stop_grace_ms);
    set_state(child, State::draining);
}

void Supervisor::forget(const std::string& id) {
    auto it = children_.find(id);
    if (it != children_.end() && it->second->status.proc.pid == 0) children_.erase(it);
}

void Supervisor::on_exit(Child& child, const std::string& how) {
    base::log_info("serve: " + child.spec.id + ": pid " + std::to_string(child.status.proc.pid) +
                   " " + how);
    // The group may still hold helpers (vLLM's engine core, SGLang's scheduler): none outlives
    // the engine.
    if (child.status.proc.pgid > 0) ::kill(-child.status.proc.pgid, SIGKILL);
    child.status.proc = ProcIdentity{};
    child.status.last_exit = how;
    if (!child.status.container_id.empty()) {
        // The follower is gone: the container's own exit, then no container is left behind.
        const std::string code = docker_exit_status(child.spec.docker, child.status.container_id);
        if (!code.empty()) child.status.last_exit = code;
        if (auto r = docker_remove(child.spec.docker, child.status.container_id); !r) {
            base::log_warn("serve: " + child.spec.id + ": " + r.error().message);
        }
        child.status.container_id.clear();
    }
    child.kill_at.reset();
    child.probe_in_flight = false;
    ++child.generation;
    if (child.stopping) {
        set_state(child, State::unloaded);
        return;
    }
    auto now = Clock::now();
    auto window =
        std::chrono::milliseconds(static_cast<std::int64_t>(options_.restart_window_s * 1e3));
    while (!child.crashes.empty() && now - child.crashes.front() > window)
        child.crashes.pop_front();
    child.crashes.push_back(now);
    if (static_cast<int>(child.crashes.size()) > options_.restart_limit) {
        std::string tail;
        for (const auto& line :
             tail_lines(child.spec.log_path, options_.failed_tail_lines, options_.log.keep)) {
            tail += "\n  " + line;
        }
        child.status.failure = std::to_string(child.crashes.size()) + " exits within " +
                               std::to_string(static_cast<int>(options_.restart_window_s)) +
                               " s (last: " + child.status.last_exit + "); log tail:" + tail;
        set_state(child, State::failed);
        return;
    }
    double backoff =
        options_.backoff_initial_ms * std::pow(2.0, static_cast<double>(child.crashes.size() - 1));
    backoff = std::min(backoff, static_cast<double>(options_.backoff_max_ms));
    child.restart_at = now + std::chrono::milliseconds(static_cast<std::int64_t>(backoff));
    set_state(child, State::restarting);
}

void Supervisor::probe(Child& child) {
    auto check = health_check(child.spec.engine);
    net::ClientRequest req;
    req.port = child.spec.port;
    req.target = check.path;
    req.timeout_ms = check.probe_timeout_ms;
    child.probe_in_flight = true;
    auto status = std::make_shared<int>(0);  // shared by the two callbacks of one request
    std::string id = child.spec.id;
    std::uint64_t generation = child.generation;
    net::StreamCallbacks cb;
    cb.on_headers = [status](int code, const net::Headers&) { *status = code; };
    cb.on_body = [](std::string_view, std::chrono::steady_clock::time_point) {};
    cb.on_done = [this, status, id, generation](Result<void> r) {
        bool healthy = r.ok() && *status == 200;
        post_([this, id, generation, healthy] { on_probe(id, generation, healthy); });
    };
    prober_->client.request(std::move(req), std::move(cb));
}

void Supervisor::on_probe(const std::string& id, std::uint64_t generation, bool healthy) {
    auto it = children_.find(id);
    if (it == children_.end() || it->second->generation != generation) return;
    Child& child = *it->second;
    child.probe_in_flight = false;
    auto now = Clock::now();
    if (child.status.state == State::loading) {
        if (healthy) {
            child.probe_failures = 0;
            set_state(child, State::ready);
            child.next_probe = now + std::chrono::milliseconds(options_.probe_interval_ms);
        } else {
            child.next_probe = now + std::chrono::milliseconds(options_.load_probe_interval_ms);
        }
        return;
    }
    if (child.status.state != State::ready) return;
    child.probe_failures = healthy ? 0 : child.probe_failures + 1;
    child.next_probe = now + std::chrono::milliseconds(options_.probe_interval_ms);
    if (child.probe_failures >= options_.probe_failures_to_restart) {
        base::log_warn("serve: " + id + ": " + std::to_string(child.probe_failures) +
                       " failed health probes; restarting");
        // Killed now; the exit is then handled as a crash (backoff, restart limit).
        child.probe_failures = 0;
        signal_group(child, SIGKILL);
        child.kill_at = now;
    }
}

void Supervisor::advance() {
    std::erase_if(helpers_, [](pid_t helper) {
        int wstatus = 0;
        return ::waitpid(helper, &wstatus, WNOHANG) == helper;
    });
    auto now = Clock::now();
    std::vector<std::string> gone;
    for (auto& [id, ptr] : children_) {
        Child& child = *ptr;
        pid_t pid = child.status.proc.pid;
        if (pid != 0) {
            if (child.own_child) {
                int wstatus = 0;
                pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
                if (r == pid) {  // reaped here, exactly once; the pid is cleared in on_exit
                    on_exit(child, WIFSIGNALED(wstatus)
                                       ? "signal " + std::to_string(WTERMSIG(wstatus))
                                       : "exit " + std::to_string(WEXITSTATUS(wstatus)));
                }
            } else if (!same_process(child.status.proc)) {
                on_exit(child, "exited (adopted: status unknown)");
            }
        }
        pid = child.status.proc.pid;
        if (pid != 0) {
            if (child.kill_at && now >= *child.kill_at) {
                signal_group(child, SIGKILL);
                child.kill_at = now + std::chrono::seconds(1);  // again until reaped
            }
            if (child.status.state == State::loading && now >= child.load_deadline &&
                !child.stopping && !child.kill_at) {
                base::log_warn("serve: " + id + ": not ready by the load deadline; killing");
                signal_group(child, SIGKILL);
                child.kill_at = now + std::chrono::seconds(1);
            }
            bool probing =
                child.status.state == State::loading || child.status.state == State::ready;
            if (probing && !child.stopping && !child.probe_in_flight && now >= child.next_probe) {
                probe(child);
            }
            auto rotated = rotate_if_needed(child.spec.log_path, options_.log);
            if (!rotated) base::log_warn("serve: " + rotated.error().message);
        } else if (child.restart_at && now >= *child.restart_at) {
            child.restart_at.reset();
            ++child.status.restarts;
            if (auto r = spawn(child); !r) on_exit(child, "cannot restart: " + r.error().message);
        }
        if (child.status.proc.pid == 0 && child.status.state == State::unloaded) gone.push_back(id);
    }
    for (const auto& id : gone) children_.erase(id);
}

int Supervisor::next_timeout_ms() const {
    auto now = Clock::now();
    std::optional<Clock::time_point> next;
    auto consider = [&](Clock::time_point t) {
        if (!next || t < *next) next = t;
    };
    for (const auto& [id, child] : children_) {
        if (child->status.proc.pid != 0) {
            // Reaping is driven by SIGCHLD, but adopted processes and log rotation are polled.
            consider(now + std::chrono::milliseconds(child->own_child ? 1000 : 250));
            if (child->kill_at) consider(*child->kill_at);
            if (!child->probe_in_flight && !child->stopping) consider(child->next_probe);
            if (child->status.state == State::loading) consider(child->load_deadline);
        }
        if (child->restart_at) consider(*child->restart_at);
    }
    if (!next) return -1;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*next - now).count();
    return static_cast<int>(std::clamp<std::int64_t>(ms, 0, 60'000));
}

std::vector<ChildStatus> Supervisor::status() const {
    std::vector<ChildStatus> out;
    for (const auto& [id, child] : children_) out.push_back(child->status);
    return out;
}

std::optional<ChildStatus> Supervisor::status(const std::string& id) const {
    auto it = children_.find(id);
    if (it == children_.end()) return std::nullopt;
    return it->second->status;
}

}  // namespace sparkctl::serve
