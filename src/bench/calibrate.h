// `sparkctl calibrate`'s pure part: stored benchmark runs (the `bench run --json` documents of
// the run history) -> measurement rows of the published table's schema (fit/calibration.h) ->
// constants fitted by the same fitter `sparkctl dev calibrate` uses, with the errors before and
// after. No I/O. docs/dev/performance-model.md ("Local calibration").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "fit/calibration.h"
#include "fit/performance.h"

namespace sparkctl::bench {

struct RowOptions {
    // Test-only: runs against sparkctl's stand-in engine count too (their timing is the
    // performance model's own, so they can only confirm constants, never measure the box).
    bool include_simulated = false;
    std::string hardware;  // the built-in profile the rows are priced with ("dgx-spark")
};

// The rows one run gives: per closed-loop point with no errors, a decode row (aggregate tokens/s
// = concurrency / median TPOT, after `depth` = the mean prompt) and, at concurrency 1 with a
// prompt of at least 2048 tokens, a prefill row (mean prompt tokens / median TTFT). A stand-in's
// times are multiplied by its --speed
// (`simulated_speed`). Split by fit::split_rule.
struct RunRows {
    std::int64_t run_id = 0;
    std::string skipped;             // why the whole run gives no rows; "" = used
    std::vector<std::string> notes;  // points left out, with the reason
    std::vector<fit::Measurement> rows;
};
RunRows rows_from_run(std::int64_t run_id, const nlohmann::json& doc, const RowOptions& options);

// Median absolute percentage errors (0.05 = 5%) per split and metric; nullopt: no rows.
struct SplitErrors {
    std::optional<double> fit_decode, fit_prefill, holdout_decode, holdout_prefill, holdout;
    std::size_t fit_rows = 0, holdout_rows = 0;
};

struct Calibration {
    std::vector<RunRows> runs;  // every run given, used or not
    std::vector<fit::Measurement> rows;
    fit::ConstantsTable table;  // with its provenance
    SplitErrors before;         // the base table on the same rows
    SplitErrors after;
};

// Rows of every run, the fit (fit::calibrate with `base_table` for what the rows cannot determine),
// the errors. `generated_by` and `date` go into the table. Errors: bad_input "nothing to calibrate
// on: ..." with the reasons when no run gives a fit row; those of fit::calibrate.
base::Result<Calibration> calibrate_runs(
    const std::vector<std::pair<std::int64_t, nlohmann::json>>& runs, const RowOptions& options,
    const fit::ConstantsTable& base_table, const std::string& generated_by,
    const std::string& date);

}  // namespace sparkctl::bench
