// The activity log table (R-WS-5): rows written by `sparkctl activity add` and read back by
// `sparkctl activity render`. Types and rendering live in workspace; this is storage only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/database.h"

namespace sparkctl::store {

struct ActivityRecord {
    std::int64_t id = 0;            // assigned on insert
    std::int64_t created_at_s = 0;  // Unix time, seconds (UTC)
    std::string type;               // "discovery", "decision", ... (validated by workspace)
    std::string title;
    std::optional<std::string> project;  // nullopt: not tied to a project
    std::int64_t read_tokens = 0;
};

// Inserts `record` (its id is ignored) in its own transaction; returns the new id. Safe to call
// from several processes at once (SQLite serialises the writes). Errors: io.
base::Result<std::int64_t> insert_activity(Database& db, const ActivityRecord& record);

struct ActivityQuery {
    std::int64_t since_s = 0;            // only rows with created_at_s >= since_s
    int limit = 50;                      // at most this many, newest first
    std::optional<std::string> project;  // only this project; nullopt: all
};

// Newest first (created_at_s, then id, descending). Errors: io.
base::Result<std::vector<ActivityRecord>> recent_activity(Database& db, const ActivityQuery& query);

}  // namespace sparkctl::store
