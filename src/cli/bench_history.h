// bench's run history (cmd_bench_history.cpp, docs/dev/bench.md "Results that last"): the store
// every `bench run` writes to, what it records beside the results, and the subcommands list,
// show, compare, export and report.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/result.h"
#include "bench/probe.h"
#include "cli/command.h"
#include "store/database.h"

namespace sparkctl::cli {

// <data_dir>/state.db (config option data_dir). Errors name the option or the file.
base::Result<store::Database> open_bench_store(Context& c);

// What reproduces a run, beside its results.
struct RunProvenance {
    std::string target;        // TARGET as given
    std::string quant;         // --quant; "" = what the engine reports, else null
    std::string launch_flags;  // --launch-flags; "" = null
    std::uint64_t seed = 0;
    std::optional<bench::LaunchReport> report;  // the engine's own page, when it has one
};

// Adds target, quant (+ quant_source), launch_flags, engine_reported_args, hardware (the
// `sparkctl hw --json` object), sparkctl_version and seed to `doc`, stores it and sets its
// run_id. Errors: the store's.
base::Result<std::int64_t> store_bench_run(store::Database& db, nlohmann::json& doc,
                                           const RunProvenance& p);

// Declares list, show, compare, export and report on `bench`; the action runs whichever was
// parsed (exit 2 when none was).
Action setup_bench_history(CLI::App& bench, Context& ctx);

}  // namespace sparkctl::cli
