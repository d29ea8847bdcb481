// Discrete-event simulation of one engine serving a workload: the engine's own scheduler
// (vLLM/SGLang continuous batching with chunked prefill, paged KV blocks, preemption by
// recompute and prefix caching; llama.cpp slots sharing one micro-batch), with each step's time
// from fit::StepCost for the step's actual batch. docs/dev/sim.md describes the model and its
// validation. Pure and deterministic for a seed; one simulation per call, no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "fit/step_cost.h"
#include "net/stats.h"
#include "sim/workload.h"

namespace sparkctl::sim {

enum class Scheduler {
    // vLLM V1: running requests first (decodes and unfinished prefill chunks), then waiting ones,
    // all within one token budget per step; decodes and prefill chunks share a forward pass.
    vllm,
    // SGLang: a prefill batch (new requests' chunks, up to chunked_prefill_size tokens) runs when
    // one can be formed, else a decode batch; the two are not mixed (mixed chunk is opt-in).
    sglang,
    // llama.cpp server: -np slots, each with a fixed context; one shared batch per step holds
    // every generating slot's token and prompt tokens up to the micro-batch; no preemption.
    llama_cpp,
};

// The engine as launched (the plan's settings; the CLI composes plan and sim).
struct EngineSettings {
    Scheduler scheduler = Scheduler::vllm;
    std::uint64_t context = 0;             // tokens per sequence (max_model_len, per-slot ctx)
    std::uint32_t max_seqs = 1;            // --max-num-seqs / SGLang --max-running-requests / -np
    std::uint32_t max_batched_tokens = 0;  // tokens per step (max_num_batched_tokens, chunk, -ub)
    std::uint64_t kv_pool_tokens = 0;      // KV pool capacity (continuous batching)
    std::uint32_t block_size = 16;         // KV block (vLLM 16, SGLang page 1)
    bool prefix_caching = false;
};

// The load: closed loop (users each send, wait for the answer, think, send again), open loop
// (arrivals at a rate) or a trace. Sizes from the distributions unless a trace gives them.
struct Load {
    enum class Kind { closed, open, trace };
    Kind kind = Kind::closed;
    std::uint32_t concurrency = 1;
    double rate_per_s = 0;
    Arrivals arrivals;
    double think_s = 0;
    Distribution prompt_tokens;
    Distribution output_tokens;
    std::vector<TraceRequest> trace;
    // Request sizes from a dataset (--dataset), in order and cycling, instead of the
    // distributions above; with closed and open loads.
    std::vector<DatasetEntry> dataset;
    std::optional<std::uint64_t> requests;  // stop after this many have arrived (default below)
    std::optional<double> duration_s;       // stop admitting arrivals after this time
    std::uint64_t seed = 0;
};

struct Result {
    // Per-request samples (ms), of completed requests.
    std::vector<double> ttft_ms, tpot_ms, e2e_ms, queue_ms;
    // Inter-token latencies: every token after the first, as (value, count) runs (an hour of
    // traffic has tens of millions; a run is one step's value shared by its batch).
    std::vector<std::pair<double, std::uint64_t>> itl_ms_runs;
    std::uint64_t requests_completed = 0;
    std::uint64_t requests_clamped = 0;  // prompt + output cut to the context
    std::uint64_t input_tokens = 0;      // of completed requests
    std::uint64_t output_tokens = 0;
    std::uint64_t steps = 0;
    std::uint64_t max_step_tokens = 0;  // the most tokens one step carried (<= the budget)
    std::uint64_t preemptions = 0;
    std::uint64_t prefix_lookups = 0;
    std::uint64_t prefix_hit_tokens = 0;
    std::uint64_t prefix_lookup_tokens = 0;
    double kv_pool_peak_fraction = 0;
    double first_arrival_s = 0;
    double simulated_s = 0;  // the time the last request completed
};

// Simulates `load` on `engine` with step times from `cost`. Errors: bad_input for settings that
// cannot serve (0 sequences, no KV pool for continuous batching, a prompt longer than the pool),
// a load with neither requests nor duration, or more steps than a sanity bound (a stuck model).
base::Result<Result> simulate(const fit::StepCost& cost, const EngineSettings& engine,
                              const Load& load);

// Statistics of (value, count) runs, identical to net::summarize of the expanded samples.
base::Result<net::Stats> summarize_runs(std::vector<std::pair<double, std::uint64_t>> runs);

}  // namespace sparkctl::sim
