#include "net/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sparkctl::net {

double percentile_sorted(const std::vector<double>& sorted, double q) {
    SPARKCTL_ASSERT(!sorted.empty() && q >= 0.0 && q <= 1.0);
    const double h = q * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(h));
    if (lo + 1 >= sorted.size()) return sorted.back();
    const double frac = h - static_cast<double>(lo);
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

base::Result<Stats> summarize(std::vector<double> samples) {
    if (samples.empty()) {
        return base::make_error(base::Errc::bad_input, "statistics: no samples");
    }
    if (std::any_of(samples.begin(), samples.end(), [](double v) { return std::isnan(v); })) {
        return base::make_error(base::Errc::bad_input, "statistics: a sample is NaN");
    }
    std::sort(samples.begin(), samples.end());
    Stats s;
    s.count = samples.size();
    s.mean =
        std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
    s.p50 = percentile_sorted(samples, 0.50);
    s.p90 = percentile_sorted(samples, 0.90);
    s.p95 = percentile_sorted(samples, 0.95);
    s.p99 = percentile_sorted(samples, 0.99);
    s.p99_9 = percentile_sorted(samples, 0.999);
    return s;
}

}  // namespace sparkctl::net
