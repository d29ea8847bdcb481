// Calibration: the measurements and constants files, the fit on a synthetic table, and the
// committed data meeting the validation bars (holdout MdAPE: decode <= 15%, prefill <= 25%).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/strings.h"
#include "fit/calibration.h"

namespace sparkctl::fit {
namespace {

using engines::Engine;

std::string read_source_file(const std::string& rel) {
    const char* src = std::getenv("SPARKCTL_SOURCE_DIR");
    std::ifstream in(std::string(src ? src : SPARKCTL_TEST_SOURCE_DIR) + "/" + rel);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

const char* kHeader =
    "source\tsource_url\thardware\tengine\tengine_version\tmodel\tquant\ttest\tprompt_tokens\t"
    "gen_tokens\tdepth\tconcurrency\tnodes\tubatch\tmetric\tvalue\tsplit\n";

// A decode row (32 tokens after `depth`) and a prefill row (2048 tokens at `depth`), B sequences.
std::string fmt_row(const std::string& model_quant, int depth, int b) {
    std::string s;
    for (const std::string metric : {"decode", "prefill"}) {
        const std::string tokens = metric == "decode" ? "0\t32" : "2048\t0";
        s += "s\tu\tdgx-spark\tllama.cpp\tv\t" + model_quant + "\t" + metric +
             std::to_string(depth) + "x" + std::to_string(b) + "\t" + tokens + "\t" +
             std::to_string(depth) + "\t" + std::to_string(b) + "\t1\t2048\t" + metric +
             "\t1\tfit\n";
    }
    return s;
}

TEST(Calibration, ParsesRowsAndRejectsBadOnes) {
    const std::string ok = std::string(kHeader) +
                           "s\tu\tdgx-spark\tllama.cpp\tb1\tgpt-oss-20b\tMXFP4\ttg32\t0\t32\t4096\t"
                           "1\t1\t2048\tdecode\t77.36\tfit\n";
    auto rows = parse_measurements(ok, "t.tsv");
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].engine, Engine::llama_cpp);
    EXPECT_EQ((*rows)[0].depth, 4096u);
    EXPECT_EQ((*rows)[0].ubatch, 2048u);
    EXPECT_DOUBLE_EQ((*rows)[0].value, 77.36);

    for (const char* bad : {
             "s\tu\tdgx-spark\tllama.cpp\tb1\tm\tQ8_0\tt\t0\t32\t0\t1\t1\t\tspeed\t1\tfit\n",
             "s\tu\tdgx-spark\tllama.cpp\tb1\tm\tQ8_0\tt\t0\t32\t0\t1\t1\t\tdecode\t-1\tfit\n",
             "s\tu\tdgx-spark\tllama.cpp\tb1\tm\tQ8_0\tt\t0\t32\t0\t1\t1\t\tdecode\t1\tall\n",
             "s\tu\tdgx-spark\tnope\tb1\tm\tQ8_0\tt\t0\t32\t0\t1\t1\t\tdecode\t1\tfit\n",
             "s\tu\tdgx-spark\tllama.cpp\tb1\tm\tQ8_0\tt\t0\t32\t0\t0\t1\t\tdecode\t1\tfit\n",
             "s\tu\tdgx-spark\tllama.cpp\tb1\tm\tQ8_0\tt\t0\t32\t0\t1\t1\t\tprefill\t1\tfit\n",
         }) {
        auto r = parse_measurements(std::string(kHeader) + bad, "t.tsv");
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().message.find("t.tsv:2"), std::string::npos) << r.error().message;
    }
    EXPECT_FALSE(parse_measurements("source\tvalue\n", "t.tsv").ok());  // missing columns
}

TEST(Calibration, ConstantsRoundTripThroughToml) {
    ConstantsTable t;
    t.generated_by = "test";
    EngineConstants e;
    e.engine = Engine::vllm;
    e.shared.kv_bw_eff = 0.7;
    e.shared.attn_eff = 0.05;
    e.shared.moe_half_tokens = 40;
    e.shared.layer_overhead_s = 1.5e-5;
    e.shared.allreduce_latency_s = 3e-5;
    e.fitted = {"kv_bw_eff"};
    e.borrowed = {"attn_eff <- llama.cpp"};
    FamilyConstants f;
    f.family = "fp4";
    f.weights_bw_eff = 0.8;
    f.gemm_eff = 0.03;
    f.fitted = {"weights_bw_eff"};
    f.n_fit_rows = 7;
    e.families.push_back(f);
    t.engines.push_back(e);
    auto back = parse_constants_toml(constants_to_toml(t), "c.toml");
    ASSERT_TRUE(back.ok()) << back.error().message;
    ASSERT_EQ(back->engines.size(), 1u);
    const EngineConstants& b = back->engines[0];
    EXPECT_EQ(b.engine, Engine::vllm);
    EXPECT_DOUBLE_EQ(b.shared.kv_bw_eff, 0.7);
    EXPECT_DOUBLE_EQ(b.shared.layer_overhead_s, 1.5e-5);
    EXPECT_EQ(b.borrowed, e.borrowed);
    ASSERT_EQ(b.families.size(), 1u);
    EXPECT_DOUBLE_EQ(b.families[0].gemm_eff, 0.03);
    EXPECT_EQ(b.families[0].n_fit_rows, 7u);
    EXPECT_EQ(back->generated_by, "test");

    EXPECT_FALSE(parse_constants_toml("[engine.\"llama.cpp\"]\nkv_bw_eff = 2\n", "c").ok());
    EXPECT_FALSE(parse_constants_toml("x = [", "c").ok());
    // A family's fit_rows is a count: a negative one (constants_fuzz read -3 as 4294967293 and
    // wrote that back) or a fraction is refused, naming the key.
    std::string text = constants_to_toml(t);
    const auto at = text.find("fit_rows = 7");
    ASSERT_NE(at, std::string::npos) << text;
    for (const char* bad : {"fit_rows = -3", "fit_rows = 1.5", "fit_rows = 4294967296"}) {
        std::string edited = text;
        edited.replace(at, std::string("fit_rows = 7").size(), bad);
        auto r = parse_constants_toml(edited, "c.toml");
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().message.find("'fit_rows'"), std::string::npos) << r.error().message;
    }
}

// [provenance]'s counts and run ids are whole numbers: a float is refused, not converted (toml++
// converts one out of range with undefined behaviour: constants_fuzz, runs = 5.3e21).
TEST(Calibration, ProvenanceCountsMustBeWholeNumbers) {
    ConstantsTable t;
    EngineConstants e;
    e.engine = Engine::llama_cpp;
    e.shared.kv_bw_eff = 0.6;
    t.engines.push_back(e);
    t.provenance = ConstantsProvenance{.runs = 3,
                                       .run_ids = {4, 5, 9},
                                       .fit_rows = 10,
                                       .holdout_rows = 4,
                                       .holdout_error = std::nullopt,
                                       .date = "2026-12-07T15:00:00Z"};
    const std::string good = constants_to_toml(t);
    auto ok = parse_constants_toml(good, "c.toml");
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    ASSERT_TRUE(ok->provenance.has_value());
    EXPECT_EQ(ok->provenance->runs, 3u);
    EXPECT_EQ(ok->provenance->run_ids, (std::vector<std::int64_t>{4, 5, 9}));
    const std::pair<const char*, const char*> cases[] = {
        {"runs = 3", "runs = 5333333333333333333333.9"},
        {"runs = 3", "runs = 3.0"},
        {"fit_rows = 10", "fit_rows = -1"},
        {"run_ids = [4, 5, 9]", "run_ids = [4, 5.5, 9]"},
        {"run_ids = [4, 5, 9]", "run_ids = [4, 1e30, 9]"},
    };
    for (const auto& [from, to] : cases) {
        std::string edited = good;
        const auto at = edited.find(from);
        ASSERT_NE(at, std::string::npos) << from << " in " << good;
        edited.replace(at, std::string(from).size(), to);
        auto r = parse_constants_toml(edited, "c.toml");
        ASSERT_FALSE(r.ok()) << to;
        EXPECT_NE(r.error().message.find("[provenance]"), std::string::npos) << r.error().message;
    }
}

// A negative zero is written as 0: "-0" is a TOML integer that reads back as +0, so the written
// text changed on a second round trip (constants_fuzz).
TEST(Calibration, NegativeZeroIsWrittenAsZero) {
    ConstantsTable t;
    EngineConstants e;
    e.engine = Engine::llama_cpp;
    e.shared.kv_bw_eff = 0.6;
    e.shared.layer_overhead_s = -0.0;
    t.engines.push_back(e);
    const std::string written = constants_to_toml(t);
    EXPECT_NE(written.find("layer_overhead_s = 0\n"), std::string::npos) << written;
    auto back = parse_constants_toml(written, "c.toml");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(constants_to_toml(*back), written);
}

// Two [engine] keys that name one engine (a padded or other spelling) are refused: the table
// would be written with two tables of one name, which no TOML reader takes back (constants_fuzz).
TEST(Calibration, TwoTablesForOneEngineAreRefused) {
    ConstantsTable t;
    EngineConstants e;
    e.engine = Engine::vllm;
    e.shared.kv_bw_eff = 0.6;
    t.engines.push_back(e);
    std::string text = constants_to_toml(t);
    const std::string table = text.substr(text.find("[engine.\"vllm\"]"));
    std::string twice = text + "\n" + table;
    twice.replace(twice.rfind("[engine.\"vllm\"]"), 15, "[engine.\"\tvllm\"]");
    auto r = parse_constants_toml(twice, "c.toml");
    ASSERT_FALSE(r.ok()) << twice;
    EXPECT_NE(r.error().message.find("a second table for engine 'vllm'"), std::string::npos)
        << r.error().message;
}

// generated_by is written as a TOML string with its control characters, quotes and backslashes
// escaped (a carriage return in it was written raw, which no TOML reader takes: constants_fuzz).
TEST(Calibration, GeneratedByIsEscaped) {
    ConstantsTable t;
    t.generated_by = "sparkctl dev cali\rbrate \"a\\b\"";
    EngineConstants e;
    e.engine = Engine::vllm;
    e.shared.kv_bw_eff = 0.6;
    t.engines.push_back(e);
    const std::string written = constants_to_toml(t);
    auto back = parse_constants_toml(written, "c.toml");
    ASSERT_TRUE(back.ok()) << back.error().message << "\n" << written;
    EXPECT_EQ(back->generated_by, t.generated_by);
    EXPECT_EQ(constants_to_toml(*back), written);
}

// A synthetic table generated from known constants: the fit must reproduce it.
TEST(Calibration, RecoversSyntheticMeasurements) {
    ConstantsTable truth;
    EngineConstants e;
    e.engine = Engine::llama_cpp;
    e.shared.kv_bw_eff = 0.6;
    e.shared.attn_eff = 0.02;
    e.shared.moe_half_tokens = 50;
    e.shared.layer_overhead_s = 2e-5;
    e.families.push_back({"mxfp4", 0.8, 0.03, {}, 0, {}});
    e.families.push_back({"ggml", 0.7, 0.04, {}, 0, {}});
    truth.engines.push_back(e);

    std::string tsv = kHeader;
    for (const char* model : {"gpt-oss-20b\tMXFP4", "gpt-oss-120b\tMXFP4", "qwen3-8b\tQ4_K_M",
                              "gemma-3-4b\tQ4_0", "qwen3-30b-a3b\tQ8_0"}) {
        for (int depth : {0, 8192, 32768}) {
            for (int b : {1, 8}) {
                tsv += fmt_row(model, depth, b);
            }
        }
    }
    auto rows = parse_measurements(tsv, "synthetic");
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    // Values from the true constants.
    auto truth_results = evaluate(*rows, truth);
    ASSERT_TRUE(truth_results.ok()) << truth_results.error().message;
    std::vector<Measurement> synthetic = *rows;
    for (std::size_t i = 0; i < synthetic.size(); ++i) {
        synthetic[i].value = (*truth_results)[i].predicted;
        synthetic[i].split = i % 4 == 3 ? "holdout" : "fit";
    }
    auto fitted = calibrate(synthetic, "test");
    ASSERT_TRUE(fitted.ok()) << fitted.error().message;
    auto results = evaluate(synthetic, *fitted);
    ASSERT_TRUE(results.ok());
    EXPECT_LT(mdape(*results, "fit", "decode"), 0.02);
    EXPECT_LT(mdape(*results, "fit", "prefill"), 0.02);
    EXPECT_LT(mdape(*results, "holdout", "decode"), 0.03);
    EXPECT_LT(mdape(*results, "holdout", "prefill"), 0.03);
}

// The committed data: every split follows the documented rule, every row is priced or says why
// not, and the built-in constants meet the bars on the holdout rows.
TEST(Calibration, CommittedDataMeetsTheBars) {
    auto rows = parse_measurements(read_source_file("data/perf-measurements.tsv"),
                                   "data/perf-measurements.tsv");
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    ASSERT_GT(rows->size(), 100u);
    for (const Measurement& m : *rows) {
        EXPECT_EQ(m.split, split_rule(m)) << "line " << m.line;
        EXPECT_FALSE(m.source.empty()) << "line " << m.line;
    }
    auto committed = parse_constants_toml(read_source_file("data/perf-constants.toml"),
                                          "data/perf-constants.toml");
    ASSERT_TRUE(committed.ok()) << committed.error().message;
    EXPECT_EQ(constants_to_toml(*committed), constants_to_toml(builtin_constants()));

    auto results = evaluate(*rows, builtin_constants());
    ASSERT_TRUE(results.ok()) << results.error().message;
    std::size_t n_decode = 0, n_prefill = 0;
    const double decode = mdape(*results, "holdout", "decode", &n_decode);
    const double prefill = mdape(*results, "holdout", "prefill", &n_prefill);
    EXPECT_GE(n_decode, 20u);
    EXPECT_GE(n_prefill, 20u);
    EXPECT_LE(decode, 0.15);
    EXPECT_LE(prefill, 0.25);
    for (const RowResult& r : *results) {
        if (!r.skipped.empty()) continue;
        EXPECT_TRUE(std::isfinite(r.predicted) && r.predicted > 0) << "line " << r.row->line;
    }
}

// Issue 11: llama-bench pp2048 at depth 0 (-ub 2048) within 10% of the published figures for
// every model of the llama.cpp DGX Spark page, MoE included (before the FFN activation traffic
// and without llama-batched-bench's first-run rows: qwen3-coder-30b-a3b Q8_0 +10.9%,
// gpt-oss-120b MXFP4 -11.6%); the ggml types use their own GEMM efficiency.
TEST(Calibration, LlamaBenchPp2048RowsWithinTenPercent) {
    auto rows = parse_measurements(read_source_file("data/perf-measurements.tsv"),
                                   "data/perf-measurements.tsv");
    ASSERT_TRUE(rows) << rows.error().message;
    auto results = evaluate(*rows, builtin_constants());
    ASSERT_TRUE(results) << results.error().message;
    int checked = 0;
    for (const RowResult& r : *results) {
        if (r.row->engine != Engine::llama_cpp || r.row->test != "pp2048" || r.row->depth != 0 ||
            r.row->engine_version.rfind("b6918", 0) != 0)
            continue;
        ++checked;
        EXPECT_LE(std::fabs(r.error), 0.10) << r.row->model << " " << r.row->quant << " line "
                                            << r.row->line << ": " << r.constants_source;
        if (r.row->model == "qwen2.5-coder-7b" || r.row->model == "gemma-3-4b") {
            EXPECT_NE(r.constants_source.find("/" + base::to_lower(r.row->quant)),
                      std::string::npos)
                << r.constants_source;  // the type's own gemm_eff
        }
    }
    EXPECT_EQ(checked, 5);  // gpt-oss-20b, gpt-oss-120b, qwen3-coder-30b-a3b, qwen2.5, gemma-3
}

// llama-batched-bench rows are held only where a pass of more tokens takes longer than a pass of
// fewer of the same build, model and prompt: its first test (PP=512 B=1, after a 16-token
// warm-up, LC:tools/batched-bench/batched-bench.cpp) took longer than the 1,024-token pass that
// follows it for every MoE model, which no steady state does, so it is not recorded.
TEST(Calibration, BatchedBenchPassesGrowWithTheirTokens) {
    auto rows = parse_measurements(read_source_file("data/perf-measurements.tsv"),
                                   "data/perf-measurements.tsv");
    ASSERT_TRUE(rows) << rows.error().message;
    std::map<std::string, std::vector<const Measurement*>> groups;
    for (const Measurement& m : *rows) {
        if (m.metric != "prefill" || m.test.rfind("batched PP=", 0) != 0) continue;
        groups[m.source + "|" + m.engine_version + "|" + m.model + "|" +
               std::to_string(m.prompt_tokens)]
            .push_back(&m);
    }
    ASSERT_GE(groups.size(), 10u);
    for (auto& [key, g] : groups) {
        for (const Measurement* a : g) {
            for (const Measurement* b : g) {
                const double tokens_a = static_cast<double>(a->prompt_tokens) * a->concurrency;
                const double tokens_b = static_cast<double>(b->prompt_tokens) * b->concurrency;
                if (tokens_a >= tokens_b || tokens_b > a->ubatch) continue;  // one pass each
                EXPECT_LT(tokens_a / a->value, tokens_b / b->value)
                    << key << ": line " << a->line << " vs line " << b->line;
            }
        }
    }
}

// Issue 11 item 3: every published measurement held is at or below its physical bound, computed
// for what the measured build reads (the row's weight_layout); and item 4: the validation
// reports holdout error per engine x quantization family.
TEST(Calibration, EveryMeasurementIsUnderItsCeiling) {
    auto rows = parse_measurements(read_source_file("data/perf-measurements.tsv"),
                                   "data/perf-measurements.tsv");
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    auto results = evaluate(*rows, builtin_constants());
    ASSERT_TRUE(results.ok()) << results.error().message;
    std::size_t forks = 0;
    for (const RowResult& r : *results) {
        ASSERT_TRUE(r.skipped.empty()) << "line " << r.row->line << ": " << r.skipped;
        EXPECT_GT(r.ceiling, 0) << "line " << r.row->line;
        EXPECT_LE(r.row->value, r.ceiling) << "line " << r.row->line << " " << r.row->test;
        EXPECT_LE(r.predicted, r.ceiling * (1 + 1e-9)) << "line " << r.row->line;
        if (r.row->weight_layout == WeightLayout::mxfp4_all_linear) ++forks;
    }
    EXPECT_GE(forks, 20u);  // kubis, Spark Arena and christopherowen rows: the fork's layout
    // The vLLM gpt-oss-120b single-node c16/c32 rows were under-predicted by 32% and 41% with
    // uniform routing; the fitted routing overlap (and the fork's own family) brings them within
    // 35%. What is left is documented in docs/dev/performance-model.md.
    std::size_t batched = 0;
    for (const RowResult& r : *results) {
        const Measurement& m = *r.row;
        if (m.model == "gpt-oss-120b" && m.engine == Engine::vllm && m.nodes == 1 &&
            (m.concurrency == 16 || m.concurrency == 32)) {
            ++batched;
            EXPECT_GT(r.error, -0.35) << "line " << m.line;
        }
    }
    EXPECT_EQ(batched, 2u);
    EXPECT_GT(
        resolve_constants(builtin_constants(), Engine::vllm, "mxfp4").constants.expert_overlap, 0);
    std::size_t vllm_holdout = 0, sglang_cells = 0;
    for (const ErrorCell& c : errors_by_family(*results)) {
        EXPECT_GT(c.rows, 0u);
        if (c.engine == Engine::vllm && c.split == "holdout") ++vllm_holdout;
        if (c.engine == Engine::sglang) ++sglang_cells;
    }
    EXPECT_GE(vllm_holdout, 4u);  // decode and prefill of several families
    EXPECT_GE(sglang_cells, 2u);
}

// Issue 11 item 5: the compute efficiencies are written as fractions of the sparse FP4 peak;
// files with the old keys still read; constants at a bound are kept.
TEST(Calibration, ConstantsKeysNameTheirReference) {
    const std::string toml = constants_to_toml(builtin_constants());
    EXPECT_NE(toml.find("gemm_eff_of_sparse_fp4_peak = "), std::string::npos);
    EXPECT_NE(toml.find("attn_eff_of_sparse_fp4_peak = "), std::string::npos);
    EXPECT_EQ(toml.find("\ngemm_eff = "), std::string::npos);
    const std::string old =
        "[engine.\"vllm\"]\nkv_bw_eff = 0.5\nattn_eff = 0.04\nmoe_half_tokens = 30\n"
        "layer_overhead_s = 1e-13\nallreduce_latency_s = 5e-5\nat_bound = "
        "[\"layer_overhead_s\"]\n[engine.\"vllm\".family.mxfp4]\nweights_bw_eff = 1\n"
        "gemm_eff = 0.03\n";
    auto t = parse_constants_toml(old, "old.toml");
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_DOUBLE_EQ(t->engines[0].shared.attn_eff, 0.04);
    EXPECT_DOUBLE_EQ(t->engines[0].shared.expert_overlap, 0);  // uniform routing
    EXPECT_DOUBLE_EQ(t->engines[0].families[0].gemm_eff, 0.03);
    const ResolvedConstants r = resolve_constants(*t, Engine::vllm, "mxfp4");
    ASSERT_EQ(r.at_bound.size(), 1u);
    EXPECT_EQ(r.at_bound[0], "vllm/layer_overhead_s");
}

// Refitting the committed measurements reproduces the committed constants (the file is what
// `sparkctl dev calibrate data/perf-measurements.tsv --out data/perf-constants.toml` writes).
TEST(Calibration, CommittedConstantsAreTheFitOfTheCommittedData) {
    auto rows = parse_measurements(read_source_file("data/perf-measurements.tsv"),
                                   "data/perf-measurements.tsv");
    ASSERT_TRUE(rows.ok());
    const ConstantsTable& built = builtin_constants();
    auto refit = calibrate(*rows, built.generated_by);
    ASSERT_TRUE(refit.ok()) << refit.error().message;
    EXPECT_EQ(constants_to_toml(*refit), constants_to_toml(built));
}

}  // namespace
}  // namespace sparkctl::fit
