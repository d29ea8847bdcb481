// Reading stored runs (bench/history.h): their points, labels and headline numbers, two runs
// compared point by point, a run as CSV. Pure functions of the stored documents.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/history.h"

namespace sparkctl::bench {

// The load points of a run document: its `sweep`, a --depth run's `depth`, or the document
// itself for one point.
std::vector<nlohmann::json> points_of(const nlohmann::json& doc);
// The load field of a point: "depth", "concurrency", "rate_per_s"; "" for a trace.
std::string load_name_of(const nlohmann::json& point);
// The point's load value; nullopt for a trace.
std::optional<double> load_of(const nlohmann::json& point);
// The point's load as a table cell: "4", "0.5", "trace"; a --depth point sent in batches of
// N > 1 requests adds them as llama-benchy names its tests: "4096 (c8)".
std::string load_text_of(const nlohmann::json& point);
// "VALID", "INVALID", "SIMULATED", "SIMULATED INVALID", "PREFIX-CACHE STUDY" (and combinations):
// never empty, so a run is never shown without saying which it is.
std::string run_label(const nlohmann::json& doc);
// The best output_tokens_per_s over the points (0 when none).
double headline_tokens_per_s(const nlohmann::json& doc);
// A number at a JSON pointer path ("/ttft_ms/p50"), else nullopt.
std::optional<double> number_at(const nlohmann::json& j, const char* pointer);

// The metrics compare and report show, as JSON pointers into a point.
struct Metric {
    const char* name;     // "ttft_ms_p50"
    const char* pointer;  // "/ttft_ms/p50"
    const char* repeat;   // its field in a `repeats` entry, nullptr when repeats do not keep it
};
const std::vector<Metric>& headline_metrics();

// Per point matched by load: a, b, diff (b - a), diff_ratio ((b - a) / a), and when both runs
// kept --repeats at that point the noise (2 standard errors of the difference of the repeat
// means, Welch) and exceeds_noise; else both null. Points in one run only are listed apart.
nlohmann::json compare_runs(const StoredRun& a, const StoredRun& b);

// One CSV row per point, a header line first; RFC 4180 (fields with a comma, quote, CR or LF in
// double quotes, quotes doubled; lines end in CRLF).
std::string export_csv(const StoredRun& run);
// One RFC 4180 field.
std::string csv_field(std::string_view text);

}  // namespace sparkctl::bench
