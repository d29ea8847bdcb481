// Renders a Plan for people and tools: the text report (one line per decision, or the whole
// trace with `explain`), a runnable shell script, a docker compose file and a llama-swap config
// entry. Pure string building; thread-safe. JSON lives in cli/cmd_plan.cpp.
#pragma once

#include <string>

#include "plan/plan.h"

namespace sparkctl::plan {

std::string render_text(const Plan& plan, bool explain);

// A bash script: asks for the named placeholders that are unset, then runs the commands per
// node (over ssh for other nodes when the inventory has hosts); KIND=container picks the images.
std::string render_sh(const Plan& plan, const std::string& ssh_user);

// A docker compose file with the plan's container commands on the first node.
std::string render_compose(const Plan& plan);

// A llama-swap `models:` entry running the native server on llama-swap's ${PORT}.
std::string render_llama_swap(const Plan& plan);

// Quotes one argument for a POSIX shell; ${NAME} placeholders stay expandable.
std::string shell_quote(const std::string& arg);

}  // namespace sparkctl::plan
