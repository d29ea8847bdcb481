// Projects (R-WS-1, R-WS-4): `sparkctl project new` creates, clones into or adopts
// <github_root>/<name> with the template, and records it in the index.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "workspace/index.h"
#include "workspace/roots.h"

namespace sparkctl::workspace {

// A project name is one path segment: not empty, at most 255 bytes, no '/', no control bytes,
// not "." or "..", and not starting with '-' (it would read as a flag). Errors: bad_input.
base::Result<void> validate_project_name(std::string_view name);

struct NewProjectOptions {
    std::string name;
    std::optional<std::string> from_git;  // clone this URL (or local path) instead of `git init`
    std::string description;              // for CLAUDE.md and the index
    bool adopt = false;                   // the directory exists: only add missing template files
};

struct NewProjectResult {
    std::filesystem::path path;
    std::vector<std::string> created;  // template files written, relative to path
    std::vector<std::string> kept;     // template files that existed and were left alone
    bool cloned = false;
    IndexRow row;                            // as written to the index
    std::vector<CreatedRoot> created_roots;  // convention folders this call created (ensure_roots)
};

// Creates the project. The directory is claimed with mkdir (so concurrent runs for one name
// have exactly one winner), then cloned into (`git clone`) or initialised (`git init`, skipped
// with a warning when git is missing), then the template files are created without
// overwriting anything, then the index gets the row. On failure everything this call created
// is removed, except the convention's folders (ensure_roots), which a first call on a fresh HOME
// creates before anything else and which stay. Errors: bad name, existing directory without
// adopt, adopt of a missing directory, adopt with from_git, a root that is not a directory
// (bad_input); git clone failing (io).
base::Result<NewProjectResult> new_project(const Roots& roots, const NewProjectOptions& options);

}  // namespace sparkctl::workspace
