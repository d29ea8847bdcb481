// The daemon's class, shared by daemon.cpp (start-up, reattach, reload, the admin API, the loop)
// and daemon_loads.cpp (loads, admission with drains, ttl, the snapshot, and the Registry the
// gateway reads). Private to src/serve; docs/dev/serve.md tells the thread model.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "serve/admin_socket.h"
#include "serve/admission.h"
#include "serve/daemon.h"
#include "serve/deployment.h"
#include "serve/gateway.h"
#include "serve/loop.h"
#include "serve/prelaunch.h"
#include "serve/state.h"
#include "serve/swap_policy.h"

namespace sparkctl::serve::detail {

std::int64_t now_ms();  // steady clock
nlohmann::json error_doc(int code, const std::string& message);

struct Deployment {
    DeploymentConfig config;
    std::string origin = "config";
    std::uint64_t planned_bytes = 0;
    std::uint64_t weights_bytes = 0;
    std::optional<std::uint64_t> measured_bytes;
    std::string engine;
    std::string quant;
    std::uint16_t port = 0;
    std::string api_key;
    std::vector<std::string> argv;  // as launched (argv[0] the executable), for `engine`
    bool simulated = false;
    std::optional<std::uint64_t> mem_available_before;  // for the drop across the load
    std::string last_exit;
    std::vector<AdminReply> waiting_up;
    std::vector<AdminReply> waiting_down;
    // Counters for /metrics (this daemon's life).
    std::uint64_t loads_total = 0;
    double load_seconds_total = 0;
    std::uint64_t evictions_total = 0;
    std::int64_t load_started_ms = 0;
    // The last load (swap_policy.h): when it became ready (steady ms; 0: not loaded by this
    // daemon) and how long it took; they give its resident quantum.
    std::int64_t ready_ms = 0;
    double last_load_s = 0;
};

// What the gateway's threads may touch, under Daemon::mu_: request accounting per deployment.
struct Activity {
    int in_flight = 0;
    std::int64_t last_used_ms = 0;  // load, or the last request started or finished
    bool closed = false;  // being stopped: request_started refuses (until the next launch)
};

class Daemon final : public Registry {
  public:
    explicit Daemon(const DaemonOptions& options) : options_(options) {}
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;
    base::Result<void> start();
    int run();

    // Registry (the gateway's io threads): snapshots under mu_, loads posted to the loop.
    std::vector<DeploymentView> deployments() override;
    MemoryView memory() override;
    void ensure_ready(const std::string& id,
                      std::function<void(base::Result<Upstream>)> done) override;
    bool request_started(const std::string& id) override;
    void request_finished(const std::string& id) override;
    // The `ps --json` object (as of the loop's last turn).
    nlohmann::json status() override;
    // The last `lines` lines of deployment `id`'s engine log, oldest first; empty when unknown.
    std::vector<std::string> log_tail(const std::string& id, std::size_t lines) override;

  private:
    // Admin API.
    void on_request(const std::string& line, AdminReply reply);
    void handle_up(const nlohmann::json& req, AdminReply reply);
    void handle_down(const nlohmann::json& req, AdminReply reply);
    void handle_logs(const nlohmann::json& req, AdminReply reply);
    nlohmann::json engine_doc(const nlohmann::json& req);
    nlohmann::json ps_doc();
    nlohmann::json entry_doc(const std::string& id);
    std::map<std::string, nlohmann::json> waiting_docs();
    void refresh_snapshot();

    // The gateway.
    base::Result<void> start_gateway();
    base::Result<Upstream> upstream_from(const std::string& id, const std::string& body);

    // Loads.
    void request_load(const std::string& id, AdminReply reply, bool on_demand = false);
    void try_pending();
    base::Result<void> launch(Deployment& d, DeploymentSpec spec);
    std::vector<Resident> residents();
    // Until when each resident is protected from a load the gateway asked for (swap_policy.h).
    std::map<std::string, std::int64_t> protections();
    base::Result<std::uint64_t> mem_available();
    void on_change(const ChildStatus& s);
    void measure(Deployment& d);
    void persist(const Deployment& d, const ChildStatus* s);
    int in_flight(const std::string& id);
    // Closes `id` to new requests when it has none in flight (then true): the check and the
    // close are one step under mu_, so no request starts on an engine being stopped.
    bool close_if_idle(const std::string& id);
    bool is_closed(const std::string& id);  // closed by close_if_idle since its last launch
    void touch(const std::string& id);
    // Unloads deployments idle for their ttl_s; the ms until the next one is due (-1: none).
    int unload_idle();

    // Start-up and reload.
    base::Result<void> reattach();
    base::Result<void> reload();
    void stop_unknown_process(const DeploymentRow& row);
    bool running(const std::string& id) const;

    // The flock on the socket: declared first so it is released last, after every engine is
    // gone and the socket removed.
    struct Lock {
        int fd = -1;
        ~Lock();
    } lock_;
    DaemonOptions options_;
    std::optional<config::Config> config_;
    std::uint64_t budget_bytes_ = 0;
    std::uint64_t pool_bytes_ = 0;  // --simulate: the hardware profile's memory
    std::uint64_t headroom_bytes_ = 2ull << 30;
    std::int64_t drain_timeout_ms_ = 60'000;
    std::optional<double> swap_min_resident_s_;  // nullopt: auto (each one's last load time)
    std::string instance_;                       // the sparkctl.instance label of our containers
    std::unique_ptr<MemInfo> meminfo_;           // null: the simulated pool
    PrelaunchOptions prelaunch_;
    std::unique_ptr<Loop> loop_;
    std::unique_ptr<StateStore> store_;
    std::unique_ptr<Supervisor> supervisor_;
    std::unique_ptr<AdminListener> admin_;
    std::unique_ptr<Gateway> gateway_;
    std::string listen_url_;  // "http://HOST:PORT" once the gateway listens
    std::map<std::string, Deployment> deployments_;
    // Loads wait in order; the first waits for its victims to drain, then to be stopped.
    struct Pending {
        std::string id;
        AdminReply reply;
        std::optional<DeploymentSpec> spec;
        std::vector<std::string> evicting;
        std::vector<std::string> draining;  // victims with requests in flight
        std::int64_t drain_deadline_ms = 0;
        bool victims_stopped = false;
        bool on_demand = false;  // asked for by the gateway (ensure_ready), not by `up`
        // Waiting for protected residents (swap_policy.h) until this steady ms (kWhileLoading:
        // until one is ready); on_change asks for a recheck sooner.
        std::optional<std::int64_t> wait_until_ms;
        std::vector<std::string> waiting_for;  // those protected residents (`ps` shows them)
    };
    std::deque<Pending> pending_;
    std::set<std::string> draining_;  // victims of a pending load: no new requests routed
    bool stopping_ = false;

    // Shared with the gateway's threads.
    std::mutex mu_;
    nlohmann::json status_doc_;  // ps_doc() as of the loop's last turn
    std::vector<DeploymentView> views_;
    MemoryView memory_view_;
    std::map<std::string, Activity> activity_;
    std::map<std::string, double> prefill_tokens_per_s_;
};

// The daemon's instance id, one per data directory and kept across restarts: the
// sparkctl.instance label of its containers, so it sweeps only its own leftovers.
base::Result<std::string> instance_id(const std::filesystem::path& file);

}  // namespace sparkctl::serve::detail
