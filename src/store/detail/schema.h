// Private to store: the schema as an append-only list of migrations.
#pragma once

#include <span>

namespace sparkctl::store::detail {

struct Migration {
    int version;              // 1, 2, 3, ...: becomes PRAGMA user_version once applied
    const char* description;  // for messages
    const char* sql;          // one or more statements, run inside the migration transaction
};

// In version order, starting at 1 with no gaps (checked by the store tests).
std::span<const Migration> migrations();

}  // namespace sparkctl::store::detail
