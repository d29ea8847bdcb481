// sparkctl simulate: the planned deployment under a workload, end to end (the JSON contract,
// sweeps, find-max and its exit 4, determinism, bad input).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/sandbox.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;

TEST(SimulateE2e, SweepJsonCarriesTheStatistics) {
    Sandbox s;
    auto r = s.run({"simulate", "gpt-oss-120b", "--for", "agents", "--users", "4", "--concurrency",
                    "1,4", "--requests", "50", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = r.json();
    EXPECT_EQ(j["simulated"], true);
    EXPECT_EQ(j["deployment"]["engine"], "vllm");
    EXPECT_EQ(j["deployment"]["max_num_seqs"], 4);
    ASSERT_EQ(j["sweep"].size(), 2u);
    for (const json& p : j["sweep"]) {
        EXPECT_EQ(p["requests_completed"], 50);
        for (const char* k : {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "queue_ms"}) {
            for (const char* q : {"mean", "p50", "p90", "p95", "p99", "p99_9"}) {
                EXPECT_TRUE(p[k][q].is_number()) << k << "." << q;
            }
        }
        for (const char* k : {"output_tokens_per_s", "total_tokens_per_s", "requests_per_s",
                              "kv_pool_peak_fraction", "preemptions", "simulated_s", "wall_s"}) {
            EXPECT_TRUE(p[k].is_number()) << k;
        }
        EXPECT_TRUE(p.contains("prefix_cache_hit_rate"));
    }
    // Four users share the engine: more tokens in all, fewer each.
    const json& c1 = j["sweep"][0];
    const json& c4 = j["sweep"][1];
    EXPECT_EQ(c1["concurrency"], 1);
    EXPECT_GT(c4["output_tokens_per_s"].get<double>(),
              1.5 * c1["output_tokens_per_s"].get<double>());
    EXPECT_GT(c4["tpot_ms"]["p50"].get<double>(), c1["tpot_ms"]["p50"].get<double>());
}

TEST(SimulateE2e, SameSeedSameDocumentButWallTime) {
    Sandbox s;
    const std::vector<std::string> args{"simulate",        "gpt-oss-120b",
                                        "--rate",          "0.5",
                                        "--prompt-tokens", "uniform:100:2000",
                                        "--output-tokens", "lognormal:200:0.5",
                                        "--requests",      "40",
                                        "--seed",          "3",
                                        "--json"};
    auto a = s.run(args);
    auto b = s.run(args);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    json ja = a.json(), jb = b.json();
    ja.erase("wall_s");
    jb.erase("wall_s");
    EXPECT_EQ(ja, jb);
}

TEST(SimulateE2e, FindMaxAndUnmetSlo) {
    Sandbox s;
    auto ok = s.run({"simulate", "gpt-oss-120b", "--for", "agents", "--users", "8", "--concurrency",
                     "8", "--requests", "24", "--slo", "tpot_p50<=35ms", "--find-max", "--json"});
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
    const json j = ok.json();
    const double best = j["find_max"]["max"].get<double>();
    EXPECT_GE(best, 1);
    EXPECT_LT(best, 8);
    for (const json& t : j["find_max"]["tried"]) {
        EXPECT_EQ(t["slo_met"].get<bool>(), t["concurrency"].get<double>() <= best);
    }
    // No load meets 1 ms per token: exit 4, the document still printed.
    auto none = s.run({"simulate", "gpt-oss-120b", "--concurrency", "4", "--requests", "8", "--slo",
                       "tpot_p50<=1ms", "--find-max", "--json"});
    EXPECT_EQ(none.exit_code, 4) << none.err;
    EXPECT_TRUE(none.json()["find_max"]["max"].is_null());
}

TEST(SimulateE2e, PlotWritesAnSvg) {
    Sandbox s;
    const auto svg = s.home() / "sweep.svg";
    auto r = s.run({"simulate", "gpt-oss-120b", "--concurrency", "1,2,4", "--requests", "12",
                    "--plot", svg.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("out tok/s"), std::string::npos);
    std::ifstream in(svg);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str().rfind("<svg ", 0), 0u);
    EXPECT_NE(text.str().find("</svg>"), std::string::npos);
}

TEST(SimulateE2e, BadInputExits2NamingIt) {
    Sandbox s;
    const auto trace = s.write("t.jsonl",
                               "{\"arrival_s\": 0, \"prompt_tokens\": 10, \"output_tokens\": 2}\n"
                               "{\"arrival_s\": 1, \"prompt_tokens\": \"x\"}\n");
    auto r = s.run({"simulate", "gpt-oss-120b", "--trace", trace.string(), "--json"});
    EXPECT_EQ(r.exit_code, 2);
    const std::string msg = r.json()["error"]["message"];
    EXPECT_NE(msg.find("t.jsonl:2:"), std::string::npos) << msg;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"simulate", "gpt-oss-120b", "--prompt-tokens", "zipf:1:2"},
          {"simulate", "gpt-oss-120b", "--concurrency", "0"},
          {"simulate", "gpt-oss-120b", "--arrivals", "gamma:-1", "--rate", "1"},
          {"simulate", "gpt-oss-120b", "--slo", "ttft_p95<=fast"},
          {"simulate", "gpt-oss-120b", "--find-max"},
          {"simulate", "gpt-oss-120b", "--rate", "1", "--concurrency", "2"}}) {
        auto b = s.run(args);
        EXPECT_EQ(b.exit_code, 2) << args[2];
        EXPECT_FALSE(b.err.empty());
    }
}

// --dataset: a ShareGPT file sets the sizes (40 and 20 estimated tokens, characters / 4);
// bad files are exit 2 naming the file and the entry.
TEST(SimulateE2e, DatasetSetsSizesAndNamesBadEntries) {
    Sandbox s;
    const std::string prompt(160, 'p'), output(80, 'o');
    const auto ds =
        s.write("sg.json", "[{\"conversations\": [{\"from\": \"human\", \"value\": \"" + prompt +
                               "\"}, {\"from\": \"gpt\", \"value\": \"" + output + "\"}]}]");
    auto r = s.run({"simulate", "gpt-oss-120b", "--dataset", ds.string(), "--concurrency", "2",
                    "--requests", "10", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = r.json();
    EXPECT_EQ(j["workload"]["dataset"]["entries"], 1);
    EXPECT_EQ(j["workload"]["dataset"]["token_estimate"], "characters/4");
    EXPECT_TRUE(j["workload"]["prompt_tokens"].is_null());
    EXPECT_EQ(j["requests_completed"], 10);
    // Every request is 40 in and 20 out: total tokens/s is three times output tokens/s.
    EXPECT_NEAR(j["total_tokens_per_s"].get<double>() / j["output_tokens_per_s"].get<double>(), 3.0,
                1e-9);

    const auto bad = s.write("bad.json", "[{\"conversations\": 3}]");
    auto b = s.run({"simulate", "gpt-oss-120b", "--dataset", bad.string()});
    EXPECT_EQ(b.exit_code, 2);
    EXPECT_NE(b.err.find("bad.json: entry 0: 'conversations' must be a list"), std::string::npos)
        << b.err;
    auto both =
        s.run({"simulate", "gpt-oss-120b", "--dataset", ds.string(), "--trace", ds.string()});
    EXPECT_EQ(both.exit_code, 2);
}

// plan's capacity line (SPARKCTL-PLAN-20) is what simulate --find-max finds for the same
// deployment, SLO and (default) workload.
void expect_capacity_matches_simulate(Sandbox& s, const std::vector<std::string>& plan_flags) {
    std::vector<std::string> args{"plan"};
    args.insert(args.end(), plan_flags.begin(), plan_flags.end());
    args.push_back("--json");
    auto p = s.run(args);
    ASSERT_EQ(p.exit_code, 0) << p.err;
    const json cap = p.json()["capacity"];
    ASSERT_TRUE(cap.is_object()) << p.out;
    EXPECT_EQ(cap["simulated"], true);
    EXPECT_EQ(cap["rule"], "SPARKCTL-PLAN-20");
    const std::string slo = cap["slo"].get<std::string>();
    const auto bound = cap["upper_bound"].get<std::uint32_t>();
    EXPECT_EQ(bound, p.json()["parallel"].get<std::uint32_t>());

    std::vector<std::string> sim{"simulate"};
    sim.insert(sim.end(), plan_flags.begin(), plan_flags.end());
    for (const std::string& a :
         {std::string("--concurrency"), std::to_string(bound), std::string("--slo"), slo,
          std::string("--find-max"), std::string("--json")}) {
        sim.push_back(a);
    }
    auto r = s.run(sim);
    const json fm = r.json()["find_max"];
    EXPECT_EQ(cap["max_concurrency"], fm["max"]) << p.out << "\n" << r.out;
    if (fm["max"].is_null()) {
        EXPECT_EQ(r.exit_code, 4);
        EXPECT_TRUE(cap["output_tokens_per_s"].is_null());
        return;
    }
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const json& t : fm["tried"]) {
        if (t["concurrency"] == fm["max"]) {
            EXPECT_DOUBLE_EQ(cap["output_tokens_per_s"].get<double>(),
                             t["output_tokens_per_s"].get<double>());
        }
    }
    EXPECT_GT(cap["per_user_output_tokens_per_s"].get<double>(), 0);
}

TEST(PlanCapacity, EqualsSimulateFindMax) {
    Sandbox s;
    expect_capacity_matches_simulate(s, {"gpt-oss-120b", "--for", "agents", "--users", "4"});
    expect_capacity_matches_simulate(s, {"gpt-oss-120b", "--for", "chat", "--users", "64"});
}

TEST(PlanCapacity, TextLineAndWhereItIsLeftOut) {
    Sandbox s;
    auto text = s.run({"plan", "gpt-oss-120b", "--for", "agents", "--users", "4"});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("capacity: "), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("SPARKCTL-PLAN-20"), std::string::npos) << text.out;

    const auto cfg = s.write("cfg.toml", "[rules.SPARKCTL-PLAN-20]\nenabled = false\n");
    auto off = s.run({"--config", cfg.string(), "plan", "gpt-oss-120b", "--for", "agents",
                      "--users", "4", "--json"});
    ASSERT_EQ(off.exit_code, 0) << off.err;
    EXPECT_FALSE(off.json().contains("capacity"));
    auto off_text = s.run(
        {"--config", cfg.string(), "plan", "gpt-oss-120b", "--for", "agents", "--users", "4"});
    EXPECT_EQ(off_text.out.find("capacity: "), std::string::npos) << off_text.out;

    auto batch = s.run({"plan", "gpt-oss-120b", "--for", "batch", "--users", "4", "--json"});
    ASSERT_EQ(batch.exit_code, 0) << batch.err;
    EXPECT_FALSE(batch.json().contains("capacity"));
}

}  // namespace
}  // namespace sparkctl::test
