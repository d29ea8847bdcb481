// Renders a Plan for people and tools: the text report (one line per decision, or the whole
// trace with `explain`), a runnable shell script, a docker compose file and a llama-swap config
// entry. Pure string building; thread-safe. JSON lives in cli/cmd_plan.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "plan/plan.h"

namespace sparkctl::plan {

// `colour`: the status line in ANSI green ("fits") or red ("DOES NOT FIT"); see colour_wanted.
std::string render_text(const Plan& plan, bool explain, bool colour = false);

// Colour only for a terminal, and never when NO_COLOR is set to a non-empty value
// (https://no-color.org). `no_color`: getenv("NO_COLOR").
bool colour_wanted(bool stdout_is_tty, const char* no_color);

// A bash script: asks for the named placeholders that are unset, starts the other nodes' ranks
// (over ssh when the inventory has hosts), then starts the server in the background, logging to
// $LOG_DIR, and waits for its health URL up to $HEALTH_TIMEOUT seconds: exit 0 with the server
// running, 1 with the log's tail when it exits or the deadline passes, 2 for a KIND the plan has
// no commands for. KIND=native|container; PORT moves the server; LLAMA_SERVER, VLLM, PYTHON,
// RAY and DOCKER name the programs.
std::string render_sh(const Plan& plan, const std::string& ssh_user);

// Seconds to wait for a server's health URL (the sh script's deadline, llama-swap's
// healthCheckTimeout): the per-node weights read at kLoadBytesPerS, plus the engine's startup
// allowance, times 1.5; at least llama-swap's default of 120 s. See render.cpp for the
// assumptions.
std::uint64_t health_timeout_s(const Plan& plan);

// A docker compose file with the plan's container commands on the first node.
std::string render_compose(const Plan& plan);

// A llama-swap config: healthCheckTimeout (health_timeout_s; the setting is global in llama-swap,
// so keep the largest of several entries) and a `models:` entry running the native server on
// llama-swap's ${PORT}, its environment in `env:`.
std::string render_llama_swap(const Plan& plan);

// Quotes one argument for a POSIX shell; ${NAME} placeholders stay expandable.
std::string shell_quote(const std::string& arg);

}  // namespace sparkctl::plan
