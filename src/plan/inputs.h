// The one path from what describes a deployment (plan's flags, a [[models]] entry) to a Plan:
// config, rules, hardware, budget, the model (a named checkpoint is kept), --engine-version
// installed, then make_plan. `sparkctl plan`, `simulate` and serve's deployments all plan here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "engines/installed.h"
#include "hw/profile.h"
#include "model/catalog.h"
#include "model/model_spec.h"
#include "plan/plan.h"
#include "plan/rules.h"

namespace sparkctl::plan {

// What a plan request is made from, as the user spells it (plan's flags, docs/dev/plan.md).
struct PlanInputs {
    std::string model;
    std::string use;  // "" -> chat
    std::uint32_t users = 1;
    std::optional<std::uint64_t> context;
    std::optional<std::uint32_t> nodes;
    bool bench = false;
    std::string prefer;
    std::string engine;
    std::string engine_version;
    std::string quant;
    std::string kv_cache_dtype;
    std::vector<std::string> overrides;
    std::string launcher;
    std::string budget;  // bytes with an optional suffix; "" -> the profile's
};

// The inputs plan used and the plan it made.
struct Planned {
    model::ModelSpec spec;
    std::vector<model::Variant> variants;
    hw::HardwareProfile hardware;
    PlanRequest request;
    Plan plan;
    RuleBook rules;  // the rules it applied (data/rules.toml edited by the config file)
};

// The engines of this machine as the config names them (keys llama_server, vllm, sglang_python,
// docker and the [images] table): the one resolver `plan --engine-version installed`, `doctor`
// and `serve` share.
engines::Programs engine_programs(const config::Config& cfg);

// Plans what `in` describes under `cfg` (its hardware option, [rules] and [cluster] tables).
// Errors: bad_input for a bad value, an unknown model or an engine version not installed;
// whatever hardware detection or make_plan fail with. A refused or does-not-fit plan is a Plan,
// not an error.
base::Result<Planned> plan_from_inputs(const config::Config& cfg, const PlanInputs& in);

}  // namespace sparkctl::plan
