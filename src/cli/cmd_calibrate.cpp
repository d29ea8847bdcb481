// `sparkctl calibrate [RUN...]`: refits the performance-model constants from this machine's
// stored benchmark runs (bench/calibrate.h) into the local constants file (fit/constants_file.h)
// that `constants = local` selects. docs/dev/performance-model.md ("Local calibration").
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "base/exit_status.h"
#include "base/file.h"
#include "bench/calibrate.h"
#include "bench/history.h"
#include "cli/bench_history.h"
#include "cli/command.h"
#include "fit/calibration.h"
#include "fit/constants_file.h"
#include "hw/profile.h"

namespace sparkctl::cli {

namespace {

using nlohmann::json;

struct CalibrateArgs {
    std::vector<std::int64_t> runs;
    std::string out;
    bool include_simulated = false;
};

json pct(const std::optional<double>& e) { return e ? json(*e) : json(nullptr); }

std::string pct_text(const std::optional<double>& e) {
    return e ? fmt::format("{:.1f}%", *e * 100) : std::string("-");
}

json errors_json(const bench::SplitErrors& e) {
    return {{"fit_decode", pct(e.fit_decode)},
            {"fit_prefill", pct(e.fit_prefill)},
            {"holdout_decode", pct(e.holdout_decode)},
            {"holdout_prefill", pct(e.holdout_prefill)},
            {"holdout", pct(e.holdout)}};
}

// The constants the local runs determined, per engine and family (the rest are the base's).
json fitted_json(const fit::ConstantsTable& t, const std::vector<fit::Measurement>& rows) {
    json out = json::object();
    for (const fit::EngineConstants& ec : t.engines) {
        const bool covered = std::any_of(rows.begin(), rows.end(), [&](const fit::Measurement& m) {
            return m.engine == ec.engine && m.split == "fit";
        });
        if (!covered) continue;
        json fams = json::object();
        for (const fit::FamilyConstants& fc : ec.families) {
            const bool mine = std::any_of(rows.begin(), rows.end(), [&](const fit::Measurement& m) {
                return m.engine == ec.engine && m.split == "fit" &&
                       fit::quant_family(m.engine, m.quant) == fc.family;
            });
            if (!mine) continue;
            fams[fc.family] = {{"weights_bw_eff", fc.weights_bw_eff},
                               {"gemm_eff_of_sparse_fp4_peak", fc.gemm_eff},
                               {"fitted", fc.fitted}};
        }
        out[std::string(engines::to_string(ec.engine))] = {
            {"fitted", ec.fitted}, {"borrowed", ec.borrowed}, {"families", fams}};
    }
    return out;
}

int run_calibrate(Context& c, const CalibrateArgs& a) {
    auto cfg = c.config();
    if (!cfg) return c.out.fail(cfg.error());
    // Rows are priced with the configured hardware profile (a built-in name or file).
    const std::string hardware = (*cfg)->value("hardware");
    if (auto prof = hw::find_profile(hardware); !prof) {
        return c.out.fail(base::kExitBadInput,
                          "calibrate: --hardware '" + hardware +
                              "' is not a built-in profile (sparkctl hw --list); runs are priced "
                              "with one");
    }
    auto db = open_bench_store(c);
    if (!db) return c.out.fail(db.error());
    std::vector<std::pair<std::int64_t, json>> runs;
    if (a.runs.empty()) {
        auto all = bench::list_runs(*db);
        if (!all) return c.out.fail(all.error());
        for (bench::StoredRun& r : *all) runs.emplace_back(r.id, std::move(r.doc));
    } else {
        for (std::int64_t id : a.runs) {
            auto r = bench::load_run(*db, id);
            if (!r) return c.out.fail(r.error());
            runs.emplace_back(r->id, std::move(r->doc));
        }
    }
    bench::RowOptions ro;
    ro.include_simulated = a.include_simulated;
    ro.hardware = hardware;
    const std::filesystem::path out = a.out.empty()
                                          ? fit::local_constants_path((*cfg)->value("data_dir"))
                                          : std::filesystem::path(a.out);
    std::string generated_by = "sparkctl calibrate";
    for (std::int64_t id : a.runs) generated_by += " " + std::to_string(id);
    if (a.include_simulated) generated_by += " --include-simulated";
    if (!a.out.empty()) generated_by += " --out " + a.out;
    auto cal = bench::calibrate_runs(runs, ro, fit::builtin_constants(), generated_by,
                                     bench::utc_now_iso8601());
    if (!cal) return c.out.fail(cal.error());

    std::error_code ec;
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path(), ec);
    if (auto w = base::write_file_atomic(out, fit::constants_to_toml(cal->table)); !w) {
        return c.out.fail(w.error());
    }
    const fit::ConstantsProvenance& p = *cal->table.provenance;

    if (c.out.json) {
        json runs_json = json::array();
        for (const bench::RunRows& r : cal->runs) {
            runs_json.push_back({{"id", r.run_id},
                                 {"used", r.skipped.empty()},
                                 {"skipped", r.skipped.empty() ? json(nullptr) : json(r.skipped)},
                                 {"notes", r.notes},
                                 {"rows", r.rows.size()}});
        }
        json rows_json = json::array();
        for (const fit::Measurement& m : cal->rows) {
            rows_json.push_back({{"run_id", m.line},
                                 {"engine", engines::to_string(m.engine)},
                                 {"model", m.model},
                                 {"quant", m.quant},
                                 {"metric", m.metric},
                                 {"test", m.test},
                                 {"concurrency", m.concurrency},
                                 {"prompt_tokens", m.prompt_tokens},
                                 {"gen_tokens", m.gen_tokens},
                                 {"depth", m.depth},
                                 {"tokens_per_s", m.value},
                                 {"split", m.split}});
        }
        c.out.emit_json({{"runs", runs_json},
                         {"rows", rows_json},
                         {"runs_used", p.runs},
                         {"fit_rows", p.fit_rows},
                         {"holdout_rows", p.holdout_rows},
                         {"holdout_error", pct(p.holdout_error)},
                         {"error_before", errors_json(cal->before)},
                         {"error_after", errors_json(cal->after)},
                         {"hardware", hardware},
                         {"fitted", fitted_json(cal->table, cal->rows)},
                         {"out", out.string()},
                         {"summary", fit::provenance_summary(p)}});
        return base::kExitOk;
    }
    std::string t = fmt::format(
        "calibrate: {} of {} runs used, {} rows ({} fit, {} holdout), priced on {}\n", p.runs,
        cal->runs.size(), cal->rows.size(), p.fit_rows, p.holdout_rows, hardware);
    for (const bench::RunRows& r : cal->runs) {
        if (!r.skipped.empty()) t += fmt::format("  run {}: skipped: {}\n", r.run_id, r.skipped);
        for (const std::string& n : r.notes) t += fmt::format("  run {}: {}\n", r.run_id, n);
    }
    t += fmt::format("\n{:<18} {:>8} {:>8}   (median absolute error; before: builtin)\n", "",
                     "before", "after");
    auto line = [&](const char* name, const std::optional<double>& b,
                    const std::optional<double>& af) {
        t += fmt::format("{:<18} {:>8} {:>8}\n", name, pct_text(b), pct_text(af));
    };
    line("fit decode", cal->before.fit_decode, cal->after.fit_decode);
    line("fit prefill", cal->before.fit_prefill, cal->after.fit_prefill);
    line("holdout decode", cal->before.holdout_decode, cal->after.holdout_decode);
    line("holdout prefill", cal->before.holdout_prefill, cal->after.holdout_prefill);
    t += "\n";
    const json fitted = fitted_json(cal->table, cal->rows);
    for (const auto& [eng, v] : fitted.items()) {
        std::string names;
        for (const auto& n : v["fitted"])
            names += (names.empty() ? "" : ", ") + n.get<std::string>();
        for (const auto& [fam, fv] : v["families"].items())
            for (const auto& n : fv["fitted"])
                names += (names.empty() ? "" : ", ") + fam + "." + n.get<std::string>();
        t += fmt::format("fitted {}: {}\n", eng, names.empty() ? "nothing" : names);
    }
    t += fmt::format("wrote {} ({}); use it with constants = {}\n", out.string(),
                     fit::provenance_summary(p), a.out.empty() ? "local" : out.string());
    c.out.emit_text(t);
    return base::kExitOk;
}

}  // namespace

Action setup_calibrate(CLI::App& app, Context& ctx) {
    auto a = std::make_shared<CalibrateArgs>();
    app.add_option("RUN", a->runs, "Run ids of the history (default: every stored run)");
    app.add_option("--out", a->out,
                   "Write the constants here (default: $data_dir/perf-constants.toml, what "
                   "constants = local reads)");
    app.add_flag("--include-simulated", a->include_simulated,
                 "Test only: count runs against sparkctl's stand-in engine (their timing is the "
                 "model's own)");
    ctx.add_config_flag(app, "hardware");
    ctx.add_config_flag(app, "data_dir");
    return [a](Context& c) { return run_calibrate(c, *a); };
}

}  // namespace sparkctl::cli
