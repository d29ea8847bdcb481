// The supervisor: passive records of engine processes (ninja's Subprocess) advanced by the
// daemon's loop (serve/loop.h). Each engine runs in its own process group with stdout and
// stderr in its rotated log (serve/engine_log.h); health is probed per engine over HTTP; a
// crash restarts with exponential backoff, at most `restart_limit` times in
// `restart_window_s`, then the deployment is `failed` with its log tail; stop is SIGTERM to the
// group, a grace period, then SIGKILL, and each child is reaped exactly once. A container
// deployment is started with `docker run -d`, followed with `docker logs -f` (the process the
// supervisor watches), stopped with `docker stop -t GRACE` and removed with `docker rm -f` once
// its follower exits; the docker calls that start and remove it run on the loop thread.
//
// Thread model: every method runs on the loop thread. Probe results arrive on the HTTP
// client's io thread and are handed over through the `wake` callback (Loop::post).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "engines/engine.h"
#include "serve/engine_log.h"
#include "serve/proc.h"

namespace sparkctl::serve {

// The deployment states `ps` shows (issue 13).
enum class State { unloaded, loading, ready, draining, restarting, failed };
const char* to_string(State state);

// How an engine says it is ready. All three answer GET /health with 200 once ready:
// llama.cpp listens at once and answers 503 while loading (engines.md 2.6,
// LC:tools/server/README.md); vLLM refuses connections until ready (engines.md 1.5); SGLang
// answers 503 while starting and then runs a one-token generation per probe (engines.md 3.4,
// S:python/sglang/srt/entrypoints/http_server.py), so its probes get a generous timeout.
struct HealthCheck {
    std::string path = "/health";
    int probe_timeout_ms = 5'000;
};
HealthCheck health_check(engines::Engine engine);

struct LaunchSpec {
    std::string id;
    engines::Engine engine = engines::Engine::llama_cpp;
    std::vector<std::string> argv;  // argv[0]: the executable (searched in PATH)
    std::vector<std::pair<std::string, std::string>> env;  // added to the daemon's environment
    std::uint16_t port = 0;                                // where health is probed (127.0.0.1)
    std::uint64_t weights_bytes = 0;                       // for the load deadline
    std::filesystem::path log_path;
    // kind = container: the docker client, and argv is `docker run -d ...`; the process the
    // supervisor runs is then `docker logs -f ID` (serve/container.h), whose exit is the
    // container's. "" for a native engine.
    std::string docker;
};

struct SupervisorOptions {
    // Load deadline = load_base_s + weights_bytes / (load_gbps * 1e9). load_gbps is the same
    // rate `simulate serve --load-gbps` and the llama-swap export use; the base covers engine
    // start-up (imports, CUDA graphs) that does not scale with weights.
    double load_gbps = 1.0;
    double load_base_s = 120;
    int stop_grace_ms = 10'000;
    int probe_interval_ms = 5'000;  // ready engines
    int load_probe_interval_ms = 250;
    int probe_failures_to_restart = 3;  // consecutive failed probes of a ready engine
    int restart_limit = 3;              // crashes restarted within the window; one more: failed
    double restart_window_s = 600;
    int backoff_initial_ms = 1'000;  // doubled per restart in the window
    int backoff_max_ms = 60'000;
    LogRotation log;
    std::size_t failed_tail_lines = 20;
};

struct ChildStatus {
    std::string id;
    State state = State::unloaded;
    ProcIdentity proc;  // pid 0 when no process runs
    std::uint16_t port = 0;
    int restarts = 0;       // restarts since launch
    std::string last_exit;  // "exit 1", "signal 9", "" when none yet
    std::string failure;    // why it is failed, with the log tail
    bool adopted = false;   // reattached from an earlier daemon (not our child)
    std::filesystem::path log_path;
    std::string container_id;  // kind = container, while the container exists
    // The current load: when its process started and how long it may take (the load deadline).
    std::chrono::steady_clock::time_point load_started{};
    double load_deadline_s = 0;
};

class Supervisor {
  public:
    // `on_change` runs (on the loop thread) after every state change and every new process;
    // `post` hands a function to the loop thread (Loop::post).
    Supervisor(SupervisorOptions options, std::function<void(const ChildStatus&)> on_change,
               std::function<void(std::function<void()>)> post);
    // Kills (SIGKILL) every process group still running and reaps its own children: the daemon
    // stops them gracefully first; this is the last line against orphans.
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Starts the engine (state loading). Errors: bad_input when the id is already running,
    // not_found/io when the executable cannot be started or the log cannot be opened.
    base::Result<void> launch(LaunchSpec spec);
    // Takes over an engine an earlier daemon started, after same_process() proved it is that
    // very process; it is probed like a loading one. Errors: not_found when it is gone.
    base::Result<void> adopt(LaunchSpec spec, ProcIdentity proc);
    // Takes over a container an earlier daemon started (`spec.docker` set), after the daemon
    // proved it is ours (its record and the instance label): its log is followed from now on and
    // it is probed like a loading one. Errors: as launch.
    base::Result<void> adopt_container(LaunchSpec spec, std::string container_id);
    // SIGTERM to the process group (SIGKILL at once when `now`), SIGKILL after the grace; the
    // record is dropped once the process is gone. Unknown ids are ignored.
    void stop(const std::string& id, bool now);
    // Forgets a failed deployment (no process runs).
    void forget(const std::string& id);

    // Reaps exited children (call on SIGCHLD), then advances probes, deadlines, kills,
    // restarts and log rotation.
    void advance();
    // Milliseconds until advance() has something due (-1: nothing).
    int next_timeout_ms() const;

    std::vector<ChildStatus> status() const;
    std::optional<ChildStatus> status(const std::string& id) const;
    bool empty() const { return children_.empty(); }

    struct Child;

  private:
    using Clock = std::chrono::steady_clock;
    base::Result<void> spawn(Child& child);
    void on_exit(Child& child, const std::string& how);
    void probe(Child& child);
    void on_probe(const std::string& id, std::uint64_t generation, bool healthy);
    void set_state(Child& child, State state);
    void signal_group(Child& child, int sig);

    SupervisorOptions options_;
    std::function<void(const ChildStatus&)> on_change_;
    std::function<void(std::function<void()>)> post_;
    std::map<std::string, std::unique_ptr<Child>> children_;
    std::uint64_t next_generation_ = 1;
    std::vector<pid_t> helpers_;  // `docker stop` processes, reaped by advance()
    struct Prober;
    std::unique_ptr<Prober> prober_;
};

}  // namespace sparkctl::serve
