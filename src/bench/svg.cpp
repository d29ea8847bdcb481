#include "bench/svg.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

#include "base/strings.h"

namespace sparkctl::bench {

namespace {

constexpr double kWidth = 640, kHeight = 400;
constexpr double kLeft = 70, kRight = 180, kTop = 40, kBottom = 55;
// Okabe-Ito, distinguishable with colour-vision deficiencies.
constexpr const char* kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#F0E442", "#000000"};

std::string tick_text(double v) {
    if (v == 0) return "0";
    const double a = std::abs(v);
    if (a >= 1e6) return fmt::format("{:g}M", v / 1e6);
    if (a >= 1e4) return fmt::format("{:g}k", v / 1e3);
    return fmt::format("{:g}", v);
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || hi <= lo || target < 1) return {lo};
    const double raw = (hi - lo) / target;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        step = m * mag;
        if (step >= raw) break;
    }
    std::vector<double> ticks;
    for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
        ticks.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
        if (ticks.size() > 50) break;
    }
    return ticks;
}

std::string render_svg(const Plot& plot) {
    double x_lo = INFINITY, x_hi = -INFINITY, y_hi = 0;
    for (const Series& s : plot.series) {
        for (auto [x, y] : s.points) {
            if (!std::isfinite(x) || !std::isfinite(y)) continue;
            x_lo = std::min(x_lo, x);
            x_hi = std::max(x_hi, x);
            y_hi = std::max(y_hi, y);
        }
    }
    const bool empty = !(x_lo <= x_hi);
    if (empty) {
        x_lo = 0;
        x_hi = 1;
    }
    if (x_hi == x_lo) {  // one load: from 0 (or one below) to it
        if (x_lo > 0) {
            x_lo = 0;
        } else {
            x_lo -= 1;
            x_hi += 1;
        }
    }
    if (!(y_hi > 0)) y_hi = 1;
    // Axes from the first and last ticks, so the data sits inside them.
    std::vector<double> xt = nice_ticks(x_lo, x_hi), yt = nice_ticks(0, y_hi);
    // Whole loads (users, depths) get whole ticks.
    bool whole = true;
    for (const Series& se : plot.series)
        for (auto [x, y] : se.points) whole = whole && (!std::isfinite(x) || x == std::floor(x));
    if (whole && xt.size() > 1 && xt[1] - xt[0] < 1) {
        xt.clear();
        for (double t = std::ceil(x_lo); t <= x_hi; ++t) xt.push_back(t);
    }
    // The y axis ends on a tick at or above the largest value.
    if (yt.size() > 1 && yt.back() < y_hi) yt.push_back(yt.back() + (yt[1] - yt[0]));
    const double x0 = std::min(x_lo, xt.front()), x1 = std::max(x_hi, xt.back());
    const double y1 = std::max(y_hi, yt.back());
    const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
    auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
    auto py = [&](double y) { return kTop + ph - y / y1 * ph; };

    std::string s = fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>\n"
        "<text x=\"{2}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{3}</text>\n",
        kWidth, kHeight, kLeft + pw / 2, base::xml_escape(plot.title));
    // Grid, ticks and their labels.
    for (double t : yt) {
        s += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" "
            "stroke=\"#dddddd\"/>\n"
            "<text x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
            kLeft, py(t), kLeft + pw, kLeft - 6, py(t) + 4, base::xml_escape(tick_text(t)));
    }
    for (double t : xt) {
        s += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" "
            "stroke=\"#000000\"/>\n"
            "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\">{4}</text>\n",
            px(t), kTop + ph, kTop + ph + 5, kTop + ph + 18, base::xml_escape(tick_text(t)));
    }
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#000000\"/>\n"
        "<line x1=\"{0}\" y1=\"{2}\" x2=\"{3}\" y2=\"{2}\" stroke=\"#000000\"/>\n"
        "<text x=\"{4}\" y=\"{5}\" text-anchor=\"middle\">{6}</text>\n"
        "<text x=\"18\" y=\"{7}\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
        "{7})\">{8}</text>\n",
        kLeft, kTop, kTop + ph, kLeft + pw, kLeft + pw / 2, kHeight - 12,
        base::xml_escape(plot.x_label), kTop + ph / 2, base::xml_escape(plot.y_label));
    if (empty) {
        s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>\n",
                         kLeft + pw / 2, kTop + ph / 2);
    }
    // The series, then the legend.
    for (std::size_t i = 0; i < plot.series.size(); ++i) {
        const Series& se = plot.series[i];
        const char* colour = kColours[i % std::size(kColours)];
        std::string pts;
        std::string marks;
        for (auto [x, y] : se.points) {
            if (!std::isfinite(x) || !std::isfinite(y)) continue;
            pts += fmt::format("{}{:.1f},{:.1f}", pts.empty() ? "" : " ", px(x), py(y));
            marks += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n",
                                 px(x), py(y), colour);
        }
        if (!pts.empty()) {
            s += fmt::format(
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" "
                "stroke-width=\"2\"{}/>\n",
                pts, colour, se.dashed ? " stroke-dasharray=\"6 4\"" : "");
        }
        s += marks;
        const double ly = kTop + 10 + 20 * static_cast<double>(i);
        s += fmt::format(
            "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" "
            "stroke-width=\"2\"{4}/>\n"
            "<text x=\"{5}\" y=\"{6}\">{7}</text>\n",
            kLeft + pw + 12, ly, kLeft + pw + 32, colour,
            se.dashed ? " stroke-dasharray=\"6 4\"" : "", kLeft + pw + 38, ly + 4,
            base::xml_escape(se.name));
    }
    s += "</svg>\n";
    return s;
}

}  // namespace sparkctl::bench
