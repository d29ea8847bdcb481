// The run history: store round-trip (migration 3), the readers of stored documents, compare's
// noise test, CSV quoting, and the GGUF quant names.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bench/history.h"
#include "bench/runs.h"
#include "store/database.h"

namespace sparkctl::bench {
namespace {

using nlohmann::json;

json point(double concurrency, double tput, std::vector<double> repeats = {}) {
    json p = {{"concurrency", concurrency},
              {"output_tokens_per_s", tput},
              {"requests_per_s", tput / 10},
              {"ttft_ms", {{"p50", 10.0}, {"p99", 20.0}}},
              {"errors", 0}};
    if (!repeats.empty()) {
        json r = json::array();
        for (double x : repeats) r.push_back({{"output_tokens_per_s", x}});
        p["repeats"] = r;
    }
    return p;
}

json run_doc(std::vector<json> points) {
    return {{"endpoint", "http://127.0.0.1:1"},
            {"model", "m, \"quoted\""},
            {"engine", "vllm"},
            {"engine_version", "0.11"},
            {"quant", nullptr},
            {"simulated", true},
            {"valid", true},
            {"invalid_reason", nullptr},
            {"run_id", nullptr},
            {"prefix_cache_study", false},
            {"sweep", points}};
}

TEST(BenchHistory, SavesListsAndLoads) {
    auto db = store::Database::open_in_memory();
    ASSERT_TRUE(db) << db.error().message;
    json doc = run_doc({point(1, 100), point(2, 180)});
    auto a = save_run(*db, doc);
    ASSERT_TRUE(a) << a.error().message;
    doc["valid"] = false;
    doc["invalid_reason"] = "R-OPS-2: prefix caching is on";
    auto b = save_run(*db, doc);
    ASSERT_TRUE(b);
    EXPECT_LT(*a, *b);
    auto runs = list_runs(*db);
    ASSERT_TRUE(runs);
    ASSERT_EQ(runs->size(), 2u);
    EXPECT_EQ((*runs)[0].id, *a);  // oldest first
    EXPECT_EQ((*runs)[0].doc["run_id"], *a);
    EXPECT_EQ((*runs)[1].doc["invalid_reason"], "R-OPS-2: prefix caching is on");
    EXPECT_EQ((*runs)[0].doc["sweep"], doc["sweep"]);
    EXPECT_EQ((*runs)[0].created_at.size(), 20u);  // 2026-12-07T14:30:00Z
    auto one = load_run(*db, *b);
    ASSERT_TRUE(one);
    EXPECT_EQ(one->doc["valid"], false);
    // The queryable columns beside the document.
    auto st = db->prepare(
        "SELECT model, engine, valid, simulated, invalid_reason FROM bench_runs "
        "WHERE id = ?1");
    ASSERT_TRUE(st);
    ASSERT_TRUE(st->bind(1, *b));
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->column_text(0), "m, \"quoted\"");
    EXPECT_EQ(st->column_text(1), "vllm");
    EXPECT_EQ(st->column_int64(2), 0);
    EXPECT_EQ(st->column_int64(3), 1);
    EXPECT_EQ(st->column_text(4), "R-OPS-2: prefix caching is on");
}

TEST(BenchHistory, RefusesWhatIsNotARunAndNamesAMissingId) {
    auto db = store::Database::open_in_memory();
    ASSERT_TRUE(db);
    EXPECT_FALSE(save_run(*db, json::array()));
    EXPECT_FALSE(save_run(*db, json{{"model", "m"}}));
    auto missing = load_run(*db, 42);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, base::Errc::bad_input);
    EXPECT_NE(missing.error().message.find("42"), std::string::npos);
}

TEST(BenchRuns, PointsLabelsAndHeadline) {
    json one = run_doc({});
    one.erase("sweep");
    one["rate_per_s"] = 2.5;
    one["output_tokens_per_s"] = 50.0;
    ASSERT_EQ(points_of(one).size(), 1u);
    EXPECT_EQ(load_name_of(points_of(one)[0]), "rate_per_s");
    EXPECT_EQ(load_of(points_of(one)[0]), 2.5);
    EXPECT_EQ(headline_tokens_per_s(run_doc({point(1, 100), point(2, 180)})), 180.0);
    json d = run_doc({});
    EXPECT_EQ(run_label(d), "SIMULATED VALID");
    d["simulated"] = false;
    d["valid"] = false;
    EXPECT_EQ(run_label(d), "INVALID");
    d["valid"] = true;
    d["prefix_cache_study"] = true;
    EXPECT_EQ(run_label(d), "PREFIX-CACHE STUDY");
}

// A --depth run keeps its points under "depth"; each carries its depth and batch size.
TEST(BenchRuns, DepthRunsArePointsByDepthAndBatch) {
    json doc = run_doc({});
    doc.erase("sweep");
    doc["depth"] = json::array({{{"depth", 0.0}, {"concurrency", 1.0}},
                                {{"depth", 0.0}, {"concurrency", 8.0}},
                                {{"depth", 4096.0}, {"concurrency", 1.0}}});
    const auto pts = points_of(doc);
    ASSERT_EQ(pts.size(), 3u);
    EXPECT_EQ(load_name_of(pts[1]), "depth");  // not "concurrency": depth is the load
    EXPECT_EQ(load_of(pts[2]), 4096.0);
    EXPECT_EQ(load_text_of(pts[0]), "0");
    EXPECT_EQ(load_text_of(pts[1]), "0 (c8)");
    EXPECT_EQ(load_text_of(pts[2]), "4096");
    // Compare pairs points of the same depth and batch size, not the first of a depth.
    json other = doc;
    other["depth"] = json::array({{{"depth", 0.0}, {"concurrency", 8.0}}});
    const json c = compare_runs(StoredRun{1, "t", doc}, StoredRun{2, "t", other});
    ASSERT_EQ(c["points"].size(), 1u);
    EXPECT_EQ(c["only_in_a"].size(), 2u);
}

TEST(BenchRuns, CompareMatchesByLoadAndTestsNoise) {
    StoredRun a{1, "t",
                run_doc({point(1, 100, {99, 100, 101}), point(2, 200, {199, 201}), point(4, 300)})};
    StoredRun b{
        2, "t",
        run_doc({point(2, 202, {200, 204}), point(1, 150, {149, 150, 151}), point(8, 400)})};
    const json c = compare_runs(a, b);
    ASSERT_EQ(c["points"].size(), 2u);
    const json& c1 = c["points"][0]["metrics"]["output_tokens_per_s"];
    EXPECT_EQ(c["points"][0]["load"], 1.0);
    EXPECT_EQ(c1["diff"], 50.0);
    EXPECT_DOUBLE_EQ(c1["diff_ratio"].get<double>(), 0.5);
    EXPECT_EQ(c1["exceeds_noise"], true);  // 50 against a spread of about 1
    const json& c2 = c["points"][1]["metrics"]["output_tokens_per_s"];
    EXPECT_EQ(c2["exceeds_noise"], false);  // 3 against repeats 2 and 4 apart
    // No repeats kept for this metric: the noise is unknown, not "within".
    EXPECT_TRUE(c["points"][0]["metrics"]["ttft_ms_p99"]["exceeds_noise"].is_null());
    EXPECT_EQ(c["only_in_a"], json::array({4.0}));
    EXPECT_EQ(c["only_in_b"], json::array({8.0}));
}

TEST(BenchRuns, CsvQuotesPerRfc4180) {
    EXPECT_EQ(csv_field("plain"), "plain");
    EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
    EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
    EXPECT_EQ(csv_field("cr\r"), "\"cr\r\"");
    const std::string csv =
        export_csv({7, "2026-12-07T14:30:00Z", run_doc({point(1, 100), point(2, 180)})});
    // A header and one row per point, CRLF line ends.
    std::vector<std::string> lines;
    for (std::size_t at = 0; at < csv.size();) {
        const std::size_t end = csv.find("\r\n", at);
        ASSERT_NE(end, std::string::npos);
        lines.push_back(csv.substr(at, end - at));
        at = end + 2;
    }
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].rfind("run_id,created_at,model,", 0), 0u);
    EXPECT_EQ(lines[1].rfind("7,2026-12-07T14:30:00Z,\"m, \"\"quoted\"\"\",vllm,,SIMULATED VALID,"
                             "concurrency,1,",
                             0),
              0u)
        << lines[1];
    // Every line has as many fields as the header (commas outside quotes).
    auto fields = [](const std::string& line) {
        std::size_t n = 1;
        bool quoted = false;
        for (char ch : line) {
            if (ch == '"') quoted = !quoted;
            if (ch == ',' && !quoted) ++n;
        }
        return n;
    };
    EXPECT_EQ(fields(lines[1]), fields(lines[0]));
    EXPECT_EQ(fields(lines[2]), fields(lines[0]));
}

TEST(BenchHistory, GgufQuantFromTheFileName) {
    EXPECT_EQ(gguf_quant("/models/Qwen3-8B-Q4_K_M.gguf"), "Q4_K_M");
    EXPECT_EQ(gguf_quant("qwen2.5-7b-instruct-q8_0.gguf"), "Q8_0");
    EXPECT_EQ(gguf_quant("Grok-100B-v1.0-Q4_0-00003-of-00009.gguf"), "Q4_0");
    EXPECT_EQ(gguf_quant("Hermes-2-Pro-Llama-3-8B-F16.gguf"), "F16");
    EXPECT_EQ(gguf_quant("gpt-oss-120b-MXFP4-00001-of-00003.gguf"), "MXFP4");
    EXPECT_EQ(gguf_quant("Qwen3-30B-A3B-UD-Q4_K_XL.gguf"), "Q4_K_XL");
    EXPECT_EQ(gguf_quant("Meta-Llama-3-8B-IQ4_XS-LoRA.gguf"), "IQ4_XS");
    EXPECT_EQ(gguf_quant("test.gguf"), std::nullopt);
    EXPECT_EQ(gguf_quant(""), std::nullopt);
    EXPECT_EQ(gguf_quant("/"), std::nullopt);
}

}  // namespace
}  // namespace sparkctl::bench
