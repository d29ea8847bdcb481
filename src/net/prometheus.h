// Prometheus text exposition format 0.0.4: a writer for our own /metrics and a parser for the
// engines' pages (vLLM, llama.cpp, SGLang). Format:
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sparkctl::net::prometheus {

using Labels = std::vector<std::pair<std::string, std::string>>;  // name, value (in order)

enum class MetricType { counter, gauge, histogram };

// Buckets by upper bound (ascending, +Inf implied); observe() is O(buckets). Not thread-safe.
struct Histogram {
    explicit Histogram(std::vector<double> bounds)
        : upper_bounds(std::move(bounds)), counts(upper_bounds.size() + 1, 0) {}
    void observe(double value);

    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> counts;  // per bucket, not cumulative; the last is (bound, +Inf)
    double sum = 0;
    std::uint64_t count = 0;
};

// Builds one page. Call family() once per metric name, then its samples. Label values and HELP
// text are escaped per the format (backslash, double quote, line feed).
class TextWriter {
  public:
    void family(std::string_view name, MetricType type, std::string_view help);
    void sample(std::string_view name, const Labels& labels, double value);
    // name_bucket{...,le="b"} (cumulative, then le="+Inf"), name_sum, name_count.
    void histogram(std::string_view name, const Labels& labels, const Histogram& h);
    const std::string& text() const { return out_; }

  private:
    std::string out_;
};

// Formats a sample value as the format writes it: "+Inf", "-Inf", "NaN", or the shortest
// decimal that round-trips.
std::string format_value(double value);

struct Sample {
    std::string name;
    Labels labels;
    double value = 0;
    std::optional<std::int64_t> timestamp_ms;
};

// Parses a whole page. Comment, HELP and TYPE lines are skipped. A malformed sample line is an
// error naming `source` and the line number: an engine page we cannot read is worth knowing.
base::Result<std::vector<Sample>> parse_text(std::string_view text, std::string_view source);

// The value of the first sample named `name` whose labels include all of `match`.
std::optional<double> find_value(const std::vector<Sample>& samples, std::string_view name,
                                 const Labels& match = {});

}  // namespace sparkctl::net::prometheus
