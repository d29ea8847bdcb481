// What a simulation reports: the statistics shape of each latency (net::Stats, via
// net::summarize), throughput as `vllm bench serve` defines it, SLO checks, and the sweep plot.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "net/stats.h"
#include "sim/simulator.h"
#include "sim/workload.h"

namespace sparkctl::sim {

struct Summary {
    std::uint64_t requests_completed = 0;
    std::uint64_t requests_clamped = 0;
    // nullopt when there are no samples (no request finished, or all had one output token).
    std::optional<net::Stats> ttft_ms, tpot_ms, itl_ms, e2e_ms, queue_ms;
    // Tokens over the benchmark's duration, from the first arrival to the last completion
    // (V:vllm/benchmarks/serve.py calculate_metrics: output_throughput = total_output / dur_s).
    double output_tokens_per_s = 0;
    double total_tokens_per_s = 0;
    double requests_per_s = 0;
    // Per user: 1000 / mean TPOT (a user's decode speed once its first token is out).
    double output_tokens_per_s_per_user = 0;
    double kv_pool_peak_fraction = 0;
    std::uint64_t preemptions = 0;
    std::optional<double> prefix_cache_hit_rate;  // hit tokens / looked-up prompt tokens
    std::uint64_t steps = 0;
    double simulated_s = 0;
};

Summary summarize(const Result& r);

// The value an SLO term names (nullopt when that metric has no samples).
std::optional<double> slo_value(const Summary& s, const SloTerm& term);
// True when every term holds; `failed` receives the first term that does not ("ttft_p95<=2s:
// 2450.1 ms").
bool slo_met(const Summary& s, const std::vector<SloTerm>& terms, std::string* failed);

// An SVG of a sweep: aggregate output tokens/s and per-user tokens/s against the load, each on
// its own axis. `x_label` names the load ("concurrency", "requests/s").
struct SweepPoint {
    double load = 0;
    double output_tokens_per_s = 0;
    double output_tokens_per_s_per_user = 0;
};
std::string sweep_svg(const std::string& title, const std::string& x_label,
                      const std::vector<SweepPoint>& points);

}  // namespace sparkctl::sim
