#include "workspace/activity.h"

#include <cstdio>
#include <map>
#include <system_error>

#include "base/file.h"
#include "base/strings.h"
#include "store/database.h"
#include "workspace/detail/fs.h"
#include "workspace/detail/markdown.h"
#include "workspace/project.h"

namespace sparkctl::workspace {

namespace fs = std::filesystem;
using base::Errc;
using base::make_error;
using base::Result;

namespace {

struct TypeInfo {
    ActivityType type;
    const char* name;
    const char* symbol;  // UTF-8, written as escapes to keep the source ASCII
};

const TypeInfo kTypes[] = {
    {ActivityType::discovery, "discovery", "\xF0\x9F\x94\xB5"},        // blue circle
    {ActivityType::decision, "decision", "\xE2\x9A\x96\xEF\xB8\x8F"},  // scales
    {ActivityType::feature, "feature", "\xF0\x9F\x9F\xA3"},            // purple circle
    {ActivityType::bugfix, "bugfix", "\xF0\x9F\x94\xB4"},              // red circle
    {ActivityType::refactor, "refactor", "\xF0\x9F\x94\x84"},          // arrows
    {ActivityType::change, "change", "\xE2\x9C\x85"},                  // check mark
};

constexpr std::size_t kMaxTitleBytes = 1000;

}  // namespace

std::optional<ActivityType> parse_activity_type(std::string_view name) {
    for (const TypeInfo& t : kTypes) {
        if (name == t.name) return t.type;
    }
    return std::nullopt;
}

const char* to_string(ActivityType type) {
    for (const TypeInfo& t : kTypes) {
        if (t.type == type) return t.name;
    }
    return "change";
}

std::string activity_type_names() {
    std::string out;
    for (const TypeInfo& t : kTypes) {
        if (!out.empty()) out += '|';
        out += t.name;
    }
    return out;
}

const char* activity_symbol(std::string_view type) {
    for (const TypeInfo& t : kTypes) {
        if (type == t.name) return t.symbol;
    }
    return "?";
}

std::int64_t estimate_read_tokens(std::string_view text) {
    std::int64_t chars = 0;
    for (char c : text) {
        // Count code points: every byte except UTF-8 continuation bytes (10xxxxxx).
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
    }
    return (chars + 3) / 4;
}

namespace {

std::size_t line_of(std::string_view doc, std::size_t pos) {
    std::size_t line = 1;
    for (std::size_t i = 0; i < pos && i < doc.size(); ++i) {
        if (doc[i] == '\n') ++line;
    }
    return line;
}

std::vector<std::size_t> find_all(std::string_view doc, std::string_view needle) {
    std::vector<std::size_t> out;
    for (std::size_t pos = doc.find(needle); pos != std::string_view::npos;
         pos = doc.find(needle, pos + needle.size())) {
        out.push_back(pos);
    }
    return out;
}

}  // namespace

Result<TagBlock> find_tag_block(std::string_view document) {
    auto opens = find_all(document, kOpenTag);
    auto closes = find_all(document, kCloseTag);
    const std::string open(kOpenTag);
    const std::string close(kCloseTag);
    auto bad = [](const std::string& why) {
        return make_error(Errc::bad_input, "unbalanced " + std::string(kOpenTag) + " tags: " + why +
                                               "; nothing was changed");
    };
    if (opens.empty() && closes.empty()) return TagBlock{};
    if (opens.size() > 1 || closes.size() > 1) {
        return bad("more than one block (" + std::to_string(opens.size()) + " opening, " +
                   std::to_string(closes.size()) + " closing tags); keep exactly one");
    }
    if (closes.empty()) {
        return bad("the opening tag on line " + std::to_string(line_of(document, opens[0])) +
                   " has no closing " + close);
    }
    if (opens.empty()) {
        return bad("the closing tag on line " + std::to_string(line_of(document, closes[0])) +
                   " has no opening " + open);
    }
    if (closes[0] < opens[0]) {
        return bad("the closing tag on line " + std::to_string(line_of(document, closes[0])) +
                   " comes before the opening tag on line " +
                   std::to_string(line_of(document, opens[0])));
    }
    TagBlock block;
    block.found = true;
    block.content_begin = opens[0] + kOpenTag.size();
    block.content_end = closes[0];
    return block;
}

Result<std::string> splice_tag_block(std::string_view document, std::string_view body) {
    auto block = find_tag_block(document);
    if (!block) return block.error();
    std::string out;
    if (block->found) {
        out.reserve(document.size() + body.size() + 2);
        out.append(document.substr(0, block->content_begin));
        out += '\n';
        out.append(body);
        out += '\n';
        out.append(document.substr(block->content_end));
        return out;
    }
    out = std::string(document);
    if (!out.empty()) {
        if (out.back() != '\n') out += '\n';
        out += '\n';
    }
    out.append(kOpenTag);
    out += '\n';
    out.append(body);
    out += '\n';
    out.append(kCloseTag);
    out += '\n';
    return out;
}

std::time_t activity_window_start(std::time_t now, int days) {
    std::tm local{};
    localtime_r(&now, &local);
    local.tm_hour = 0;
    local.tm_min = 0;
    local.tm_sec = 0;
    local.tm_mday -= days - 1;
    local.tm_isdst = -1;  // let mktime decide across a DST change
    return std::mktime(&local);
}

namespace {

std::string format_local(std::time_t t, const char* format) {
    std::tm local{};
    localtime_r(&t, &local);
    char buf[32];
    std::size_t n = std::strftime(buf, sizeof buf, format, &local);
    return std::string(buf, n);
}

std::string title_cell(const std::string& title) {
    std::string cell = detail::escape_cell(title);
    // A title must never add a tag to the document (the next render would refuse it).
    if (cell.find("claude-mem-context") == std::string::npos) return cell;
    std::string out;
    for (char c : cell) {
        if (c == '<') {
            out += "&lt;";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::string render_activity_body(const std::vector<store::ActivityRecord>& entries, int days) {
    std::string out = "# Recent Activity\n\n";
    out += "<!-- Generated by `sparkctl activity render` from the activity log (last " +
           std::to_string(days) + " days, at most " + std::to_string(kActivityLimit) +
           " entries); edits between the tags are replaced. -->\n\n";
    out += "Types:";
    bool first = true;
    for (const TypeInfo& t : kTypes) {
        out += first ? " " : ", ";
        out += std::string(t.symbol) + " " + t.name;
        first = false;
    }
    out += "\n";
    if (entries.empty()) {
        out += "\n*No activity recorded in the last " + std::to_string(days) + " days.*\n";
        return out;
    }
    // Group by local day, newest day first; within a day in time order.
    std::map<std::string, std::vector<const store::ActivityRecord*>, std::greater<>> by_day;
    for (const store::ActivityRecord& e : entries) {
        by_day[format_local(e.created_at_s, "%Y-%m-%d")].push_back(&e);
    }
    for (auto& [day, list] : by_day) {
        out += "\n### " + day + "\n\n";
        out += "| ID | Time | T | Title | Read |\n|----|------|---|-------|------|\n";
        for (auto it = list.rbegin(); it != list.rend(); ++it) {
            const store::ActivityRecord& e = **it;
            out += "| #" + std::to_string(e.id) + " | " + format_local(e.created_at_s, "%H:%M") +
                   " | " + activity_symbol(e.type) + " | " + title_cell(e.title) + " | ~" +
                   std::to_string(e.read_tokens) + " |\n";
        }
    }
    return out;
}

Result<store::ActivityRecord> add_activity(const Roots& roots, const NewActivity& entry,
                                           std::time_t now) {
    std::string title(base::trim(entry.title));
    if (title.empty()) return make_error(Errc::bad_input, "activity title is empty");
    if (title.size() > kMaxTitleBytes) {
        return make_error(Errc::bad_input, "activity title is " + std::to_string(title.size()) +
                                               " bytes, more than the limit of " +
                                               std::to_string(kMaxTitleBytes));
    }
    if (entry.project) SPARKCTL_TRY(validate_project_name(*entry.project));
    if (entry.read_tokens && *entry.read_tokens < 0) {
        return make_error(Errc::bad_input, "--read-tokens must not be negative");
    }
    store::ActivityRecord rec;
    rec.created_at_s = static_cast<std::int64_t>(now);
    rec.type = to_string(entry.type);
    rec.title = title;
    rec.project = entry.project;
    rec.read_tokens = entry.read_tokens ? *entry.read_tokens : estimate_read_tokens(title);
    auto db = store::Database::open(roots.state_db());
    if (!db) return db.error();
    auto id = store::insert_activity(*db, rec);
    if (!id) return id.error();
    rec.id = *id;
    return rec;
}

Result<RenderResult> render_activity(const Roots& roots, const fs::path& file,
                                     std::optional<std::string> project, std::time_t now) {
    if (project) SPARKCTL_TRY(validate_project_name(*project));
    RenderResult result;
    std::error_code ec;
    result.file = fs::weakly_canonical(fs::absolute(file, ec), ec);
    if (ec) result.file = file;
    // Check the document before touching the database: bad input changes nothing.
    auto text = detail::read_text_file(result.file);
    if (!text) return text.error();
    if (auto b = find_tag_block(*text); !b) return base::with_context(b.error(), file.string());

    if (!project) {
        std::string p = project_for_path(roots, result.file.parent_path());
        if (!p.empty()) project = p;
    }
    result.project = project;

    auto db = store::Database::open(roots.state_db());
    if (!db) return db.error();
    store::ActivityQuery query;
    query.since_s = activity_window_start(now, kActivityDays);
    query.limit = kActivityLimit;
    query.project = project;
    auto entries = store::recent_activity(*db, query);
    if (!entries) return entries.error();
    result.entries = entries->size();
    std::string body = render_activity_body(*entries, kActivityDays);

    auto lock = detail::FileLock::acquire(roots.claude_md_lock());
    if (!lock) return lock.error();
    text = detail::read_text_file(result.file);  // re-read under the lock
    if (!text) return text.error();
    auto spliced = splice_tag_block(*text, body);
    if (!spliced) return base::with_context(spliced.error(), file.string());
    if (*spliced != *text) {
        SPARKCTL_TRY(base::write_file_atomic(result.file, *spliced));
        result.changed = true;
    }
    return result;
}

}  // namespace sparkctl::workspace
