// The run history: every `bench run` is stored in the state database (store migration 3, table
// bench_runs) as its whole --json document plus the columns list, report and calibrate filter
// on. docs/dev/bench.md ("Results that last").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/database.h"

namespace sparkctl::bench {

struct StoredRun {
    std::int64_t id;
    std::string created_at;  // ISO 8601 UTC, "2026-12-07T14:30:00Z"
    nlohmann::json doc;
};

// `doc`: the complete `bench run --json` object, plus "target", "launch_flags", "hardware" (the
// `sparkctl hw --json` object), "sparkctl_version", "seed", "quant" (null when unknown). Sets
// "run_id" to the new id and stores it; returns the id. Errors: bad_input when doc is not an
// object with "endpoint" and "model" strings; io from the database.
base::Result<std::int64_t> save_run(store::Database& db, nlohmann::json doc);
// Every stored run, oldest first.
base::Result<std::vector<StoredRun>> list_runs(store::Database& db);
// One run. Errors: bad_input naming the id when there is no such run.
base::Result<StoredRun> load_run(store::Database& db, std::int64_t id);

// The quantization in a GGUF file name (the Encoding part of the GGUF naming convention,
// <BaseName><SizeLabel><FineTune><Version><Encoding><Type><Shard>.gguf,
// https://github.com/ggml-org/ggml/blob/master/docs/gguf.md "GGUF Naming Convention"): the last
// dash-separated part before the shard suffix that reads as a ggml type ("Q4_K_M", "Q8_0",
// "IQ4_XS", "F16", "BF16", "MXFP4"), upper-cased; nullopt when none. `path` may hold folders.
std::optional<std::string> gguf_quant(std::string_view path);

// Now, UTC, as ISO 8601 to the second ("2026-12-07T15:00:00Z"): a run's created_at, and the
// date of a local constants table calibrated from runs.
std::string utc_now_iso8601();

}  // namespace sparkctl::bench
