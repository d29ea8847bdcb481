// Private to workspace: the bits of Markdown table syntax the index and the activity table use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sparkctl::workspace::detail {

// Makes `text` safe as one table cell: '|' becomes "\|", line breaks and tabs become spaces,
// other control bytes are dropped, and surrounding blanks are trimmed.
std::string escape_cell(std::string_view text);
// Reverses escape_cell's "\|" and trims.
std::string unescape_cell(std::string_view cell);

// True when `line` (without its newline) looks like a table row: starts with '|' after blanks.
bool is_table_row(std::string_view line);
// The unescaped, trimmed cells of a table row; the outer pipes are optional.
std::vector<std::string> split_row(std::string_view line);
// True for a header separator row such as "|---|:--:|".
bool is_separator_row(std::string_view line);

// Splits text into lines, each keeping its "\n" (the last may have none).
std::vector<std::string_view> split_lines_keep_ends(std::string_view text);
// A line without its trailing "\n" or "\r\n".
std::string_view strip_eol(std::string_view line);

}  // namespace sparkctl::workspace::detail
