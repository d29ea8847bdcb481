// A small SVG writer for bench report's plots: line charts with axes, 1-2-5 ticks, axis labels,
// a title and a legend; every text escaped for XML. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sparkctl::bench {

struct Series {
    std::string name;
    std::vector<std::pair<double, double>> points;  // (x, y); non-finite ones are left out
    bool dashed = false;                            // INVALID or simulated runs
};

struct Plot {
    std::string title;
    std::string x_label;
    std::string y_label;
    std::vector<Series> series;
};

// A standalone SVG 1.1 document (640 x 400).
std::string render_svg(const Plot& plot);

// Tick values at 1, 2 or 5 times a power of ten covering [lo, hi], about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

}  // namespace sparkctl::bench
