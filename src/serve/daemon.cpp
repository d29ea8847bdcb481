#include "serve/daemon.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "base/exit_status.h"
#include "base/log.h"
#include "base/strings.h"
#include "engines/logs.h"
#include "hw/detect.h"
#include "net/server.h"
#include "serve/admin_socket.h"
#include "serve/admission.h"
#include "serve/deployment.h"
#include "serve/deployment_json.h"
#include "serve/loop.h"
#include "serve/state.h"
#include "store/database.h"

namespace sparkctl::serve {

using base::Errc;
using base::make_error;
using base::Result;
using json = nlohmann::json;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// A free TCP port on 127.0.0.1 (bound to port 0, then released for the engine).
Result<std::uint16_t> free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(Errc::io, "cannot choose a port: socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
              ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    ::close(fd);
    if (!ok) return make_error(Errc::io, "cannot choose a port on 127.0.0.1");
    return ntohs(addr.sin_port);
}

// 32 hex digits from the kernel's random source: each engine's --api-key.
std::string random_key() {
    std::random_device rd;  // /dev/urandom on glibc
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 8; ++i) {
        std::uint32_t v = rd();
        for (int j = 0; j < 4; ++j) {
            out += hex[v & 15];
            out += hex[(v >> 4) & 15];
            v >>= 8;
        }
    }
    return out;
}

json error_doc(int code, const std::string& message) {
    return json{{"error", {{"code", code}, {"message", message}}}};
}

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
    std::int64_t last_used_ms = 0;
    std::optional<std::uint64_t> mem_available_before;  // for the drop across the load
    std::string last_exit;
    std::vector<AdminReply> waiting_up;
    std::vector<AdminReply> waiting_down;
};

class Daemon {
  public:
    explicit Daemon(const DaemonOptions& options) : options_(options) {}
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;
    Result<void> start();
    int run();

  private:
    // Admin API.
    void on_request(const std::string& line, AdminReply reply);
    void handle_up(const json& req, AdminReply reply);
    void handle_down(const json& req, AdminReply reply);
    void handle_logs(const json& req, AdminReply reply);
    json engine_doc(const json& req);
    json ps_doc();
    json entry_doc(const std::string& id);
    void refresh_snapshot();

    // Loads.
    void request_load(const std::string& id, AdminReply reply);
    void try_pending();
    Result<void> launch(Deployment& d, DeploymentSpec spec);
    std::vector<Resident> residents() const;
    Result<std::uint64_t> mem_available();
    void on_change(const ChildStatus& s);
    void measure(Deployment& d);
    void persist(const Deployment& d, const ChildStatus* s);

    // Start-up and reload.
    Result<void> reattach();
    Result<void> reload();
    void stop_unknown_process(const DeploymentRow& row);
    bool running(const std::string& id) const;

    // The flock on the socket: declared first so it is released last, after every engine is
    // gone and the socket removed.
    struct Lock {
        int fd = -1;
        ~Lock() {
            if (fd >= 0) ::close(fd);
        }
    } lock_;
    DaemonOptions options_;
    std::optional<config::Config> config_;
    std::uint64_t budget_bytes_ = 0;
    std::uint64_t pool_bytes_ = 0;  // --simulate: the hardware profile's memory
    std::uint64_t headroom_bytes_ = 2ull << 30;
    std::unique_ptr<MemInfo> meminfo_;  // null: the simulated pool
    std::unique_ptr<Loop> loop_;
    std::unique_ptr<StateStore> store_;
    std::unique_ptr<Supervisor> supervisor_;
    std::unique_ptr<AdminListener> admin_;
    std::unique_ptr<net::Server> http_;
    std::map<std::string, Deployment> deployments_;
    // Loads wait in order; the first waits for its evictions to finish.
    struct Pending {
        std::string id;
        AdminReply reply;
        std::optional<DeploymentSpec> spec;
        std::vector<std::string> evicting;
    };
    std::deque<Pending> pending_;
    bool stopping_ = false;
    std::mutex snapshot_mutex_;
    std::string snapshot_;  // /status for the TCP listener's io thread
};

Result<void> Daemon::start() {
    auto locked = lock_socket(options_.socket_path);
    if (!locked) return locked.error();
    lock_.fd = *locked;
    auto cfg = options_.load_config();
    if (!cfg) return cfg.error();
    config_ = std::move(*cfg);

    auto system = hw::make_real_system();
    auto hardware = hw::resolve_hardware(config_->value("hardware"), *system);
    if (!hardware) return hardware.error();
    budget_bytes_ = hardware->budget_bytes();
    pool_bytes_ = hardware->memory_total_bytes;
    if (auto h = base::parse_bytes(config_->value("mem_headroom"))) {
        headroom_bytes_ = *h;
    } else {
        return make_error(Errc::bad_input,
                          "mem_headroom: not a size: '" + config_->value("mem_headroom") + "'");
    }
    // --simulate checks the hardware profile's pool unless a meminfo file is named (tests).
    const auto& meminfo = config_->get("meminfo");
    if (!options_.simulate || meminfo.origin != config::Origin::default_value) {
        meminfo_ = proc_meminfo(meminfo.value);
    }

    auto loop = Loop::create({SIGCHLD, SIGTERM, SIGINT, SIGHUP});
    if (!loop) return loop.error();
    loop_ = std::move(*loop);
    auto db = store::Database::open(options_.data_dir / "state.db");
    if (!db) return db.error();
    store_ = std::make_unique<StateStore>(std::move(*db));
    supervisor_ = std::make_unique<Supervisor>(
        options_.supervisor, [this](const ChildStatus& s) { on_change(s); },
        [this](std::function<void()> fn) { loop_->post(std::move(fn)); });

    auto defined = read_deployments(*config_);
    if (!defined) return defined.error();
    for (auto& c : *defined) {
        Deployment d;
        d.config = c;
        deployments_[c.id] = std::move(d);
    }
    if (auto r = reattach(); !r) return r.error();

    auto admin = AdminListener::listen(
        options_.socket_path,
        [this](const std::string& line, AdminReply reply) { on_request(line, std::move(reply)); });
    if (!admin) return admin.error();
    admin_ = std::move(*admin);
    loop_->watch(admin_->fd(), [this] {
        for (int fd : admin_->accept_all()) {
            loop_->watch(fd, [this, fd] {
                if (!admin_->read_from(fd)) loop_->unwatch(fd);
            });
        }
    });

    if (options_.listen) {
        auto colon = options_.listen->rfind(':');
        auto port = colon == std::string::npos
                        ? std::nullopt
                        : base::parse_u64(std::string_view(*options_.listen).substr(colon + 1));
        if (!port || *port > 65535) {
            return make_error(Errc::bad_input,
                              "--listen: expected HOST:PORT, got '" + *options_.listen + "'");
        }
        net::ServerOptions so;
        so.host = options_.listen->substr(0, colon);
        so.port = static_cast<std::uint16_t>(*port);
        http_ =
            std::make_unique<net::Server>(so, [this](const net::Request& req, net::Responder r) {
                net::Response resp;
                resp.headers = {{"Content-Type", "application/json"}};
                std::string path = req.target.substr(0, req.target.find('?'));
                if (req.method == "GET" && path == "/health") {
                    resp.body = R"({"status":"ok"})";
                } else if (req.method == "GET" && path == "/status") {
                    std::lock_guard<std::mutex> guard(snapshot_mutex_);
                    resp.body = snapshot_;
                } else {
                    resp.status = 404;
                    resp.body = error_doc(404, "not found: " + path).dump();
                }
                r.respond(std::move(resp));
            });
        if (auto r = http_->start(); !r) return with_context(r.error(), "--listen");
        base::log_info("serve: listening on " + so.host + ":" + std::to_string(http_->port()));
    }

    for (auto& [id, d] : deployments_) {
        if (d.config.pin && !running(id)) request_load(id, AdminReply());
    }
    refresh_snapshot();
    return {};
}

bool Daemon::running(const std::string& id) const { return supervisor_->status(id).has_value(); }

void Daemon::stop_unknown_process(const DeploymentRow& row) {
    // Ours (start time matches) but no longer wanted: SIGTERM, a grace, SIGKILL.
    base::log_info("serve: stopping leftover " + row.id + " (pid " + std::to_string(row.proc.pid) +
                   ")");
    ::kill(-row.proc.pgid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(options_.supervisor.stop_grace_ms);
    while (same_process(row.proc) && std::chrono::steady_clock::now() < deadline) {
        loop_->run_once(50);  // not our child: init reaps it; poll until /proc says gone
    }
    if (same_process(row.proc)) ::kill(-row.proc.pgid, SIGKILL);
}

Result<void> Daemon::reattach() {
    auto rows = store_->all();
    if (!rows) return rows.error();
    for (auto& row : *rows) {
        auto it = deployments_.find(row.id);
        if (row.origin == "up") {
            auto cfg = deployment_from_json(row.request);
            if (!cfg) {
                base::log_warn("serve: dropping stored deployment " + row.id + ": " +
                               cfg.error().message);
            } else if (it == deployments_.end()) {
                Deployment d;
                d.config = *cfg;
                d.origin = "up";
                it = deployments_.emplace(row.id, std::move(d)).first;
            }
        }
        bool ours = row.proc.pid != 0 && same_process(row.proc);
        if (ours && it == deployments_.end()) stop_unknown_process(row);
        if (ours && it != deployments_.end()) {
            Deployment& d = it->second;
            d.planned_bytes = row.planned_bytes;
            d.weights_bytes = row.weights_bytes;
            d.measured_bytes = row.measured_bytes;
            d.engine = row.engine;
            d.quant = row.quant;
            d.port = row.port;
            d.api_key = row.api_key;
            d.simulated = options_.simulate;
            d.last_used_ms = now_ms();
            LaunchSpec spec;
            spec.id = row.id;
            auto engine = engines::parse_engine(row.engine);
            spec.engine = engine ? *engine : engines::Engine::llama_cpp;
            spec.port = row.port;
            spec.weights_bytes = row.weights_bytes;
            spec.log_path = row.log_path;
            base::log_info("serve: reattaching to " + row.id + " (pid " +
                           std::to_string(row.proc.pid) + ")");
            if (auto r = supervisor_->adopt(spec, row.proc); !r) base::log_warn(r.error().message);
            continue;
        }
        if (it == deployments_.end()) {
            SPARKCTL_TRY(store_->remove(row.id));
        } else {
            // Not running (or not provably ours): no process and no reservation.
            SPARKCTL_TRY(store_->set_process(row.id, "unloaded", ProcIdentity{}, row.restarts,
                                             row.last_exit));
        }
    }
    return {};
}

Result<void> Daemon::reload() {
    auto cfg = options_.load_config();
    if (!cfg) return cfg.error();
    auto defined = read_deployments(*cfg);
    if (!defined) return defined.error();
    config_ = std::move(*cfg);
    std::map<std::string, DeploymentConfig> wanted;
    for (auto& c : *defined) wanted[c.id] = c;
    for (auto it = deployments_.begin(); it != deployments_.end();) {
        auto& [id, d] = *it;
        auto w = wanted.find(id);
        if (d.origin == "up" && w == wanted.end()) {
            ++it;
            continue;
        }
        if (w == wanted.end()) {  // removed from the config
            base::log_info("serve: reload: " + id + " removed");
            supervisor_->stop(id, false);
            (void)store_->remove(id);
            it = deployments_.erase(it);
            continue;
        }
        if (deployment_to_json(d.config) != deployment_to_json(w->second)) {
            base::log_info("serve: reload: " + id + " changed; re-planned at its next load");
            bool was_running = running(id);
            d.config = w->second;
            d.origin = "config";
            if (was_running) supervisor_->stop(id, false);
            if (was_running || d.config.pin) request_load(id, AdminReply());
        }
        wanted.erase(w);
        ++it;
    }
    for (auto& [id, c] : wanted) {
        base::log_info("serve: reload: " + id + " added");
        Deployment d;
        d.config = c;
        deployments_[id] = std::move(d);
        if (c.pin) request_load(id, AdminReply());
    }
    return {};
}

std::vector<Resident> Daemon::residents() const {
    std::vector<Resident> out;
    auto now = now_ms();
    for (const auto& s : supervisor_->status()) {
        auto it = deployments_.find(s.id);
        if (it == deployments_.end()) continue;
        const Deployment& d = it->second;
        Resident r;
        r.id = s.id;
        r.reserved_bytes = std::max(d.planned_bytes, d.measured_bytes.value_or(0));
        r.pinned = d.config.pin;
        r.in_flight = 0;  // requests reach engines through the gateway (next issue)
        r.idle_s = static_cast<double>(now - d.last_used_ms) / 1e3;
        r.last_used_ms = d.last_used_ms;
        out.push_back(r);
    }
    for (const auto& p : pending_) {  // a load admitted but waiting for evictions holds its share
        if (!p.spec) continue;
        out.push_back(Resident{p.id, p.spec->planned_bytes, true, 1, 0, now});
    }
    return out;
}

Result<std::uint64_t> Daemon::mem_available() {
    if (meminfo_) return meminfo_->mem_available_bytes();
    std::uint64_t reserved = 0;
    for (const auto& r : residents()) reserved += r.reserved_bytes;
    return pool_bytes_ > reserved ? pool_bytes_ - reserved : 0;
}

void Daemon::request_load(const std::string& id, AdminReply reply) {
    pending_.push_back(Pending{id, std::move(reply), std::nullopt, {}});
    try_pending();
}

// Advances the first waiting load: plan it, admit it (evicting what admission names), launch it
// once the evicted are gone. A refusal answers the request (exit 3 with the numbers).
void Daemon::try_pending() {
    while (!pending_.empty() && !stopping_) {
        Pending& p = pending_.front();
        auto it = deployments_.find(p.id);
        if (it == deployments_.end()) {
            p.reply.send(error_doc(base::kExitBadInput, p.id + ": no such deployment").dump());
            pending_.pop_front();
            continue;
        }
        Deployment& d = it->second;
        if (!p.spec) {
            if (auto s = supervisor_->status(p.id); s && s->state != State::failed) {
                if (s->state == State::ready) {
                    p.reply.send(json{{"deployment", entry_doc(p.id)}}.dump());
                } else {
                    d.waiting_up.push_back(std::move(p.reply));
                }
                pending_.pop_front();
                continue;
            }
            supervisor_->forget(p.id);
            auto port = free_port();
            if (!port) {
                p.reply.send(error_doc(base::kExitFailure, port.error().message).dump());
                pending_.pop_front();
                continue;
            }
            LaunchContext ctx{*port, random_key(), options_.simulate, options_.sparkctl_exe};
            auto spec = plan_deployment(d.config, ctx, *config_);
            if (spec && d.config.kind == Kind::container && !options_.simulate) {
                spec = make_error(Errc::bad_input,
                                  "kind = container is planned but not yet run by "
                                  "serve; use kind = native (or --simulate)");
            }
            if (!spec) {
                p.reply.send(error_doc(base::exit_status_for(spec.error().code),
                                       p.id + ": " + spec.error().message)
                                 .dump());
                pending_.pop_front();
                continue;
            }
            auto avail = mem_available();
            if (!avail) {
                p.reply.send(error_doc(base::kExitFailure, avail.error().message).dump());
                pending_.pop_front();
                continue;
            }
            auto decision =
                admit(spec->planned_bytes, budget_bytes_, headroom_bytes_, *avail, residents());
            if (!decision.admit) {
                json doc = error_doc(base::kExitDoesNotFit, p.id + ": " + decision.reason);
                doc["admission"] = {{"reserved_bytes", decision.reserved_bytes},
                                    {"needed_bytes", decision.needed_bytes},
                                    {"budget_bytes", decision.budget_bytes},
                                    {"mem_available_bytes", decision.mem_available_bytes},
                                    {"headroom_bytes", decision.headroom_bytes},
                                    {"evict", decision.evict}};
                base::log_warn("serve: " + p.id + ": not admitted: " + decision.reason);
                p.reply.send(doc.dump());
                pending_.pop_front();
                continue;
            }
            d.port = static_cast<std::uint16_t>(*port);
            d.api_key = ctx.api_key;
            d.mem_available_before = *avail;
            p.spec = std::move(*spec);
            p.evicting = decision.evict;
            for (const auto& victim : p.evicting) {
                base::log_info("serve: evicting " + victim + " for " + p.id);
                supervisor_->stop(victim, false);
            }
        }
        bool evicted = std::none_of(p.evicting.begin(), p.evicting.end(),
                                    [&](const std::string& v) { return running(v); });
        if (!evicted) return;  // on_change calls back when they are gone
        auto spec = std::move(*p.spec);
        AdminReply reply = std::move(p.reply);
        std::string id = p.id;
        pending_.pop_front();
        if (auto r = launch(d, std::move(spec)); !r) {
            reply.send(error_doc(base::exit_status_for(r.error().code), r.error().message).dump());
            continue;
        }
        auto& dep = deployments_.at(id);
        dep.waiting_up.push_back(std::move(reply));
    }
}

Result<void> Daemon::launch(Deployment& d, DeploymentSpec spec) {
    d.planned_bytes = spec.planned_bytes;
    d.weights_bytes = spec.weights_bytes;
    d.measured_bytes.reset();
    d.engine = spec.engine;
    d.quant = spec.quant;
    d.simulated = spec.simulated;
    d.last_used_ms = now_ms();
    LaunchSpec ls;
    ls.id = d.config.id;
    auto engine = engines::parse_engine(spec.engine);
    if (!engine) return engine.error();
    ls.engine = *engine;
    ls.argv = spec.argv;
    d.argv = spec.argv;
    ls.env = spec.env;
    ls.port = d.port;
    ls.weights_bytes = spec.weights_bytes;
    ls.log_path = options_.data_dir / "logs" / (d.config.id + ".log");
    persist(d, nullptr);
    return supervisor_->launch(std::move(ls));
}

void Daemon::persist(const Deployment& d, const ChildStatus* s) {
    DeploymentRow row;
    row.id = d.config.id;
    row.origin = d.origin;
    row.request = d.origin == "up" ? deployment_to_json(d.config) : "";
    row.model = d.config.model;
    row.engine = d.engine;
    row.quant = d.quant;
    row.pinned = d.config.pin;
    row.port = d.port;
    row.api_key = d.api_key;
    row.log_path = (options_.data_dir / "logs" / (d.config.id + ".log")).string();
    row.planned_bytes = d.planned_bytes;
    row.weights_bytes = d.weights_bytes;
    row.measured_bytes = d.measured_bytes;
    if (s != nullptr) {
        row.state = to_string(s->state);
        row.proc = s->proc;
        row.restarts = s->restarts;
        row.last_exit = s->last_exit;
    }
    if (auto r = store_->put(row); !r) base::log_warn("serve: state: " + r.error().message);
}

void Daemon::measure(Deployment& d) {
    auto engine = engines::parse_engine(d.engine);
    if (!engine) return;
    engines::MeasuredMemory m;
    std::ifstream in(options_.data_dir / "logs" / (d.config.id + ".log"));
    std::string line;
    while (std::getline(in, line)) engines::parse_memory_log_line(*engine, line, m);
    std::optional<std::uint64_t> measured = m.total_bytes;
    if (!measured && meminfo_ && d.mem_available_before) {
        // No figure in the log: the drop in MemAvailable across the load (GB10 driver
        // allocations do not show in the process RSS).
        if (auto after = meminfo_->mem_available_bytes();
            after && *after < *d.mem_available_before) {
            measured = *d.mem_available_before - *after;
        }
    }
    if (!measured) return;
    d.measured_bytes = measured;
    if (*measured > d.planned_bytes) {
        base::log_warn("serve: " + d.config.id + ": measured " + base::format_bytes(*measured) +
                       " is above the planned " + base::format_bytes(d.planned_bytes));
    }
}

void Daemon::on_change(const ChildStatus& s) {
    auto it = deployments_.find(s.id);
    if (it == deployments_.end()) return;
    Deployment& d = it->second;
    if (!s.last_exit.empty() && s.last_exit != d.last_exit && s.proc.pid == 0) {
        (void)store_->record_exit(s.id, s.last_exit);
    }
    d.last_exit = s.last_exit;
    if (s.state == State::ready) {
        measure(d);
        auto entry = entry_doc(s.id);
        for (auto& reply : d.waiting_up) reply.send(json{{"deployment", entry}}.dump());
        d.waiting_up.clear();
    } else if (s.state == State::failed || s.state == State::unloaded) {
        std::string why = s.state == State::failed ? s.id + ": failed: " + s.failure
                                                   : s.id + ": stopped before it was ready";
        for (auto& reply : d.waiting_up) reply.send(error_doc(base::kExitFailure, why).dump());
        d.waiting_up.clear();
    }
    if (s.state == State::unloaded) {
        for (auto& reply : d.waiting_down) reply.send(json{{"stopped", s.id}}.dump());
        d.waiting_down.clear();
    }
    persist(d, &s);
    refresh_snapshot();
    if (s.state == State::unloaded) loop_->post([this] { try_pending(); });
}

json Daemon::entry_doc(const std::string& id) {
    json doc = ps_doc();  // kept: ranging over a member of a temporary would dangle
    for (auto& e : doc["deployments"]) {
        if (e["id"] == id) return e;
    }
    return json::object();
}

// `engine` (for `bench run ID`, which measures the engine itself, not the gateway): where a ready
// deployment's engine listens, its API key and launch argv. Only this admin reply (socket mode
// 0600) carries the key; ps and /status never do. A deployment that is not ready is an error
// naming it and its state (bench does not load it).
json Daemon::engine_doc(const json& req) {
    const std::string id = req.contains("id") && req["id"].is_string() ? req["id"] : "";
    auto it = deployments_.find(id);
    if (it == deployments_.end()) {
        return error_doc(base::kExitBadInput, "no deployment '" + id + "' (see sparkctl ps)");
    }
    const Deployment& d = it->second;
    auto s = supervisor_->status(id);
    const State state = s ? s->state : State::unloaded;
    if (state != State::ready) {
        return error_doc(base::kExitBadInput, "deployment '" + id + "' is not loaded (" +
                                                  to_string(state) + "): sparkctl up " + id +
                                                  " first");
    }
    return json{{"deployment",
                 {{"id", id},
                  {"model", d.config.model},
                  {"engine", d.engine},
                  {"quant", d.quant.empty() ? json(nullptr) : json(d.quant)},
                  {"host", "127.0.0.1"},
                  {"port", d.port},
                  {"api_key", d.api_key},
                  {"argv", d.argv},
                  {"bench", d.config.bench},
                  {"use", d.config.use},
                  {"users", d.config.users},
                  {"context", d.config.context ? json(*d.config.context) : json(nullptr)},
                  {"simulated", d.simulated}}}};
}

// The `ps --json` and `/status` shape (issue 13), plus "simulated".
json Daemon::ps_doc() {
    json deps = json::array();
    std::uint64_t reserved = 0;
    auto now = now_ms();
    for (const auto& [id, d] : deployments_) {
        auto s = supervisor_->status(id);
        State state = s ? s->state : State::unloaded;
        bool holds = s.has_value();
        std::uint64_t r = std::max(d.planned_bytes, d.measured_bytes.value_or(0));
        if (holds) reserved += r;
        json e = {{"id", id},
                  {"model", d.config.model},
                  {"engine", d.engine.empty() ? json(nullptr) : json(d.engine)},
                  {"quant", d.quant.empty() ? json(nullptr) : json(d.quant)},
                  {"state", to_string(state)},
                  {"port", holds ? json(d.port) : json(nullptr)},
                  {"pid", s && s->proc.pid != 0 ? json(s->proc.pid) : json(nullptr)},
                  {"pinned", d.config.pin},
                  {"in_flight", 0},
                  {"queued", 0},
                  {"planned_bytes", d.planned_bytes == 0 ? json(nullptr) : json(d.planned_bytes)},
                  {"measured_bytes", d.measured_bytes ? json(*d.measured_bytes) : json(nullptr)},
                  {"restarts", s ? s->restarts : 0},
                  {"idle_s",
                   holds ? json(static_cast<double>(now - d.last_used_ms) / 1e3) : json(nullptr)},
                  {"last_exit", d.last_exit.empty() ? json(nullptr) : json(d.last_exit)}};
        if (s && s->state == State::failed) e["failure"] = s->failure;
        deps.push_back(std::move(e));
    }
    for (const auto& p : pending_) {
        if (p.spec) reserved += p.spec->planned_bytes;
    }
    auto avail = mem_available();
    return json{{"budget_bytes", budget_bytes_},
                {"reserved_bytes", reserved},
                {"mem_available_bytes", avail ? json(*avail) : json(nullptr)},
                {"simulated", options_.simulate},
                {"deployments", std::move(deps)}};
}

void Daemon::refresh_snapshot() {
    std::string doc = ps_doc().dump();
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    snapshot_ = std::move(doc);
}

void Daemon::on_request(const std::string& line, AdminReply reply) {
    json req = json::parse(line, nullptr, false);
    if (req.is_discarded() || !req.is_object() || !req.contains("op") || !req["op"].is_string()) {
        reply.send(
            error_doc(base::kExitBadInput, "admin request: not a JSON object with \"op\"").dump());
        return;
    }
    if (stopping_) {
        reply.send(error_doc(base::kExitFailure, "sparkctl serve is stopping").dump());
        return;
    }
    const std::string op = req["op"];
    if (op == "ps") {
        reply.send(ps_doc().dump());
    } else if (op == "status") {
        json doc = ps_doc();
        doc["daemon"] = {{"pid", ::getpid()},
                         {"socket", options_.socket_path.string()},
                         {"listen", options_.listen ? json(*options_.listen) : json(nullptr)},
                         {"data_dir", options_.data_dir.string()}};
        reply.send(doc.dump());
    } else if (op == "up") {
        handle_up(req, std::move(reply));
    } else if (op == "down") {
        handle_down(req, std::move(reply));
    } else if (op == "logs") {
        handle_logs(req, std::move(reply));
    } else if (op == "engine") {
        reply.send(engine_doc(req).dump());
    } else {
        reply.send(error_doc(base::kExitBadInput, "admin request: unknown op '" + op + "'").dump());
    }
}

void Daemon::handle_up(const json& req, AdminReply reply) {
    std::string target = req.value("target", "");
    bool has_config = req.contains("config");
    auto it = deployments_.find(target);
    if (it == deployments_.end() || has_config) {
        // A new deployment at run time: persisted (origin "up") so a restarted daemon knows it.
        auto cfg = deployment_from_json(has_config ? req["config"].dump() : "{}");
        if (!cfg) {
            reply.send(error_doc(base::kExitBadInput, cfg.error().message).dump());
            return;
        }
        if (cfg->model.empty()) cfg->model = target;
        if (cfg->id.empty()) cfg->id = target;
        if (auto v = validate_deployment(*cfg, "up " + target); !v) {
            reply.send(error_doc(base::kExitBadInput, v.error().message).dump());
            return;
        }
        auto existing = deployments_.find(cfg->id);
        if (existing != deployments_.end() && existing->second.origin == "config") {
            reply.send(error_doc(base::kExitBadInput, cfg->id +
                                                          ": defined in the config file; `up " +
                                                          cfg->id + "` loads it as configured")
                           .dump());
            return;
        }
        if (existing != deployments_.end() && running(cfg->id)) {
            supervisor_->stop(cfg->id, false);  // re-planned with the new request
        }
        Deployment d;
        d.config = *cfg;
        d.origin = "up";
        target = cfg->id;
        persist(d, nullptr);
        deployments_[target] = std::move(d);
    } else {
        if (req.value("pin", false)) it->second.config.pin = true;
        if (req.value("bench", false)) it->second.config.bench = true;
    }
    request_load(target, std::move(reply));
    refresh_snapshot();
}

void Daemon::handle_down(const json& req, AdminReply reply) {
    bool now = req.value("now", false);
    std::vector<std::string> ids;
    if (req.value("all", false)) {
        for (const auto& s : supervisor_->status()) ids.push_back(s.id);
    } else {
        std::string id = req.value("id", "");
        if (deployments_.find(id) == deployments_.end()) {
            reply.send(error_doc(base::kExitBadInput, "down: no deployment '" + id + "'").dump());
            return;
        }
        ids.push_back(id);
    }
    std::erase_if(pending_, [&](Pending& p) {
        if (std::find(ids.begin(), ids.end(), p.id) == ids.end()) return false;
        p.reply.send(error_doc(base::kExitFailure, p.id + ": taken down before it loaded").dump());
        return true;
    });
    std::vector<std::string> stopping;
    for (const auto& id : ids) {
        if (!running(id)) continue;
        supervisor_->stop(id, now);
        if (running(id)) stopping.push_back(id);
    }
    if (stopping.empty()) {
        reply.send(json{{"stopped", ids}}.dump());
        return;
    }
    // One answer once the last of them is gone: it waits on the last one.
    deployments_.at(stopping.back()).waiting_down.push_back(std::move(reply));
}

void Daemon::handle_logs(const json& req, AdminReply reply) {
    std::string id = req.value("id", "");
    if (deployments_.find(id) == deployments_.end()) {
        reply.send(error_doc(base::kExitBadInput, "logs: no deployment '" + id + "'").dump());
        return;
    }
    auto path = options_.data_dir / "logs" / (id + ".log");
    std::size_t lines = req.value("lines", 50u);
    reply.send(json{{"id", id},
                    {"log_path", path.string()},
                    {"lines", tail_lines(path, lines, options_.supervisor.log.keep)}}
                   .dump());
}

int Daemon::run() {
    std::optional<std::chrono::steady_clock::time_point> drain_deadline;
    for (;;) {
        int timeout = supervisor_->next_timeout_ms();
        if (drain_deadline) timeout = timeout < 0 || timeout > 100 ? 100 : timeout;
        auto signals = loop_->run_once(timeout < 0 ? 60'000 : timeout);
        for (int sig : signals) {
            if (sig == SIGHUP && !stopping_) {
                base::log_info("serve: SIGHUP: reloading the config");
                if (auto r = reload(); !r) base::log_error("serve: reload: " + r.error().message);
            } else if ((sig == SIGTERM || sig == SIGINT) && !stopping_) {
                base::log_info("serve: stopping: draining engines");
                stopping_ = true;
                for (auto& p : pending_) {
                    p.reply.send(
                        error_doc(base::kExitFailure, "sparkctl serve is stopping").dump());
                }
                pending_.clear();
                for (const auto& s : supervisor_->status()) supervisor_->stop(s.id, false);
                drain_deadline = std::chrono::steady_clock::now() +
                                 std::chrono::milliseconds(options_.drain_grace_ms);
            }
        }
        supervisor_->advance();
        refresh_snapshot();
        if (stopping_ && supervisor_->empty()) break;
        if (drain_deadline && std::chrono::steady_clock::now() > *drain_deadline) {
            for (const auto& s : supervisor_->status()) supervisor_->stop(s.id, true);
            drain_deadline.reset();
        }
    }
    if (http_) http_->stop(1000);
    admin_.reset();  // removes the socket
    base::log_info("serve: stopped");
    return base::kExitOk;
}

}  // namespace

Result<int> run_daemon(const DaemonOptions& options) {
    Daemon daemon(options);
    if (auto r = daemon.start(); !r) return r.error();
    return daemon.run();
}

}  // namespace sparkctl::serve
