#include "store/detail/schema.h"

#include "store/database.h"

namespace sparkctl::store {

namespace detail {

namespace {

// Append only: a released migration is never edited, a change is a new row (later issues add
// deployments and benchmark runs here). Each runs in the transaction that bumps user_version.
const Migration kMigrations[] = {
    {1, "activity log (R-WS-5)",
     "CREATE TABLE activity (\n"
     "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
     "    created_at_s INTEGER NOT NULL,\n"
     "    type TEXT NOT NULL,\n"
     "    title TEXT NOT NULL,\n"
     "    project TEXT,\n"
     "    read_tokens INTEGER NOT NULL\n"
     ");\n"
     "CREATE INDEX activity_created ON activity (created_at_s);\n"
     "CREATE INDEX activity_project_created ON activity (project, created_at_s);\n"},
    {2, "serve: deployments and their processes (issue 13)",
     // One row per deployment the daemon knows: where it came from (the config file, or `up`
     // with the request that persists it), its plan's numbers, and the process running it
     // (pid + start time + process group prove it is ours after a daemon restart).
     "CREATE TABLE deployments (\n"
     "    id TEXT PRIMARY KEY,\n"
     "    origin TEXT NOT NULL CHECK (origin IN ('config', 'up')),\n"
     "    request TEXT NOT NULL,\n"
     "    model TEXT NOT NULL,\n"
     "    engine TEXT NOT NULL,\n"
     "    quant TEXT NOT NULL,\n"
     "    pinned INTEGER NOT NULL,\n"
     "    state TEXT NOT NULL,\n"
     "    port INTEGER,\n"
     "    api_key TEXT,\n"
     "    log_path TEXT,\n"
     "    pid INTEGER,\n"
     "    pgid INTEGER,\n"
     "    start_ticks INTEGER,\n"
     "    container_id TEXT,\n"
     "    planned_bytes INTEGER NOT NULL,\n"
     "    weights_bytes INTEGER NOT NULL,\n"
     "    measured_bytes INTEGER,\n"
     "    restarts INTEGER NOT NULL DEFAULT 0,\n"
     "    last_exit TEXT,\n"
     "    updated_at_s INTEGER NOT NULL\n"
     ");\n"
     "CREATE TABLE deployment_exits (\n"
     "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
     "    deployment TEXT NOT NULL,\n"
     "    at_s INTEGER NOT NULL,\n"
     "    how TEXT NOT NULL\n"
     ");\n"
     "CREATE INDEX deployment_exits_deployment ON deployment_exits (deployment, at_s);\n"},
    {3, "bench: benchmark runs (issue 15)",
     // One row per `bench run`: the whole --json document (with what reproduces it) in `doc`,
     // and beside it the columns `bench list`, `report` and `calibrate` filter on.
     "CREATE TABLE bench_runs (\n"
     "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
     "    created_at TEXT NOT NULL,\n"
     "    endpoint TEXT NOT NULL,\n"
     "    model TEXT NOT NULL,\n"
     "    engine TEXT,\n"
     "    engine_version TEXT,\n"
     "    quant TEXT,\n"
     "    simulated INTEGER NOT NULL,\n"
     "    valid INTEGER NOT NULL,\n"
     "    invalid_reason TEXT,\n"
     "    prefix_cache_study INTEGER NOT NULL,\n"
     "    doc TEXT NOT NULL\n"
     ");\n"
     "CREATE INDEX bench_runs_model ON bench_runs (model, engine, quant, created_at);\n"},
};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

}  // namespace detail

int latest_schema_version() { return static_cast<int>(detail::migrations().size()); }

}  // namespace sparkctl::store
