// A point's measurements summarized: the statistics shape of each latency (net::Stats), the
// throughputs as `vllm bench serve` defines them, SLO checks and goodput. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "bench/loadgen.h"
#include "net/stats.h"
#include "sim/report.h"
#include "sim/workload.h"

namespace sparkctl::bench {

struct Summary {
    // ttft/tpot/itl/e2e/queue, throughputs and requests_completed, in simulate's shape so the
    // SLO checks and the predictions compare field by field (sim::slo_met).
    sim::Summary s;
    std::optional<net::Stats> chunk_gap_ms;  // between SSE content chunks
    std::uint64_t errors = 0;
    std::vector<std::string> error_samples;  // the first few distinct messages
    std::uint64_t output_tokens = 0;
    std::uint64_t prompt_tokens = 0;  // as the engine counted them (usage), else as built
    double duration_s = 0;
    // usage.prompt_tokens against the length built: mean and largest |relative deviation|.
    std::optional<double> prompt_tokens_deviation_mean;
    std::optional<double> prompt_tokens_deviation_max;
    // Requests whose own TTFT, TPOT, E2E and queue time meet every --slo term's limit, per
    // second of the run (vllm bench serve's goodput, V:vllm/benchmarks/serve.py
    // calculate_metrics with --goodput); nullopt without --slo.
    std::optional<double> goodput_requests_per_s;
    std::optional<std::uint64_t> cache_n_total;  // llama.cpp timings.cache_n over the requests
    // The stand-in's own schedule (X-Sparkctl-Scheduled-*), when the target sent it.
    std::optional<net::Stats> scheduled_ttft_ms;
    std::optional<net::Stats> scheduled_itl_ms;
    bool simulated = false;  // every response carried X-Sparkctl-Simulated: 1
};

// TTFT: send to first content chunk; TPOT: (e2e - ttft) / (output tokens - 1), for requests of
// at least two tokens (V:vllm/benchmarks/serve.py); ITL per token: each chunk gap divided by
// the mean tokens per gap of its request (a chunk may carry several tokens; usage tells how many
// in all); chunk_gap_ms: the gaps as they came; output_tokens_per_s: output tokens of successful
// requests over the time from the first send to the last completion.
Summary summarize(const PointResult& point, const std::vector<sim::SloTerm>& slo);

// `--depth` mode (llama-bench's pp/tg at a context depth, measured the way llama-benchy measures
// them against a server without a prefix cache: one request of depth + pp prompt tokens):
// per successful request, prefill tokens/s = prompt tokens (usage, else as built) / TTFT and
// decode tokens/s = (output tokens - 1) / (E2E - TTFT) (llama-benchy
// src/llama_benchy/results.py _process_batch, pp_speed and tg_speed); their mean and population
// standard deviation over the requests (results.py _create_entry: np.mean, np.std).
struct Speed {
    double mean = 0;
    double stdev = 0;
    std::uint64_t n = 0;
};
struct DepthSpeeds {
    std::optional<Speed> pp_tokens_per_s;  // nullopt: no request had a first token
    std::optional<Speed> tg_tokens_per_s;  // nullopt: no request had two tokens
    // The batch's aggregate (`--depth` with `--concurrency`): llama-benchy's "t/s (total)".
    std::optional<Speed> pp_tokens_per_s_total;
    std::optional<Speed> tg_tokens_per_s_total;
};

// The batches of one depth (llama-benchy --concurrency, src/llama_benchy/runner.py at ae09cab
// lines 56-126: `--runs` batches, each an asyncio.gather of N requests; one request per batch
// without --concurrency). The per-request speeds (above) are over every request of every
// batch. The aggregate ones are per batch, over its successful requests (results.py at
// ae09cab, _process_batch lines 320-341): prefill = the batch's prompt tokens / (last first
// token - first send), decode = (the batch's output tokens - one per request) / (last content
// chunk - first first token); their mean and population standard deviation over the batches
// (`n` batches). At one request per batch the aggregate is the per-request speed (results.py
// lines 184-188: "if concurrency > 1 else agg_pp_speeds").
DepthSpeeds depth_speeds(const std::vector<PointResult>& batches, std::uint32_t concurrency);

}  // namespace sparkctl::bench
