// interleaved_latency: TTFT and chunk gaps of several paths to the same engine measured under
// the same conditions, for bench/gateway_bench.sh (issue 14, "Tests and numbers";
// docs/dev/gateway.md "Numbers"). The paths take turns, so noise on the shared machine falls on
// all of them alike: at one stream request by request (path order rotated each turn), at more
// streams in rounds (each path in turn runs --requests / --rounds requests with --concurrency
// users, order rotated each round). Before that each path is warmed with --warmup waves of
// --concurrency requests (its proxy's keep-alive pools filled: a steady state, not a cold
// start). Each path's samples are pooled; what each path adds to the first one (the base) comes
// with a 95% interval from a paired bootstrap over the turns: a draw picks turns with
// replacement and takes every path's samples of those turns (a request's chunk gaps stay
// together, and so do the requests of a round, which are not independent of each other).
// Naming the base's URL twice gives an A/A comparison: the resolution of the measurement.
// Usage: interleaved_latency --model M --concurrency C --requests N [--rounds R]
//        [--prompt-tokens P] [--output-tokens T] [--warmup W] [--resamples B] [--samples FILE]
//        NAME=URL[@PID]...
// @PID: the proxy's process; its on-CPU time and its time runnable but waiting for a core
// (/proc/PID/task/*/schedstat, its child processes' too: nginx's worker) during that path's
// turns are reported per request (the wait shows how much the proxy's core was taken by
// others). Prints one JSON object on stdout; --samples writes every request's TTFT and largest
// chunk gap (TSV).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/loadgen.h"
#include "bench/probe.h"
#include "net/stats.h"

namespace {

using namespace sparkctl;

// A process's scheduler times (sched_ns_of below), in ns.
struct SchedNs {
    std::uint64_t on_cpu = 0;
    std::uint64_t waiting = 0;  // runnable, but another task had the core
};

struct Path {
    std::string name;
    bench::RunOptions run;
    int pid = 0;  // 0: no process to account
    std::uint64_t sent = 0;
    std::vector<std::string> error_samples;
    // By turn (a request at one stream, a round at more): the TTFT and the chunk gaps of the
    // requests that succeeded.
    std::vector<std::vector<double>> ttft, gaps;
    std::vector<double> turn_start_s;  // when each turn began, from the first turn's start
    std::vector<double> max_gap;       // of each successful request, in the order of `ttft`
    SchedNs sched;                     // the proxy's, summed over this path's turns
    bool sched_ok = true;
};

// The scheduler's times of every thread of `pid` and of its child processes' threads, from the
// first two fields of /proc/PID/task/TID/schedstat (Documentation/scheduler/sched-stats.rst:
// "time spent on the cpu", "time spent waiting on a runqueue"). nullopt when the process is
// gone.
std::optional<SchedNs> sched_ns_of(int pid, bool with_children = true) {
    namespace fs = std::filesystem;
    const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
    std::error_code ec;
    SchedNs total;
    std::vector<int> children;
    for (fs::directory_iterator it(tasks, ec), end; !ec && it != end; it.increment(ec)) {
        std::ifstream stat(it->path() / "schedstat");
        std::uint64_t on_cpu = 0, waiting = 0;
        if (!(stat >> on_cpu >> waiting)) continue;
        total.on_cpu += on_cpu;
        total.waiting += waiting;
        if (!with_children) continue;
        std::ifstream kids(it->path() / "children");
        for (int child = 0; kids >> child;) children.push_back(child);
    }
    if (ec) return std::nullopt;
    for (int child : children) {
        const SchedNs c = sched_ns_of(child, false).value_or(SchedNs{});
        total.on_cpu += c.on_cpu;
        total.waiting += c.waiting;
    }
    return total;
}

// net::percentile_sorted's definition (linear between closest ranks) without a full sort.
double percentile(std::vector<double>& v, double q) {
    const double h = q * double(v.size() - 1);
    const auto k = static_cast<std::size_t>(std::floor(h));
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
    const double lo = v[k];
    if (k + 1 >= v.size()) return lo;
    const double hi = *std::min_element(v.begin() + std::ptrdiff_t(k) + 1, v.end());
    return lo + (h - double(k)) * (hi - lo);
}

std::vector<double> pooled(const std::vector<std::vector<double>>& turns) {
    std::vector<double> out;
    for (const auto& t : turns) out.insert(out.end(), t.begin(), t.end());
    return out;
}

nlohmann::json stats_json(std::vector<double> v) {
    auto s = net::summarize(std::move(v));
    if (!s) return nullptr;
    return {{"count", s->count}, {"mean", s->mean}, {"p50", s->p50},    {"p90", s->p90},
            {"p95", s->p95},     {"p99", s->p99},   {"p99_9", s->p99_9}};
}

constexpr double kQuantiles[] = {0.5, 0.99};

// What `x` adds to `base` at p50 and p99 of TTFT and of the chunk gaps: the difference of the
// pooled percentiles and its 95% percentile-bootstrap interval (`resamples` draws of the turns,
// with replacement, the same turns for both paths).
nlohmann::json added_json(const Path& base, const Path& x, int resamples, std::mt19937_64& rng) {
    const Path* both[2] = {&base, &x};
    const std::vector<std::vector<double>> Path::*metric[2] = {&Path::ttft, &Path::gaps};
    const char* metric_name[2] = {"ttft_ms", "chunk_gap_ms"};
    const std::size_t turns = base.ttft.size();
    nlohmann::json out = nlohmann::json::object();
    std::uniform_int_distribution<std::size_t> pick(0, turns - 1);
    std::vector<std::size_t> drawn(turns);
    std::vector<double> buf[2];
    for (int m = 0; m < 2; ++m) {
        std::vector<double> whole[2] = {pooled(base.*metric[m]), pooled(x.*metric[m])};
        if (turns == 0 || whole[0].empty() || whole[1].empty()) {
            out[metric_name[m]] = nullptr;
            continue;
        }
        std::vector<double> diffs[2];  // p50, p99
        for (int b = 0; b < resamples; ++b) {
            for (auto& t : drawn) t = pick(rng);
            for (int side = 0; side < 2; ++side) {
                buf[side].clear();
                for (std::size_t t : drawn) {
                    const auto& v = (both[side]->*metric[m])[t];
                    buf[side].insert(buf[side].end(), v.begin(), v.end());
                }
            }
            if (buf[0].empty() || buf[1].empty()) continue;
            for (int q = 0; q < 2; ++q) {
                diffs[q].push_back(percentile(buf[1], kQuantiles[q]) -
                                   percentile(buf[0], kQuantiles[q]));
            }
        }
        if (diffs[0].empty()) {
            out[metric_name[m]] = nullptr;
            continue;
        }
        const char* quant[2] = {"p50", "p99"};
        for (int q = 0; q < 2; ++q) {
            out[metric_name[m]][quant[q]] = {{"value", percentile(whole[1], kQuantiles[q]) -
                                                           percentile(whole[0], kQuantiles[q])},
                                             {"low", percentile(diffs[q], 0.025)},
                                             {"high", percentile(diffs[q], 0.975)}};
        }
    }
    return out;
}

int usage(const std::string& why) {
    std::fprintf(stderr,
                 "interleaved_latency: %s\nusage: interleaved_latency --model M --concurrency C "
                 "--requests N [--rounds R] [--prompt-tokens P] [--output-tokens T] [--warmup W] "
                 "[--resamples B] [--samples FILE] NAME=URL[@PID]...\n",
                 why.c_str());
    return 2;
}

int fail(const std::string& why) {
    std::fprintf(stderr, "interleaved_latency: %s\n", why.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::string model;
    long concurrency = 1, requests = 0, rounds = 1, prompt_tokens = 4, output_tokens = 16;
    long warmup = 1, resamples = 1000;
    std::string samples_file;
    std::vector<Path> paths;
    struct Flag {
        const char* name;
        long* value;
        long min;
    };
    const Flag flags[] = {{"--concurrency", &concurrency, 1},
                          {"--requests", &requests, 1},
                          {"--rounds", &rounds, 1},
                          {"--prompt-tokens", &prompt_tokens, 1},
                          {"--output-tokens", &output_tokens, 2},
                          {"--warmup", &warmup, 0},
                          {"--resamples", &resamples, 10}};
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--model" || arg == "--samples") {
            if (i + 1 >= argc) return usage(arg + ": no value");
            (arg == "--model" ? model : samples_file) = argv[++i];
            continue;
        }
        const Flag* flag = nullptr;
        for (const auto& f : flags) {
            if (arg == f.name) flag = &f;
        }
        if (flag) {
            if (i + 1 >= argc) return usage(arg + ": no value");
            char* end = nullptr;
            const long v = std::strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < flag->min || v > 1'000'000) {
                return usage(arg + ": '" + argv[i] + "' is not a whole number from " +
                             std::to_string(flag->min));
            }
            *flag->value = v;
            continue;
        }
        const auto eq = arg.find('=');
        if (eq == std::string::npos || eq == 0) return usage("'" + arg + "': not NAME=URL[@PID]");
        Path p;
        p.name = arg.substr(0, eq);
        std::string url = arg.substr(eq + 1);
        if (const auto at = url.rfind('@'); at != std::string::npos) {
            p.pid = std::atoi(url.c_str() + at + 1);
            if (p.pid <= 0) return usage("'" + arg + "': @PID is not a process id");
            url.resize(at);
        }
        auto ep = bench::parse_url(url);
        if (!ep) return usage(ep.error().message);
        p.run.endpoint = *ep;
        paths.push_back(std::move(p));
    }
    if (paths.empty()) return usage("no path given");
    if (model.empty()) return usage("no --model");
    if (requests < rounds) return usage("--requests is less than --rounds");

    net::Client client;
    sim::Load load;
    load.kind = sim::Load::Kind::closed;
    load.concurrency = static_cast<std::uint32_t>(concurrency);
    load.prompt_tokens.a = double(prompt_tokens);
    load.output_tokens.a = double(output_tokens);
    const std::size_t k = paths.size();
    const auto per_path = static_cast<std::size_t>(requests + warmup * concurrency);
    const auto nonce = std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    auto specs = bench::build_specs(client, paths[0].run.endpoint, "", engines::Engine::vllm, model,
                                    load, per_path * k, 1, nonce);
    if (!specs) return fail(paths[0].name + ": " + specs.error().message);
    if (specs->specs.size() < per_path * k) return fail("fewer requests built than asked for");
    for (auto& p : paths) {
        p.run.model = model;
        p.run.engine = engines::Engine::vllm;
        p.run.request_timeout_ms = 60'000;
    }

    // Runs the next n specs on path p; keep: as one turn, its proxy's CPU time counted.
    std::size_t next = 0;
    std::optional<std::chrono::steady_clock::time_point> started;  // set after the warm-up
    auto run_on = [&](Path& p, std::size_t n, const sim::Load& l, bool keep) {
        const std::vector<bench::RequestSpec> batch(
            specs->specs.begin() + std::ptrdiff_t(next),
            specs->specs.begin() + std::ptrdiff_t(next + n));
        next += n;
        const auto before = p.pid ? sched_ns_of(p.pid) : std::nullopt;
        const auto turn_start = std::chrono::steady_clock::now();
        auto res = bench::run_point(client, p.run, l, batch, 0);
        if (!keep) return;
        if (p.pid) {
            const auto after = sched_ns_of(p.pid);
            if (before && after) {
                p.sched.on_cpu += after->on_cpu - before->on_cpu;
                p.sched.waiting += after->waiting - before->waiting;
            } else {
                p.sched_ok = false;
            }
        }
        p.sent += res.records.size();
        p.turn_start_s.push_back(std::chrono::duration<double>(turn_start - *started).count());
        auto& ttft = p.ttft.emplace_back();
        auto& gaps = p.gaps.emplace_back();
        for (const auto& r : res.records) {
            if (!r.ok) {
                if (p.error_samples.size() < 3) p.error_samples.push_back(r.error);
                continue;
            }
            ttft.push_back(r.ttft_ms);
            p.max_gap.push_back(r.chunk_gap_ms.empty() ? 0.0
                                                       : *std::max_element(r.chunk_gap_ms.begin(),
                                                                           r.chunk_gap_ms.end()));
            gaps.insert(gaps.end(), r.chunk_gap_ms.begin(), r.chunk_gap_ms.end());
        }
    };
    const auto wave = static_cast<std::size_t>(concurrency);
    for (auto& p : paths) {
        for (long w = 0; w < warmup; ++w) run_on(p, wave, load, false);
    }
    started = std::chrono::steady_clock::now();
    if (concurrency == 1) {
        // Request by request; turn i starts at path i mod k.
        for (long i = 0; i < requests; ++i) {
            for (std::size_t j = 0; j < k; ++j) run_on(paths[(i + j) % k], 1, load, true);
        }
    } else {
        for (long r = 0; r < rounds; ++r) {
            const auto n = static_cast<std::size_t>(requests / rounds + (r < requests % rounds));
            for (std::size_t j = 0; j < k; ++j) run_on(paths[(r + j) % k], n, load, true);
            std::fprintf(stderr, "    round %ld/%ld done\n", r + 1, rounds);
        }
    }
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - *started).count();

    nlohmann::json out = {{"concurrency", concurrency},
                          {"requests_per_path", requests},
                          {"turns", paths[0].ttft.size()},
                          {"order", concurrency == 1 ? "request by request" : "rounds"},
                          {"resamples", resamples},
                          {"wall_s", wall_s},
                          {"paths", nlohmann::json::array()},
                          {"added", nlohmann::json::object()}};
    for (const auto& p : paths) {
        const std::vector<double> ttft = pooled(p.ttft);
        nlohmann::json cpu = nullptr, wait = nullptr;
        if (p.pid && p.sched_ok && !ttft.empty()) {
            cpu = double(p.sched.on_cpu) / 1e3 / double(ttft.size());
            wait = double(p.sched.waiting) / 1e3 / double(ttft.size());
        }
        nlohmann::json by_round = nlohmann::json::array();
        for (auto t : p.ttft) {
            if (concurrency > 1 && !t.empty()) by_round.push_back(percentile(t, 0.99));
        }
        out["paths"].push_back({{"name", p.name},
                                {"url", p.run.endpoint.url},
                                {"completed", ttft.size()},
                                {"errors", p.sent - ttft.size()},
                                {"error_samples", p.error_samples},
                                {"ttft_ms", stats_json(ttft)},
                                {"chunk_gap_ms", stats_json(pooled(p.gaps))},
                                {"proxy_cpu_us_per_request", cpu},
                                {"proxy_runqueue_wait_us_per_request", wait},
                                {"round_ttft_p99_ms", by_round}});
    }
    std::mt19937_64 rng(20261207);
    for (std::size_t i = 1; i < k; ++i) {
        out["added"][paths[i].name] =
            added_json(paths[0], paths[i], static_cast<int>(resamples), rng);
    }
    std::printf("%s\n", out.dump(1).c_str());
    if (!samples_file.empty()) {
        // One line per request: path, turn, the turn's start (s), TTFT (ms), its largest gap.
        std::ofstream f(samples_file);
        f << "path\tturn\tturn_start_s\tttft_ms\tmax_gap_ms\n";
        for (const auto& p : paths) {
            std::size_t g = 0;
            for (std::size_t t = 0; t < p.ttft.size(); ++t) {
                for (double v : p.ttft[t]) {
                    f << p.name << '\t' << t << '\t' << p.turn_start_s[t] << '\t' << v << '\t'
                      << p.max_gap[g++] << '\n';
                }
            }
        }
        if (!f) {
            return fail(samples_file + ": cannot write");
        }
    }
    return 0;
}
