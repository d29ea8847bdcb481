// Saved plans (R-WS-3): <claude_home>/.aidocs/plans/<MM-DD>-<slug>.md.
#pragma once

#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/result.h"
#include "workspace/roots.h"

namespace sparkctl::workspace {

// The slug of a plan description. Words are separated by blanks; each word is lowercased and
// keeps only ASCII letters and digits (a word left empty, like "-" or "&", does not count).
// Exactly 3 or 4 words are required: "Fix GPU memory leak" -> "fix-gpu-memory-leak". Pure.
// Errors (bad_input) quote the description and state the rule.
base::Result<std::string> plan_slug(std::string_view description);

// "<MM-DD>-<slug>" for the local date of `now`, with "-N" appended when attempt N > 1. Pure
// except for the time zone.
std::string plan_file_stem(std::time_t now, std::string_view slug, int attempt);

// Writes `contents` as a new plan file and returns its path. A name already taken gets "-2",
// "-3", ... (each try is an exclusive create, so concurrent saves never collide and nothing is
// overwritten). Errors: bad description or empty contents (bad_input), missing claude home
// (not_found), io.
base::Result<std::filesystem::path> save_plan(const Roots& roots, std::string_view description,
                                              const std::string& contents, std::time_t now);

}  // namespace sparkctl::workspace
