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
};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

}  // namespace detail

int latest_schema_version() { return static_cast<int>(detail::migrations().size()); }

}  // namespace sparkctl::store
