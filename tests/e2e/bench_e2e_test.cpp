// sparkctl bench run, end to end: the real binary against `sparkctl simulate serve` stand-ins
// (127.0.0.1, port 0, waited on by their ready line, killed by process group). Timing is
// compared with the schedule the stand-in reports (lower bounds), never with wall-clock figures.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/sandbox.h"
#include "support/standin_process.h"
#include "support/temp_dir.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;

// A stand-in of `engine` with fixed timing and its argv after `--`.
struct Target {
    Target(const std::string& engine, const std::string& timing, std::vector<std::string> argv,
           std::vector<std::string> extra = {})
        : standin([&] {
              std::vector<std::string> a{"--as", engine, "--timing", timing};
              a.insert(a.end(), extra.begin(), extra.end());
              a.push_back("--");
              a.insert(a.end(), argv.begin(), argv.end());
              return a;
          }()) {
        port = standin.wait_port("ready on port ");
        EXPECT_NE(port, 0) << standin.log();
        url = "http://127.0.0.1:" + std::to_string(port);
    }
    Standin standin;
    std::uint16_t port = 0;
    std::string url;
};

std::vector<std::string> vllm_argv(bool caching) {
    return {"serve",
            "test-model",
            "--port",
            "0",
            "--max-model-len",
            "4096",
            "--max-num-seqs",
            "8",
            caching ? "--enable-prefix-caching" : "--no-enable-prefix-caching"};
}

TEST(BenchE2e, MeasuresWhatTheStandinScheduled) {
    Target t("vllm", "fixed:40,5", vllm_argv(false));
    Sandbox sb;
    const RunResult r = sb.run({"bench", "run", t.url, "--model", "test-model", "--concurrency",
                                "2", "--requests", "6", "--prompt-tokens", "48", "--output-tokens",
                                "8", "--request-timeout", "30", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const json d = r.json();
    EXPECT_EQ(d["valid"], true);
    EXPECT_TRUE(d["invalid_reason"].is_null());
    EXPECT_EQ(d["engine"], "vllm");
    EXPECT_EQ(d["simulated"], true);
    EXPECT_EQ(d["completed"], 6);
    EXPECT_EQ(d["errors"], 0);
    EXPECT_EQ(d["prefix_cache_hits"], 0.0);
    EXPECT_EQ(d["prompt_tokens_exact"], true);
    EXPECT_EQ(d["prompt_tokens_deviation_max"], 0.0);
    EXPECT_EQ(d["output_tokens"], 48);
    for (const char* f : {"ttft_ms", "tpot_ms", "itl_ms", "chunk_gap_ms", "e2e_ms"}) {
        for (const char* s : {"mean", "p50", "p90", "p95", "p99", "p99_9"}) {
            EXPECT_TRUE(d[f][s].is_number()) << f << "." << s;
        }
    }
    // The stand-in scheduled 40 ms to the first token and 5 ms per token after it.
    EXPECT_EQ(d["scheduled"]["ttft_ms"]["p50"], 40.0);
    EXPECT_GE(d["ttft_ms"]["p50"].get<double>(), 40.0);
    EXPECT_GE(d["e2e_ms"]["p50"].get<double>(), 40.0 + 7 * 5);
    EXPECT_GT(d["output_tokens_per_s"].get<double>(), 0);
    EXPECT_GT(d["requests_per_s"].get<double>(), 0);
    EXPECT_TRUE(d.contains("run_id"));
    EXPECT_TRUE(d.contains("predicted"));
    EXPECT_TRUE(d.contains("error_ratio"));
}

TEST(BenchE2e, PrefixCachingOnIsInvalid) {
    Target t("vllm", "fixed:0,0", vllm_argv(true));
    Sandbox sb;
    const RunResult r = sb.run({"bench", "run", t.url, "--requests", "2", "--prompt-tokens", "8",
                                "--output-tokens", "2", "--json"});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    const json d = r.json();
    EXPECT_EQ(d["valid"], false);
    EXPECT_NE(d["invalid_reason"].get<std::string>().find("prefix caching is on"),
              std::string::npos);
    EXPECT_NE(r.err.find("INVALID"), std::string::npos);
    // The table says so too.
    const RunResult table = sb.run(
        {"bench", "run", t.url, "--requests", "2", "--prompt-tokens", "8", "--output-tokens", "2"});
    EXPECT_EQ(table.exit_code, 4);
    EXPECT_NE(table.out.find("INVALID: R-OPS-2"), std::string::npos) << table.out;
    // A deliberate study is labelled and passes.
    const RunResult study = sb.run({"bench", "run", t.url, "--requests", "2", "--prompt-tokens",
                                    "8", "--output-tokens", "2", "--allow-prefix-cache", "--json"});
    EXPECT_EQ(study.exit_code, 0) << study.err;
    EXPECT_EQ(study.json()["prefix_cache_study"], true);
}

TEST(BenchE2e, SglangAndLlamaCppTargets) {
    Target sg("sglang", "fixed:0,0",
              {"-m", "sglang.launch_server", "--model-path", "test-model", "--port", "0",
               "--disable-radix-cache"});
    Target lc("llama.cpp", "fixed:0,0",
              {"-m", "test.gguf", "--port", "0", "-c", "4096", "-np", "2"});
    Sandbox sb;
    const RunResult a = sb.run({"bench", "run", sg.url, "--requests", "3", "--prompt-tokens", "8",
                                "--output-tokens", "3", "--json"});
    EXPECT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.json()["engine"], "sglang");
    EXPECT_EQ(a.json()["prefix_cache_setting"]["state"], "off");
    const RunResult b = sb.run({"bench", "run", lc.url, "--requests", "3", "--prompt-tokens", "8",
                                "--output-tokens", "3", "--json"});
    EXPECT_EQ(b.exit_code, 0) << b.err;
    const json d = b.json();
    EXPECT_EQ(d["engine"], "llama.cpp");
    EXPECT_EQ(d["prefix_cache_hits"], 0.0);  // timings.cache_n of every response
    EXPECT_EQ(d["prompt_tokens_exact"], true);
}

TEST(BenchE2e, ACrashMidRunGivesErrorsNotAHang) {
    Target t("vllm", "fixed:0,1", vllm_argv(false), {"--fail-after-tokens", "20"});
    Sandbox sb;
    const RunResult r = sb.run({"bench", "run", t.url, "--concurrency", "2", "--requests", "8",
                                "--prompt-tokens", "8", "--output-tokens", "32", "--warmup", "0",
                                "--request-timeout", "10", "--json"});
    // The engine is gone: its counters cannot be read after the run, so it is INVALID too.
    EXPECT_EQ(r.exit_code, 4) << r.err;
    const json d = r.json();
    EXPECT_EQ(d["completed"], 0);  // every request reaches token 20
    EXPECT_EQ(d["errors"], 8);
    EXPECT_FALSE(d["error_samples"].empty());
}

TEST(BenchE2e, SweepsSloAndBadInput) {
    Target t("vllm", "fixed:20,1", vllm_argv(false));
    Sandbox sb;
    const RunResult sweep =
        sb.run({"bench", "run", t.url, "--concurrency", "1,2", "--requests", "2", "--prompt-tokens",
                "8", "--output-tokens", "2", "--slo", "ttft_p50<=1ms", "--json"});
    EXPECT_EQ(sweep.exit_code, 4) << sweep.err;  // 20 ms to the first token cannot meet 1 ms
    const json d = sweep.json();
    ASSERT_EQ(d["sweep"].size(), 2u);
    EXPECT_EQ(d["sweep"][1]["concurrency"], 2.0);
    EXPECT_EQ(d["sweep"][0]["slo_met"], false);
    const RunResult met = sb.run({"bench", "run", t.url, "--requests", "2", "--prompt-tokens", "8",
                                  "--output-tokens", "2", "--slo", "ttft_p50<=60s", "--json"});
    EXPECT_EQ(met.exit_code, 0) << met.err;
    EXPECT_EQ(met.json()["slo_met"], true);
    const RunResult reps = sb.run({"bench", "run", t.url, "--requests", "2", "--prompt-tokens", "8",
                                   "--output-tokens", "2", "--repeats", "2", "--json"});
    EXPECT_EQ(reps.exit_code, 0) << reps.err;
    EXPECT_EQ(reps.json()["repeats"].size(), 2u);
    EXPECT_EQ(reps.json()["completed"], 4);  // the repeats pooled
    EXPECT_TRUE(reps.json()["output_tokens_per_s_cv"].is_number());
    const RunResult none =
        sb.run({"bench", "run", t.url, "--concurrency", "1", "--requests", "2", "--prompt-tokens",
                "8", "--output-tokens", "2", "--slo", "ttft_p50<=1ms", "--find-max", "--json"});
    EXPECT_EQ(none.exit_code, 4) << none.err;
    EXPECT_TRUE(none.json()["find_max"]["max"].is_null());
    const RunResult bad = sb.run({"bench", "run", "https://x", "--json"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.json()["error"]["message"].get<std::string>().find("https"), std::string::npos);
    const RunResult both = sb.run({"bench", "run", t.url, "--rate", "1", "--concurrency", "2"});
    EXPECT_EQ(both.exit_code, 2);
    const RunResult down = sb.run({"bench", "run", "http://127.0.0.1:1", "--model", "m", "--json"});
    EXPECT_EQ(down.exit_code, 1);
}

TEST(BenchE2e, DepthModePrintsLlamaBenchsTable) {
    Target t("vllm", "fixed:40,5", vllm_argv(false));
    Sandbox sb;
    const RunResult r = sb.run({"bench", "run", t.url, "--model", "test-model", "--depth", "0,64",
                                "--pp", "32", "--tg", "4", "--requests", "2", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const json d = r.json();
    EXPECT_EQ(d["valid"], true);
    ASSERT_EQ(d["depth"].size(), 2u);
    EXPECT_FALSE(d.contains("sweep"));
    const json& d0 = d["depth"][0];
    const json& d64 = d["depth"][1];
    EXPECT_EQ(d0["pp_test"], "pp32");
    EXPECT_EQ(d0["tg_test"], "tg4");
    EXPECT_EQ(d64["pp_test"], "pp32 @ d64");
    EXPECT_EQ(d64["tg_test"], "tg4 @ d64");
    EXPECT_EQ(d64["depth"], 64.0);
    // Each request is the context and the prompt, built exactly with /tokenize.
    EXPECT_EQ(d64["completed"], 2);
    EXPECT_EQ(d64["prompt_tokens"], 2 * (64 + 32));
    EXPECT_EQ(d64["output_tokens"], 2 * 4);
    EXPECT_EQ(d64["prefix_cache_hits"], 0.0);
    EXPECT_EQ(d64["pp_tokens_per_s"]["n"], 2);
    // The stand-in took at least 40 ms to the first token and 5 ms per token after it: the
    // prefill speed cannot exceed what that schedule allows, nor can a whole request be
    // shorter. (The decode speed can: a first token read late, on a loaded machine, leaves
    // the rest less time to be measured over.)
    EXPECT_GT(d64["pp_tokens_per_s"]["mean"].get<double>(), 0);
    EXPECT_LE(d64["pp_tokens_per_s"]["mean"].get<double>(), 96 / 0.040);
    EXPECT_LE(d0["pp_tokens_per_s"]["mean"].get<double>(), 32 / 0.040);
    EXPECT_GE(d64["e2e_ms"]["p50"].get<double>(), 40 + 3 * 5);
    EXPECT_GT(d64["tg_tokens_per_s"]["mean"].get<double>(), 0);
    EXPECT_GE(d64["tg_tokens_per_s"]["stdev"].get<double>(), 0);
    EXPECT_EQ(d["workload"]["pp"], 32);
    EXPECT_EQ(d["workload"]["depths"], json::array({0.0, 64.0}));

    const RunResult table = sb.run(
        {"bench", "run", t.url, "--depth", "64", "--pp", "32", "--tg", "4", "--requests", "1"});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_NE(table.out.find("| model | engine | test | t/s |"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("| test-model | vllm | pp32 @ d64 | "), std::string::npos);
    EXPECT_NE(table.out.find("| test-model | vllm | tg4 @ d64 | "), std::string::npos);
    EXPECT_NE(table.out.find(" ± "), std::string::npos);

    for (std::vector<std::string> bad : {
             std::vector<std::string>{"--depth", "0,x"},
             {"--depth", "0", "--rate", "1"},
             {"--depth", "0", "--prompt-tokens", "8"},
             {"--pp", "8"},
         }) {
        std::vector<std::string> argv{"bench", "run", t.url, "--json"};
        argv.insert(argv.end(), bad.begin(), bad.end());
        const RunResult e = sb.run(argv);
        EXPECT_EQ(e.exit_code, 2) << bad[0] << " " << bad[1] << e.out;
    }
}

TEST(BenchE2e, DepthModeAtConcurrencySendsBatches) {
    Target t("vllm", "fixed:40,5", vllm_argv(false));
    Sandbox sb;
    const RunResult r =
        sb.run({"bench", "run", t.url, "--model", "test-model", "--depth", "0,64", "--concurrency",
                "1,4", "--pp", "32", "--tg", "8", "--requests", "2", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const json d = r.json();
    EXPECT_EQ(d["valid"], true);
    // One point per depth and batch size, depth first.
    ASSERT_EQ(d["depth"].size(), 4u);
    EXPECT_EQ(d["workload"]["concurrency"], json::array({1, 4}));
    for (std::size_t i = 0; i < 4; ++i) {
        const json& p = d["depth"][i];
        const int users = i % 2 == 0 ? 1 : 4;
        const int depth = i < 2 ? 0 : 64;
        EXPECT_EQ(p["depth"], depth);
        EXPECT_EQ(p["concurrency"], users);
        // --requests runs, each a batch of `users` requests of exactly depth + pp tokens.
        EXPECT_EQ(p["completed"], 2 * users);
        EXPECT_EQ(p["prompt_tokens"], 2 * users * (depth + 32));
        EXPECT_EQ(p["prefix_cache_hits"], 0.0);
        EXPECT_EQ(p["pp_tokens_per_s"]["n"], 2 * users);  // per request
        EXPECT_EQ(p["pp_tokens_per_s_total"]["n"], 2);    // per batch
        const double pp = p["pp_tokens_per_s"]["mean"],
                     pp_total = p["pp_tokens_per_s_total"]["mean"];
        const double tg = p["tg_tokens_per_s"]["mean"],
                     tg_total = p["tg_tokens_per_s_total"]["mean"];
        if (users == 1) {
            // One request at a time: the batch is the request.
            EXPECT_EQ(pp, pp_total);
            EXPECT_EQ(tg, tg_total);
        } else {
            // The stand-in runs the four at once: the batch outpaces each of its requests.
            EXPECT_GT(pp_total, pp);
            EXPECT_GT(tg_total, tg);
        }
    }
    EXPECT_EQ(d["depth"][3]["pp_test"], "pp32 @ d64 (c4)");
    EXPECT_EQ(d["depth"][0]["tg_test"], "tg8 (c1)");

    const RunResult table = sb.run({"bench", "run", t.url, "--depth", "64", "--concurrency", "2",
                                    "--pp", "32", "--tg", "4", "--requests", "1"});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_NE(table.out.find("| model | engine | test | t/s (total) | t/s (req) |"),
              std::string::npos)
        << table.out;
    EXPECT_NE(table.out.find("| test-model | vllm | pp32 @ d64 (c2) | "), std::string::npos);
    EXPECT_NE(table.out.find("| test-model | vllm | tg4 @ d64 (c2) | "), std::string::npos);
}

// A trace's prefix_id: rows of one id begin with the same prefix_tokens of text, a deliberate
// cache workload (R-OPS-2 still applies: --allow-prefix-cache labels it).
TEST(BenchE2e, TracePrefixIdsAreSharedPrefixes) {
    TempDir dir;
    auto trace = [&](const std::string& name, const std::string& a, const std::string& b) {
        const std::string row = R"({"arrival_s": %, "prompt_tokens": 48, "output_tokens": 2, )"
                                R"("prefix_id": "#", "prefix_tokens": 32})";
        auto fill = [&](double at, const std::string& id) {
            std::string r = row;
            r.replace(r.find('%'), 1, std::to_string(at));
            r.replace(r.find('#'), 1, id);
            return r;
        };
        return dir.write(name, fill(0, a) + "\n" + fill(0.3, b) + "\n").string();
    };
    const std::string shared = trace("shared.jsonl", "sys", "sys");
    const std::string distinct = trace("distinct.jsonl", "a", "b");
    auto run = [](const Target& t, const std::string& file) {
        Sandbox sb;
        return sb.run({"bench", "run", t.url, "--model", "test-model", "--trace", file, "--warmup",
                       "0", "--allow-prefix-cache", "--json"});
    };
    {
        // Caching on: the second row of "sys" finds the first's 32 tokens, and no more (its
        // tag follows); rows of two ids find nothing.
        Target on("vllm", "fixed:0,0", vllm_argv(true));
        const RunResult r = run(on, shared);
        ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
        const json d = r.json();
        EXPECT_EQ(d["completed"], 2);
        EXPECT_EQ(d["prefix_cache_study"], true);
        EXPECT_EQ(d["prompt_tokens"], 2 * 48);  // exact through /tokenize
        EXPECT_GT(d["prefix_cache_hits"].get<double>(), 0);
        EXPECT_LE(d["prefix_cache_hits"].get<double>(), 32);
        const RunResult other = run(on, distinct);
        ASSERT_EQ(other.exit_code, 0) << other.err;
        EXPECT_EQ(other.json()["prefix_cache_hits"], 0.0);
    }
    {
        // Caching off: the same trace is a valid run with no hits.
        Target off("vllm", "fixed:0,0", vllm_argv(false));
        const RunResult r = run(off, shared);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.json()["valid"], true);
        EXPECT_EQ(r.json()["prefix_cache_study"], false);
        EXPECT_EQ(r.json()["prefix_cache_hits"], 0.0);
    }
}

TEST(BenchE2e, ShareGptDatasetSendsItsConversations) {
    Target t("vllm", "fixed:0,0", vllm_argv(false));
    TempDir dir;
    const auto file = dir.write("sharegpt.json", R"([
      {"conversations": [{"from": "human", "value": "Tell me about the Grace Blackwell chip."},
                         {"from": "gpt", "value": "It pairs a Grace CPU with a Blackwell GPU that share one pool of memory, which suits large models."}]},
      {"conversations": [{"from": "human", "value": "One turn only"}]},
      {"conversations": [{"from": "human", "value": "What is prefix caching, in short?"},
                         {"from": "gpt", "value": "Reusing the attention keys and values of a prompt prefix seen before."}]}
    ])");
    Sandbox sb;
    const RunResult r = sb.run({"bench", "run", t.url, "--dataset", "sharegpt:" + file.string(),
                                "--requests", "4", "--max-tokens", "12", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const json d = r.json();
    EXPECT_EQ(d["completed"], 4);
    EXPECT_EQ(d["workload"]["dataset"]["entries"], 2);
    EXPECT_EQ(d["workload"]["max_tokens"], 12);
    EXPECT_EQ(d["prompt_tokens_exact"], false);  // the dataset's lengths are estimates
    // Both answers are longer than 12 tokens: --max-tokens caps each request.
    EXPECT_EQ(d["output_tokens"], 4 * 12);
    const RunResult missing = sb.run({"bench", "run", t.url, "--dataset", "/nonexistent.json"});
    EXPECT_EQ(missing.exit_code, 2) << missing.err;
    EXPECT_NE(missing.err.find("/nonexistent.json"), std::string::npos) << missing.err;
    const RunResult cap = sb.run({"bench", "run", t.url, "--max-tokens", "3"});
    EXPECT_EQ(cap.exit_code, 2);
}

}  // namespace
}  // namespace sparkctl::test
