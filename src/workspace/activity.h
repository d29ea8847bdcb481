// The activity log (R-WS-5): entries recorded in the state database and rendered as a "Recent
// Activity" table between <claude-mem-context> tags in a CLAUDE.md, touching nothing outside
// the tags.
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/activity.h"
#include "workspace/roots.h"

namespace sparkctl::workspace {

enum class ActivityType { discovery, decision, feature, bugfix, refactor, change };

std::optional<ActivityType> parse_activity_type(std::string_view name);
const char* to_string(ActivityType type);
// "discovery|decision|feature|bugfix|refactor|change"
std::string activity_type_names();
// The symbol shown in the table for a stored type name (UTF-8 emoji); "?" for an unknown name.
const char* activity_symbol(std::string_view type);

// The approximate cost in tokens of reading `text`: its characters (UTF-8 code points) / 4,
// rounded up; the usual rule of thumb for English text with current tokenizers. Pure.
std::int64_t estimate_read_tokens(std::string_view text);

inline constexpr std::string_view kOpenTag = "<claude-mem-context>";
inline constexpr std::string_view kCloseTag = "</claude-mem-context>";

struct TagBlock {
    bool found = false;
    std::size_t content_begin = 0;  // just after the opening tag
    std::size_t content_end = 0;    // at the closing tag
};

// Pure. Finds the one block. Zero tags: found = false. Errors (bad_input, with line numbers):
// an opening tag without a closing one, a closing tag without or before the opening one, or
// more than one block.
base::Result<TagBlock> find_tag_block(std::string_view document);

// Pure. Replaces what is between the tags with "\n" + body + "\n", or appends a new block at the
// end (after a blank line) when there is none. Every byte outside the tags is kept. Errors: as
// find_tag_block.
base::Result<std::string> splice_tag_block(std::string_view document, std::string_view body);

// Pure except for the time zone: local midnight at the start of the window of `days` calendar
// days ending today.
std::time_t activity_window_start(std::time_t now, int days);

// Pure except for the time zone. The block body: a "Recent Activity" heading, then one table per
// local day, newest day first and entries within a day in time order. `entries` are newest first
// (as recent_activity returns them).
std::string render_activity_body(const std::vector<store::ActivityRecord>& entries, int days);

struct NewActivity {
    ActivityType type = ActivityType::change;
    std::string title;
    std::optional<std::int64_t> read_tokens;  // nullopt: estimate_read_tokens(title)
    std::optional<std::string> project;       // nullopt: not tied to a project
};

// Records one entry in <data_dir>/state.db. Errors: empty or over-long title, a bad project name
// (bad_input); io.
base::Result<store::ActivityRecord> add_activity(const Roots& roots, const NewActivity& entry,
                                                 std::time_t now);

inline constexpr int kActivityDays = 7;
inline constexpr int kActivityLimit = 50;

struct RenderResult {
    std::filesystem::path file;
    std::optional<std::string> project;
    std::size_t entries = 0;
    bool changed = false;
};

// Rewrites the block in `file` (which must exist) with the entries of the last kActivityDays
// days, at most kActivityLimit, of `project` (nullopt: every project). The read-modify-write
// runs under the CLAUDE.md lock and the file is replaced atomically (a symlink's target is
// written). Errors: missing file (not_found), unbalanced tags (bad_input; the file is left as
// it was), io.
base::Result<RenderResult> render_activity(const Roots& roots, const std::filesystem::path& file,
                                           std::optional<std::string> project, std::time_t now);

}  // namespace sparkctl::workspace
