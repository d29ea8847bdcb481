// The daemon's start-up (reattach, the gateway), SIGHUP reload, the admin API and its loop. The
// loads, the snapshot and the Registry are in daemon_loads.cpp.
#include "serve/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include "base/exit_status.h"
#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "hw/detect.h"
#include "plan/inputs.h"
#include "serve/container.h"
#include "serve/daemon_impl.h"
#include "serve/deployment_json.h"
#include "serve/engine_log.h"
#include "store/database.h"

namespace sparkctl::serve {

namespace detail {

using base::Errc;
using base::make_error;
using base::Result;
using json = nlohmann::json;

Daemon::Lock::~Lock() {
    if (fd >= 0) ::close(fd);
}

namespace {

// A whole number in [min, max] from option `key`; errors name the key.
Result<std::int64_t> option_int(const config::Config& cfg, const char* key, std::int64_t min,
                                std::int64_t max) {
    const std::string& text = cfg.value(key);
    auto v = base::parse_u64(text);
    if (!v || static_cast<std::int64_t>(*v) < min || *v > static_cast<std::uint64_t>(max)) {
        return make_error(Errc::bad_input, std::string(key) + ": expected a whole number from " +
                                               std::to_string(min) + " to " + std::to_string(max) +
                                               ", got '" + base::printable(text) + "'");
    }
    return static_cast<std::int64_t>(*v);
}

// True when `a` and `b` differ at most in what only the gateway reads (max_in_flight): the plan
// and the running engine stay as they are.
bool same_plan(DeploymentConfig a, const DeploymentConfig& b) {
    a.max_in_flight = b.max_in_flight;
    return deployment_to_json(a) == deployment_to_json(b);
}

}  // namespace

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
        prelaunch_.meminfo_path = meminfo.value;
    }
    prelaunch_.headroom_bytes = headroom_bytes_;
    prelaunch_.drop_caches = base::iequals(config_->value("drop_caches"), "true");

    auto instance = instance_id(options_.data_dir / "instance");
    if (!instance) return instance.error();
    instance_ = *instance;

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

    auto drain = option_int(*config_, "drain_timeout_s", 0, 86'400);
    if (!drain) return drain.error();
    drain_timeout_ms_ = *drain * 1000;
    auto quantum = parse_swap_min_resident(config_->value("swap_min_resident_s"));
    if (!quantum) return quantum.error();
    swap_min_resident_s_ = *quantum;
    refresh_snapshot();  // the gateway reads the views from its first request
    if (auto r = start_gateway(); !r) return r.error();

    for (auto& [id, d] : deployments_) {
        if (d.config.pin && !running(id)) request_load(id, AdminReply());
    }
    refresh_snapshot();
    return {};
}

// serve --listen: the gateway (gateway.h) on HOST:PORT, this daemon its Registry.
Result<void> Daemon::start_gateway() {
    if (!options_.listen) return {};
    auto colon = options_.listen->rfind(':');
    auto port = colon == std::string::npos
                    ? std::nullopt
                    : base::parse_u64(std::string_view(*options_.listen).substr(colon + 1));
    if (!port || *port > 65535 || colon == 0) {
        return make_error(Errc::bad_input,
                          "--listen: expected HOST:PORT, got '" + *options_.listen + "'");
    }
    GatewayOptions go;
    go.host = options_.listen->substr(0, colon);
    if (go.host.size() > 2 && go.host.front() == '[' && go.host.back() == ']') {
        go.host = go.host.substr(1, go.host.size() - 2);  // [::1]:8080
    }
    go.port = static_cast<std::uint16_t>(*port);
    if (const std::string& keys = config_->value("api_keys_file"); !keys.empty()) {
        go.api_keys_file = keys;
    }
    if (const std::string& cert = config_->value("tls_cert"); !cert.empty()) go.tls_cert = cert;
    if (const std::string& key = config_->value("tls_key"); !key.empty()) go.tls_key = key;
    const bool tls = go.tls_cert.has_value();
    auto queue_max = option_int(*config_, "queue_max", 1, 1'000'000);
    if (!queue_max) return queue_max.error();
    go.queue_max_per_model = static_cast<std::size_t>(*queue_max);
    auto queue_timeout = option_int(*config_, "queue_timeout_s", 1, 86'400);
    if (!queue_timeout) return queue_timeout.error();
    go.queue_timeout_ms = static_cast<int>(*queue_timeout * 1000);
    // The prompt's bytes bound its tokens from above (a byte-level BPE token covers at least one
    // byte of text), so bytes / fit's single-prompt prefill rate bounds the TTFT from above.
    go.predicted_ttft_ms = [this](const std::string& id,
                                  std::size_t prompt_bytes) -> std::optional<double> {
        std::lock_guard lock(mu_);
        auto it = prefill_tokens_per_s_.find(id);
        if (it == prefill_tokens_per_s_.end()) return std::nullopt;
        return static_cast<double>(prompt_bytes) / it->second * 1e3;
    };
    auto gw = Gateway::create(std::move(go), *this);
    if (!gw) return with_context(gw.error(), "--listen " + *options_.listen);
    if (auto r = (*gw)->start(); !r) return with_context(r.error(), "--listen");
    gateway_ = std::move(*gw);
    listen_url_ = (tls ? "https://" : "http://") + options_.listen->substr(0, colon) + ":" +
                  std::to_string(gateway_->port());
    // Tests and scripts wait for this exact line (port 0 picks a free port).
    std::fprintf(stderr, "sparkctl serve: listening on %s\n", listen_url_.c_str());
    std::fflush(stderr);
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
    // Containers outlive the daemon: docker is asked for this instance's (by label) when any
    // deployment, stored or configured, runs in one.
    const std::string docker = plan::engine_programs(*config_).docker;
    bool containers = std::any_of(rows->begin(), rows->end(),
                                  [](const DeploymentRow& r) { return !r.container_id.empty(); }) ||
                      std::any_of(deployments_.begin(), deployments_.end(), [](const auto& e) {
                          return e.second.config.kind == Kind::container;
                      });
    std::set<std::string> live;  // this instance's containers not yet accounted for
    if (containers && !options_.simulate) {
        if (auto ids = docker_list(docker, instance_)) {
            live.insert(ids->begin(), ids->end());
        } else {
            base::log_warn("serve: leftover containers not checked: " + ids.error().message);
        }
    }
    const int grace_s = (options_.supervisor.stop_grace_ms + 999) / 1000;
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
        const bool container = !row.container_id.empty() && live.erase(row.container_id) > 0;
        if (!row.container_id.empty()) {
            // The process was the earlier daemon's `docker logs -f`: the container is what runs.
            if (ours) ::kill(-row.proc.pgid, SIGKILL);
            ours = container;
            if (container && it == deployments_.end()) {
                base::log_info("serve: removing leftover container " + row.container_id + " (" +
                               row.id + ")");
                if (auto r = docker_stop_and_remove(docker, row.container_id, grace_s); !r) {
                    base::log_warn("serve: " + r.error().message);
                }
                ours = false;
            }
        } else if (ours && it == deployments_.end()) {
            stop_unknown_process(row);
        }
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
            touch(row.id);
            LaunchSpec spec;
            spec.id = row.id;
            auto engine = engines::parse_engine(row.engine);
            spec.engine = engine ? *engine : engines::Engine::llama_cpp;
            spec.port = row.port;
            spec.weights_bytes = row.weights_bytes;
            spec.log_path = row.log_path;
            base::log_info("serve: reattaching to " + row.id + " (" +
                           (container ? "container " + row.container_id
                                      : "pid " + std::to_string(row.proc.pid)) +
                           ")");
            Result<void> r;
            if (container) {
                spec.docker = docker;
                r = supervisor_->adopt_container(spec, row.container_id);
            } else {
                r = supervisor_->adopt(spec, row.proc);
            }
            if (r) continue;
            base::log_warn(r.error().message);
        }
        if (it == deployments_.end()) {
            SPARKCTL_TRY(store_->remove(row.id));
        } else {
            // Not running (or not provably ours): no process, no container, no reservation.
            row.state = "unloaded";
            row.proc = ProcIdentity{};
            row.container_id.clear();
            SPARKCTL_TRY(store_->put(row));
        }
    }
    for (const std::string& id : live) {  // labelled as ours, but no record claims it
        base::log_info("serve: removing leftover container " + id + " (no record of it)");
        if (auto r = docker_stop_and_remove(docker, id, grace_s); !r) {
            base::log_warn("serve: " + r.error().message);
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
        if (deployment_to_json(d.config) != deployment_to_json(w->second) &&
            same_plan(d.config, w->second)) {
            base::log_info("serve: reload: " + id + ": max_in_flight is now " +
                           std::to_string(w->second.max_in_flight));
            d.config = w->second;
            d.origin = "config";
        } else if (deployment_to_json(d.config) != deployment_to_json(w->second)) {
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
        const json listen = listen_url_.empty() ? json(nullptr) : json(listen_url_);
        doc["listen"] = listen;
        doc["daemon"] = {{"pid", ::getpid()},
                         {"socket", options_.socket_path.string()},
                         {"listen", listen},
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
        for (const auto& [other, o] : deployments_) {  // an id names one deployment
            const auto& aliases = o.config.aliases;
            if (other != cfg->id &&
                std::find(aliases.begin(), aliases.end(), cfg->id) != aliases.end()) {
                reply.send(error_doc(base::kExitBadInput, "up " + target + ": name '" + cfg->id +
                                                              "' is an alias of deployment '" +
                                                              other + "'; choose another --id")
                               .dump());
                return;
            }
        }
        auto existing = deployments_.find(cfg->id);
        if (existing != deployments_.end() && existing->second.origin == "config") {
            reply.send(error_doc(base::kExitBadInput, cfg->id +
                                                          ": defined in the config file; `up " +
                                                          cfg->id + "` loads it as configured")
                           .dump());
            return;
        }
        target = cfg->id;
        if (existing != deployments_.end() && same_plan(existing->second.config, *cfg)) {
            // The same plan (at most the gateway's limit changed): kept running as it is.
            Deployment& d = existing->second;
            d.config = *cfg;
            d.origin = "up";
            auto s = supervisor_->status(target);
            persist(d, s ? &*s : nullptr);
        } else {
            if (existing != deployments_.end() && running(cfg->id)) {
                supervisor_->stop(cfg->id, false);  // re-planned with the new request
            }
            Deployment d;
            d.config = *cfg;
            d.origin = "up";
            persist(d, nullptr);
            deployments_[target] = std::move(d);
        }
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
        auto sooner = [&](std::int64_t ms) {
            if (ms >= 0 && (timeout < 0 || ms < timeout)) timeout = static_cast<int>(ms);
        };
        if (drain_deadline) sooner(100);
        sooner(unload_idle());
        if (!pending_.empty() && !pending_.front().draining.empty()) {
            sooner(std::max<std::int64_t>(0, pending_.front().drain_deadline_ms - now_ms()));
        }
        if (!pending_.empty() && pending_.front().wait_until_ms &&
            *pending_.front().wait_until_ms != kWhileLoading) {
            sooner(std::max<std::int64_t>(0, *pending_.front().wait_until_ms - now_ms()));
        }
        auto signals = loop_->run_once(timeout < 0 ? 60'000 : timeout);
        for (int sig : signals) {
            if (sig == SIGHUP && !stopping_) {
                base::log_info("serve: SIGHUP: reloading the config");
                if (auto r = reload(); !r) base::log_error("serve: reload: " + r.error().message);
            } else if ((sig == SIGTERM || sig == SIGINT) && !stopping_) {
                base::log_info("serve: stopping: draining requests and engines");
                stopping_ = true;
                for (auto& p : pending_) {
                    p.reply.send(
                        error_doc(base::kExitFailure, "sparkctl serve is stopping").dump());
                }
                pending_.clear();
                // The gateway first (it stops accepting; streams get the grace), then engines.
                if (gateway_) gateway_->stop(options_.drain_grace_ms);
                for (const auto& s : supervisor_->status()) supervisor_->stop(s.id, false);
                drain_deadline = std::chrono::steady_clock::now() +
                                 std::chrono::milliseconds(options_.drain_grace_ms);
            }
        }
        supervisor_->advance();
        try_pending();  // a drain deadline may have passed
        refresh_snapshot();
        if (stopping_ && supervisor_->empty()) break;
        if (drain_deadline && std::chrono::steady_clock::now() > *drain_deadline) {
            for (const auto& s : supervisor_->status()) supervisor_->stop(s.id, true);
            drain_deadline.reset();
        }
    }
    admin_.reset();  // removes the socket
    base::log_info("serve: stopped");
    return base::kExitOk;
}

}  // namespace detail

base::Result<int> run_daemon(const DaemonOptions& options) {
    detail::Daemon daemon(options);
    if (auto r = daemon.start(); !r) return r.error();
    return daemon.run();
}

}  // namespace sparkctl::serve
