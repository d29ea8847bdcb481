// bench's run history end to end: runs of the real binary against `sparkctl simulate serve`
// stand-ins are stored, then listed, shown, compared, exported and reported (PERFORMANCE.md's
// marked section and its SVG plots) from the sandbox's state database.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/sandbox.h"
#include "support/standin_process.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;

struct Target {
    Target(const std::string& engine, std::vector<std::string> argv)
        : standin([&] {
              std::vector<std::string> a{"--as", engine, "--timing", "fixed:2,1", "--"};
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
            "--max-num-seqs",
            "8",
            caching ? "--enable-prefix-caching" : "--no-enable-prefix-caching"};
}

std::string read(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> small(const std::string& url, std::vector<std::string> extra) {
    std::vector<std::string> a{"bench", "run",
                               url,     "--requests",
                               "2",     "--prompt-tokens",
                               "8",     "--output-tokens",
                               "3",     "--request-timeout",
                               "30"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

TEST(BenchHistoryE2e, RunsAreStoredListedShownComparedAndExported) {
    Target v("vllm", vllm_argv(false));
    Target cached("vllm", vllm_argv(true));
    Target lc("llama.cpp", {"-m", "/models/Qwen3-8B-Q4_K_M.gguf", "--port", "0", "-np", "2"});
    Sandbox sb;
    const RunResult r1 =
        sb.run(small(v.url, {"--concurrency", "1,2", "--repeats", "2", "--quant", "nvfp4",
                             "--launch-flags", "vllm serve test-model", "--json"}));
    ASSERT_EQ(r1.exit_code, 0) << r1.err;
    const json d1 = r1.json();
    ASSERT_TRUE(d1["run_id"].is_number());
    EXPECT_EQ(d1["quant"], "nvfp4");
    EXPECT_EQ(d1["quant_source"], "--quant");
    EXPECT_EQ(d1["launch_flags"], "vllm serve test-model");
    EXPECT_EQ(d1["target"], v.url);
    EXPECT_TRUE(d1["hardware"]["detected"].is_object());
    EXPECT_TRUE(d1["sparkctl_version"].is_string());
    EXPECT_EQ(d1["seed"], 0);
    const RunResult r2 =
        sb.run(small(v.url, {"--concurrency", "2,4", "--repeats", "2", "--quant", "nvfp4"}));
    ASSERT_EQ(r2.exit_code, 0) << r2.err;
    EXPECT_NE(r2.out.find("run 2 (sparkctl bench show 2)"), std::string::npos) << r2.out;
    const RunResult r3 = sb.run(small(cached.url, {"--json"}));
    EXPECT_EQ(r3.exit_code, 4);  // INVALID, and stored as such
    const RunResult r4 = sb.run(small(lc.url, {"--json"}));
    ASSERT_EQ(r4.exit_code, 0) << r4.err;
    EXPECT_EQ(r4.json()["quant"], "Q4_K_M");  // from llama.cpp's /props model_path
    EXPECT_EQ(r4.json()["quant_source"], "/props");
    EXPECT_EQ(r4.json()["engine_reported_args"]["source"], "/props");

    const RunResult list = sb.run({"bench", "list", "--json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    const json runs = list.json()["runs"];
    ASSERT_EQ(runs.size(), 4u);
    EXPECT_EQ(runs[0]["id"], d1["run_id"]);
    EXPECT_EQ(runs[0]["loads"], json::array({1.0, 2.0}));
    EXPECT_EQ(runs[0]["label"], "SIMULATED VALID");
    EXPECT_EQ(runs[2]["valid"], false);
    EXPECT_EQ(runs[2]["label"], "SIMULATED INVALID");
    EXPECT_GT(runs[1]["output_tokens_per_s"].get<double>(), 0);
    const RunResult table = sb.run({"bench", "list"});
    EXPECT_NE(table.out.find("SIMULATED INVALID"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("Q4_K_M"), std::string::npos);

    const RunResult show = sb.run({"bench", "show", "3", "--json"});
    ASSERT_EQ(show.exit_code, 0);
    EXPECT_EQ(show.json()["run_id"], 3);
    EXPECT_NE(show.json()["invalid_reason"].get<std::string>().find("R-OPS-2"), std::string::npos);
    const RunResult show_text = sb.run({"bench", "show", "3"});
    EXPECT_NE(show_text.out.find("reason:"), std::string::npos) << show_text.out;

    const RunResult cmp = sb.run({"bench", "compare", "1", "2", "--json"});
    ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
    const json c = cmp.json();
    ASSERT_EQ(c["points"].size(), 1u);  // only concurrency 2 is in both
    EXPECT_EQ(c["points"][0]["load"], 2.0);
    const json& tput = c["points"][0]["metrics"]["output_tokens_per_s"];
    EXPECT_TRUE(tput["noise"].is_number());  // both runs have --repeats
    EXPECT_TRUE(tput["exceeds_noise"].is_boolean());
    EXPECT_EQ(c["only_in_a"], json::array({1.0}));
    EXPECT_EQ(c["only_in_b"], json::array({4.0}));

    const RunResult csv = sb.run({"bench", "export", "1", "--csv"});
    ASSERT_EQ(csv.exit_code, 0) << csv.err;
    EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 3);  // header + 2 points
    EXPECT_EQ(csv.out.rfind("run_id,created_at,model,", 0), 0u);
    const RunResult exp = sb.run({"bench", "export", "4", "--json"});
    ASSERT_EQ(exp.exit_code, 0);
    EXPECT_EQ(exp.json()["run_id"], 4);
    EXPECT_EQ(exp.json()["model"], r4.json()["model"]);

    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"bench", "show", "99", "--json"},
                                               {"bench", "compare", "1", "99", "--json"},
                                               {"bench", "export", "99", "--csv"}}) {
        const RunResult bad = sb.run(args);
        EXPECT_EQ(bad.exit_code, 2) << args[1];
        EXPECT_NE(bad.err.find("bench run 99"), std::string::npos) << bad.err;
    }
    EXPECT_EQ(sb.run({"bench", "export", "1"}).exit_code, 2);  // neither --json nor --csv
}

TEST(BenchHistoryE2e, ReportKeepsOutsideTextAndRefusesBrokenMarkers) {
    Target v("vllm", vllm_argv(false));
    Sandbox sb;
    ASSERT_EQ(sb.run(small(v.url, {"--concurrency", "1,2"})).exit_code, 0);
    const auto path = sb.write("docs/PERFORMANCE.md", "# Our numbers\n\nWritten by hand.\n");
    const RunResult rep = sb.run({"bench", "report", "--out", path.string(), "--json"});
    ASSERT_EQ(rep.exit_code, 0) << rep.err;
    const std::string first = read(path);
    EXPECT_EQ(first.rfind("# Our numbers\n\nWritten by hand.\n", 0), 0u);
    EXPECT_NE(first.find("### test-model · vllm · quant unknown"), std::string::npos) << first;
    EXPECT_NE(first.find("#### Simulated runs"), std::string::npos);
    const json plots = rep.json()["plots"];
    ASSERT_EQ(plots.size(), 3u);
    for (const json& p : plots) {
        const std::string svg = read(p.get<std::string>());
        EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << p;
        EXPECT_NE(svg.find("</svg>"), std::string::npos);
        EXPECT_EQ(std::filesystem::path(p.get<std::string>()).parent_path(), path.parent_path());
    }
    // Regenerated after another run: outside text (before and after) kept, the section redone.
    ASSERT_EQ(sb.run(small(v.url, {"--concurrency", "1,2"})).exit_code, 0);
    std::ofstream(path, std::ios::app) << "\nA footer of mine.\n";
    ASSERT_EQ(sb.run({"bench", "report", "--out", path.string()}).exit_code, 0);
    const std::string second = read(path);
    EXPECT_EQ(second.rfind("# Our numbers\n\nWritten by hand.\n", 0), 0u);
    EXPECT_TRUE(second.ends_with("\nA footer of mine.\n"));
    EXPECT_NE(second.find("- change: against run 1 "), std::string::npos);
    // A broken marker pair: an error naming the file, and the file untouched.
    const std::string broken = "intro\n<!-- sparkctl:bench-report:begin -->\nno end\n";
    sb.write("docs/PERFORMANCE.md", broken);
    const RunResult bad = sb.run({"bench", "report", "--out", path.string()});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find(path.string()), std::string::npos) << bad.err;
    EXPECT_EQ(read(path), broken);
}

TEST(BenchHistoryE2e, AStoreThatCannotBeOpenedStopsTheRun) {
    Target v("vllm", vllm_argv(false));
    Sandbox sb;
    // data_dir is a file: state.db cannot be created under it.
    const auto file = sb.write("not-a-dir", "x");
    sb.env["SPARKCTL_DATA_DIR"] = file.string();
    const RunResult r = sb.run(small(v.url, {"--json"}));
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find("history"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("completed"), std::string::npos);  // no load was sent
}

}  // namespace
}  // namespace sparkctl::test
