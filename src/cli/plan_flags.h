// The flags that describe a deployment to plan, declared once for every command that plans one
// (`plan`, `simulate`); plan::plan_from_inputs (plan/inputs.h) is the one path from them to a Plan.
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
#include "plan/inputs.h"
#include "plan/plan.h"
#include "plan/rules.h"

namespace sparkctl::cli {

using PlanFlags = plan::PlanInputs;

// Declares MODEL and the plan flags (--for is required when `use_required`, else it defaults to
// chat) and the hardware config flag. Not --explain or --format: those are plan's output.
void add_plan_flags(CLI::App& app, Context& ctx, PlanFlags& f, bool use_required);

// The choices a plan takes beyond the model and its use (--prefer, --engine, --engine-version,
// --quant, --kv-cache-dtype, --override, --budget): part of add_plan_flags, and declared alone by
// `up`, which sends them with the deployment. Empty values mean "not given".
void add_plan_choice_flags(CLI::App& app, PlanFlags& f);

using Planned = plan::Planned;

// Plans what the flags describe. Errors: bad_input for a bad flag value, an unknown model or an
// engine version not installed; whatever the config file, hardware detection or make_plan fail
// with. A refused or does-not-fit plan is a Plan, not an error.
base::Result<Planned> plan_from_flags(Context& c, const PlanFlags& f);

}  // namespace sparkctl::cli
