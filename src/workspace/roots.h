// The workspace roots (R-WS-1, R-WS-2): where projects, the index, plans and sparkctl's own
// state live. Resolved from the config options github_root, claude_home and data_dir.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sparkctl::config {
class Config;
}

namespace sparkctl::workspace {

struct Roots {
    std::filesystem::path github_root;  // projects: <github_root>/<name> (R-WS-1)
    std::filesystem::path claude_home;  // <claude_home>/.aidocs/{repos,plans} (R-WS-2, R-WS-3)
    std::filesystem::path data_dir;     // state.db and lock files

    std::filesystem::path aidocs_dir() const { return claude_home / ".aidocs"; }
    std::filesystem::path index_path() const { return aidocs_dir() / "repos" / "index.md"; }
    std::filesystem::path plans_dir() const { return aidocs_dir() / "plans"; }
    std::filesystem::path state_db() const { return data_dir / "state.db"; }
    // Lock files for read-modify-write of index.md and of CLAUDE.md files (flock).
    std::filesystem::path index_lock() const { return data_dir / "locks" / "index.lock"; }
    std::filesystem::path claude_md_lock() const { return data_dir / "locks" / "claude-md.lock"; }
};

// Expands a leading "~" or "~/" with `home` (unchanged when home is null or empty).
std::filesystem::path expand_home(std::string_view path, const char* home);

// Reads github_root, claude_home and data_dir from `cfg` (expanding "~" with $HOME). Errors
// (bad_input) name the option when a value is empty or relative.
base::Result<Roots> roots_from_config(const config::Config& cfg);

// The github root must be an existing directory. not_found / bad_input name the path and how to
// change it. Only `project new` creates the roots (ensure_roots); the other commands read them.
base::Result<void> require_github_root(const Roots& roots);
// Likewise for the claude home; its .aidocs/ subfolders are created on demand.
base::Result<void> require_claude_home(const Roots& roots);

// A root or convention folder this call created, for the user to be told.
struct CreatedRoot {
    std::string what;  // "github root", "claude home", ".aidocs/repos", ".aidocs/plans"
    std::filesystem::path path;
};

// Creates what is missing of the convention's folders: the github root (R-WS-1), the claude home
// and its .aidocs/repos (R-WS-2) and .aidocs/plans (R-WS-3), so that a new user's first
// `project new` works on a fresh HOME. Returns what it created (empty when all existed), in
// that order. Errors: a path that exists and is not a directory (bad_input), mkdir failing (io).
base::Result<std::vector<CreatedRoot>> ensure_roots(const Roots& roots);

// The project `dir` belongs to when it is inside the github root (the first path segment below
// it), or "" when it is not. Follows symlinks; never fails.
std::string project_for_path(const Roots& roots, const std::filesystem::path& dir);

}  // namespace sparkctl::workspace
