#include "sim/report.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "base/strings.h"

namespace sparkctl::sim {

namespace {

std::optional<net::Stats> stats_of(const std::vector<double>& samples) {
    if (samples.empty()) return std::nullopt;
    auto s = net::summarize(samples);
    if (!s) return std::nullopt;
    return *s;
}

}  // namespace

Summary summarize(const Result& r) {
    Summary s;
    s.requests_completed = r.requests_completed;
    s.requests_clamped = r.requests_clamped;
    s.ttft_ms = stats_of(r.ttft_ms);
    s.tpot_ms = stats_of(r.tpot_ms);
    s.e2e_ms = stats_of(r.e2e_ms);
    s.queue_ms = stats_of(r.queue_ms);
    if (auto itl = summarize_runs(r.itl_ms_runs)) s.itl_ms = *itl;
    const double dur = r.simulated_s - r.first_arrival_s;
    if (dur > 0) {
        s.output_tokens_per_s = static_cast<double>(r.output_tokens) / dur;
        s.total_tokens_per_s = static_cast<double>(r.output_tokens + r.input_tokens) / dur;
        s.requests_per_s = static_cast<double>(r.requests_completed) / dur;
    }
    if (s.tpot_ms && s.tpot_ms->mean > 0) s.output_tokens_per_s_per_user = 1000.0 / s.tpot_ms->mean;
    s.kv_pool_peak_fraction = r.kv_pool_peak_fraction;
    s.preemptions = r.preemptions;
    if (r.prefix_lookup_tokens > 0) {
        s.prefix_cache_hit_rate =
            static_cast<double>(r.prefix_hit_tokens) / static_cast<double>(r.prefix_lookup_tokens);
    }
    s.steps = r.steps;
    s.simulated_s = r.simulated_s;
    return s;
}

std::optional<double> slo_value(const Summary& s, const SloTerm& term) {
    const std::optional<net::Stats>* st = term.metric == "ttft"   ? &s.ttft_ms
                                          : term.metric == "tpot" ? &s.tpot_ms
                                          : term.metric == "itl"  ? &s.itl_ms
                                          : term.metric == "e2e"  ? &s.e2e_ms
                                                                  : &s.queue_ms;
    if (!*st) return std::nullopt;
    const net::Stats& x = **st;
    if (term.stat == "mean") return x.mean;
    if (term.stat == "p50") return x.p50;
    if (term.stat == "p90") return x.p90;
    if (term.stat == "p95") return x.p95;
    if (term.stat == "p99") return x.p99;
    return x.p99_9;
}

bool slo_met(const Summary& s, const std::vector<SloTerm>& terms, std::string* failed) {
    for (const SloTerm& t : terms) {
        const auto v = slo_value(s, t);
        if (!v || *v > t.limit_ms) {
            if (failed) {
                *failed = v ? fmt::format("{}: {:.1f} ms", t.text, *v) : t.text + ": no samples";
            }
            return false;
        }
    }
    return true;
}

std::string sweep_svg(const std::string& title, const std::string& x_label,
                      const std::vector<SweepPoint>& points) {
    constexpr double kW = 640, kH = 400, kLeft = 70, kRight = 70, kTop = 40, kBottom = 50;
    const double pw = kW - kLeft - kRight;
    const double ph = kH - kTop - kBottom;
    double xmax = 0, ymax = 0, umax = 0;
    for (const SweepPoint& p : points) {
        xmax = std::max(xmax, p.load);
        ymax = std::max(ymax, p.output_tokens_per_s);
        umax = std::max(umax, p.output_tokens_per_s_per_user);
    }
    xmax = xmax > 0 ? xmax : 1;
    ymax = ymax > 0 ? ymax * 1.1 : 1;
    umax = umax > 0 ? umax * 1.1 : 1;
    auto px = [&](double x) { return kLeft + pw * x / xmax; };
    auto py = [&](double y, double max) { return kTop + ph * (1 - y / max); };
    std::string svg = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
        "<text x=\"{2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{3}</text>\n",
        kW, kH, kW / 2, base::xml_escape(title));
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n",
        kLeft, kTop, pw, ph);
    for (int i = 0; i <= 4; ++i) {
        const double f = i / 4.0;
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"#1f77b4\">{:.0f}</text>\n",
            kLeft - 6, kTop + ph * (1 - f) + 4, ymax * f);
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"start\" "
            "fill=\"#d62728\">{:.1f}</text>\n",
            kLeft + pw + 6, kTop + ph * (1 - f) + 4, umax * f);
        svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:g}</text>\n",
                           px(xmax * f), kTop + ph + 18, xmax * f);
    }
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                       kLeft + pw / 2, kH - 8, base::xml_escape(x_label));
    auto line = [&](const char* colour, auto value, double max) {
        std::string pts;
        for (const SweepPoint& p : points) {
            pts += fmt::format("{:.1f},{:.1f} ", px(p.load), py(value(p), max));
        }
        std::string out = fmt::format(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", colour,
            pts);
        for (const SweepPoint& p : points) {
            out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n",
                               px(p.load), py(value(p), max), colour);
        }
        return out;
    };
    svg += line(
        "#1f77b4", [](const SweepPoint& p) { return p.output_tokens_per_s; }, ymax);
    svg += line(
        "#d62728", [](const SweepPoint& p) { return p.output_tokens_per_s_per_user; }, umax);
    svg += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#1f77b4\">output tokens/s (all users)</text>\n"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#d62728\" text-anchor=\"end\">tokens/s per "
        "user</text>\n",
        kLeft + 6, kTop + 14, kLeft + pw - 6, kTop + 14);
    svg += "</svg>\n";
    return svg;
}

}  // namespace sparkctl::sim
