// The daemon's loads (admission, eviction after a drain, ttl unloads), its snapshot (`ps
// --json`, the gateway's views) and the Registry the gateway calls. docs/dev/serve.md.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>

#include "base/exit_status.h"
#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "engines/logs.h"
#include "serve/daemon_impl.h"
#include "serve/deployment_json.h"
#include "serve/engine_log.h"

namespace sparkctl::serve::detail {

using base::Errc;
using base::make_error;
using base::Result;
using json = nlohmann::json;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

json error_doc(int code, const std::string& message) {
    return json{{"error", {{"code", code}, {"message", message}}}};
}

namespace {

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

}  // namespace

Result<std::string> instance_id(const std::filesystem::path& file) {
    if (auto text = base::read_file(file, 256); text && !base::trim(*text).empty()) {
        return std::string(base::trim(*text));
    }
    std::string id = random_key().substr(0, 16);
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    SPARKCTL_TRY(base::write_file_atomic(file, id + "\n"));
    return id;
}

int Daemon::in_flight(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = activity_.find(id);
    return it == activity_.end() ? 0 : it->second.in_flight;
}

bool Daemon::close_if_idle(const std::string& id) {
    std::lock_guard lock(mu_);
    Activity& a = activity_[id];
    if (a.in_flight > 0) return false;
    a.closed = true;
    return true;
}

bool Daemon::is_closed(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = activity_.find(id);
    return it != activity_.end() && it->second.closed;
}

void Daemon::touch(const std::string& id) {
    std::lock_guard lock(mu_);
    activity_[id].last_used_ms = now_ms();
}

std::vector<Resident> Daemon::residents() {
    std::vector<Resident> out;
    auto now = now_ms();
    std::lock_guard lock(mu_);
    for (const auto& s : supervisor_->status()) {
        auto it = deployments_.find(s.id);
        if (it == deployments_.end()) continue;
        const Deployment& d = it->second;
        const Activity& a = activity_[s.id];
        Resident r;
        r.id = s.id;
        r.reserved_bytes = std::max(d.planned_bytes, d.measured_bytes.value_or(0));
        r.pinned = d.config.pin;
        r.in_flight = a.in_flight;
        r.idle_s = static_cast<double>(now - a.last_used_ms) / 1e3;
        r.last_used_ms = a.last_used_ms;
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

std::map<std::string, std::int64_t> Daemon::protections() {
    std::map<std::string, std::int64_t> out;
    for (const auto& s : supervisor_->status()) {
        auto it = deployments_.find(s.id);
        if (it == deployments_.end()) continue;
        const Deployment& d = it->second;
        if (s.state == State::loading) {
            out[s.id] = kWhileLoading;
        } else if (s.state == State::ready && d.ready_ms != 0) {
            out[s.id] = d.ready_ms + resident_quantum_ms(swap_min_resident_s_, d.last_load_s);
        }
    }
    return out;
}

void Daemon::request_load(const std::string& id, AdminReply reply, bool on_demand) {
    Pending p{id, std::move(reply), std::nullopt, {}, {}, 0, false, on_demand, std::nullopt, {}};
    pending_.push_back(std::move(p));
    try_pending();
}

// Advances the first waiting load: plan it, admit it (a load the gateway asked for waits while
// the victims it needs are protected: swap_policy.h), let the busy victims drain (up to the
// drain deadline, else the swap is abandoned), stop the victims, launch it once they are gone. A
// refusal answers the request (exit 3 with the numbers).
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
                // Being stopped (evicted, or its ttl_s): loaded again once it is gone (on_change
                // calls back), not answered with an engine about to exit.
                if (is_closed(p.id)) return;
                if (s->state == State::ready) {
                    p.reply.send(json{{"deployment", entry_doc(p.id)}}.dump());
                } else {
                    d.waiting_up.push_back(std::move(p.reply));
                }
                pending_.pop_front();
                continue;
            }
            if (p.wait_until_ms && now_ms() < *p.wait_until_ms) return;  // the loop wakes it
            supervisor_->forget(p.id);
            auto port = free_port();
            if (!port) {
                p.reply.send(error_doc(base::kExitFailure, port.error().message).dump());
                pending_.pop_front();
                continue;
            }
            LaunchContext ctx{*port, random_key(), options_.simulate, options_.sparkctl_exe,
                              instance_};
            auto spec = plan_deployment(d.config, ctx, *config_);
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
            AdmissionDecision decision;
            if (p.on_demand) {
                auto swap = decide_swap(spec->planned_bytes, budget_bytes_, headroom_bytes_, *avail,
                                        residents(), protections(), now_ms());
                if (swap.kind == SwapDecision::Kind::wait) {
                    if (!p.wait_until_ms) {
                        std::string who;
                        for (const auto& v : swap.waiting_for) who += (who.empty() ? "" : ", ") + v;
                        base::log_info("serve: " + p.id + ": waiting for " + who +
                                       " to finish loading or its resident quantum "
                                       "(swap_min_resident_s) before evicting it");
                    }
                    p.wait_until_ms = swap.retry_at_ms;
                    p.waiting_for = swap.waiting_for;
                    return;
                }
                // No swap without demand: every request that asked for it timed out or went
                // away (while it waited, most likely).
                if (swap.kind == SwapDecision::Kind::go && gateway_ &&
                    gateway_->withdraw_if_unwanted(p.id)) {
                    base::log_info("serve: " + p.id +
                                   ": no request waits for it any more; not loading it");
                    const std::string why = p.id + ": withdrawn: no request waits for it";
                    AdminReply reply = std::move(p.reply);
                    pending_.pop_front();
                    reply.send(error_doc(base::kExitFailure, why).dump());
                    continue;
                }
                decision = std::move(swap.admission);
            } else {
                decision =
                    admit(spec->planned_bytes, budget_bytes_, headroom_bytes_, *avail, residents());
            }
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
            p.drain_deadline_ms = now_ms() + drain_timeout_ms_;
            // The victims take no new request from here on (their views lose the upstream); one
            // that took a request since the decision drains too.
            for (const auto& victim : p.evicting) draining_.insert(victim);
            refresh_snapshot();
            for (const auto& victim : p.evicting) {
                if (in_flight(victim) > 0) p.draining.push_back(victim);
            }
            for (const auto& v : p.draining) {
                base::log_info("serve: " + p.id + ": waiting up to " +
                               std::to_string(drain_timeout_ms_ / 1000) + " s for " + v +
                               " to drain");
            }
        }
        std::erase_if(p.draining,
                      [&](const std::string& v) { return !running(v) || in_flight(v) == 0; });
        if (!p.draining.empty()) {
            if (now_ms() < p.drain_deadline_ms) return;  // request_finished and the loop recheck
            std::string busy;
            for (const auto& v : p.draining) {
                busy += (busy.empty() ? "" : ", ") + v + " (" + std::to_string(in_flight(v)) +
                        " in flight)";
            }
            std::string why = p.id + ": swap abandoned: " + busy + " did not drain within " +
                              std::to_string(drain_timeout_ms_ / 1000) + " s (drain_timeout_s)";
            base::log_warn("serve: " + why);
            for (const auto& v : p.evicting) draining_.erase(v);
            {
                std::lock_guard lock(mu_);  // the victims serve again
                for (const auto& v : p.evicting) activity_[v].closed = false;
            }
            json doc = error_doc(base::kExitDoesNotFit, why);
            AdminReply reply = std::move(p.reply);
            pending_.pop_front();
            reply.send(doc.dump());
            continue;
        }
        if (!p.victims_stopped) {
            // A request that read the victim's view before it lost its upstream may have
            // started since: it drains too (close_if_idle refuses new ones once closed).
            for (const auto& victim : p.evicting) {
                if (running(victim) && !close_if_idle(victim)) p.draining.push_back(victim);
            }
            if (!p.draining.empty()) return;  // request_finished calls back
            p.victims_stopped = true;
            for (const auto& victim : p.evicting) {
                if (!running(victim)) continue;
                base::log_info("serve: evicting " + victim + " for " + p.id);
                ++deployments_.at(victim).evictions_total;
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
        // The live reading now that the evicted are gone: vLLM's fraction, the page cache.
        auto live = mem_available();
        auto ready = live ? prepare_launch(spec, *live, prelaunch_) : Result<void>(live.error());
        if (!ready) {
            reply.send(error_doc(base::exit_status_for(ready.error().code),
                                 id + ": " + ready.error().message)
                           .dump());
            continue;
        }
        if (auto r = launch(d, std::move(spec)); !r) {
            reply.send(error_doc(base::exit_status_for(r.error().code), r.error().message).dump());
            continue;
        }
        auto& dep = deployments_.at(id);
        dep.waiting_up.push_back(std::move(reply));
    }
}

int Daemon::unload_idle() {
    const auto now = now_ms();
    std::int64_t next = -1;
    for (auto& [id, d] : deployments_) {
        if (!d.config.ttl_s || d.config.pin || draining_.count(id) != 0) continue;
        auto s = supervisor_->status(id);
        if (!s || s->state != State::ready) continue;
        Activity a;
        {
            std::lock_guard lock(mu_);
            a = activity_[id];
        }
        if (a.in_flight > 0) continue;  // checked again when it finishes
        const auto due = a.last_used_ms + static_cast<std::int64_t>(*d.config.ttl_s * 1e3);
        if (now >= due && close_if_idle(id)) {
            base::log_info("serve: " + id + ": idle for its ttl_s; unloading");
            supervisor_->stop(id, false);
            continue;
        }
        if (next < 0 || due - now < next) next = due - now;
    }
    return static_cast<int>(next);
}

Result<void> Daemon::launch(Deployment& d, DeploymentSpec spec) {
    {
        std::lock_guard lock(mu_);
        activity_[d.config.id].closed = false;
    }
    d.planned_bytes = spec.planned_bytes;
    d.weights_bytes = spec.weights_bytes;
    d.measured_bytes.reset();
    d.engine = spec.engine;
    d.quant = spec.quant;
    d.simulated = spec.simulated;
    d.load_started_ms = now_ms();
    {
        std::lock_guard lock(mu_);
        if (spec.prefill_tokens_per_s && *spec.prefill_tokens_per_s > 0) {
            prefill_tokens_per_s_[d.config.id] = *spec.prefill_tokens_per_s;
        } else {
            prefill_tokens_per_s_.erase(d.config.id);
        }
    }
    touch(d.config.id);
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
    ls.docker = spec.docker;
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
        row.container_id = s->container_id;
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
    if (s.state == State::ready && d.load_started_ms != 0) {
        ++d.loads_total;
        d.ready_ms = now_ms();
        d.last_load_s = static_cast<double>(d.ready_ms - d.load_started_ms) / 1e3;
        d.load_seconds_total += d.last_load_s;
        d.load_started_ms = 0;
        touch(s.id);
    }
    // A load waiting for a protected resident looks again (one may be ready, or gone).
    if (!pending_.empty() && pending_.front().wait_until_ms) pending_.front().wait_until_ms = 0;
    if (s.state == State::unloaded || s.state == State::failed) draining_.erase(s.id);
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

// What each queued load waits for (`waiting` in `ps --json`): the load ahead of it ("queued"), a
// protected resident's quantum or load (swap_policy.h), a victim's drain (until its deadline) or
// stop. A load about to be looked at again (its resident no longer protected) has none.
std::map<std::string, json> Daemon::waiting_docs() {
    std::map<std::string, json> out;
    const std::int64_t now = now_ms();
    auto doc = [](const char* reason, const std::string& behind, std::optional<std::int64_t> ms) {
        return json{{"reason", reason},
                    {"behind", behind},
                    {"until_s", ms ? json(static_cast<double>(std::max<std::int64_t>(0, *ms)) / 1e3)
                                   : json(nullptr)}};
    };
    for (std::size_t i = 0; i < pending_.size(); ++i) {
        const Pending& p = pending_[i];
        if (out.count(p.id) != 0) continue;
        if (i > 0) {
            out[p.id] = doc("queued", pending_[i - 1].id, std::nullopt);
            continue;
        }
        if (!p.spec) {
            const auto prot = protections();
            std::optional<std::pair<std::string, std::int64_t>> first;  // frees first
            for (const auto& v : p.waiting_for) {
                auto it = prot.find(v);
                if (it == prot.end() || it->second <= now) continue;
                if (!first || it->second < first->second) first = {v, it->second};
            }
            if (!first) continue;
            out[p.id] = first->second == kWhileLoading
                            ? doc("loading", first->first, std::nullopt)
                            : doc("quantum", first->first, first->second - now);
        } else if (!p.draining.empty()) {
            out[p.id] = doc("draining", p.draining.front(), p.drain_deadline_ms - now);
        } else {
            for (const auto& v : p.evicting) {
                if (!running(v)) continue;
                out[p.id] = doc("stopping", v, std::nullopt);
                break;
            }
        }
    }
    return out;
}

// The `ps --json` and `/status` shape (issue 13), plus "simulated".
json Daemon::ps_doc() {
    auto waiting = waiting_docs();
    json deps = json::array();
    std::uint64_t reserved = 0;
    auto now = now_ms();
    for (const auto& [id, d] : deployments_) {
        auto s = supervisor_->status(id);
        State state = s ? s->state : State::unloaded;
        if (s && draining_.count(id) != 0) state = State::draining;
        Activity a;
        {
            std::lock_guard lock(mu_);
            if (auto f = activity_.find(id); f != activity_.end()) a = f->second;
        }
        const std::size_t queued = gateway_ ? gateway_->queued(id) : 0;
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
                  {"max_in_flight", d.config.max_in_flight},
                  {"in_flight", a.in_flight},
                  {"queued", queued},
                  {"planned_bytes", d.planned_bytes == 0 ? json(nullptr) : json(d.planned_bytes)},
                  {"measured_bytes", d.measured_bytes ? json(*d.measured_bytes) : json(nullptr)},
                  {"restarts", s ? s->restarts : 0},
                  {"idle_s", holds && a.in_flight == 0
                                 ? json(static_cast<double>(now - a.last_used_ms) / 1e3)
                                 : json(nullptr)},
                  {"last_exit", d.last_exit.empty() ? json(nullptr) : json(d.last_exit)}};
        auto w = waiting.find(id);
        e["waiting"] = w == waiting.end() ? json(nullptr) : std::move(w->second);
        if (s && s->state == State::failed) e["failure"] = s->failure;
        if (s && s->state == State::loading) {  // `up`'s progress line
            e["load_elapsed_s"] =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - s->load_started)
                    .count();
            e["load_deadline_s"] = s->load_deadline_s;
        }
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

// The loop's snapshot for the gateway's threads: the ps document, the deployment views (a ready
// one that is not draining has an upstream) and the memory reading.
void Daemon::refresh_snapshot() {
    json doc = ps_doc();
    std::vector<DeploymentView> views;
    for (const auto& e : doc["deployments"]) {
        const Deployment& d = deployments_.at(e["id"].get<std::string>());
        DeploymentView v;
        v.id = d.config.id;
        v.model = d.config.model;
        v.aliases = d.config.aliases;
        v.engine = d.engine.empty() ? d.config.engine.value_or("") : d.engine;
        v.max_in_flight = d.config.max_in_flight;
        v.state = e["state"].get<std::string>();
        if (v.state == "ready") {
            v.upstream = Upstream{v.id, d.engine, "127.0.0.1", d.port, d.api_key, v.id};
        }
        if (!e["port"].is_null()) {
            v.reserved_bytes = std::max(d.planned_bytes, d.measured_bytes.value_or(0));
        }
        v.measured_bytes = d.measured_bytes;
        v.loads_total = d.loads_total;
        v.load_seconds_total = d.load_seconds_total;
        v.evictions_total = d.evictions_total;
        v.restarts_total = e["restarts"].get<std::uint64_t>();
        views.push_back(std::move(v));
    }
    MemoryView mem;
    mem.budget_bytes = budget_bytes_;
    if (doc["mem_available_bytes"].is_number()) {
        mem.mem_available_bytes = doc["mem_available_bytes"].get<std::uint64_t>();
    }
    std::lock_guard lock(mu_);
    status_doc_ = std::move(doc);
    views_ = std::move(views);
    memory_view_ = mem;
}

std::vector<DeploymentView> Daemon::deployments() {
    std::lock_guard lock(mu_);
    return views_;
}

MemoryView Daemon::memory() {
    std::lock_guard lock(mu_);
    return memory_view_;
}

json Daemon::status() {
    std::lock_guard lock(mu_);
    return status_doc_;
}

std::vector<std::string> Daemon::log_tail(const std::string& id, std::size_t lines) {
    {
        std::lock_guard lock(mu_);
        if (std::none_of(views_.begin(), views_.end(),
                         [&](const DeploymentView& v) { return v.id == id; })) {
            return {};
        }
    }
    return tail_lines(options_.data_dir / "logs" / (id + ".log"), lines,
                      options_.supervisor.log.keep);
}

bool Daemon::request_started(const std::string& id) {
    std::lock_guard lock(mu_);
    Activity& a = activity_[id];
    if (a.closed) return false;
    ++a.in_flight;
    a.last_used_ms = now_ms();
    return true;
}

void Daemon::request_finished(const std::string& id) {
    {
        std::lock_guard lock(mu_);
        Activity& a = activity_[id];
        if (a.in_flight > 0) --a.in_flight;
        a.last_used_ms = now_ms();
    }
    // A drain may be over; the ttl restarts from now.
    loop_->post([this] { try_pending(); });
}

// The answer of the load path (the same one `up` takes) as the gateway wants it.
Result<Upstream> Daemon::upstream_from(const std::string& id, const std::string& body) {
    json doc = json::parse(body, nullptr, false);
    auto it = deployments_.find(id);
    if (!doc.is_discarded() && doc.contains("deployment") && it != deployments_.end()) {
        const Deployment& d = it->second;
        return Upstream{id, d.engine, "127.0.0.1", d.port, d.api_key, id};
    }
    std::string message = id + ": the load failed";
    int code = base::kExitFailure;
    if (!doc.is_discarded() && doc.contains("error")) {
        message = doc["error"].value("message", message);
        code = doc["error"].value("code", code);
    }
    return make_error(code == base::kExitDoesNotFit ? Errc::does_not_fit : Errc::io, message);
}

void Daemon::ensure_ready(const std::string& id, std::function<void(base::Result<Upstream>)> done) {
    loop_->post([this, id, done = std::move(done)] {
        AdminReply reply(AdminReply::Sink(
            [this, id, done](const std::string& body) { done(upstream_from(id, body)); }));
        if (stopping_) {
            reply.send(error_doc(base::kExitFailure, "sparkctl serve is stopping").dump());
            return;
        }
        request_load(id, std::move(reply), true);
        refresh_snapshot();
    });
}

}  // namespace sparkctl::serve::detail
