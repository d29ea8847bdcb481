// sparkctl serve (the daemon) and its clients up, down, ps, logs, status: thin callers of the
// admin API on the Unix socket (src/serve/, docs/dev/serve.md). Clients exit 1 when no daemon
// answers; `up` exits 3 with the numbers when the load cannot be admitted.
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/exit_status.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/plan_flags.h"
#include "serve/admin_socket.h"
#include "serve/daemon.h"
#include "serve/deployment.h"
#include "workspace/roots.h"

namespace sparkctl::cli {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::filesystem::path socket_of(const std::string& flag) {
    return flag.empty() ? serve::default_socket_path() : std::filesystem::path(flag);
}

// Sends one request; on an error document returns its exit status after reporting it.
std::optional<json> call(Context& ctx, const std::string& socket, const json& request,
                         std::chrono::milliseconds timeout, int& status) {
    auto text = serve::admin_call(socket_of(socket), request.dump(), timeout);
    if (!text) {
        status = ctx.out.fail(base::kExitFailure, text.error().message);
        return std::nullopt;
    }
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded()) {
        status = ctx.out.fail(base::kExitFailure, "sparkctl serve sent a malformed answer");
        return std::nullopt;
    }
    if (doc.contains("error")) {
        int code = doc["error"].value("code", 1);
        std::string message = doc["error"].value("message", "error");
        if (ctx.out.json) {
            std::printf("%s\n", doc.dump(2).c_str());
            std::fprintf(stderr, "sparkctl: %s\n", message.c_str());
        } else {
            std::fprintf(stderr, "sparkctl: %s\n", message.c_str());
        }
        status = code;
        return std::nullopt;
    }
    status = base::kExitOk;
    return doc;
}

std::string bytes_or_dash(const json& v) {
    return v.is_number_unsigned() ? base::format_bytes(v.get<std::uint64_t>()) : "-";
}

std::string text_or_dash(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number()) return v.dump();
    return "-";
}

// The STATE cell: the state and, for a load that waits (`waiting` in ps --json), what it waits
// for: "waiting (big-a: 12 s)" (its quantum), "waiting (big-a loading)", "waiting (big-a drains:
// 50 s)", "waiting (big-a stops)", "waiting (after big-a)" (queued behind its load); a state other
// than unloaded comes first ("draining; waiting (after big-b)").
std::string waiting_text(const json& w) {
    const std::string reason = text_or_dash(w["reason"]);
    const std::string behind = text_or_dash(w["behind"]);
    const std::string left =
        w["until_s"].is_number()
            ? ": " + std::to_string(static_cast<long long>(std::ceil(w["until_s"].get<double>()))) +
                  " s"
            : "";
    if (reason == "quantum") return "waiting (" + behind + left + ")";
    if (reason == "loading") return "waiting (" + behind + " loading)";
    if (reason == "draining") return "waiting (" + behind + " drains" + left + ")";
    if (reason == "stopping") return "waiting (" + behind + " stops)";
    if (reason == "queued") return "waiting (after " + behind + ")";
    return "waiting (" + reason + ": " + behind + ")";
}

std::string state_cell(const json& d) {
    const std::string state = text_or_dash(d["state"]);
    const json& w = d.contains("waiting") ? d["waiting"] : json();
    if (!w.is_object()) return state;
    return (state == "unloaded" ? "" : state + "; ") + waiting_text(w);
}

std::string ps_table(const json& doc) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "budget %s  reserved %s  MemAvailable %s%s\n",
                  bytes_or_dash(doc["budget_bytes"]).c_str(),
                  bytes_or_dash(doc["reserved_bytes"]).c_str(),
                  bytes_or_dash(doc["mem_available_bytes"]).c_str(),
                  doc.value("simulated", false) ? "  (simulated)" : "");
    out += line;
    std::snprintf(line, sizeof line, "%-20s %-10s %-10s %-10s %-6s %-8s %-12s %-12s %-4s %s\n",
                  "ID", "STATE", "ENGINE", "QUANT", "PORT", "PID", "PLANNED", "MEASURED", "RST",
                  "LAST EXIT");
    out += line;
    for (const auto& d : doc["deployments"]) {
        std::string measured = bytes_or_dash(d["measured_bytes"]);
        if (d["measured_bytes"].is_number_unsigned() && d["planned_bytes"].is_number_unsigned() &&
            d["measured_bytes"].get<std::uint64_t>() > d["planned_bytes"].get<std::uint64_t>()) {
            measured += "!";  // measured above planned
        }
        std::snprintf(
            line, sizeof line, "%-20s %-10s %-10s %-10s %-6s %-8s %-12s %-12s %-4s %s%s\n",
            text_or_dash(d["id"]).c_str(), state_cell(d).c_str(), text_or_dash(d["engine"]).c_str(),
            text_or_dash(d["quant"]).c_str(), text_or_dash(d["port"]).c_str(),
            text_or_dash(d["pid"]).c_str(), bytes_or_dash(d["planned_bytes"]).c_str(),
            measured.c_str(), text_or_dash(d["restarts"]).c_str(),
            text_or_dash(d["last_exit"]).c_str(), d["pinned"].get<bool>() ? "  (pinned)" : "");
        out += line;
    }
    return out;
}

// `up`'s load progress on stderr while it waits for the answer: on a terminal one line rewritten
// in place (state, seconds elapsed, the load deadline), else a plain line per state change. A
// thread asks the daemon for `ps` every half second (a poll interval, not a wait for state).
class LoadProgress {
  public:
    LoadProgress(std::string socket, std::string id, bool tty)
        : socket_(std::move(socket)), id_(std::move(id)), tty_(tty), thread_([this] { run(); }) {}
    ~LoadProgress() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        wake_.notify_all();
        thread_.join();
        if (tty_ && drawn_) std::fputs("\r\033[K", stderr);  // the answer replaces the line
    }
    LoadProgress(const LoadProgress&) = delete;
    LoadProgress& operator=(const LoadProgress&) = delete;

  private:
    void run() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!wake_.wait_for(lock, 500ms, [this] { return done_; })) {
            lock.unlock();
            show(poll());
            lock.lock();
        }
    }
    json poll() const {
        auto text = serve::admin_call(socket_of(socket_), json{{"op", "ps"}}.dump(), 2s);
        if (!text) return json::object();
        json doc = json::parse(*text, nullptr, false);
        if (doc.is_discarded() || !doc.contains("deployments")) return json::object();
        for (const auto& d : doc["deployments"]) {
            if (d.value("id", "") == id_) return d;
        }
        return json::object();
    }
    void show(const json& d) {
        const std::string state = d.value("state", "");
        if (state.empty()) return;
        if (!tty_) {
            if (state != last_state_) std::fprintf(stderr, "%s: %s\n", id_.c_str(), state.c_str());
            last_state_ = state;
            return;
        }
        std::string line = id_ + ": " + state;
        if (d.contains("load_elapsed_s") && d.contains("load_deadline_s")) {
            char times[64];
            std::snprintf(times, sizeof times, " %.0f s (load deadline %.0f s)",
                          d["load_elapsed_s"].get<double>(), d["load_deadline_s"].get<double>());
            line += times;
        }
        std::fprintf(stderr, "\r\033[K%s", line.c_str());
        std::fflush(stderr);
        drawn_ = true;
    }

    std::string socket_, id_;
    bool tty_;
    std::string last_state_;
    bool drawn_ = false;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool done_ = false;
    std::thread thread_;  // last: started once the rest is set up
};

struct ServeArgs {
    std::string listen;
    std::string socket;
    bool simulate = false;
};

}  // namespace

Action setup_daemon(CLI::App& app, Context& ctx) {
    auto a = std::make_shared<ServeArgs>();
    for (const char* key : {"hardware", "data_dir", "load_gbps", "mem_headroom", "api_keys_file"})
        ctx.add_config_flag(app, key);
    app.add_option("--listen", a->listen,
                   "The OpenAI-compatible gateway on HOST:PORT (port 0: a free one; off "
                   "loopback it needs api_keys_file)");
    app.add_option("--socket", a->socket,
                   "Admin socket (default $XDG_RUNTIME_DIR/sparkctl/admin.sock)");
    app.add_flag("--simulate", a->simulate,
                 "Run every deployment's planned command on the stand-in engine (no GPU needed)");
    return [a](Context& c) -> int {
        auto cfg = c.config();
        if (!cfg) return c.out.fail(cfg.error());
        auto roots = workspace::roots_from_config(**cfg);
        if (!roots) return c.out.fail(roots.error());
        serve::DaemonOptions o;
        o.socket_path = socket_of(a->socket);
        if (!a->listen.empty()) o.listen = a->listen;
        o.simulate = a->simulate;
        std::error_code ec;
        o.sparkctl_exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
        o.data_dir = roots->data_dir / "serve";
        const std::string& gbps = (*cfg)->value("load_gbps");
        char* end = nullptr;
        double load_gbps = std::strtod(gbps.c_str(), &end);
        if (gbps.empty() || *end != '\0' || !(load_gbps > 0)) {
            return c.out.fail(base::kExitBadInput,
                              "load_gbps: not a positive number: '" + gbps + "'");
        }
        o.supervisor.load_gbps = load_gbps;
        std::string file = c.config_file;
        auto flags = c.flags;
        o.load_config = [file, flags]() -> base::Result<config::Config> {
            config::Sources sources;
            if (!file.empty()) sources.file = file;
            sources.getenv = [](const char* name) { return std::getenv(name); };
            sources.flags = flags;
            return config::Config::load(sources);
        };
        auto r = serve::run_daemon(o);
        if (!r) return c.out.fail(r.error());
        return *r;
    };
}

Action setup_up(CLI::App& app, Context&) {
    struct Args {
        std::string target, socket, id, use;
        std::optional<int> users;
        std::optional<std::int64_t> context;
        std::optional<int> max_in_flight;
        PlanFlags plan;  // the plan's choices (add_plan_choice_flags); "" = not given
        bool pin = false, bench = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("MODEL", a->target,
                   "A deployment id, or a model to deploy (catalog id, file, "
                   "directory, HF repo)")
        ->required();
    app.add_option("--id", a->id, "The new deployment's id (default: MODEL)");
    app.add_option("--for", a->use, "What it is for (chat, agents, ...; see `sparkctl plan`)");
    app.add_option("--users", a->users, "Concurrent users");
    app.add_option("--context", a->context, "Context per sequence, tokens");
    add_plan_choice_flags(app, a->plan);
    app.add_option("--max-in-flight", a->max_in_flight,
                   "Requests the gateway relays to it at once; one more is answered 429 "
                   "(default 0: no limit)")
        ->check(CLI::Validator(
            [](std::string& v) -> std::string {
                int n = -1;
                auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
                if (ec == std::errc() && end == v.data() + v.size() && n >= 0 &&
                    n <= serve::kMaxInFlight)
                    return "";
                return "'" + v + "' is not a whole number from 0 to " +
                       std::to_string(serve::kMaxInFlight) + " (0: no limit)";
            },
            "0.." + std::to_string(serve::kMaxInFlight)));
    app.add_flag("--pin", a->pin, "Never evict it; loaded whenever the daemon starts");
    app.add_flag("--bench", a->bench, "Launch with plan's --bench flags");
    app.add_option("--socket", a->socket, "Admin socket");
    return [a](Context& c) -> int {
        json req = {{"op", "up"}, {"target", a->target}, {"pin", a->pin}, {"bench", a->bench}};
        json cfg = json::object();
        if (!a->id.empty()) cfg["id"] = a->id;
        if (!a->use.empty()) cfg["use"] = a->use;
        if (a->users) cfg["users"] = *a->users;
        if (a->context) cfg["context"] = *a->context;
        if (a->max_in_flight) cfg["max_in_flight"] = *a->max_in_flight;
        const PlanFlags& p = a->plan;
        for (const auto& [key, value] :
             {std::pair<const char*, const std::string*>{"engine", &p.engine},
              {"quant", &p.quant},
              {"engine_version", &p.engine_version},
              {"prefer", &p.prefer},
              {"kv_cache_dtype", &p.kv_cache_dtype},
              {"budget", &p.budget}}) {
            if (!value->empty()) cfg[key] = *value;
        }
        if (!p.overrides.empty()) cfg["overrides"] = p.overrides;
        if (!cfg.empty()) {
            cfg["model"] = a->target;
            if (a->pin) cfg["pin"] = true;
            if (a->bench) cfg["bench"] = true;
            req["config"] = cfg;
        }
        int status = 0;
        std::optional<json> doc;
        {
            LoadProgress progress(a->socket, a->id.empty() ? a->target : a->id,
                                  ::isatty(STDERR_FILENO) == 1);
            doc = call(c, a->socket, req, std::chrono::hours(2), status);
        }
        if (!doc) return status;
        const json& d = (*doc)["deployment"];
        if (c.out.json) {
            c.out.emit_json(*doc);
        } else {
            c.out.emit_text(text_or_dash(d["id"]) +
                            " ready on 127.0.0.1:" + text_or_dash(d["port"]) + " (" +
                            text_or_dash(d["engine"]) + ", " + text_or_dash(d["quant"]) +
                            ", planned " + bytes_or_dash(d["planned_bytes"]) + ")\n");
        }
        return base::kExitOk;
    };
}

Action setup_down(CLI::App& app, Context&) {
    struct Args {
        std::string id, socket;
        bool all = false, now = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("ID", a->id, "The deployment to unload");
    app.add_flag("--all", a->all, "Unload every deployment");
    app.add_flag("--now", a->now, "SIGKILL at once instead of SIGTERM and a grace period");
    app.add_option("--socket", a->socket, "Admin socket");
    return [a](Context& c) -> int {
        if (a->id.empty() == !a->all) {
            return c.out.fail(base::kExitBadInput, "down: give one ID or --all");
        }
        json req = {{"op", "down"}, {"id", a->id}, {"all", a->all}, {"now", a->now}};
        int status = 0;
        auto doc = call(c, a->socket, req, 10min, status);
        if (!doc) return status;
        if (c.out.json) c.out.emit_json(*doc);
        return base::kExitOk;
    };
}

Action setup_ps(CLI::App& app, Context&) {
    auto socket = std::make_shared<std::string>();
    app.add_option("--socket", *socket, "Admin socket");
    return [socket](Context& c) -> int {
        int status = 0;
        auto doc = call(c, *socket, json{{"op", "ps"}}, 30s, status);
        if (!doc) return status;
        if (c.out.json) {
            c.out.emit_json(*doc);
        } else {
            c.out.emit_text(ps_table(*doc));
        }
        return base::kExitOk;
    };
}

Action setup_status(CLI::App& app, Context&) {
    auto socket = std::make_shared<std::string>();
    app.add_option("--socket", *socket, "Admin socket");
    return [socket](Context& c) -> int {
        int status = 0;
        auto doc = call(c, *socket, json{{"op", "status"}}, 30s, status);
        if (!doc) return status;
        if (c.out.json) {
            c.out.emit_json(*doc);
        } else {
            const json& d = (*doc)["daemon"];
            c.out.emit_text("sparkctl serve pid " + text_or_dash(d["pid"]) + " on " +
                            text_or_dash(d["socket"]) +
                            (d["listen"].is_string()
                                 ? ", listening on " + d["listen"].get<std::string>()
                                 : std::string()) +
                            "\n" + ps_table(*doc));
        }
        return base::kExitOk;
    };
}

Action setup_logs(CLI::App& app, Context&) {
    struct Args {
        std::string id, socket;
        bool follow = false;
        std::size_t lines = 50;
    };
    auto a = std::make_shared<Args>();
    app.add_option("ID", a->id, "The deployment")->required();
    app.add_flag("-f,--follow", a->follow, "Keep printing new lines (across rotation)");
    app.add_option("--lines", a->lines, "How many lines to print first (default 50)");
    app.add_option("--socket", a->socket, "Admin socket");
    return [a](Context& c) -> int {
        int status = 0;
        json req = {{"op", "logs"}, {"id", a->id}, {"lines", a->lines}};
        auto doc = call(c, a->socket, req, 30s, status);
        if (!doc) return status;
        for (const auto& line : (*doc)["lines"])
            std::printf("%s\n", line.get<std::string>().c_str());
        std::fflush(stdout);
        if (!a->follow) return base::kExitOk;
        // Follows the file: the daemon rotates by copy and truncate, so a file shorter than what
        // was read means it was rotated, and reading starts over at its beginning.
        std::filesystem::path path = (*doc)["log_path"].get<std::string>();
        std::error_code ec;
        std::uintmax_t offset = std::filesystem::file_size(path, ec);
        if (ec) offset = 0;
        for (;;) {
            auto size = std::filesystem::file_size(path, ec);
            if (!ec && size < offset) offset = 0;
            if (!ec && size > offset) {
                std::ifstream in(path, std::ios::binary);
                in.seekg(static_cast<std::streamoff>(offset));
                std::string chunk(size - offset, '\0');
                in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
                chunk.resize(static_cast<std::size_t>(in.gcount()));
                offset += chunk.size();
                std::fwrite(chunk.data(), 1, chunk.size(), stdout);
                std::fflush(stdout);
            }
            std::this_thread::sleep_for(200ms);  // a poll interval, not a wait for state
        }
    };
}

}  // namespace sparkctl::cli
