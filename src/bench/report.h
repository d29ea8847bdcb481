// bench report: the stored runs as a PERFORMANCE.md section (per model x engine x quant, a table
// per run of its load points, labels, predicted vs measured, change since the previous
// comparable run) and SVG plots beside it; and the marked section inside a user's file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "bench/history.h"

namespace sparkctl::bench {

inline constexpr std::string_view kReportBegin = "<!-- sparkctl:bench-report:begin -->";
inline constexpr std::string_view kReportEnd = "<!-- sparkctl:bench-report:end -->";

struct ReportFile {
    std::string name;  // a plain file name, written beside the report
    std::string text;
};

struct Report {
    std::string markdown;  // the section body, without the markers
    std::vector<ReportFile> plots;
};

// `runs` oldest first (list_runs); `plot_stem` prefixes the plot file names (the report's stem,
// "PERFORMANCE"); `generated_at` is printed.
Report render_report(const std::vector<StoredRun>& runs, std::string_view plot_stem,
                     std::string_view generated_at);

// `existing` with its marked section replaced by `section` (markers kept), or, when it has no
// markers at all, `section` appended in a new marked section. Anything else (one marker without
// the other, markers twice, end before begin) is bad_input naming `file_name` and the line: the
// file is never rewritten then. Total: any bytes give a value or that error.
base::Result<std::string> splice_report(std::string_view existing, std::string_view section,
                                        std::string_view file_name);

// Markdown-safe text for a table cell or a heading: |, <, >, &, `, *, _, [, ], # and line breaks
// neutralised, so user text (model names, launch flags) cannot forge markers or break a table.
std::string md_text(std::string_view text);

}  // namespace sparkctl::bench
