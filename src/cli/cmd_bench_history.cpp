// sparkctl bench list | show | compare | export | report: the run history every `bench run`
// stores (bench/history.h, store migration 3). docs/dev/bench.md "Results that last".
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/exit_status.h"
#include "base/file.h"
#include "bench/history.h"
#include "bench/report.h"
#include "bench/runs.h"
#include "cli/bench_history.h"
#include "cli/hw_json.h"
#include "hw/detect.h"
#include "workspace/roots.h"

namespace sparkctl::cli {

using nlohmann::json;

base::Result<store::Database> open_bench_store(Context& c) {
    auto cfg = c.config();
    if (!cfg) return cfg.error();
    const config::Setting& s = (*cfg)->get("data_dir");
    const std::filesystem::path dir = workspace::expand_home(s.value, std::getenv("HOME"));
    if (s.value.empty() || !dir.is_absolute()) {
        return base::make_error(base::Errc::bad_input,
                                "data_dir: '" + s.value + "' is not an absolute path" +
                                    (s.where.empty() ? "" : " (from " + s.where + ")"));
    }
    auto db = store::Database::open(dir.lexically_normal() / "state.db");
    if (!db) return base::with_context(db.error(), "the bench run history");
    return db;
}

base::Result<std::int64_t> store_bench_run(store::Database& db, json& doc, const RunProvenance& p) {
    doc["target"] = p.target;
    if (!p.quant.empty()) {
        doc["quant"] = p.quant;
        doc["quant_source"] = "--quant";
    } else if (p.report && p.report->quant) {
        doc["quant"] = *p.report->quant;
        doc["quant_source"] = p.report->source;
    } else {
        doc["quant"] = nullptr;
        doc["quant_source"] = nullptr;
    }
    doc["launch_flags"] = p.launch_flags.empty() ? json(nullptr) : json(p.launch_flags);
    doc["engine_reported_args"] =
        p.report ? json{{"source", p.report->source}, {"args", p.report->args}} : json(nullptr);
    std::unique_ptr<hw::System> system = hw::make_real_system();
    auto detected = hw::detect(*system);
    doc["hardware"] = detected ? json{{"detected", detection_json(*detected)}} : json(nullptr);
    if (!detected) doc["hardware_error"] = detected.error().message;
    doc["sparkctl_version"] = SPARKCTL_VERSION;
    doc["seed"] = p.seed;
    auto id = bench::save_run(db, doc);
    if (!id) return id.error();
    doc["run_id"] = *id;
    return *id;
}

namespace {

struct HistoryArgs {
    std::int64_t id = 0;
    std::int64_t other = 0;
    bool csv = false;
    std::string out = "PERFORMANCE.md";
};

std::string opt_text(const json& j, const char* key, const char* none = "-") {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(none);
}

// "concurrency 1,2,4" / "rate_per_s 5" / "depth 0,4096 (c1,8)" / "trace": each value once.
std::string loads_text(const json& doc) {
    std::string name;
    std::vector<double> values, users;
    auto add = [](std::vector<double>& v, double x) {
        if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
    };
    for (const json& p : bench::points_of(doc)) {
        name = bench::load_name_of(p);
        if (auto x = bench::load_of(p)) add(values, *x);
        if (auto n = bench::number_at(p, "/concurrency"); n && name == "depth") add(users, *n);
    }
    if (name.empty()) return "trace";
    const std::string text = name + " " + fmt::format("{:g}", fmt::join(values, ","));
    return users.size() > 1 || (users.size() == 1 && users[0] > 1)
               ? text + fmt::format(" (c{:g})", fmt::join(users, ","))
               : text;
}

json list_entry(const bench::StoredRun& r) {
    json loads = json::array();
    std::string load_name;
    for (const json& p : bench::points_of(r.doc)) {
        load_name = bench::load_name_of(p);
        if (auto x = bench::load_of(p)) loads.push_back(*x);
    }
    return {{"id", r.id},
            {"created_at", r.created_at},
            {"model", r.doc.value("model", "")},
            {"engine", r.doc.value("engine", json())},
            {"engine_version", r.doc.value("engine_version", json())},
            {"quant", r.doc.value("quant", json())},
            {"load_name", load_name.empty() ? json("trace") : json(load_name)},
            {"loads", loads},
            {"output_tokens_per_s", bench::headline_tokens_per_s(r.doc)},
            {"valid", r.doc.value("valid", false)},
            {"invalid_reason", r.doc.value("invalid_reason", json())},
            {"simulated", r.doc.value("simulated", false)},
            {"prefix_cache_study", r.doc.value("prefix_cache_study", false)},
            {"label", bench::run_label(r.doc)}};
}

int do_list(Context& c, store::Database& db) {
    auto runs = bench::list_runs(db);
    if (!runs) return c.out.fail(runs.error());
    if (c.out.json) {
        json arr = json::array();
        for (const bench::StoredRun& r : *runs) arr.push_back(list_entry(r));
        c.out.emit_json({{"runs", arr}});
        return base::kExitOk;
    }
    std::string t = fmt::format("{:>5}  {:<20}  {:<24} {:<10} {:<8} {:<22} {:>11}  {}\n", "ID",
                                "DATE", "MODEL", "ENGINE", "QUANT", "LOAD", "OUT TOK/S", "LABEL");
    for (const bench::StoredRun& r : *runs) {
        t += fmt::format("{:>5}  {:<20}  {:<24} {:<10} {:<8} {:<22} {:>11.1f}  {}\n", r.id,
                         r.created_at, opt_text(r.doc, "model"), opt_text(r.doc, "engine"),
                         opt_text(r.doc, "quant"), loads_text(r.doc),
                         bench::headline_tokens_per_s(r.doc), bench::run_label(r.doc));
    }
    if (runs->empty()) t += "(no runs yet: sparkctl bench run URL stores each run)\n";
    c.out.emit_text(t);
    return base::kExitOk;
}

std::string stat_text(const json& p, const char* pointer, const char* unit) {
    auto x = bench::number_at(p, pointer);
    return x ? fmt::format("{:.2f}{}", *x, unit) : "-";
}

int do_show(Context& c, store::Database& db, std::int64_t id) {
    auto run = bench::load_run(db, id);
    if (!run) return c.out.fail(run.error());
    if (c.out.json) {
        json doc = run->doc;
        doc["created_at"] = run->created_at;
        c.out.emit_json(doc);
        return base::kExitOk;
    }
    const json& d = run->doc;
    std::string t = fmt::format("run {} ({}), {}\n", run->id, run->created_at, bench::run_label(d));
    if (!d.value("valid", false) || d.value("prefix_cache_study", false))
        t += fmt::format("  reason:        {}\n", opt_text(d, "invalid_reason"));
    t +=
        fmt::format("  model:         {} (quant {})\n", opt_text(d, "model"), opt_text(d, "quant"));
    t += fmt::format("  engine:        {} {}\n", opt_text(d, "engine"),
                     opt_text(d, "engine_version", ""));
    t += fmt::format("  target:        {}\n", opt_text(d, "target"));
    t += fmt::format("  launch flags:  {}\n", opt_text(d, "launch_flags", "(not given)"));
    t += fmt::format("  sparkctl:      {}, seed {}\n", opt_text(d, "sparkctl_version"),
                     d.value("seed", json()).dump());
    t += fmt::format("{:>12} {:>9} {:>11} {:>10} {:>10} {:>10} {:>10} {:>6}\n", "load", "req/s",
                     "out tok/s", "ttft p50", "ttft p99", "tpot p50", "itl p99", "errors");
    for (const json& p : bench::points_of(d)) {
        t += fmt::format("{:>12} {:>9} {:>11} {:>10} {:>10} {:>10} {:>10} {:>6}\n",
                         bench::load_text_of(p), stat_text(p, "/requests_per_s", ""),
                         stat_text(p, "/output_tokens_per_s", ""),
                         stat_text(p, "/ttft_ms/p50", "ms"), stat_text(p, "/ttft_ms/p99", "ms"),
                         stat_text(p, "/tpot_ms/p50", "ms"), stat_text(p, "/itl_ms/p99", "ms"),
                         p.value("errors", json()).dump());
    }
    c.out.emit_text(t);
    return base::kExitOk;
}

int do_compare(Context& c, store::Database& db, std::int64_t ida, std::int64_t idb) {
    auto a = bench::load_run(db, ida);
    if (!a) return c.out.fail(a.error());
    auto b = bench::load_run(db, idb);
    if (!b) return c.out.fail(b.error());
    const json cmp = bench::compare_runs(*a, *b);
    if (c.out.json) {
        c.out.emit_json(cmp);
        return base::kExitOk;
    }
    std::string t =
        fmt::format("A: run {} ({}, {})\nB: run {} ({}, {})\n", a->id, a->created_at,
                    bench::run_label(a->doc), b->id, b->created_at, bench::run_label(b->doc));
    for (const json& p : cmp["points"]) {
        t += fmt::format(
            "{} {}:\n",
            p["load_name"].get<std::string>().empty() ? "trace" : p["load_name"].get<std::string>(),
            p["load"].is_number() ? fmt::format("{:g}", p["load"].get<double>()) : "");
        t += fmt::format("  {:<30} {:>12} {:>12} {:>12} {:>8}  {}\n", "metric", "A", "B", "B-A",
                         "B/A-1", "vs noise");
        for (const bench::Metric& m : bench::headline_metrics()) {
            const json& e = p["metrics"][m.name];
            auto num = [](const json& v, const char* f) {
                return v.is_number() ? fmt::format(fmt::runtime(f), v.get<double>())
                                     : std::string("-");
            };
            const std::string noise =
                e["exceeds_noise"].is_null()
                    ? "unknown (no --repeats in both)"
                    : fmt::format("{} (noise {:.3g})",
                                  e["exceeds_noise"].get<bool>() ? "EXCEEDS" : "within",
                                  e["noise"].get<double>());
            t +=
                fmt::format("  {:<30} {:>12} {:>12} {:>12} {:>8}  {}\n", m.name,
                            num(e["a"], "{:.3f}"), num(e["b"], "{:.3f}"), num(e["diff"], "{:+.3f}"),
                            e["diff_ratio"].is_number()
                                ? fmt::format("{:+.1f}%", e["diff_ratio"].get<double>() * 100)
                                : "-",
                            m.repeat ? noise : "");
        }
    }
    for (const char* side : {"only_in_a", "only_in_b"}) {
        if (cmp[side].empty()) continue;
        t += fmt::format("{}: loads {} (not compared)\n", side, cmp[side].dump());
    }
    c.out.emit_text(t);
    return base::kExitOk;
}

int do_export(Context& c, store::Database& db, std::int64_t id, bool csv) {
    if (c.out.json == csv) {
        return c.out.fail(base::kExitBadInput,
                          "bench export: give exactly one of --json and --csv");
    }
    auto run = bench::load_run(db, id);
    if (!run) return c.out.fail(run.error());
    if (csv) {
        const std::string text = bench::export_csv(*run);
        std::fwrite(text.data(), 1, text.size(), stdout);
        return base::kExitOk;
    }
    json doc = run->doc;
    doc["created_at"] = run->created_at;
    c.out.emit_json(doc);
    return base::kExitOk;
}

std::string utc_now() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

int do_report(Context& c, store::Database& db, const std::filesystem::path& out) {
    auto runs = bench::list_runs(db);
    if (!runs) return c.out.fail(runs.error());
    std::string existing;
    std::error_code ec;
    if (std::filesystem::exists(out, ec)) {
        auto text = base::read_file(out, 64ull << 20);
        if (!text) return c.out.fail(text.error());
        existing = std::move(*text);
    }
    const std::string stem = out.stem().string().empty() ? "PERFORMANCE" : out.stem().string();
    const bench::Report rep = bench::render_report(*runs, stem, utc_now());
    auto spliced = bench::splice_report(existing, rep.markdown, out.string());
    if (!spliced) return c.out.fail(spliced.error());
    const std::filesystem::path dir = out.parent_path();
    json plots = json::array();
    for (const bench::ReportFile& f : rep.plots) {
        auto w = base::write_file_atomic(dir / f.name, f.text);
        if (!w) return c.out.fail(w.error());
        plots.push_back((dir / f.name).string());
    }
    auto w = base::write_file_atomic(out, *spliced);
    if (!w) return c.out.fail(w.error());
    if (c.out.json) {
        c.out.emit_json({{"out", out.string()}, {"runs", runs->size()}, {"plots", plots}});
    } else {
        c.out.emit_text(fmt::format("wrote {} ({} runs) and {} plots beside it\n", out.string(),
                                    runs->size(), plots.size()));
    }
    return base::kExitOk;
}

}  // namespace

Action setup_bench_history(CLI::App& bench, Context& ctx) {
    auto a = std::make_shared<HistoryArgs>();
    CLI::App* list =
        ctx.add_subcommand(bench, "list", "The stored runs, oldest first", {"data_dir"});
    CLI::App* show = ctx.add_subcommand(bench, "show", "One stored run", {"data_dir"});
    show->add_option("ID", a->id, "The run id (bench list)")->required();
    CLI::App* compare = ctx.add_subcommand(
        bench, "compare", "Two runs point by point, against run-to-run noise", {"data_dir"});
    compare->add_option("A", a->id, "The first run id")->required();
    compare->add_option("B", a->other, "The second run id")->required();
    CLI::App* exp = ctx.add_subcommand(bench, "export", "One run as JSON or CSV", {"data_dir"});
    exp->add_option("ID", a->id, "The run id (bench list)")->required();
    exp->add_flag("--csv", a->csv, "CSV: one row per load point (RFC 4180)");
    CLI::App* report = ctx.add_subcommand(
        bench, "report", "Write the runs into PERFORMANCE.md (its marked section) with SVG plots",
        {"data_dir"});
    report->add_option("--out", a->out, "The Markdown file (default PERFORMANCE.md)");
    return [a, list, show, compare, exp, report](Context& c) -> int {
        if (!list->parsed() && !show->parsed() && !compare->parsed() && !exp->parsed() &&
            !report->parsed())
            return c.out.fail(base::kExitBadInput, "bench: give a subcommand");
        auto db = open_bench_store(c);
        if (!db) return c.out.fail(db.error());
        if (list->parsed()) return do_list(c, *db);
        if (show->parsed()) return do_show(c, *db, a->id);
        if (compare->parsed()) return do_compare(c, *db, a->id, a->other);
        if (exp->parsed()) return do_export(c, *db, a->id, a->csv);
        return do_report(c, *db, a->out);
    };
}

}  // namespace sparkctl::cli
