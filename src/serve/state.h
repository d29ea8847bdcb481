// The daemon's persistent state in the SQLite store (migration 2, src/store/schema.cpp): one row
// per deployment with its plan's numbers and the process that runs it, plus the exit history.
// A restarted daemon reads it to reattach to its engines (serve/proc.h proves they are its own)
// or to stop them, so nothing is orphaned and no reservation goes stale.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "serve/proc.h"
#include "store/database.h"

namespace sparkctl::serve {

struct DeploymentRow {
    std::string id;
    std::string origin = "config";  // "config" (the config file) or "up" (persisted request)
    std::string request;            // for "up": the request that created it (admin API JSON)
    std::string model;
    std::string engine;
    std::string quant;
    bool pinned = false;
    std::string state = "unloaded";
    std::uint16_t port = 0;
    std::string api_key;
    std::string log_path;
    ProcIdentity proc;  // pid 0: no process
    std::string container_id;
    std::uint64_t planned_bytes = 0;
    std::uint64_t weights_bytes = 0;
    std::optional<std::uint64_t> measured_bytes;
    int restarts = 0;
    std::string last_exit;
};

class StateStore {
  public:
    explicit StateStore(store::Database db) : db_(std::move(db)) {}

    // Inserts or replaces the whole row. Errors: io.
    base::Result<void> put(const DeploymentRow& row);
    // The process, state, restarts and last exit of one row (the supervisor's changes).
    base::Result<void> set_process(const std::string& id, const std::string& state,
                                   const ProcIdentity& proc, int restarts,
                                   const std::string& last_exit);
    base::Result<void> set_measured(const std::string& id, std::uint64_t measured_bytes);
    // Appends to the exit history.
    base::Result<void> record_exit(const std::string& id, const std::string& how);
    base::Result<void> remove(const std::string& id);
    base::Result<std::vector<DeploymentRow>> all();
    base::Result<std::optional<DeploymentRow>> get(const std::string& id);
    // The exit history of one deployment, oldest first: "how" strings.
    base::Result<std::vector<std::string>> exits(const std::string& id);

  private:
    store::Database db_;
};

}  // namespace sparkctl::serve
