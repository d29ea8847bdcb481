// The flags that describe a deployment to plan, declared once for every command that plans one
// (`plan`, `simulate`), and the one path from them to a Plan: config, rules, hardware, --budget,
// the model (a named checkpoint is kept), --engine-version installed, then plan::make_plan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/result.h"
#include "cli/command.h"
#include "hw/profile.h"
#include "model/catalog.h"
#include "model/model_spec.h"
#include "plan/plan.h"
#include "plan/rules.h"

namespace sparkctl::cli {

struct PlanFlags {
    std::string model;
    std::string use;
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
    std::string budget;
};

// Declares MODEL and the plan flags (--for is required when `use_required`, else it defaults to
// chat) and the hardware config flag. Not --explain or --format: those are plan's output.
void add_plan_flags(CLI::App& app, Context& ctx, PlanFlags& f, bool use_required);

// The inputs plan used and the plan it made.
struct Planned {
    model::ModelSpec spec;
    std::vector<model::Variant> variants;
    hw::HardwareProfile hardware;
    plan::PlanRequest request;
    plan::Plan plan;
    plan::RuleBook rules;  // the rules it applied (data/rules.toml edited by the config file)
};

// Plans what the flags describe. Errors: bad_input for a bad flag value, an unknown model or an
// engine version not installed; whatever the config file, hardware detection or make_plan fail
// with. A refused or does-not-fit plan is a Plan, not an error.
base::Result<Planned> plan_from_flags(Context& c, const PlanFlags& f);

}  // namespace sparkctl::cli
