// The one statistics shape (design.md "Contracts"): {"mean","p50","p90","p95","p99","p99_9"}
// of a set of samples, in the samples' unit.
#pragma once

#include <cstddef>
#include <vector>

#include "base/result.h"

namespace sparkctl::net {

struct Stats {
    std::size_t count = 0;
    double mean = 0;
    double p50 = 0;
    double p90 = 0;
    double p95 = 0;
    double p99 = 0;
    double p99_9 = 0;
};

// Exact percentile of `sorted` (ascending, non-empty) at q in [0, 1], by linear interpolation
// between closest ranks: rank h = q * (n - 1), result x[floor h] + (h - floor h) *
// (x[floor h + 1] - x[floor h]). This is numpy.percentile's default method "linear" (Hyndman
// and Fan definition 7): https://numpy.org/doc/stable/reference/generated/numpy.percentile.html
double percentile_sorted(const std::vector<double>& sorted, double q);

// Mean and percentiles of `samples` (taken by value: sorted in place). Fails with bad_input on
// no samples or a NaN sample; never throws.
base::Result<Stats> summarize(std::vector<double> samples);

}  // namespace sparkctl::net
