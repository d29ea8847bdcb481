// Private to plan: renders the launch commands of a sized plan (native, container, cluster) and
// records the sizing decisions (SPARKCTL-PLAN-*), per docs/dev/plan.md.
#pragma once

#include <cstddef>

#include "model/model_spec.h"
#include "plan/plan.h"
#include "plan/rules.h"

namespace sparkctl::plan::detail {

void render_commands(const model::ModelSpec& spec, const PlanRequest& request,
                     const RuleBook& rules, Plan& plan);

// Index in c.argv of the engine's first flag (after "vllm serve", "llama-server",
// "sglang.launch_server"); argv.size() when the command runs no engine.
std::size_t flags_start(const LaunchCommand& c);

}  // namespace sparkctl::plan::detail
