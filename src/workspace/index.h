// The project index (R-WS-2): <claude_home>/.aidocs/repos/index.md, a Markdown table people may
// edit. Parsing is tolerant: columns are found by their header names (any order, any case),
// text before and after the table is kept byte for byte, and '|' in cells is escaped as "\|".
#pragma once

#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "workspace/roots.h"

namespace sparkctl::workspace {

struct IndexRow {
    std::string name;
    std::string path;
    std::string remote;
    std::string description;
    std::string language;     // primary language by tracked files
    std::string last_commit;  // YYYY-MM-DD
};

struct IndexDocument {
    std::string before;  // everything before the table (ends with a newline when not empty)
    std::vector<IndexRow> rows;
    std::string after;  // everything after the table
    bool has_table = false;
};

// Pure. The first table whose header has a "Name" column is the index; recognised headers are
// Name, Path, Remote, Description, Language (or "Primary language"), Last commit (or "Last
// commit date"); other columns are ignored (and dropped on rewrite). Rows without a name are
// dropped. Never fails: text that is not a table stays in before/after.
IndexDocument parse_index(std::string_view text);

// Pure. Renders the document; without a table (a new file or a table deleted by hand) the
// default heading (naming `github_root`) starts a new file, or the table goes at the end.
std::string render_index(const IndexDocument& doc, std::string_view github_root);

// Pure. Replaces the row with the same name (keeping its description when row's is empty) or
// appends it.
void upsert_row(std::vector<IndexRow>& rows, IndexRow row);

// Pure. The rebuilt rows: `scanned` sorted by name, each taking the description of the row with
// the same name in `previous` when it has none of its own.
std::vector<IndexRow> merge_rebuild(std::vector<IndexRow> scanned,
                                    const std::vector<IndexRow>& previous);

// The row for project directory `dir` (runs git, see inspect_repo).
IndexRow describe_project(const std::filesystem::path& dir, std::string description);

// Reads index.md; a missing file is an empty document. Errors: io, or bad_input when too big.
base::Result<IndexDocument> read_index(const Roots& roots);

// Adds or updates one row under the index lock (read, modify, atomic write). Creates
// .aidocs/repos/ when missing; the claude home itself must exist.
base::Result<void> add_to_index(const Roots& roots, IndexRow row);

// Rescans the github root (each non-hidden directory is a project) and rewrites the table under
// the index lock, keeping hand-edited descriptions by name and the text around the table.
// Returns the new rows. Errors: a missing root (not_found), io.
base::Result<std::vector<IndexRow>> rebuild_index(const Roots& roots);

}  // namespace sparkctl::workspace
