#include "workspace/index.h"

#include <algorithm>
#include <array>
#include <map>
#include <system_error>

#include "base/file.h"
#include "base/strings.h"
#include "workspace/detail/fs.h"
#include "workspace/detail/markdown.h"
#include "workspace/repo_info.h"

namespace sparkctl::workspace {

namespace fs = std::filesystem;
using base::Errc;
using base::make_error;
using base::Result;

namespace {

enum Column { kName, kPath, kRemote, kDescription, kLanguage, kLastCommit, kColumns };

const std::array<const char*, kColumns> kHeaders = {"Name",        "Path",     "Remote",
                                                    "Description", "Language", "Last commit"};

int column_of(const std::string& header) {
    std::string h = base::to_lower(header);
    if (h == "name") return kName;
    if (h == "path") return kPath;
    if (h == "remote") return kRemote;
    if (h == "description") return kDescription;
    if (h == "language" || h == "primary language") return kLanguage;
    if (h == "last commit" || h == "last commit date" || h == "last commit (date)") {
        return kLastCommit;
    }
    return -1;
}

std::string* field(IndexRow& row, int column) {
    switch (column) {
        case kName:
            return &row.name;
        case kPath:
            return &row.path;
        case kRemote:
            return &row.remote;
        case kDescription:
            return &row.description;
        case kLanguage:
            return &row.language;
        case kLastCommit:
            return &row.last_commit;
        default:
            return nullptr;
    }
}

std::string join(const std::vector<std::string_view>& lines, std::size_t from, std::size_t to) {
    std::string out;
    for (std::size_t i = from; i < to; ++i) out += lines[i];
    return out;
}

std::string default_heading(std::string_view github_root) {
    return "# Projects and repositories\n\n"
           "Every project under `" +
           std::string(github_root) +
           "` (R-WS-2). Maintained by `sparkctl project new` and\n"
           "`sparkctl project index`; edit the Description column freely (a rebuild keeps it by\n"
           "name). Text outside the table is kept as written.\n\n";
}

}  // namespace

IndexDocument parse_index(std::string_view text) {
    IndexDocument doc;
    auto lines = detail::split_lines_keep_ends(text);
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        std::string_view line = detail::strip_eol(lines[i]);
        if (!detail::is_table_row(line) ||
            !detail::is_separator_row(detail::strip_eol(lines[i + 1]))) {
            continue;
        }
        std::vector<int> columns;
        bool has_name = false;
        for (const std::string& h : detail::split_row(line)) {
            columns.push_back(column_of(h));
            has_name = has_name || columns.back() == kName;
        }
        if (!has_name) continue;
        std::size_t j = i + 2;
        for (; j < lines.size(); ++j) {
            std::string_view row_line = detail::strip_eol(lines[j]);
            if (!detail::is_table_row(row_line)) break;
            IndexRow row;
            auto cells = detail::split_row(row_line);
            for (std::size_t c = 0; c < cells.size() && c < columns.size(); ++c) {
                if (std::string* f = field(row, columns[c])) *f = cells[c];
            }
            if (!row.name.empty()) doc.rows.push_back(std::move(row));
        }
        doc.before = join(lines, 0, i);
        doc.after = join(lines, j, lines.size());
        doc.has_table = true;
        return doc;
    }
    doc.before = std::string(text);
    return doc;
}

std::string render_index(const IndexDocument& doc, std::string_view github_root) {
    std::string out;
    if (doc.has_table) {
        out = doc.before;
    } else if (base::trim(doc.before).empty()) {
        out = default_heading(github_root);
    } else {
        out = doc.before;
        if (out.back() != '\n') out += '\n';
        out += '\n';
    }
    out += "|";
    for (const char* h : kHeaders) out += std::string(" ") + h + " |";
    out += "\n|";
    for (std::size_t i = 0; i < kHeaders.size(); ++i) out += "---|";
    out += "\n";
    for (const IndexRow& r : doc.rows) {
        out += "| " + detail::escape_cell(r.name) + " | " + detail::escape_cell(r.path) + " | " +
               detail::escape_cell(r.remote) + " | " + detail::escape_cell(r.description) + " | " +
               detail::escape_cell(r.language) + " | " + detail::escape_cell(r.last_commit) +
               " |\n";
    }
    if (doc.has_table) out += doc.after;
    return out;
}

void upsert_row(std::vector<IndexRow>& rows, IndexRow row) {
    for (IndexRow& r : rows) {
        if (r.name == row.name) {
            if (row.description.empty()) row.description = std::move(r.description);
            r = std::move(row);
            return;
        }
    }
    rows.push_back(std::move(row));
}

std::vector<IndexRow> merge_rebuild(std::vector<IndexRow> scanned,
                                    const std::vector<IndexRow>& previous) {
    std::map<std::string, const IndexRow*> by_name;
    for (const IndexRow& r : previous) by_name.emplace(r.name, &r);  // first row wins
    for (IndexRow& r : scanned) {
        auto it = by_name.find(r.name);
        if (r.description.empty() && it != by_name.end()) r.description = it->second->description;
    }
    std::sort(scanned.begin(), scanned.end(),
              [](const IndexRow& a, const IndexRow& b) { return a.name < b.name; });
    return scanned;
}

IndexRow describe_project(const fs::path& dir, std::string description) {
    RepoInfo info = inspect_repo(dir);
    IndexRow row;
    row.name = dir.filename().string();
    row.path = dir.string();
    row.remote = std::move(info.remote);
    row.description = std::move(description);
    row.language = std::move(info.language);
    row.last_commit = std::move(info.last_commit);
    return row;
}

Result<IndexDocument> read_index(const Roots& roots) {
    std::error_code ec;
    if (!fs::exists(roots.index_path(), ec)) return IndexDocument{};
    auto text = detail::read_text_file(roots.index_path());
    if (!text) return text.error();
    return parse_index(*text);
}

namespace {

Result<void> prepare_index_dir(const Roots& roots) {
    SPARKCTL_TRY(require_claude_home(roots));
    std::error_code ec;
    fs::create_directories(roots.index_path().parent_path(), ec);
    if (ec) {
        return make_error(Errc::io, roots.index_path().parent_path().string() +
                                        ": cannot create directory: " + ec.message());
    }
    return {};
}

}  // namespace

Result<void> add_to_index(const Roots& roots, IndexRow row) {
    SPARKCTL_TRY(prepare_index_dir(roots));
    auto lock = detail::FileLock::acquire(roots.index_lock());
    if (!lock) return lock.error();
    auto doc = read_index(roots);
    if (!doc) return doc.error();
    upsert_row(doc->rows, std::move(row));
    return base::write_file_atomic(roots.index_path(),
                                   render_index(*doc, roots.github_root.string()));
}

Result<std::vector<IndexRow>> rebuild_index(const Roots& roots) {
    SPARKCTL_TRY(require_github_root(roots));
    SPARKCTL_TRY(prepare_index_dir(roots));
    // Scan outside the lock: git may take a while, and the scan reads nothing we write.
    std::vector<IndexRow> scanned;
    std::error_code ec;
    for (fs::directory_iterator it(roots.github_root, ec), end; !ec && it != end;
         it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        std::error_code dir_ec;
        if (!it->is_directory(dir_ec)) continue;
        scanned.push_back(describe_project(it->path(), ""));
    }
    if (ec) {
        return make_error(Errc::io,
                          roots.github_root.string() + ": cannot list directory: " + ec.message());
    }
    auto lock = detail::FileLock::acquire(roots.index_lock());
    if (!lock) return lock.error();
    auto doc = read_index(roots);
    if (!doc) return doc.error();
    doc->rows = merge_rebuild(std::move(scanned), doc->rows);
    SPARKCTL_TRY(base::write_file_atomic(roots.index_path(),
                                         render_index(*doc, roots.github_root.string())));
    return doc->rows;
}

}  // namespace sparkctl::workspace
