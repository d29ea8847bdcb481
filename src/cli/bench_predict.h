// `bench run`'s predictions: the simulator (the same path as `sparkctl simulate`: plan, then
// deployment_from_plan, then sim::simulate) run on the deployment the measured target is, under
// the same load, so every measured point carries `predicted` (simulate's field names) and
// `error_ratio` (measured / predicted). docs/dev/bench.md ("Predictions").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/summary.h"
#include "cli/command.h"
#include "cli/deployment.h"
#include "sim/simulator.h"

namespace sparkctl::cli {

// What is known of the target's deployment: a catalog model with its engine and quantization
// (from serve's record, or --model with --engine and --quant).
struct PredictTarget {
    std::string model;
    std::string engine;
    std::string quant;
    std::string use;  // "" -> chat
    std::uint32_t users = 1;
    std::optional<std::uint64_t> context;
    bool bench = true;  // the plan's --bench flags (prefix caching off, R-OPS-2)
};

// The simulator's deployment for `t`, or why there is none (`reason`): engine or quantization
// unknown, a model plan cannot resolve, a plan that is not launchable.
struct Predictor {
    std::optional<Deployment> dep;
    std::string reason;
};
Predictor make_predictor(Context& c, const std::optional<PredictTarget>& t);

// Sets `point["predicted"]` (the measured point's field names) and `point["error_ratio"]`
// (measured / predicted for ttft_ms.p50/.p99, tpot_ms.p50, output_tokens_per_s and
// requests_per_s; a ratio whose prediction is 0 or missing is null), or both null with
// `predicted_reason` when the simulation cannot be run. `load` is the point's load with its
// request count.
void put_prediction(const Predictor& p, const sim::Load& load, const bench::Summary& measured,
                    nlohmann::json& point);

}  // namespace sparkctl::cli
