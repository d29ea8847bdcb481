// `sparkctl calibrate`'s pure part (bench/calibrate.h) and the constants option
// (fit/constants_file.h): run documents -> rows -> constants, the local file and its label.
#include "bench/calibrate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "base/file.h"
#include "fit/calibration.h"
#include "fit/constants_file.h"
#include "support/temp_dir.h"

namespace sparkctl::bench {
namespace {

using nlohmann::json;

const fit::FamilyConstants& family(const fit::ConstantsTable& t, engines::Engine e,
                                   const std::string& f) {
    for (const fit::EngineConstants& ec : t.engines)
        if (ec.engine == e)
            for (const fit::FamilyConstants& fc : ec.families)
                if (fc.family == f) return fc;
    ADD_FAILURE() << "no family " << f;
    static const fit::FamilyConstants none;
    return none;
}

fit::EngineConstants& engine_of(fit::ConstantsTable& t, engines::Engine e) {
    for (fit::EngineConstants& ec : t.engines)
        if (ec.engine == e) return ec;
    ADD_FAILURE() << "no engine";
    return t.engines.front();
}

json stats(double p50) { return {{"mean", p50}, {"p50", p50}, {"p90", p50}}; }

// One closed-loop point as `bench run --json` writes it (the fields calibrate reads).
json point(double concurrency, double prompt, double output, double ttft_ms, double tpot_ms,
           int completed = 4) {
    return {{"concurrency", concurrency},
            {"completed", completed},
            {"errors", 0},
            {"prompt_tokens", prompt * completed},
            {"output_tokens", output * completed},
            {"ttft_ms", stats(ttft_ms)},
            {"tpot_ms", stats(tpot_ms)}};
}

json run_doc(std::vector<json> points) {
    json doc = {
        {"endpoint", "http://127.0.0.1:8000"}, {"model", "llama-3.1-8b"},     {"engine", "vllm"},
        {"engine_version", "0.11.0"},          {"simulated", false},          {"valid", true},
        {"invalid_reason", nullptr},           {"prefix_cache_study", false}, {"quant", "bf16"}};
    if (points.size() == 1) {
        for (const auto& [k, v] : points[0].items()) doc[k] = v;
    } else {
        doc["sweep"] = points;
    }
    return doc;
}

RowOptions options() {
    RowOptions o;
    o.hardware = "dgx-spark";
    return o;
}

TEST(CalibrateRows, DecodeFromTpotAndPrefillFromTtftAtOneUser) {
    const json doc = run_doc({point(1, 2048, 64, 500, 20), point(4, 2048, 64, 900, 25)});
    const RunRows r = rows_from_run(7, doc, options());
    ASSERT_EQ(r.skipped, "");
    ASSERT_EQ(r.rows.size(), 3u);  // c1 decode + prefill, c4 decode
    const fit::Measurement& d1 = r.rows[0];
    EXPECT_EQ(d1.metric, "decode");
    EXPECT_EQ(d1.model, "llama-3.1-8b");
    EXPECT_EQ(d1.engine, engines::Engine::vllm);
    EXPECT_EQ(d1.depth, 2048u);
    EXPECT_EQ(d1.gen_tokens, 64u);
    EXPECT_DOUBLE_EQ(d1.value, 1000.0 / 20);
    EXPECT_EQ(d1.split, fit::split_rule(d1));
    const fit::Measurement& p1 = r.rows[1];
    EXPECT_EQ(p1.metric, "prefill");
    EXPECT_EQ(p1.prompt_tokens, 2048u);
    EXPECT_EQ(p1.depth, 0u);
    EXPECT_DOUBLE_EQ(p1.value, 2048 * 1000.0 / 500);
    const fit::Measurement& d4 = r.rows[2];
    EXPECT_EQ(d4.concurrency, 4u);
    EXPECT_DOUBLE_EQ(d4.value, 4 * 1000.0 / 25);
}

// `bench run --depth`: each depth's request carries depth + pp tokens from an empty cache.
TEST(CalibrateRows, DepthRunsGivePrefillOfTheWholePromptAndDecodeAfterIt) {
    json doc = run_doc({point(1, 512, 32, 100, 20)});
    doc.erase("concurrency");
    auto depth = [](double d, double pp_rate, double tg_rate, int errors) {
        return json{{"depth", d},
                    {"pp", 2048},
                    {"tg", 32},
                    {"errors", errors},
                    {"pp_tokens_per_s", {{"mean", pp_rate}, {"stdev", 1.0}, {"n", 3}}},
                    {"tg_tokens_per_s", {{"mean", tg_rate}, {"stdev", 0.1}, {"n", 3}}}};
    };
    json batch = depth(4096, 2000, 20, 0);  // --depth with --concurrency 4: not one request
    batch["concurrency"] = 4;
    doc["depth"] = json::array(
        {depth(0, 3000, 40, 0), depth(4096, 2500, 35, 0), depth(8192, 2000, 30, 1), batch});
    const RunRows r = rows_from_run(3, doc, options());
    ASSERT_EQ(r.skipped, "");
    ASSERT_EQ(r.rows.size(), 4u);  // d8192 had a failed request, the batch is left out
    EXPECT_EQ(r.rows[0].metric, "prefill");
    EXPECT_EQ(r.rows[0].prompt_tokens, 2048u);
    EXPECT_DOUBLE_EQ(r.rows[0].value, 3000);
    EXPECT_EQ(r.rows[1].metric, "decode");
    EXPECT_EQ(r.rows[1].depth, 2048u);
    EXPECT_EQ(r.rows[1].gen_tokens, 32u);
    EXPECT_EQ(r.rows[1].concurrency, 1u);
    EXPECT_DOUBLE_EQ(r.rows[1].value, 40);
    EXPECT_EQ(r.rows[2].prompt_tokens, 4096u + 2048u);
    EXPECT_EQ(r.rows[3].depth, 4096u + 2048u);
    ASSERT_EQ(r.notes.size(), 2u);
    EXPECT_NE(r.notes[0].find("d8192"), std::string::npos);
    EXPECT_NE(r.notes[1].find("d4096 c4"), std::string::npos);
}

TEST(CalibrateRows, SkipsWhatCannotBeTrusted) {
    json invalid = run_doc({point(1, 512, 32, 100, 20)});
    invalid["valid"] = false;
    invalid["invalid_reason"] = "R-OPS-2: 3 prefix-cache hits during the run";
    EXPECT_EQ(rows_from_run(1, invalid, options()).skipped,
              "INVALID: R-OPS-2: 3 prefix-cache hits during the run");

    json simulated = run_doc({point(1, 512, 32, 100, 20)});
    simulated["simulated"] = true;
    simulated["simulated_speed"] = 4;
    EXPECT_NE(rows_from_run(2, simulated, options()).skipped.find("simulated"), std::string::npos);
    RowOptions with_sim = options();
    with_sim.include_simulated = true;
    const RunRows sim = rows_from_run(2, simulated, with_sim);
    ASSERT_EQ(sim.skipped, "");
    // The stand-in divided its delays by 4: the engine it models is 4x slower.
    EXPECT_DOUBLE_EQ(sim.rows[0].value, 1000.0 / (20 * 4));
    simulated["simulated_speed"] = 0;
    EXPECT_NE(rows_from_run(2, simulated, with_sim).skipped, "");

    json no_quant = run_doc({point(1, 512, 32, 100, 20)});
    no_quant["quant"] = nullptr;
    EXPECT_NE(rows_from_run(3, no_quant, options()).skipped.find("--quant"), std::string::npos);
    json bad_quant = run_doc({point(1, 512, 32, 100, 20)});
    bad_quant["quant"] = "q4_k_m";  // not a vLLM format
    EXPECT_NE(rows_from_run(3, bad_quant, options()).skipped, "");
    json unknown_model = run_doc({point(1, 512, 32, 100, 20)});
    unknown_model["model"] = "my-finetune";
    EXPECT_NE(rows_from_run(4, unknown_model, options()).skipped.find("my-finetune"),
              std::string::npos);

    json failed = point(4, 512, 32, 100, 20);
    failed["errors"] = 2;
    json open_loop = point(1, 512, 32, 100, 20);
    open_loop.erase("concurrency");
    open_loop["rate_per_s"] = 2.0;
    const RunRows mixed =
        rows_from_run(5, run_doc({point(1, 512, 32, 100, 20), failed, open_loop}), options());
    EXPECT_EQ(mixed.skipped, "");
    EXPECT_EQ(mixed.rows.size(), 1u);  // decode only: a 512-token prompt gives no prefill row
    ASSERT_EQ(mixed.notes.size(), 2u);
    EXPECT_NE(mixed.notes[0].find("failed"), std::string::npos);
    EXPECT_NE(mixed.notes[1].find("closed-loop"), std::string::npos);
}

TEST(CalibrateRuns, NothingToFitSaysWhy) {
    json invalid = run_doc({point(1, 512, 32, 100, 20)});
    invalid["valid"] = false;
    invalid["invalid_reason"] = "R-OPS-2: caching on";
    auto c = calibrate_runs({{3, invalid}}, options(), fit::builtin_constants(), "t", "d");
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, base::Errc::bad_input);
    EXPECT_NE(c.error().message.find("run 3: INVALID: R-OPS-2: caching on"), std::string::npos)
        << c.error().message;
    auto none = calibrate_runs({}, options(), fit::builtin_constants(), "t", "d");
    ASSERT_FALSE(none);
    EXPECT_NE(none.error().message.find("no benchmark runs"), std::string::npos);
}

// Runs whose numbers the model computes with known constants: the fit recovers them. The
// documents carry exactly what the model predicts, so the only error is the optimiser's.
TEST(CalibrateRuns, RecoversKnownConstantsFromRunDocuments) {
    fit::ConstantsTable known = fit::builtin_constants();
    fit::EngineConstants& vllm = engine_of(known, engines::Engine::vllm);
    vllm.shared.seq_overhead_s = 0.002;
    for (fit::FamilyConstants& fc : vllm.families) {
        if (fc.family != "float") continue;
        fc.weights_bw_eff = 0.6;
        fc.gemm_eff = 0.045;
    }
    // The loads: decode at 1..8 users after a 512-token prompt, prefill at 1 user.
    std::vector<fit::Measurement> shapes;
    for (std::uint32_t c = 1; c <= 8; ++c) {
        fit::Measurement m;
        m.hardware = "dgx-spark";
        m.engine = engines::Engine::vllm;
        m.model = "llama-3.1-8b";
        m.quant = "bf16";
        m.metric = "decode";
        m.concurrency = c;
        m.depth = 512;
        m.gen_tokens = 32;
        m.value = 1;
        shapes.push_back(m);
    }
    for (std::uint64_t prompt : {2048u, 4096u, 8192u, 16384u, 32768u}) {
        fit::Measurement m = shapes.front();
        m.metric = "prefill";
        m.prompt_tokens = prompt;
        m.depth = 0;
        m.gen_tokens = 0;
        shapes.push_back(m);
    }
    auto predicted = fit::evaluate(shapes, known);
    ASSERT_TRUE(predicted) << predicted.error().message;
    std::vector<std::pair<std::int64_t, json>> runs;
    std::vector<json> decode_points;
    std::int64_t id = 1;
    for (const fit::RowResult& r : *predicted) {
        ASSERT_EQ(r.skipped, "");
        const fit::Measurement& m = *r.row;
        if (m.metric == "decode") {
            decode_points.push_back(
                point(m.concurrency, 512, 32, 1, m.concurrency * 1000.0 / r.predicted));
        } else {
            // A one-user run of that prompt: its prefill row (its decode row is dropped below).
            json doc = run_doc({point(1, double(m.prompt_tokens), 1,
                                      double(m.prompt_tokens) * 1000.0 / r.predicted, 0)});
            runs.emplace_back(id++, doc);
        }
    }
    // The decode sweep's 512-token prompts are too short for prefill rows.
    runs.emplace_back(id++, run_doc(decode_points));

    auto c = calibrate_runs(runs, options(), fit::builtin_constants(), "sparkctl calibrate",
                            "2026-12-07T15:00:00Z");
    ASSERT_TRUE(c) << c.error().message;
    const fit::FamilyConstants& got = family(c->table, engines::Engine::vllm, "float");
    EXPECT_NEAR(got.weights_bw_eff, 0.6, 0.6 * 0.01);
    EXPECT_NEAR(got.gemm_eff, 0.045, 0.045 * 0.01);
    EXPECT_NEAR(engine_of(c->table, engines::Engine::vllm).shared.seq_overhead_s, 0.002,
                0.002 * 0.02);
    // What no row determines is the built-in table's, and says so.
    const fit::EngineConstants& ve = engine_of(c->table, engines::Engine::vllm);
    EXPECT_DOUBLE_EQ(ve.shared.kv_bw_eff, engine_of(known, engines::Engine::vllm).shared.kv_bw_eff);
    EXPECT_NE(std::find(ve.borrowed.begin(), ve.borrowed.end(), "kv_bw_eff <- builtin"),
              ve.borrowed.end());
    // Families and engines no run covered are kept.
    EXPECT_DOUBLE_EQ(family(c->table, engines::Engine::vllm, "nvfp4").weights_bw_eff,
                     family(known, engines::Engine::vllm, "nvfp4").weights_bw_eff);
    EXPECT_EQ(c->table.engines.size(), fit::builtin_constants().engines.size());
    // Errors: the fit explains its own rows; the built-in table did not.
    ASSERT_TRUE(c->after.fit_decode && c->before.fit_decode);
    EXPECT_LT(*c->after.fit_decode, 0.01);
    EXPECT_GT(*c->before.fit_decode, 0.1);
    ASSERT_TRUE(c->table.provenance);
    EXPECT_EQ(c->table.provenance->runs, runs.size());
    EXPECT_EQ(c->table.provenance->fit_rows + c->table.provenance->holdout_rows, c->rows.size());
    EXPECT_EQ(c->table.provenance->date, "2026-12-07T15:00:00Z");
}

TEST(ConstantsFile, ProvenanceRoundTripsAndLabelsPredictions) {
    fit::ConstantsTable t = fit::builtin_constants();
    t.generated_by = "sparkctl calibrate";
    fit::ConstantsProvenance p;
    p.runs = 3;
    p.run_ids = {4, 5, 9};
    p.fit_rows = 10;
    p.holdout_rows = 4;
    p.holdout_error = 0.021;
    p.date = "2026-12-07T15:00:00Z";
    t.provenance = p;
    const std::string text = fit::constants_to_toml(t);
    auto back = fit::parse_constants_toml(text, "perf-constants.toml");
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_TRUE(back->provenance);
    EXPECT_EQ(back->provenance->run_ids, p.run_ids);
    EXPECT_EQ(back->provenance->holdout_rows, 4u);
    EXPECT_DOUBLE_EQ(*back->provenance->holdout_error, 0.021);
    EXPECT_EQ(fit::constants_to_toml(*back), text);

    // Text read from a file goes back out as the same text: quotes, backslashes and control
    // characters escaped (a hand-edited date; a borrowed constant's note).
    fit::ConstantsTable odd = t;
    odd.provenance->date = "7 \"Dec\" C:\\x\n\t\x01";
    odd.engines.front().borrowed.push_back("kv_bw_eff <- \"a\\b\"");
    odd.engines.front().families.front().family = "a b.\"c";
    const std::string odd_text = fit::constants_to_toml(odd);
    auto odd_back = fit::parse_constants_toml(odd_text, "odd.toml");
    ASSERT_TRUE(odd_back) << odd_back.error().message << "\n" << odd_text;
    EXPECT_EQ(odd_back->provenance->date, odd.provenance->date);
    EXPECT_EQ(odd_back->engines.front().borrowed, odd.engines.front().borrowed);
    EXPECT_EQ(odd_back->engines.front().families.front().family, "a b.\"c");
    EXPECT_EQ(fit::constants_to_toml(*odd_back), odd_text);

    // Found by constants_fuzz: an empty [engine] table was read, then written as no table at all.
    auto empty = fit::parse_constants_toml("#$e0Z\"\n\n[engine]", "empty.toml");
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().message.find("empty.toml: no [engine] table"), std::string::npos);

    test::TempDir dir;
    ASSERT_TRUE(base::write_file_atomic(fit::local_constants_path(dir.path()), text));
    auto local = fit::load_constants("local", dir.path());
    ASSERT_TRUE(local) << local.error().message;
    EXPECT_EQ(local->label, "local: calibrated on 3 local runs, holdout error 2.1%");
    const fit::ResolvedConstants rc =
        fit::resolve_constants(*local, engines::Engine::vllm, "float", "bf16");
    EXPECT_EQ(rc.source, "vllm/float (local: calibrated on 3 local runs, holdout error 2.1%)");
    auto builtin = fit::load_constants("builtin", dir.path());
    ASSERT_TRUE(builtin);
    EXPECT_EQ(fit::resolve_constants(*builtin, engines::Engine::vllm, "float").source,
              "vllm/float");
    const auto file = dir.path() / "mine.toml";
    ASSERT_TRUE(base::write_file_atomic(file, text));
    auto named = fit::load_constants(file.string(), dir.path() / "elsewhere");
    ASSERT_TRUE(named) << named.error().message;
    EXPECT_EQ(named->label,
              "file " + file.string() + ": calibrated on 3 local runs, holdout error 2.1%");
}

TEST(ConstantsFile, MissingOrBrokenFilesAreNamed) {
    test::TempDir dir;
    auto missing = fit::load_constants("local", dir.path());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, base::Errc::bad_input);
    EXPECT_NE(missing.error().message.find(fit::local_constants_path(dir.path()).string()),
              std::string::npos)
        << missing.error().message;
    EXPECT_NE(missing.error().message.find("sparkctl calibrate"), std::string::npos);

    const auto broken = dir.path() / "broken.toml";
    ASSERT_TRUE(base::write_file_atomic(broken, "[engine.\"vllm\"]\nkv_bw_eff = 7\n"));
    auto bad = fit::load_constants(broken.string(), dir.path());
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find(broken.string()), std::string::npos);
    EXPECT_NE(bad.error().message.find("kv_bw_eff"), std::string::npos) << bad.error().message;

    ASSERT_TRUE(base::write_file_atomic(
        broken, "[provenance]\nruns = -1\n[engine.\"vllm\"]\nkv_bw_eff = 0.5\n"));
    auto bad_prov = fit::load_constants(broken.string(), dir.path());
    ASSERT_FALSE(bad_prov);
    EXPECT_NE(bad_prov.error().message.find("[provenance]: key 'runs'"), std::string::npos)
        << bad_prov.error().message;
    EXPECT_FALSE(fit::load_constants("", dir.path()));
}

}  // namespace
}  // namespace sparkctl::bench
