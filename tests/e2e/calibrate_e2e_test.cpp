// sparkctl calibrate, end to end: a stand-in engine whose step-cost timing follows KNOWN
// constants (`simulate serve --constants FILE`), real `bench run`s against it stored in the
// sandbox's history, then `calibrate --include-simulated` recovers the constants; `constants =
// local` then labels fit's predictions. The stand-in listens on 127.0.0.1, port 0, is waited on
// by its ready line and killed by process group; every run is bounded in requests and time.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fit/calibration.h"
#include "fit/performance.h"
#include "support/sandbox.h"
#include "support/standin_process.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;

// The quantization plan gives llama-3.1-8b on vLLM (the stand-in prices that one); checked
// against `plan --json` below.
constexpr const char* kQuant = "fp8";
constexpr double kWeightsBwEff = 0.6;    // built in: 0.964 (vllm/fp8)
constexpr double kGemmEff = 0.06;        // built in: 0.0220
constexpr double kSeqOverheadS = 0.005;  // built in: 0.000487
// The stand-in runs twice as fast as the engine it models: calibrate multiplies back.
constexpr const char* kSpeed = "2";

fit::ConstantsTable known_constants() {
    fit::ConstantsTable t = fit::builtin_constants();
    for (fit::EngineConstants& ec : t.engines) {
        if (ec.engine != engines::Engine::vllm) continue;
        ec.shared.seq_overhead_s = kSeqOverheadS;
        for (fit::FamilyConstants& fc : ec.families) {
            if (fc.family != "fp8") continue;
            fc.weights_bw_eff = kWeightsBwEff;
            fc.gemm_eff = kGemmEff;
        }
    }
    return t;
}

const json* family(const json& fitted, const char* fam) {
    const json& f = fitted["vllm"]["families"];
    return f.contains(fam) ? &f[fam] : nullptr;
}

TEST(CalibrateE2e, RecoversTheConstantsOfAStandinBuiltWithThem) {
    Sandbox sb;
    const RunResult plan =
        sb.run({"plan", "llama-3.1-8b", "--for", "chat", "--engine", "vllm", "--json"});
    ASSERT_EQ(plan.exit_code, 0) << plan.err;
    ASSERT_EQ(plan.json()["quant"], std::string(kQuant))
        << "the test's split assumes the plan's quantization";

    // Before any calibration: `constants = local` names the missing file.
    const RunResult missing =
        sb.run({"fit", "llama-3.1-8b", "--engine", "vllm", "--constants", "local", "--json"});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("perf-constants.toml"), std::string::npos) << missing.err;
    const RunResult nothing = sb.run({"calibrate"});
    EXPECT_EQ(nothing.exit_code, 2);
    EXPECT_NE(nothing.err.find("nothing to calibrate on"), std::string::npos) << nothing.err;

    const auto known = sb.write("known.toml", fit::constants_to_toml(known_constants()));
    Standin standin({"--as", "vllm", "--constants", known.string(), "--speed", kSpeed, "--",
                     "serve", "llama-3.1-8b", "--port", "0", "--max-model-len", "20000",
                     "--max-num-seqs", "8", "--no-enable-prefix-caching"});
    const std::uint16_t port = standin.wait_port("ready on port ");
    ASSERT_NE(port, 0) << standin.log();
    const std::string url = "http://127.0.0.1:" + std::to_string(port);

    auto bench = [&](const std::vector<std::string>& load) {
        std::vector<std::string> args{"bench",        "run",     url,    "--model",
                                      "llama-3.1-8b", "--quant", kQuant, "--request-timeout",
                                      "60",           "--json"};
        args.insert(args.end(), load.begin(), load.end());
        const RunResult r = sb.run(args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r;
    };
    // Decode: 512-token prompts, 16 tokens out, three waves of users per point (the median
    // TPOT comes from full waves). Under split_rule these loads fall as c1, c2, c4, c8 fit and
    // c6 holdout: two fit points at c >= 4 let seq_overhead_s be fitted.
    // The stand-in's own lateness: each token is sent a wake-up after it was due, which on a
    // loaded machine is milliseconds per token; at one user it is the ratio of the measured
    // to the scheduled time per token.
    double late = 0;
    for (const char* c : {"1", "2", "4", "6", "8"}) {
        const RunResult r =
            bench({"--concurrency", c, "--requests", std::to_string(3 * std::stoi(c)),
                   "--prompt-tokens", "512", "--output-tokens", "16"});
        if (std::string(c) == "1") {
            const json d = r.json();
            // The schedule is in the modelled engine's ms, before the stand-in's --speed.
            late = d["tpot_ms"]["p50"].get<double>() * std::stod(kSpeed) /
                       d["scheduled"]["itl_ms"]["p50"].get<double>() -
                   1;
        }
    }
    // Prefill: long prompts at one user, where the stand-in's first decode step (part of its
    // TTFT) is a few percent of the prefill: 12288 falls in fit, 8192 in holdout.
    for (const char* p : {"8192", "12288"}) {
        bench({"--concurrency", "1", "--requests", "2", "--warmup", "0", "--prompt-tokens", p,
               "--output-tokens", "1"});
    }

    // Stand-in runs are refused without the test-only flag.
    const RunResult refused = sb.run({"calibrate", "--json"});
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.err.find("simulated"), std::string::npos) << refused.err;

    const RunResult r = sb.run({"calibrate", "--include-simulated", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json d = r.json();
    EXPECT_EQ(d["runs_used"], 7);
    EXPECT_EQ(d["fit_rows"], 5);      // c1, c2, c4, c8 decode and pp12288
    EXPECT_EQ(d["holdout_rows"], 2);  // c6 decode and pp8192
    const json* fam = family(d["fitted"], "fp8");
    ASSERT_NE(fam, nullptr) << d["fitted"].dump();
    // Tolerances. Every measured time is what the stand-in scheduled plus its lateness per token
    // (`late`, a fixed time per step: the fit can only read it as slower weight reads, so the
    // weights' efficiency it recovers is the known one / (1 + late)), within 10% for the rest
    // of the noise. Its TTFT holds one decode step besides the prefill (~2% at 12288 tokens):
    // the GEMM efficiency within 10%. The per-sequence time is a slope across concurrencies
    // that lateness varying between runs tilts: within 35%.
    const double delivered = kWeightsBwEff / (1 + late);
    EXPECT_NEAR((*fam)["weights_bw_eff"].get<double>(), delivered, 0.10 * delivered)
        << "lateness " << late << " " << d.dump();
    EXPECT_NEAR((*fam)["gemm_eff_of_sparse_fp4_peak"].get<double>(), kGemmEff, 0.10 * kGemmEff)
        << d.dump();
    const fit::ConstantsTable local = [&] {
        auto t = fit::parse_constants_toml(
            [&] {
                std::ifstream in(d["out"].get<std::string>());
                return std::string(std::istreambuf_iterator<char>(in), {});
            }(),
            "local");
        EXPECT_TRUE(t) << (t ? "" : t.error().message);
        return t ? *t : fit::ConstantsTable{};
    }();
    double seq = -1;
    for (const fit::EngineConstants& ec : local.engines)
        if (ec.engine == engines::Engine::vllm) seq = ec.shared.seq_overhead_s;
    EXPECT_NEAR(seq, kSeqOverheadS, 0.35 * kSeqOverheadS) << d.dump();
    // The built-in constants were wrong for this "box"; the fitted ones are not.
    EXPECT_GT(d["error_before"]["fit_decode"].get<double>(), 0.15) << d.dump();
    // 0.10, not tighter: the runs are wall-clock timed, and with builds running on both cores the
    // fit's own error reached 0.055 (against ~0.011 on a quiet machine) while its constants
    // were still recovered within the bounds above.
    EXPECT_LT(d["error_after"]["fit_decode"].get<double>(), 0.10) << d.dump();
    ASSERT_TRUE(d["holdout_error"].is_number()) << d.dump();
    EXPECT_LT(d["holdout_error"].get<double>(), 0.10) << d.dump();

    // fit with constants = local says where its constants came from.
    sb.env["SPARKCTL_CONSTANTS"] = "local";
    const RunResult f =
        sb.run({"fit", "llama-3.1-8b", "--engine", "vllm", "--quant", kQuant, "--json"});
    ASSERT_EQ(f.exit_code, 0) << f.err;
    const std::string source = f.out;
    EXPECT_NE(source.find("(local: calibrated on 7 local runs, holdout error "), std::string::npos)
        << source;
}

}  // namespace
}  // namespace sparkctl::test
