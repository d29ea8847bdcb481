// The deployment `plan` would launch, as the simulator sees it, and the find-max bisection over a
// load axis: one owner for `simulate` (--find-max, serve MODEL) and `plan` (its capacity line).
// The CLI composes plan and sim here; sim does not depend on plan (design.md, modules).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"
#include "cli/command.h"
#include "cli/plan_flags.h"
#include "fit/step_cost.h"
#include "plan/plan.h"
#include "sim/report.h"
#include "sim/simulator.h"
#include "sim/workload.h"

namespace sparkctl::cli {

// The plan's inputs and the engine settings the simulation overrides.
struct DeploymentArgs {
    PlanFlags plan;
    std::optional<std::uint32_t> max_num_seqs;
    std::optional<std::uint32_t> max_batched_tokens;
    std::string prefix_caching;  // "", "on", "off"
    std::string weight_layout;
};

struct Deployment {
    plan::PlanRequest req;
    plan::Plan plan;
    sim::EngineSettings es;
    std::optional<fit::StepCost> cost;
    std::string constants_source;
};

// The simulator's view of a launchable plan (status ok) made from `d.plan`. Errors: bad_input for
// a bad --weight-layout; the step-cost setup's.
base::Result<Deployment> deployment_from_plan(const Planned& planned, const DeploymentArgs& d);

// Plans `d.plan` (one node) and makes its deployment. Errors are reported through `c.out`; the
// exit status is returned instead of a deployment (bad input, the plan's own status when it is
// not launchable).
std::variant<Deployment, int> make_deployment(Context& c, const DeploymentArgs& d);

// One load tried by the bisection.
struct Tried {
    double load = 0;
    bool slo_met = false;
    sim::Summary summary;
};

struct FindMax {
    std::optional<double> best;  // the most load that met the SLO; nullopt: none did
    std::optional<sim::Summary> at_best;
    double upper_bound = 0;
    std::vector<Tried> tried;
};

// Bisection on the load in (0, upper_bound], assuming the SLO gets harder as load grows: the top
// first, then halves; whole numbers when `integers` (users), else steps of 1% of the range
// (rates). `run` simulates one load. Errors: run's.
base::Result<FindMax> find_max(const std::function<base::Result<sim::Summary>(double)>& run,
                               double upper_bound, bool integers,
                               const std::vector<sim::SloTerm>& slo);

}  // namespace sparkctl::cli
