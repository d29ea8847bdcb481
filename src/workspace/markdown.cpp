#include "workspace/detail/markdown.h"

#include "base/strings.h"

namespace sparkctl::workspace::detail {

std::string escape_cell(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : base::trim(text)) {
        auto u = static_cast<unsigned char>(c);
        if (c == '|') {
            out += "\\|";
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out += ' ';
        } else if (u < 0x20 || u == 0x7f) {
            continue;
        } else {
            out += c;
        }
    }
    return std::string(base::trim(out));
}

std::string unescape_cell(std::string_view cell) {
    cell = base::trim(cell);
    std::string out;
    out.reserve(cell.size());
    for (std::size_t i = 0; i < cell.size(); ++i) {
        if (cell[i] == '\\' && i + 1 < cell.size() && cell[i + 1] == '|') {
            out += '|';
            ++i;
        } else {
            out += cell[i];
        }
    }
    return out;
}

bool is_table_row(std::string_view line) {
    line = base::trim(line);
    return !line.empty() && line.front() == '|';
}

std::vector<std::string> split_row(std::string_view line) {
    line = base::trim(line);
    if (!line.empty() && line.front() == '|') line.remove_prefix(1);
    // A trailing unescaped pipe closes the row.
    if (!line.empty() && line.back() == '|' &&
        !(line.size() >= 2 && line[line.size() - 2] == '\\')) {
        line.remove_suffix(1);
    }
    std::vector<std::string> cells;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= line.size(); ++i) {
        if (i == line.size() || (line[i] == '|' && (i == 0 || line[i - 1] != '\\'))) {
            cells.push_back(unescape_cell(line.substr(start, i - start)));
            start = i + 1;
        }
    }
    return cells;
}

bool is_separator_row(std::string_view line) {
    if (!is_table_row(line)) return false;
    auto cells = split_row(line);
    if (cells.empty()) return false;
    for (const std::string& c : cells) {
        if (c.empty()) return false;
        bool dash = false;
        for (char ch : c) {
            if (ch == '-') {
                dash = true;
            } else if (ch != ':' && ch != ' ') {
                return false;
            }
        }
        if (!dash) return false;
    }
    return true;
}

std::vector<std::string_view> split_lines_keep_ends(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t nl = text.find('\n', start);
        std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
        out.push_back(text.substr(start, end - start));
        start = end;
    }
    return out;
}

std::string_view strip_eol(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

}  // namespace sparkctl::workspace::detail
