#include "bench/report.h"

#include <fmt/format.h>
#include <algorithm>
#include <map>
#include <set>

#include "bench/runs.h"
#include "bench/svg.h"

namespace sparkctl::bench {

namespace {

using nlohmann::json;

std::string text_of(const json& doc, const char* key, const char* none) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string(none);
}

std::string num(const json& point, const char* pointer, const char* format = "{:.1f}") {
    auto x = number_at(point, pointer);
    return x ? fmt::format(fmt::runtime(format), *x) : "—";
}

// A file-name-safe slug of the section key.
std::string slug(std::string_view text) {
    std::string out;
    for (char ch : text) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        out += ok ? ch : '_';
    }
    return out.substr(0, 80);
}

// The order of the label classes inside a section: measured valid runs first; the others after
// them under their own headings, never mixed into the valid ones' comparisons.
int class_rank(const std::string& label) {
    if (label == "VALID") return 0;
    if (label == "PREFIX-CACHE STUDY") return 1;
    if (label == "SIMULATED VALID" || label == "SIMULATED PREFIX-CACHE STUDY") return 2;
    return 3;  // INVALID, SIMULATED INVALID
}

const char* class_heading(int rank) {
    switch (rank) {
        case 0:
            return "Valid runs (R-OPS-2 checked: prefix caching off, no hits)";
        case 1:
            return "Prefix-cache studies (caching on deliberately; not comparable)";
        case 2:
            return "Simulated runs (against sparkctl's stand-in engine, not a real engine)";
        default:
            return "INVALID runs (kept for the record; their numbers are not results)";
    }
}

std::string hardware_text(const json& doc) {
    const json hw = doc.value("hardware", json());
    if (!hw.is_object() || !hw.contains("detected")) return "unknown";
    const json& d = hw["detected"];
    std::string gpus;
    if (d.contains("gpus") && d["gpus"].is_array()) {
        for (const json& g : d["gpus"]) {
            if (g.is_object() && g.contains("name") && g["name"].is_string())
                gpus += (gpus.empty() ? "" : ", ") + g["name"].get<std::string>();
        }
    }
    std::string cpu;
    if (d.contains("cpu") && d["cpu"].is_object()) cpu = text_of(d["cpu"], "model", "");
    const std::optional<double> mem = number_at(d, "/memory_total_bytes");
    return fmt::format("{}{}{}", gpus.empty() ? "no NVIDIA GPU" : gpus,
                       cpu.empty() ? "" : ", " + cpu,
                       mem ? fmt::format(", {:.0f} GiB", *mem / (1024.0 * 1024 * 1024)) : "");
}

// The point of `points` at the load of `at` (same kind, value and, for depth, batch size).
const json* point_at(const std::vector<json>& points, const json& at) {
    for (const json& p : points) {
        if (load_name_of(p) == load_name_of(at) && load_text_of(p) == load_text_of(at)) return &p;
    }
    return nullptr;
}

std::string change_text(const json& now, const json* before) {
    if (!before) return "—";
    auto a = number_at(*before, "/output_tokens_per_s"), b = number_at(now, "/output_tokens_per_s");
    if (!a || !b || *a == 0) return "—";
    return fmt::format("{:+.1f}%", (*b - *a) / *a * 100);
}

std::string load_heading(const std::string& name) {
    if (name == "concurrency") return "concurrency";
    if (name == "rate_per_s") return "rate (req/s)";
    if (name == "depth") return "depth (tokens)";
    return "trace";
}

}  // namespace

std::string md_text(std::string_view text) {
    std::string out;
    for (char ch : text) {
        switch (ch) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '\n':
            case '\r':
                out += ' ';
                break;
            case '|':
            case '`':
            case '*':
            case '_':
            case '[':
            case ']':
            case '#':
            case '\\':
                out += '\\';
                out += ch;
                break;
            default:
                out += ch;
        }
    }
    return out;
}

Report render_report(const std::vector<StoredRun>& runs, std::string_view plot_stem,
                     std::string_view generated_at) {
    // Sections: model x engine x quant, in the order first seen.
    std::vector<std::string> order;
    std::map<std::string, std::vector<const StoredRun*>> sections;
    for (const StoredRun& r : runs) {
        const std::string key = text_of(r.doc, "model", "?") + " · " +
                                text_of(r.doc, "engine", "unknown engine") + " · " +
                                text_of(r.doc, "quant", "quant unknown");
        if (!sections.count(key)) order.push_back(key);
        sections[key].push_back(&r);
    }
    Report rep;
    std::string& md = rep.markdown;
    md += fmt::format(
        "## Benchmarks\n\nGenerated by `sparkctl bench report` from {} stored run{} ({} UTC). "
        "Labels: VALID (R-OPS-2 checked: prefix caching off and no hits), INVALID (with the "
        "reason), SIMULATED (against sparkctl's stand-in engine), PREFIX-CACHE STUDY "
        "(`--allow-prefix-cache`). Each class has its own heading; \"change\" compares a run "
        "with the previous run of the same class, model, engine and quant at the same load.\n",
        runs.size(), runs.size() == 1 ? "" : "s", md_text(generated_at));
    if (runs.empty()) md += "\nNo runs stored yet: `sparkctl bench run URL` stores each run.\n";
    std::set<std::string> used_names;
    for (const std::string& key : order) {
        const std::vector<const StoredRun*>& rs = sections[key];
        md += fmt::format("\n### {}\n", md_text(key));

        // Plots: the latest eight runs of the section.
        const StoredRun& head = *rs.front();
        std::string model = text_of(head.doc, "model", "model");
        model = model.substr(
            model.find_last_of('/') == std::string::npos ? 0 : model.find_last_of('/') + 1);
        const std::string key_slug = slug(model + "-" + text_of(head.doc, "engine", "engine") +
                                          "-" + text_of(head.doc, "quant", "quant"));
        std::string base = slug(plot_stem) + "-" + key_slug;
        for (int n = 2; used_names.count(base); ++n) {
            base = slug(plot_stem) + "-" + key_slug + "-" + std::to_string(n);
        }
        used_names.insert(base);
        Plot tput{"Output tokens/s vs load", "", "output tokens/s", {}};
        Plot lat{"Latency percentiles vs load (latest run)", "", "ms", {}};
        Plot user{"Tokens/s per user vs total",
                  "output tokens/s (total)",
                  "output tokens/s per user",
                  {}};
        const std::size_t first = rs.size() > 8 ? rs.size() - 8 : 0;
        for (std::size_t i = first; i < rs.size(); ++i) {
            const StoredRun& r = *rs[i];
            const std::string label = run_label(r.doc);
            const bool dashed = label != "VALID";
            Series t{fmt::format("run {} ({})", r.id, label), {}, dashed};
            Series u = t;
            for (const json& p : points_of(r.doc)) {
                if (tput.x_label.empty()) tput.x_label = load_heading(load_name_of(p));
                auto x = load_of(p);
                auto tp = number_at(p, "/output_tokens_per_s");
                auto pu = number_at(p, "/output_tokens_per_s_per_user");
                if (x && tp) t.points.emplace_back(*x, *tp);
                if (tp && pu) u.points.emplace_back(*tp, *pu);
            }
            tput.series.push_back(std::move(t));
            user.series.push_back(std::move(u));
        }
        {
            const StoredRun& last = *rs.back();
            lat.title = fmt::format("Latency percentiles vs load (run {}, {})", last.id,
                                    run_label(last.doc));
            const std::pair<const char*, const char*> curves[] = {{"TTFT p50", "/ttft_ms/p50"},
                                                                  {"TTFT p90", "/ttft_ms/p90"},
                                                                  {"TTFT p99", "/ttft_ms/p99"},
                                                                  {"E2E p50", "/e2e_ms/p50"},
                                                                  {"E2E p99", "/e2e_ms/p99"}};
            for (auto [name, pointer] : curves) {
                Series s{name, {}, false};
                for (const json& p : points_of(last.doc)) {
                    if (lat.x_label.empty()) lat.x_label = load_heading(load_name_of(p));
                    auto x = load_of(p);
                    auto y = number_at(p, pointer);
                    if (x && y) s.points.emplace_back(*x, *y);
                }
                lat.series.push_back(std::move(s));
            }
        }
        const std::pair<const char*, Plot*> plots[] = {
            {"throughput", &tput}, {"latency", &lat}, {"per-user", &user}};
        for (auto [suffix, plot] : plots) {
            const std::string name = base + "-" + suffix + ".svg";
            rep.plots.push_back({name, render_svg(*plot)});
            md += fmt::format("\n![{}]({})", md_text(plot->title), name);
        }
        md += "\n";

        // The runs, newest first within each class.
        for (int rank = 0; rank < 4; ++rank) {
            std::vector<const StoredRun*> cls;
            for (const StoredRun* r : rs) {
                if (class_rank(run_label(r->doc)) == rank) cls.push_back(r);
            }
            if (cls.empty()) continue;
            md += fmt::format("\n#### {}\n", class_heading(rank));
            for (std::size_t i = cls.size(); i-- > 0;) {
                const StoredRun& r = *cls[i];
                const std::vector<json> points = points_of(r.doc);
                const std::string load_name = points.empty() ? "" : load_name_of(points.front());
                // The previous run of the same class and load kind.
                const StoredRun* prev = nullptr;
                for (std::size_t j = i; j-- > 0;) {
                    const std::vector<json> pp = points_of(cls[j]->doc);
                    if (run_label(cls[j]->doc) == run_label(r.doc) && !pp.empty() &&
                        load_name_of(pp.front()) == load_name) {
                        prev = cls[j];
                        break;
                    }
                }
                md += fmt::format("\n**Run {}** · {} · {}\n\n", r.id, md_text(r.created_at),
                                  run_label(r.doc));
                if (!r.doc.value("valid", false) || r.doc.value("prefix_cache_study", false)) {
                    md += fmt::format("- reason: {}\n",
                                      md_text(text_of(r.doc, "invalid_reason", "not recorded")));
                }
                md += fmt::format("- engine: {} {} at {}\n",
                                  md_text(text_of(r.doc, "engine", "unknown")),
                                  md_text(text_of(r.doc, "engine_version", "")),
                                  md_text(text_of(r.doc, "endpoint", "?")));
                md += fmt::format("- launch flags: {}\n",
                                  md_text(text_of(r.doc, "launch_flags",
                                                  "not given (what the engine reports: sparkctl "
                                                  "bench show ID --json, engine_reported_args)")));
                md += fmt::format("- hardware: {}; sparkctl {}; seed {}\n",
                                  md_text(hardware_text(r.doc)),
                                  md_text(text_of(r.doc, "sparkctl_version", "?")),
                                  md_text(r.doc.value("seed", json()).dump()));
                md += prev ? fmt::format("- change: against run {} ({})\n", prev->id,
                                         md_text(prev->created_at))
                           : "- change: no earlier run of this class to compare with\n";
                md += fmt::format(
                    "\n| {} | TTFT p50 (ms) | TTFT p99 (ms) | TPOT p50 (ms) | output tok/s | "
                    "tok/s per user | errors | predicted tok/s | change |\n"
                    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
                    load_heading(load_name));
                const std::vector<json> prev_points =
                    prev ? points_of(prev->doc) : std::vector<json>{};
                for (const json& p : points) {
                    md += fmt::format(
                        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", load_text_of(p),
                        num(p, "/ttft_ms/p50"), num(p, "/ttft_ms/p99"),
                        num(p, "/tpot_ms/p50", "{:.2f}"), num(p, "/output_tokens_per_s"),
                        num(p, "/output_tokens_per_s_per_user"), num(p, "/errors", "{:.0f}"),
                        num(p, "/predicted/output_tokens_per_s"),
                        change_text(p, prev ? point_at(prev_points, p) : nullptr));
                }
            }
        }
    }
    return rep;
}

base::Result<std::string> splice_report(std::string_view existing, std::string_view section,
                                        std::string_view file_name) {
    auto line_of = [&](std::size_t at) {
        return 1 + std::count(existing.begin(), existing.begin() + static_cast<long>(at), '\n');
    };
    auto all = [&](std::string_view marker) {
        std::vector<std::size_t> at;
        for (std::size_t i = existing.find(marker); i != std::string_view::npos;
             i = existing.find(marker, i + 1)) {
            at.push_back(i);
        }
        return at;
    };
    const std::vector<std::size_t> begins = all(kReportBegin), ends = all(kReportEnd);
    auto broken = [&](const std::string& what) {
        return base::make_error(base::Errc::bad_input,
                                fmt::format("{}: {}; fix or remove the sparkctl:bench-report "
                                            "markers (the file was not changed)",
                                            file_name, what));
    };
    std::string body = std::string(kReportBegin) + "\n" + std::string(section);
    if (!body.ends_with('\n')) body += '\n';
    body += kReportEnd;
    if (begins.empty() && ends.empty()) {
        std::string out(existing);
        if (!out.empty()) out += out.ends_with('\n') ? "\n" : "\n\n";
        return out + body + "\n";
    }
    if (begins.size() > 1)
        return broken(fmt::format("a second begin marker on line {}", line_of(begins[1])));
    if (ends.size() > 1)
        return broken(fmt::format("a second end marker on line {}", line_of(ends[1])));
    if (begins.empty())
        return broken(
            fmt::format("an end marker on line {} without a begin marker", line_of(ends[0])));
    if (ends.empty())
        return broken(
            fmt::format("a begin marker on line {} without an end marker", line_of(begins[0])));
    if (ends[0] < begins[0] + kReportBegin.size()) {
        return broken(
            fmt::format("the end marker (line {}) comes before the begin marker (line {})",
                        line_of(ends[0]), line_of(begins[0])));
    }
    return std::string(existing.substr(0, begins[0])) + body +
           std::string(existing.substr(ends[0] + kReportEnd.size()));
}

}  // namespace sparkctl::bench
