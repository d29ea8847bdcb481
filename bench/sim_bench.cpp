// sim_bench: how fast the simulator runs. The goal (issue 12): an hour of traffic at 100
// requests/s in under a second on one core. Counters: simulated seconds per wall second and
// requests per wall second. Run: build/release/bench/sim_bench.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "engines/alloc.h"
#include "fit/performance.h"
#include "fit/step_cost.h"
#include "hw/profile.h"
#include "model/load.h"
#include "sim/simulator.h"
#include "sim/workload.h"

namespace {

using namespace sparkctl;

template <typename T>
T must(base::Result<T> r) {
    if (!r) std::abort();
    return std::move(*r);
}

// gpt-oss-20b on vLLM on the DGX Spark profile: 256 sequences, the engine's token budget and
// block size (engines/alloc.h), a pool of 2^20 tokens.
struct Deployment {
    fit::StepCost cost;
    sim::EngineSettings engine;
};

Deployment deployment() {
    const model::ModelSpec spec = must(model::load_model("gpt-oss-20b"));
    const hw::HardwareProfile profile = must(hw::find_profile("dgx-spark"));
    const fit::HwCaps caps = must(fit::hw_caps(profile));
    const fit::ModelCosts costs =
        must(fit::model_costs(spec, engines::Engine::vllm, "mxfp4", "auto"));
    const fit::ResolvedConstants rc =
        fit::resolve_constants(fit::builtin_constants(), engines::Engine::vllm,
                               fit::quant_family(engines::Engine::vllm, "mxfp4"));
    sim::EngineSettings e;
    e.scheduler = sim::Scheduler::vllm;
    e.context = 4096;
    e.max_seqs = 256;
    e.max_batched_tokens = engines::vllm::max_num_batched_tokens(profile.memory_total_bytes);
    e.kv_pool_tokens = 1u << 20;
    e.block_size = engines::vllm::kBlockSize;
    e.prefix_caching = true;
    return {
        must(fit::StepCost::make(costs, rc.constants, caps, 1, e.max_seqs, e.max_batched_tokens)),
        e};
}

// An hour of Poisson arrivals at `rate` requests/s, short chat turns.
void BM_SimulateHour(benchmark::State& state) {
    const Deployment d = deployment();
    sim::Load load;
    load.kind = sim::Load::Kind::open;
    load.rate_per_s = static_cast<double>(state.range(0));
    load.duration_s = 3600;
    load.prompt_tokens = must(sim::parse_distribution("prompt", "lognormal:128:0.5"));
    load.output_tokens = must(sim::parse_distribution("output", "uniform:8:24"));
    double simulated = 0;
    double requests = 0;
    for (auto _ : state) {
        auto r = must(sim::simulate(d.cost, d.engine, load));
        simulated += r.simulated_s;
        requests += static_cast<double>(r.requests_completed);
        benchmark::DoNotOptimize(r.steps);
    }
    state.counters["simulated_s_per_wall_s"] =
        benchmark::Counter(simulated, benchmark::Counter::kIsRate);
    state.counters["requests_per_wall_s"] =
        benchmark::Counter(requests, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimulateHour)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond)->UseRealTime();

// Pricing one mixed step: the simulator's inner call.
void BM_StepCost(benchmark::State& state) {
    const Deployment d = deployment();
    std::uint32_t n = 1;
    for (auto _ : state) {
        benchmark::DoNotOptimize(d.cost.step_s(n, n * 3000.0, 512, 512 * 1500.0));
        n = n % 256 + 1;
    }
}
BENCHMARK(BM_StepCost);

}  // namespace

BENCHMARK_MAIN();
