#include "bench/calibrate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engines/engine.h"
#include "fit/quant.h"
#include "model/catalog.h"

namespace sparkctl::bench {

namespace {

using nlohmann::json;

// The shortest prompt whose TTFT gives a prefill row: llama-bench's pp2048, the published
// table's usual prefill test.
constexpr double kMinPrefillPromptTokens = 2048;

std::optional<double> number(const json& j, const char* key) {
    if (!j.is_object()) return std::nullopt;
    auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    const double v = it->get<double>();
    return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

bool flag(const json& j, const char* key) {
    if (!j.is_object()) return false;
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string text(const json& j, const char* key) {
    if (!j.is_object()) return {};
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The median of a statistics-shape object (`ttft_ms`, `tpot_ms`).
std::optional<double> p50(const json& point, const char* key) {
    if (!point.is_object() || !point.contains(key)) return std::nullopt;
    return number(point.at(key), "p50");
}

std::optional<double> median_abs(std::vector<double> e) {
    if (e.empty()) return std::nullopt;
    for (double& v : e) v = std::fabs(v);
    std::sort(e.begin(), e.end());
    const std::size_t k = e.size();
    return k % 2 ? e[k / 2] : (e[k / 2 - 1] + e[k / 2]) / 2.0;
}

base::Result<SplitErrors> errors_of(const std::vector<fit::Measurement>& rows,
                                    const fit::ConstantsTable& table) {
    auto results = fit::evaluate(rows, table);
    if (!results) return results.error();
    std::vector<double> fd, fp, hd, hp;
    for (const fit::RowResult& r : *results) {
        if (!r.skipped.empty()) continue;
        const bool holdout = r.row->split == "holdout";
        const bool decode = r.row->metric == "decode";
        (holdout ? (decode ? hd : hp) : (decode ? fd : fp)).push_back(r.error);
    }
    SplitErrors e;
    e.fit_rows = fd.size() + fp.size();
    e.holdout_rows = hd.size() + hp.size();
    e.fit_decode = median_abs(fd);
    e.fit_prefill = median_abs(fp);
    e.holdout_decode = median_abs(hd);
    e.holdout_prefill = median_abs(hp);
    hd.insert(hd.end(), hp.begin(), hp.end());
    e.holdout = median_abs(std::move(hd));
    return e;
}

}  // namespace

RunRows rows_from_run(std::int64_t run_id, const json& doc, const RowOptions& options) {
    RunRows out;
    out.run_id = run_id;
    if (!doc.is_object()) {
        out.skipped = "not a bench run document";
        return out;
    }
    if (!flag(doc, "valid")) {
        const std::string why = text(doc, "invalid_reason");
        out.skipped = "INVALID" + (why.empty() ? std::string() : ": " + why);
        return out;
    }
    if (flag(doc, "prefix_cache_study")) {
        out.skipped = "a prefix-cache study (--allow-prefix-cache)";
        return out;
    }
    const bool simulated = flag(doc, "simulated");
    double time_scale = 1;  // measured ms -> the engine's ms
    if (simulated) {
        if (!options.include_simulated) {
            out.skipped = "simulated (a stand-in engine; --include-simulated is for tests)";
            return out;
        }
        const std::optional<double> speed = number(doc, "simulated_speed");
        if (!speed || *speed <= 0) {
            out.skipped = "simulated without a known --speed above 0 (its times are not timed)";
            return out;
        }
        time_scale = *speed;
    }
    auto engine = engines::parse_engine(text(doc, "engine"));
    if (!engine) {
        out.skipped = "engine unknown";
        return out;
    }
    const std::string model_name = text(doc, "model");
    const model::CatalogEntry* entry = model::find_model(model_name);
    if (!entry) {
        out.skipped = "model '" + model_name + "' is not in the catalog";
        return out;
    }
    const std::string quant = text(doc, "quant");
    if (quant.empty()) {
        out.skipped = "quantization unknown (bench run --quant)";
        return out;
    }
    if (auto q = fit::resolve_quant(*engine, quant); !q) {
        out.skipped = q.error().message;
        return out;
    }
    const std::string version = text(doc, "engine_version");
    fit::Measurement base;
    base.source = fmt::format("bench run {}", run_id);
    base.line = static_cast<std::size_t>(run_id);
    base.hardware = options.hardware;
    base.engine = *engine;
    base.engine_version = version;
    base.model = entry->id;
    base.quant = quant;
    base.concurrency = 1;
    // `--depth` (llama-benchy's pp/tg without a prefix cache): each request sent alone carries
    // depth + pp prompt tokens, so its prefill rate is of a (depth + pp)-token prompt from an
    // empty cache, and its tg tokens are decoded after depth + pp tokens of context.
    if (doc.contains("depth") && doc.at("depth").is_array()) {
        for (const json& e : doc.at("depth")) {
            const std::optional<double> depth = number(e, "depth");
            const std::optional<double> pp = number(e, "pp");
            const std::optional<double> tg = number(e, "tg");
            const std::string at = depth ? fmt::format("d{:g}", *depth) : "a depth";
            if (!depth || !pp || !tg || *depth < 0 || *pp < 1 || *tg < 2) {
                out.notes.push_back(at + ": depth, pp or tg missing");
                continue;
            }
            if (const std::optional<double> errors = number(e, "errors"); !errors || *errors > 0) {
                out.notes.push_back(at + ": requests failed");
                continue;
            }
            // A batch of several requests (--depth with --concurrency) shares the engine: its
            // speeds are not those of one request alone.
            if (const std::optional<double> users = number(e, "concurrency"); users && *users > 1) {
                out.notes.push_back(fmt::format("{} c{:g}: a batch, not one request", at, *users));
                continue;
            }
            const auto context = static_cast<std::uint64_t>(std::llround(*depth + *pp));
            const auto pp_rate = e.contains("pp_tokens_per_s")
                                     ? number(e.at("pp_tokens_per_s"), "mean")
                                     : std::nullopt;
            const auto tg_rate = e.contains("tg_tokens_per_s")
                                     ? number(e.at("tg_tokens_per_s"), "mean")
                                     : std::nullopt;
            if (pp_rate && *pp_rate > 0) {
                fit::Measurement f = base;
                f.metric = "prefill";
                f.prompt_tokens = context;
                f.test = fmt::format("pp{}", context);
                f.value = *pp_rate / time_scale;
                f.split = fit::split_rule(f);
                out.rows.push_back(std::move(f));
            }
            if (tg_rate && *tg_rate > 0) {
                fit::Measurement d = base;
                d.metric = "decode";
                d.depth = context;
                d.gen_tokens = static_cast<std::uint64_t>(std::llround(*tg));
                d.test = fmt::format("tg{} @ d{}", d.gen_tokens, d.depth);
                d.value = *tg_rate / time_scale;
                d.split = fit::split_rule(d);
                out.rows.push_back(std::move(d));
            }
        }
        if (out.rows.empty()) out.skipped = "no usable depths";
        return out;
    }
    std::vector<json> points;
    if (doc.contains("sweep") && doc.at("sweep").is_array()) {
        for (const json& p : doc.at("sweep")) points.push_back(p);
    } else {
        points.push_back(doc);
    }
    for (const json& p : points) {
        const std::optional<double> conc = number(p, "concurrency");
        const std::string at = conc ? fmt::format("c{:g}", *conc) : "a point";
        if (!conc || *conc < 1 || *conc != std::floor(*conc) || *conc > (1u << 20)) {
            out.notes.push_back(at + ": not a closed-loop point (concurrency unknown)");
            continue;
        }
        const std::optional<double> completed = number(p, "completed");
        const std::optional<double> errors = number(p, "errors");
        const std::optional<double> prompt_sum = number(p, "prompt_tokens");
        const std::optional<double> output_sum = number(p, "output_tokens");
        if (!completed || *completed < 1 || !prompt_sum || !output_sum) {
            out.notes.push_back(at + ": no completed requests");
            continue;
        }
        if (!errors || *errors > 0) {
            out.notes.push_back(at + ": requests failed");
            continue;
        }
        fit::Measurement m = base;
        m.concurrency = static_cast<std::uint32_t>(*conc);
        const double prompt = *prompt_sum / *completed;
        const double output = *output_sum / *completed;
        m.depth = static_cast<std::uint64_t>(std::llround(prompt));
        m.gen_tokens = static_cast<std::uint64_t>(std::llround(output));
        const std::optional<double> tpot = p50(p, "tpot_ms");
        if (tpot && *tpot > 0 && output >= 2) {
            fit::Measurement d = m;
            d.metric = "decode";
            d.test = fmt::format("tg{} @ d{} c{}", d.gen_tokens, d.depth, d.concurrency);
            d.value = *conc * 1000.0 / (*tpot * time_scale);
            d.split = fit::split_rule(d);
            out.rows.push_back(std::move(d));
        } else {
            out.notes.push_back(at + ": no TPOT (fewer than 2 output tokens)");
        }
        // Prefill alone only without other requests (at c > 1 TTFT holds queueing and the
        // others' decode steps), and only of prompts long enough that the prefill, not the
        // request's fixed latency, is what TTFT measures (docs/dev/performance-model.md: short
        // prompts' prefill rates scatter).
        const std::optional<double> ttft = p50(p, "ttft_ms");
        if (m.concurrency == 1 && ttft && *ttft > 0 && m.depth >= kMinPrefillPromptTokens) {
            fit::Measurement f = m;
            f.metric = "prefill";
            f.prompt_tokens = m.depth;
            f.depth = 0;
            f.gen_tokens = 0;
            f.test = fmt::format("pp{}", f.prompt_tokens);
            f.value = prompt * 1000.0 / (*ttft * time_scale);
            f.split = fit::split_rule(f);
            out.rows.push_back(std::move(f));
        }
    }
    if (out.rows.empty()) out.skipped = "no usable points";
    return out;
}

base::Result<Calibration> calibrate_runs(const std::vector<std::pair<std::int64_t, json>>& runs,
                                         const RowOptions& options,
                                         const fit::ConstantsTable& base_table,
                                         const std::string& generated_by, const std::string& date) {
    Calibration c;
    std::vector<std::int64_t> used;
    std::string reasons;
    for (const auto& [id, doc] : runs) {
        RunRows rr = rows_from_run(id, doc, options);
        if (rr.skipped.empty()) {
            used.push_back(id);
            c.rows.insert(c.rows.end(), rr.rows.begin(), rr.rows.end());
        } else {
            reasons += fmt::format("{}run {}: {}", reasons.empty() ? "" : "; ", id, rr.skipped);
        }
        c.runs.push_back(std::move(rr));
    }
    const bool any_fit = std::any_of(c.rows.begin(), c.rows.end(),
                                     [](const fit::Measurement& m) { return m.split == "fit"; });
    if (!any_fit) {
        std::string why = runs.empty()     ? "no benchmark runs stored (sparkctl bench run)"
                          : c.rows.empty() ? reasons
                                           : "every row fell in the holdout split (run more loads)";
        return base::make_error(base::Errc::bad_input, "nothing to calibrate on: " + why);
    }
    auto table = fit::calibrate(c.rows, generated_by, &base_table);
    if (!table) return table.error();
    c.table = std::move(*table);
    auto before = errors_of(c.rows, base_table);
    if (!before) return before.error();
    auto after = errors_of(c.rows, c.table);
    if (!after) return after.error();
    c.before = *before;
    c.after = *after;
    fit::ConstantsProvenance p;
    p.runs = static_cast<std::uint32_t>(used.size());
    p.run_ids = used;
    p.fit_rows = static_cast<std::uint32_t>(after->fit_rows);
    p.holdout_rows = static_cast<std::uint32_t>(after->holdout_rows);
    p.holdout_error = after->holdout;
    p.date = date;
    c.table.provenance = p;
    return c;
}

}  // namespace sparkctl::bench
