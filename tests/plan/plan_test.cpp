// Golden scenarios and the property test of `sparkctl plan` (docs/dev/plan.md).
#include "plan/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "engines/versions.h"
#include "fit/performance.h"
#include "hw/profile.h"
#include "model/catalog.h"
#include "plan/detail/commands.h"
#include "plan/plan_fixtures.h"
#include "plan/quant_choice.h"
#include "plan/render.h"
#include "plan/rules.h"

namespace sparkctl::plan {
namespace {

using engines::Engine;

using namespace fixtures;  // NOLINT(google-build-using-namespace): shared helpers

TEST(PlanGolden, ChatSmallModelSingleUserPicksLlamaCpp) {
    Plan p = plan_for("qwen3-8b", request(UseCase::chat));
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.engine, Engine::llama_cpp);
    EXPECT_EQ(decision(p, "engine")->rule, "R-ENG-1");
    EXPECT_EQ(p.quant, "Q8_0");  // the largest published GGUF that fits
    EXPECT_EQ(p.variant_repo, "unsloth/Qwen3-8B-GGUF");
    EXPECT_EQ(p.engine_version.name, "2026");
    const LaunchCommand* c = server(p);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->argv[0], "llama-server");
    EXPECT_EQ(arg_after(*c, "-c"), "32768");  // trained 40960, capped at 32768
    EXPECT_EQ(arg_after(*c, "-np"), "1");
    EXPECT_EQ(arg_after(*c, "-ngl"), "all");
    EXPECT_EQ(arg_after(*c, "-fa"), "on");
    // The micro-batch is set explicitly, the one fit sized (fit::default_ubatch: one owner).
    EXPECT_EQ(arg_after(*c, "-ub"), "2048");
    EXPECT_EQ(arg_after(*c, "-b"), "2048");
    EXPECT_EQ(p.fit.ubatch,
              fit::default_ubatch(Engine::llama_cpp, p.fit.estimate.memory.budget_bytes));
    EXPECT_EQ(arg_after(*c, "--load-mode"), "none");
    EXPECT_EQ(arg_after(*c, "--host"), "127.0.0.1");
    EXPECT_EQ(c->health_url, "http://127.0.0.1:8080/health");
    expect_flags_accepted(p);
    EXPECT_EQ(server(p, "container"), nullptr);  // llama.cpp: native only
}

// SPARKCTL-PLAN-19: llama-server's host prompt cache and context checkpoints are set
// explicitly, and fit counts what the command sets.
TEST(PlanGolden, LlamaCppSetsTheHostCachesFitCounts) {
    Plan p = plan_for("gpt-oss-120b", request(UseCase::chat));
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    ASSERT_EQ(p.engine, Engine::llama_cpp);
    const LaunchCommand* c = server(p);
    ASSERT_NE(c, nullptr);
    const fit::MemoryBreakdown& m = p.fit.estimate.memory;
    // Plenty of the budget left: llama.cpp's default cache; 32768 tokens per slot: 4 + 3
    // checkpoints of the SWA window.
    EXPECT_EQ(arg_after(*c, "--cache-ram"), "8192");
    EXPECT_EQ(m.host_prompt_cache_bytes, 8192ull << 20);
    EXPECT_EQ(arg_after(*c, "--ctx-checkpoints"), "7");
    EXPECT_GT(m.ctx_checkpoint_bytes, 0u);
    EXPECT_EQ(m.ctx_checkpoints_bytes, 7 * m.ctx_checkpoint_bytes);
    const Decision* d = decision(p, "host-caches");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->rule, "SPARKCTL-PLAN-19");
    EXPECT_EQ(d->outcome, "--cache-ram 8192 --ctx-checkpoints 7");
    expect_flags_accepted(p);

    // A full-attention model makes no checkpoints: 0, said explicitly.
    Plan q = plan_for("qwen3-8b", request(UseCase::chat));
    EXPECT_EQ(arg_after(*server(q), "--ctx-checkpoints"), "0");
    EXPECT_EQ(q.fit.estimate.memory.ctx_checkpoints_bytes, 0u);

    // --bench: no prompt cache, and fit counts none.
    PlanRequest br = request(UseCase::chat);
    br.bench = true;
    Plan b = plan_for("gpt-oss-120b", br);
    EXPECT_EQ(arg_after(*server(b), "--cache-ram"), "0");
    EXPECT_EQ(b.fit.estimate.memory.host_prompt_cache_bytes, 0u);

    // Switched off: the flags are left out and fit counts llama.cpp's defaults.
    RuleBook rules = RuleBook::builtin();
    ASSERT_TRUE(rules.apply_overrides({{"SPARKCTL-PLAN-19.enabled", "false"}}, "test").ok());
    Plan off = plan_for("gpt-oss-120b", request(UseCase::chat), rules);
    EXPECT_FALSE(has_arg(*server(off), "--cache-ram"));
    EXPECT_FALSE(has_arg(*server(off), "--ctx-checkpoints"));
    EXPECT_EQ(decision(off, "host-caches"), nullptr);
    EXPECT_EQ(off.fit.estimate.memory.host_prompt_cache_bytes, 8192ull << 20);
    EXPECT_EQ(off.fit.estimate.memory.ctx_checkpoints_bytes, 32 * m.ctx_checkpoint_bytes);
}

TEST(PlanGolden, QwenMoeEightAgents64kOnVllm) {
    PlanRequest r = request(UseCase::agents, 8);
    r.context = 65536;
    Plan p = plan_for("qwen3-30b-a3b", r);
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    EXPECT_EQ(p.engine, Engine::vllm);
    EXPECT_EQ(decision(p, "engine")->rule, "R-ENG-2");
    // No AWQ: FP8 before the native BF16 (R-QNT-3: half the bytes read per token).
    EXPECT_EQ(p.quant, "fp8");
    EXPECT_EQ(p.variant_repo, "RedHatAI/Qwen3-30B-A3B-FP8-dynamic");
    const Decision* q = decision(p, "quant");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->rule, "R-QNT-3");
    EXPECT_NE(q->reason.find("FP8 before BF16"), std::string::npos) << q->reason;
    ASSERT_FALSE(q->rejected.empty());
    EXPECT_EQ(q->rejected.front().option, "bf16");
    EXPECT_NE(q->rejected.front().reason.find("less preferred"), std::string::npos);
    const LaunchCommand* c = server(p);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(arg_after(*c, "serve"), "RedHatAI/Qwen3-30B-A3B-FP8-dynamic");
    EXPECT_EQ(arg_after(*c, "--max-model-len"), "65536");
    EXPECT_EQ(arg_after(*c, "--max-num-seqs"), "8");
    EXPECT_EQ(arg_after(*c, "--tool-call-parser"), "hermes");
    EXPECT_EQ(arg_after(*c, "--reasoning-parser"), "qwen3");
    EXPECT_TRUE(has_arg(*c, "--enable-auto-tool-choice"));
    EXPECT_LE(std::stod(arg_after(*c, "--gpu-memory-utilization")), 0.85);
    EXPECT_FALSE(arg_after(*c, "--kv-cache-memory-bytes").empty());
    EXPECT_LE(p.fit.estimate.memory.total_bytes, p.fit.estimate.memory.budget_bytes);
    const LaunchCommand* k = server(p, "container");
    ASSERT_NE(k, nullptr);
    EXPECT_TRUE(has_arg(*k, "nvcr.io/nvidia/vllm:26.05-py3"));
    EXPECT_TRUE(has_arg(*k, "127.0.0.1:8000:8000"));
    expect_flags_accepted(p);
}

TEST(PlanGolden, BatchMoeOnVllmAndBenchTurnsPrefixCachingOff) {
    PlanRequest r = request(UseCase::batch, 16);
    r.context = 8192;
    r.bench = true;
    Plan p = plan_for("qwen3-30b-a3b", r);
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.engine, Engine::vllm);
    EXPECT_EQ(decision(p, "bench")->rule, "R-OPS-2");
    EXPECT_TRUE(has_arg(*server(p), "--no-enable-prefix-caching"));
    EXPECT_TRUE(p.performance.has_value());
    expect_flags_accepted(p);
}

TEST(PlanGolden, SlidingWindowLongContextGoesToVllmNativeMxfp4) {
    PlanRequest r = request(UseCase::long_context);
    r.context = 131072;
    Plan p = plan_for("gpt-oss-120b", r);
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.engine, Engine::vllm);
    EXPECT_EQ(decision(p, "engine")->rule, "R-ENG-6");
    EXPECT_EQ(p.quant, "mxfp4");
    EXPECT_GT(p.fit.estimate.kv.n_swa_layers, 0u);
    EXPECT_NE(decision(p, "quant")->reason.find("R-QNT-4"), std::string::npos);
    expect_flags_accepted(p);
}

TEST(PlanGolden, SlidingWindowChatOnLlamaCppWarnsAboutMxfp4Kernels) {
    Plan p = plan_for("gpt-oss-20b", request(UseCase::chat));
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.engine, Engine::llama_cpp);
    EXPECT_EQ(p.quant, "MXFP4");
    EXPECT_TRUE(warned(p, "R-LIM-1"));
    EXPECT_TRUE(has_arg(*server(p), "--jinja"));
    expect_flags_accepted(p);
}

TEST(PlanGolden, PreferSpeedWithMxfp4PicksSglang) {
    PlanRequest r = request(UseCase::chat);
    r.prefer = Prefer::speed;
    Plan p = plan_for("gpt-oss-120b", r);
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.engine, Engine::sglang);
    EXPECT_EQ(decision(p, "engine")->rule, "R-ENG-5");
    EXPECT_TRUE(warned(p, "R-LIM-4"));
    EXPECT_EQ(arg_after(*server(p), "--attention-backend"), "triton");
    EXPECT_TRUE(has_arg(*server(p, "container"), "lmsysorg/sglang:latest-cu130"));
    expect_flags_accepted(p);
}

// Issue 10 item 4: with the published GGUF ladders, models owners run on one Spark plan on one
// Spark: the largest published rung that fits (GLM-4.5-Air used to stop at Q8_0, "does not fit").
TEST(PlanGolden, PublishedLaddersFitLargeModelsOnOneSpark) {
    for (const char* id : {"glm-4.5-air", "qwen3-235b-a22b", "llama-3.3-70b"}) {
        Plan p = plan_for(id, request(UseCase::chat));
        ASSERT_EQ(p.status, Status::ok) << id;
        EXPECT_EQ(p.engine, Engine::llama_cpp) << id;
        EXPECT_EQ(p.nodes, 1u) << id;
        EXPECT_LE(p.fit.estimate.memory.total_bytes, p.fit.estimate.memory.budget_bytes) << id;
        bool published = false;
        for (const model::Variant& v : model::find_model(id)->variants) {
            published |= v.format == p.quant && v.repo == p.variant_repo;
        }
        EXPECT_TRUE(published) << id << " " << p.quant;
    }
    EXPECT_EQ(plan_for("glm-4.5-air", request(UseCase::chat)).quant, "Q6_K");
    EXPECT_EQ(plan_for("qwen3-235b-a22b", request(UseCase::chat)).quant, "Q2_K");
}

TEST(PlanGolden, MlaModelTooLargeExitsThreeWithSuggestions) {
    Plan p = plan_for("deepseek-v3", request(UseCase::chat));
    EXPECT_EQ(p.status, Status::does_not_fit);
    EXPECT_EQ(p.exit_status(), 3);
    EXPECT_EQ(p.engine, Engine::llama_cpp);  // R-ENG-1; even its Q4_K_M GGUF (377 GiB) is too big
    EXPECT_EQ(p.quant, "Q4_K_M");
    ASSERT_FALSE(p.suggestions.empty());
    EXPECT_TRUE(p.commands.empty());
    bool nodes = false;
    for (const Suggestion& s : p.suggestions) nodes |= s.flag == "--nodes 2";
    EXPECT_TRUE(nodes);
}

TEST(PlanGolden, UnknownArchitectureFactsAreRefusedWithTheReason) {
    // A model whose head_dim cannot be known (no head_dim, no hidden size) cannot be sized.
    const model::CatalogEntry* e = model::find_model("qwen3-coder-30b-a3b");
    ASSERT_NE(e, nullptr);
    model::ModelSpec spec = e->spec;
    spec.arch.head_dim.reset();
    spec.arch.hidden_size.reset();
    auto planned = make_plan(spec, e->variants, request(UseCase::agents, 8), RuleBook::builtin());
    ASSERT_TRUE(planned.ok());
    const Plan& p = *planned;
    EXPECT_EQ(p.status, Status::refused);
    EXPECT_NE(p.refusal.find("head_dim"), std::string::npos);
    EXPECT_EQ(engines::parsers_for(Engine::vllm, "Qwen3MoeForCausalLM",
                                   "Qwen/Qwen3-Coder-30B-A3B-Instruct")
                  .tool_call,
              "qwen3_coder");
}

// Qwen3-30B-A3B's FP8 checkpoint for 8 agents at 131,072 tokens under a 40 GiB budget: below the
// paged pool's floor of one full-context sequence, so it does not fit without a suggestion.
PlanRequest fp8_agents_under_40gib() {
    PlanRequest r = request(UseCase::agents, 8);
    r.context = 131072;
    r.quant = "fp8";
    r.hardware.budget_bytes = 40ull << 30;
    return r;
}

TEST(PlanGolden, NeedsASuggestionToFitAndPreferFitAppliesIt) {
    // Under a 40 GiB budget the FP8 checkpoint does not hold even one 131,072-token sequence (the
    // paged pool's floor); an FP8 KV cache does.
    PlanRequest r = fp8_agents_under_40gib();
    Plan p = plan_for("qwen3-30b-a3b", r);
    ASSERT_EQ(p.status, Status::does_not_fit);
    ASSERT_FALSE(p.suggestions.empty());
    EXPECT_EQ(p.suggestions.front().flag, "--kv-cache-dtype fp8");
    EXPECT_TRUE(p.suggestions.front().fits);
    EXPECT_NE(p.suggestions.front().buys.find("fits"), std::string::npos);

    r.prefer = Prefer::fit;
    Plan f = plan_for("qwen3-30b-a3b", r);
    ASSERT_EQ(f.status, Status::ok);
    EXPECT_EQ(f.kv_cache_dtype, "fp8");
    EXPECT_EQ(decision(f, "prefer-fit")->rule, "SPARKCTL-PLAN-7");
    EXPECT_EQ(arg_after(*server(f), "--kv-cache-dtype"), "fp8");
    EXPECT_LE(f.fit.estimate.memory.total_bytes, f.fit.estimate.memory.budget_bytes);
    expect_flags_accepted(f);
}

TEST(PlanGolden, SeventyBillionBf16NeedsTwoNodes) {
    PlanRequest r = request(UseCase::agents, 4);
    r.context = 16384;
    Plan one = plan_for("llama-3.1-70b", r);
    ASSERT_EQ(one.status, Status::does_not_fit);
    auto two_nodes = std::find_if(one.suggestions.begin(), one.suggestions.end(),
                                  [](const Suggestion& s) { return s.flag == "--nodes 2"; });
    ASSERT_NE(two_nodes, one.suggestions.end());
    EXPECT_TRUE(two_nodes->fits);

    r.nodes = 2;
    r.launcher = "ray";  // the default, vLLM's own launcher: tests/plan/launch_test.cpp
    Plan p = plan_for("llama-3.1-70b", r);
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    EXPECT_EQ(p.engine, Engine::vllm);
    EXPECT_EQ(p.tensor_parallel, 2u);
    EXPECT_EQ(decision(p, "nodes")->rule, "R-ENG-3");
    EXPECT_LE(p.fit.estimate.memory.total_bytes, p.fit.estimate.memory.budget_bytes);
    // Head and worker, native and container, then the server on the head.
    int heads = 0, workers = 0;
    for (const LaunchCommand& c : p.commands) {
        heads += c.role == "ray-head";
        workers += c.role == "ray-worker";
    }
    EXPECT_EQ(heads, 2);
    EXPECT_EQ(workers, 2);
    const LaunchCommand* c = server(p);
    EXPECT_EQ(arg_after(*c, "--tensor-parallel-size"), "2");
    EXPECT_EQ(arg_after(*c, "--distributed-executor-backend"), "ray");
    EXPECT_EQ(c->node, "${NODE0_HOST}");
    bool nccl = false;
    for (const auto& [k, v] : c->env) nccl |= k == "NCCL_SOCKET_IFNAME" && v == "${FABRIC_IF}";
    EXPECT_TRUE(nccl);
    EXPECT_NE(std::find(p.placeholders.begin(), p.placeholders.end(), "NODE1_IP"),
              p.placeholders.end());
    // The speed-up is two predictions (2 nodes vs 1, same shape), not the rule's ~2x.
    ASSERT_TRUE(p.performance.has_value());
    ASSERT_TRUE(p.performance->speedup_vs_one_node.has_value());
    ASSERT_TRUE(p.performance->one_node.has_value());
    EXPECT_GT(*p.performance->speedup_vs_one_node, 1.0);
    EXPECT_LT(*p.performance->speedup_vs_one_node, 2.0);
    EXPECT_EQ(p.performance->predicted.nodes, 2u);
    EXPECT_EQ(p.performance->one_node->nodes, 1u);
    EXPECT_NEAR(*p.performance->speedup_vs_one_node,
                p.performance->predicted.decode_tokens_per_s_total /
                    p.performance->one_node->decode_tokens_per_s_total,
                1e-9);
    EXPECT_LE(p.performance->predicted.decode_tokens_per_s,
              p.performance->predicted.decode_ceiling_tokens_per_s);
    // Dense and bandwidth-bound: the prediction is within 10% of the rule's ~2x, no warning.
    EXPECT_GT(*p.performance->speedup_vs_one_node, 1.8);
    EXPECT_FALSE(warned(p, "disagrees with R-ENG-3"));
    expect_flags_accepted(p);
    const std::string sh = render_sh(p, "");
    EXPECT_NE(sh.find("read -rp 'NODE1_IP: ' NODE1_IP"), std::string::npos);
}

TEST(PlanPerformance, TwoNodeMoePredictsLessThanTheRulesTwoTimes) {
    PlanRequest r = request(UseCase::batch, 8);
    r.nodes = 2;
    Plan p = plan_for("gpt-oss-120b", r);
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    ASSERT_TRUE(p.performance.has_value());
    ASSERT_TRUE(p.performance->speedup_vs_one_node.has_value());
    const double s = *p.performance->speedup_vs_one_node;
    EXPECT_GT(s, 1.0);
    EXPECT_LT(s, 1.8);  // MoE: per-layer overhead and all-reduces do not shrink
    ASSERT_TRUE(p.performance->predicted.tp_speedup.has_value());
    EXPECT_NEAR(*p.performance->predicted.tp_speedup, s, 1e-6);  // fit's own ratio agrees
    EXPECT_EQ(p.performance->ceiling_rule, "SPARKCTL-PLAN-10");
    char num[32];
    std::snprintf(num, sizeof num, "%.2fx on 2 nodes", s);
    EXPECT_TRUE(warned(p, "performance model disagrees with R-ENG-3")) << num;
    EXPECT_TRUE(warned(p, num)) << num;
    EXPECT_NE(render_text(p, false).find("speed-up over one node"), std::string::npos);
}

TEST(PlanPerformance, SingleUserPlanHasTtftAndItl) {
    Plan p = plan_for("gpt-oss-120b", request(UseCase::chat));
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.engine, Engine::llama_cpp);
    ASSERT_TRUE(p.performance.has_value());
    const fit::Performance& f = p.performance->predicted;
    EXPECT_EQ(f.parallel, 1u);
    EXPECT_EQ(f.nodes, 1u);
    ASSERT_TRUE(f.ttft_ms.has_value());
    EXPECT_GT(*f.ttft_ms, 0.0);
    EXPECT_GT(f.itl_ms, 0.0);
    EXPECT_NEAR(f.itl_ms, 1000.0 / f.decode_tokens_per_s, 1e-6);
    EXPECT_LE(f.decode_tokens_per_s, f.decode_ceiling_tokens_per_s);
    EXPECT_FALSE(p.performance->speedup_vs_one_node.has_value());
    // R-ENG-1 is checked against vLLM/SGLang's predicted single-stream decode: the numbers are
    // facts of the engine decision; llama.cpp is predicted at least as fast, so no warning.
    const Decision* d = decision(p, "engine");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->rule, "R-ENG-1");
    bool lc = false, vllm = false;
    for (const auto& [k, v] : d->facts) {
        lc |= k == "predicted_llama.cpp";
        vllm |= k == "predicted_vllm";
    }
    EXPECT_TRUE(lc);
    EXPECT_TRUE(vllm);
    EXPECT_FALSE(warned(p, "disagrees with R-ENG-1"));
    const std::string text = render_text(p, false);
    EXPECT_NE(text.find("TTFT"), std::string::npos);
    EXPECT_NE(text.find("ITL"), std::string::npos);
}

TEST(PlanPerformance, Nvfp4AgainstAwqCitesRqnt2WithNumbers) {
    PlanRequest r = request(UseCase::chat);
    r.engine = "vllm";
    r.quant = "nvfp4";
    Plan p = plan_for("llama-3.3-70b", r);
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    ASSERT_TRUE(p.performance.has_value());
    // The same shape in AWQ, predicted by fit directly: the warning follows the two numbers.
    const model::CatalogEntry* e = model::find_model("llama-3.3-70b");
    fit::FitOptions o;
    o.quant = "awq";
    o.context = p.context;
    o.parallel = p.parallel;
    o.budget_bytes = r.hardware.budget_bytes;
    o.memory_total_bytes = r.hardware.memory_total_bytes;
    o.performance = fit::PerfRequest{};
    o.performance_hw = *r.hardware.caps;
    auto awq = fit::fit_model(e->spec, e->variants, Engine::vllm, o);
    ASSERT_TRUE(awq.ok());
    ASSERT_TRUE(awq->performance.has_value());
    const double cost = 1.0 - p.performance->predicted.decode_tokens_per_s_total /
                                  awq->performance->decode_tokens_per_s_total;
    const bool disagrees = cost < 0.18 || cost > 0.32;
    EXPECT_EQ(warned(p, "performance model disagrees with R-QNT-2"), disagrees) << cost;
    if (disagrees) {
        EXPECT_TRUE(warned(p, cost < 0 ? "% faster" : "% slower"));
        EXPECT_TRUE(warned(p, "tokens/s (ITL "));
    }
    // With the committed constants vLLM's fp4 runs at the bandwidth bound and int4 does not.
    EXPECT_LT(cost, 0.18);
}

TEST(PlanPerformance, NoHardwareCapsNoPrediction) {
    PlanRequest r = request(UseCase::chat);
    r.hardware.caps.reset();
    Plan p = plan_for("qwen3-8b", r);
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_FALSE(p.performance.has_value());
}

TEST(PlanGolden, ClusterInventoryFillsHostsAndFabric) {
    PlanRequest r = request(UseCase::agents, 4);
    r.context = 16384;
    ClusterInventory inv;
    inv.hosts = {"spark-a", "spark-b"};
    inv.addresses = {"192.168.100.10", "192.168.100.11"};
    inv.fabric_interface = "enp1s0f1np1";
    inv.roce_hcas = {"rocep1s0f1", "roceP2p1s0f1"};
    r.cluster = inv;
    r.launcher = "ray";
    Plan p = plan_for("llama-3.1-70b", r);
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.nodes, 2u);
    // meta-llama/* is gated: the token is the one placeholder besides the cache.
    EXPECT_TRUE((p.placeholders == std::vector<std::string>{"HF_TOKEN", "HF_CACHE"}));
    const LaunchCommand& worker =
        *std::find_if(p.commands.begin(), p.commands.end(),
                      [](const LaunchCommand& c) { return c.role == "ray-worker"; });
    EXPECT_EQ(worker.node, "spark-b");
    EXPECT_TRUE(has_arg(worker, "--address=192.168.100.10:6379"));
    bool hca = false;
    for (const auto& [k, v] : worker.env)
        hca |= k == "NCCL_IB_HCA" && v == "rocep1s0f1,roceP2p1s0f1";
    EXPECT_TRUE(hca);
}

TEST(PlanGolden, ForcedEngineAgainstARuleWarns) {
    PlanRequest r = request(UseCase::chat);
    r.engine = "vllm";
    Plan p = plan_for("qwen3-8b", r);
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.engine, Engine::vllm);
    EXPECT_TRUE(warned(p, "goes against R-ENG-1"));
    EXPECT_EQ(p.quant, "awq");  // R-QNT-1
    EXPECT_EQ(decision(p, "quant")->rule, "R-QNT-1");
}

TEST(PlanGolden, ParallelOnLlamaCppIsRefusedUnlessOverridden) {
    PlanRequest r = request(UseCase::chat, 4);
    r.engine = "llama.cpp";
    Plan p = plan_for("qwen3-8b", r);
    EXPECT_EQ(p.status, Status::refused);
    EXPECT_EQ(p.exit_status(), 2);
    EXPECT_EQ(p.refusal.rfind("R-OPS-3", 0), 0u);
    // The refusal names both ways out (issue 10 item 7).
    EXPECT_NE(p.refusal.find("--override R-OPS-3"), std::string::npos) << p.refusal;
    EXPECT_NE(p.refusal.find("drop --engine llama.cpp"), std::string::npos) << p.refusal;
    r.overrides = {"R-OPS-3"};
    Plan o = plan_for("qwen3-8b", r);
    EXPECT_EQ(o.status, Status::ok);
    EXPECT_EQ(o.engine, Engine::llama_cpp);
    EXPECT_TRUE(warned(o, "R-OPS-3 overridden"));
    EXPECT_EQ(arg_after(*server(o), "-np"), "4");
}

// Issue 10 item 1: agents default to the trained context capped at 131,072, shrunk until
// context x users fits in full, never below 32,768; chat and batch keep the 32,768 cap.
TEST(PlanContext, AgentsGetLongContextShrunkToFitEveryAgent) {
    Plan p = plan_for("gpt-oss-120b", request(UseCase::agents, 4));
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    EXPECT_EQ(p.context, 131072u);
    EXPECT_EQ(p.context_origin, "agents-trained");
    const Decision* d = decision(p, "context");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->rule, "SPARKCTL-PLAN-16");
    EXPECT_NE(d->reason.find("agents without --context"), std::string::npos);
    EXPECT_GE(p.fit.max_parallel, 4u);  // 4 x 131072 fits in full

    // Gemma-3-27B x8: 8 x 131072 does not fit in full; the largest context that does.
    Plan g = plan_for("gemma-3-27b", request(UseCase::agents, 8));
    ASSERT_EQ(g.status, Status::ok);
    EXPECT_EQ(g.context_origin, "agents-fitted");
    EXPECT_LT(g.context, 131072u);
    EXPECT_GT(g.context, kAgentsContextFloor);
    EXPECT_EQ(g.context % 1024, 0u);
    EXPECT_GE(g.fit.max_context, g.context);  // context x 8 fits in full
    ASSERT_FALSE(decision(g, "context")->rejected.empty());
    EXPECT_EQ(decision(g, "context")->rejected.front().option, "131072");

    // Llama-3.3-70B x8: not even 8 x 32768 fits in full: the floor, and the paged pool says how
    // many agents fit at full context at once.
    Plan l = plan_for("llama-3.3-70b", request(UseCase::agents, 8));
    ASSERT_EQ(l.status, Status::ok);
    EXPECT_EQ(l.context, kAgentsContextFloor);
    EXPECT_EQ(l.context_origin, "agents-floor");
    EXPECT_GT(l.fit.max_parallel, 0u);
    EXPECT_LT(l.fit.max_parallel, 8u);
    EXPECT_NE(decision(l, "context")
                  ->reason.find(std::to_string(l.fit.max_parallel) +
                                " agents fit at full context at once"),
              std::string::npos)
        << decision(l, "context")->reason;

    // chat and batch keep the 32,768 cap, and say so.
    for (UseCase use : {UseCase::chat, UseCase::batch}) {
        Plan c = plan_for("gpt-oss-120b", request(use));
        EXPECT_EQ(c.context, 32768u) << to_string(use);
        ASSERT_NE(decision(c, "context"), nullptr) << to_string(use);
        EXPECT_EQ(decision(c, "context")->rule, "SPARKCTL-PLAN-16");
    }
    // --context is the user's.
    PlanRequest r = request(UseCase::agents, 4);
    r.context = 16384;
    EXPECT_EQ(plan_for("gpt-oss-120b", r).context, 16384u);
}

// Issue 10 item 2: vLLM and SGLang share one paged KV pool: 32 batch users at 32,768 do not fit in
// full, yet the plan stands with the pool holding what the budget leaves, and the flags follow it.
TEST(PlanPagedPool, BatchBeyondContextTimesUsersStillPlans) {
    Plan p = plan_for("gpt-oss-120b", request(UseCase::batch, 32));
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    EXPECT_EQ(p.exit_status(), 0);
    EXPECT_EQ(p.parallel, 32u);
    EXPECT_GT(p.fit.max_parallel, 0u);
    EXPECT_LT(p.fit.max_parallel, 32u);
    const Decision* d = decision(p, "kv-pool");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->rule, "SPARKCTL-PLAN-17");
    EXPECT_EQ(d->outcome,
              std::to_string(p.fit.max_parallel) + " of 32 sequences at full context at once");
    EXPECT_TRUE(warned(p, "the paged KV pool holds " + std::to_string(p.fit.max_parallel)));
    const LaunchCommand* v = server(p);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(arg_after(*v, "--max-num-seqs"), "32");
    EXPECT_EQ(arg_after(*v, "--kv-cache-memory-bytes"),
              std::to_string(p.fit.estimate.memory.kv_cache_bytes));
    EXPECT_LE(p.fit.estimate.memory.total_bytes, p.fit.estimate.memory.budget_bytes);

    PlanRequest r = request(UseCase::batch, 32);
    r.engine = "sglang";
    Plan s = plan_for("gpt-oss-120b", r);
    ASSERT_EQ(s.status, Status::ok);
    const LaunchCommand* g = server(s);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(arg_after(*g, "--max-running-requests"), "32");
    EXPECT_EQ(arg_after(*g, "--max-total-tokens"), std::to_string(32768ull * s.fit.max_parallel));

    // Exit 3 only below the floor of one full-context sequence.
    r = request(UseCase::batch, 32);
    r.hardware.budget_bytes = 62ull << 30;
    Plan none = plan_for("gpt-oss-120b", r);
    EXPECT_EQ(none.status, Status::does_not_fit);
    EXPECT_EQ(none.fit.max_parallel, 0u);
}

// Issue 10 item 3: FP8 before BF16 where no AWQ exists; --prefer speed picks the fastest
// predicted variant that fits and names the rule it set aside.
TEST(PlanQuant, Fp8BeforeBf16AndPreferSpeedPicksTheFastest) {
    PlanRequest r = request(UseCase::agents, 4);
    Plan p = plan_for("qwen3-coder-30b-a3b", r);
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.quant, "fp8");
    r.prefer = Prefer::speed;
    Plan s = plan_for("qwen3-coder-30b-a3b", r);
    ASSERT_EQ(s.status, Status::ok);
    EXPECT_EQ(s.quant, "fp8");
    for (const Rejected& x : decision(s, "quant")->rejected) {
        EXPECT_NE(x.reason.find("predicted slower"), std::string::npos) << x.option;
    }

    // Qwen3-8B: AWQ by the order (R-QNT-1); --prefer speed takes whatever the model predicts
    // fastest among the published ones that fit, and says it set R-QNT-1 aside.
    Plan o = plan_for("qwen3-8b", request(UseCase::agents, 4));
    EXPECT_EQ(o.quant, "awq");
    r = request(UseCase::agents, 4);
    r.prefer = Prefer::speed;
    Plan f = plan_for("qwen3-8b", r);
    ASSERT_EQ(f.status, Status::ok);
    const Decision* q = decision(f, "quant");
    ASSERT_NE(q, nullptr);
    if (f.quant != "awq") {
        EXPECT_EQ(q->rule, "SPARKCTL-PLAN-18");
        EXPECT_NE(q->reason.find("sets aside R-QNT-1"), std::string::npos) << q->reason;
    }
    ASSERT_TRUE(f.performance.has_value());
    const model::CatalogEntry* e = model::find_model("qwen3-8b");
    for (const Rejected& x : q->rejected) {  // none of the others is predicted faster
        fit::FitOptions fo;
        fo.quant = x.option;
        fo.context = f.context;
        fo.parallel = f.parallel;
        fo.budget_bytes = r.hardware.budget_bytes;
        fo.memory_total_bytes = r.hardware.memory_total_bytes;
        fo.performance = fit::PerfRequest{};
        fo.performance_hw = *r.hardware.caps;
        auto other = fit::fit_model(e->spec, e->variants, Engine::vllm, fo);
        ASSERT_TRUE(other.ok() && other->performance.has_value()) << x.option;
        if (other->estimate.fits) {
            EXPECT_LE(other->performance->decode_tokens_per_s_total,
                      f.performance->predicted.decode_tokens_per_s_total)
                << x.option;
        }
    }
}

// Issue 10 item 9: agents are also predicted at their working point (depth half the context, a
// 20k-token prompt), not only at depth 0 with a 512-token prompt.
TEST(PlanPerformance, AgentsArePredictedAtTheirWorkingPoint) {
    Plan p = plan_for("gpt-oss-120b", request(UseCase::agents, 4));
    ASSERT_EQ(p.status, Status::ok);
    ASSERT_TRUE(p.performance.has_value());
    ASSERT_TRUE(p.performance->working_point.has_value());
    const fit::Performance& w = *p.performance->working_point;
    const fit::Performance& z = p.performance->predicted;
    EXPECT_EQ(z.depth, 0u);
    EXPECT_EQ(w.depth, p.context / 2);
    EXPECT_EQ(w.prompt, kAgentsWorkingPrompt);
    EXPECT_EQ(w.parallel, 4u);
    EXPECT_LT(w.decode_tokens_per_s, z.decode_tokens_per_s);  // deeper: more KV read per token
    ASSERT_TRUE(w.ttft_ms && z.ttft_ms);
    EXPECT_GT(*w.ttft_ms, *z.ttft_ms);
    EXPECT_NE(render_text(p, false).find("agents' working point (depth " +
                                         std::to_string(p.context / 2) + ", prompt 20000)"),
              std::string::npos);
    // At the 32,768 floor the prompt is at most the other half of the context.
    PlanRequest r = request(UseCase::agents, 4);
    r.context = 32768;
    Plan f = plan_for("gpt-oss-120b", r);
    ASSERT_TRUE(f.performance && f.performance->working_point);
    EXPECT_EQ(f.performance->working_point->prompt, 16384u);
    // Other uses keep one operating point.
    Plan c = plan_for("gpt-oss-120b", request(UseCase::batch, 4));
    ASSERT_TRUE(c.performance.has_value());
    EXPECT_FALSE(c.performance->working_point.has_value());
}

// A GGUF file for agents: llama.cpp is the only engine that loads it, so R-OPS-3 refuses; "use
// vLLM" is no help for a GGUF, so the refusal names the safetensors checkpoint of the same model
// the catalog knows (found by the file's repository) and the override.
TEST(PlanGolden, ParallelGgufFileRefusalNamesTheSafetensorsCheckpoint) {
    const model::CatalogEntry* e = model::find_model("gpt-oss-120b");
    ASSERT_NE(e, nullptr);
    model::ModelSpec gguf = e->spec;
    gguf.source = model::SourceKind::gguf;
    gguf.name = "gpt-oss-120b-mxfp4";
    gguf.hf_id = "ggml-org/gpt-oss-120b-GGUF";  // general.source.huggingface.repository
    gguf.quant = model::Quantization{};
    gguf.quant->method = "MXFP4";
    gguf.files = {"/models/gpt-oss-120b-mxfp4-00001-of-00003.gguf"};
    auto p = make_plan(gguf, {}, request(UseCase::agents, 4), RuleBook::builtin());
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->status, Status::refused);
    EXPECT_EQ(p->refusal.rfind("R-OPS-3", 0), 0u) << p->refusal;
    EXPECT_NE(p->refusal.find("--override R-OPS-3"), std::string::npos) << p->refusal;
    EXPECT_NE(p->refusal.find("sparkctl plan openai/gpt-oss-120b --for agents --users 4"),
              std::string::npos)
        << p->refusal;
    // A file sparkctl cannot place still gets the override.
    gguf.hf_id.clear();
    gguf.name = "my-finetune";
    p = make_plan(gguf, {}, request(UseCase::agents, 4), RuleBook::builtin());
    ASSERT_TRUE(p.ok());
    EXPECT_NE(p->refusal.find("--override R-OPS-3"), std::string::npos) << p->refusal;
    EXPECT_NE(p->refusal.find("no safetensors checkpoint"), std::string::npos) << p->refusal;
}

TEST(PlanGolden, LlamaCppRpcClusterIsRefused) {
    PlanRequest r = request(UseCase::chat);
    r.nodes = 2;
    r.engine = "llama.cpp";
    Plan p = plan_for("qwen3-8b", r);
    EXPECT_EQ(p.status, Status::refused);
    EXPECT_NE(p.refusal.find("R-LIM-2"), std::string::npos);
}

TEST(PlanGolden, TensorParallelMustDivideTheHeads) {
    PlanRequest r = request(UseCase::agents);
    r.nodes = 3;  // 64 heads
    Plan p = plan_for("llama-3.1-70b", r);
    EXPECT_EQ(p.status, Status::refused);
    EXPECT_NE(p.refusal.find("does not divide"), std::string::npos);
}

TEST(PlanGolden, NewArchitectureGoesToVllm) {
    const model::CatalogEntry* e = model::find_model("qwen3-8b");
    model::ModelSpec spec = e->spec;
    spec.arch.architecture = "BrandNewForCausalLM";
    spec.arch.family = "brandnew";
    auto p = make_plan(spec, e->variants, request(UseCase::chat), RuleBook::builtin());
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->engine, Engine::vllm);
    EXPECT_EQ(decision(*p, "architecture")->outcome, "new: vllm");
    EXPECT_EQ(decision(*p, "engine"), nullptr);  // R-ENG-4 decided before the use
}

TEST(PlanGolden, ConfigEditsRules) {
    RuleBook rules = RuleBook::builtin();
    ASSERT_TRUE(rules.apply_overrides({{"R-ENG-1.enabled", "false"}}, "test").ok());
    Plan p = plan_for("qwen3-8b", request(UseCase::chat), rules);
    EXPECT_EQ(p.engine, Engine::vllm);
    EXPECT_EQ(decision(p, "engine")->rule, "SPARKCTL-PLAN-12");

    RuleBook sg = RuleBook::builtin();
    ASSERT_TRUE(sg.apply_overrides({{"R-ENG-2.engine", "sglang"}}, "test").ok());
    Plan q = plan_for("qwen3-8b", request(UseCase::agents, 4), sg);
    EXPECT_EQ(q.engine, Engine::sglang);
    EXPECT_EQ(arg_after(*server(q), "--tool-call-parser"), "qwen");  // qwen25 is deprecated
    expect_flags_accepted(q);

    RuleBook bad = RuleBook::builtin();
    EXPECT_FALSE(bad.apply_overrides({{"R-NOPE-1.enabled", "false"}}, "test").ok());
    EXPECT_FALSE(bad.apply_overrides({{"R-ENG-1.engine", "tgi"}}, "test").ok());
    EXPECT_FALSE(bad.apply_overrides({{"R-OPS-1.value", "1"}}, "test").ok());
    EXPECT_FALSE(bad.apply_overrides({{"SPARKCTL-PLAN-1.value", "x"}}, "test").ok());
}

TEST(PlanGolden, BadRequestsAreErrors) {
    const model::CatalogEntry* e = model::find_model("qwen3-8b");
    PlanRequest r = request(UseCase::chat);
    r.overrides = {"R-ENG-1"};
    EXPECT_FALSE(make_plan(e->spec, e->variants, r, RuleBook::builtin()).ok());
    r = request(UseCase::agents);
    r.quant = "gptq";
    EXPECT_FALSE(make_plan(e->spec, e->variants, r, RuleBook::builtin()).ok());
    r = request(UseCase::agents);
    r.engine_version = "0.1";
    EXPECT_FALSE(make_plan(e->spec, e->variants, r, RuleBook::builtin()).ok());
    const model::CatalogEntry* ds = model::find_model("deepseek-v3");
    std::vector<model::Variant> safetensors_only;  // no GGUF published
    for (const model::Variant& v : ds->variants) {
        if (v.file.empty()) safetensors_only.push_back(v);
    }
    ASSERT_FALSE(safetensors_only.empty());
    r = request(UseCase::chat);
    r.engine = "llama.cpp";
    EXPECT_FALSE(make_plan(ds->spec, safetensors_only, r, RuleBook::builtin()).ok());
}

TEST(PlanRender, FormatsCarryTheCommands) {
    PlanRequest r = request(UseCase::agents, 8);
    r.context = 65536;
    Plan p = plan_for("qwen3-30b-a3b", r);
    const std::string text = render_text(p, false);
    EXPECT_NE(text.find("[R-ENG-2]"), std::string::npos);
    const std::string explain = render_text(p, true);
    EXPECT_NE(explain.find("rejected bf16: less preferred"), std::string::npos);
    const std::string sh = render_sh(p, "");
    EXPECT_EQ(sh.rfind("#!/usr/bin/env bash", 0), 0u);
    EXPECT_NE(sh.find("vllm serve RedHatAI/Qwen3-30B-A3B-FP8-dynamic"), std::string::npos);
    const std::string compose = render_compose(p);
    EXPECT_NE(compose.find("image: nvcr.io/nvidia/vllm:26.05-py3"), std::string::npos);
    EXPECT_NE(compose.find("\"127.0.0.1:8000:8000\""), std::string::npos);
    Plan l = plan_for("qwen3-8b", request(UseCase::chat));
    const std::string swap = render_llama_swap(l);
    EXPECT_NE(swap.find("--port \"${PORT}\""), std::string::npos);
    EXPECT_NE(swap.find("checkEndpoint: \"/health\""), std::string::npos);
    EXPECT_EQ(shell_quote("a b"), "'a b'");
    EXPECT_EQ(shell_quote("--x=${NODE0_IP}"), "\"--x=${NODE0_IP}\"");
}

// Property: every catalog model x use x users is within budget or exits 3; parallel use never
// lands on llama.cpp; every decision names a rule of the book; every emitted flag is accepted.
TEST(PlanProperty, CatalogTimesUsesTimesUsers) {
    const RuleBook& rules = RuleBook::builtin();
    int planned = 0, not_fit = 0;
    for (const model::CatalogEntry& e : model::catalog()) {
        for (UseCase use :
             {UseCase::chat, UseCase::agents, UseCase::batch, UseCase::long_context}) {
            for (std::uint32_t users : {1u, 4u, 32u}) {
                for (Prefer prefer : {Prefer::none, Prefer::fit}) {
                    PlanRequest r = request(use, users);
                    r.prefer = prefer;
                    auto p = make_plan(e.spec, e.variants, r, rules);
                    ASSERT_TRUE(p.ok()) << e.id << ": " << p.error().message;
                    const std::string what =
                        e.id + " " + to_string(use) + " x" + std::to_string(users);
                    if (p->status == Status::refused) {
                        // Only a model that cannot be sized may be refused without an override.
                        EXPECT_NE(p->refusal.find("cannot check the budget"), std::string::npos)
                            << what << ": " << p->refusal;
                        continue;
                    }
                    if (p->status == Status::ok) {
                        ++planned;
                        EXPECT_LE(p->fit.estimate.memory.total_bytes, r.hardware.budget_bytes)
                            << what;
                        EXPECT_FALSE(p->commands.empty()) << what;
                        expect_flags_accepted(*p);
                    } else {
                        ++not_fit;
                        EXPECT_EQ(p->exit_status(), 3);
                        EXPECT_FALSE(p->suggestions.empty()) << what;
                    }
                    if (users > 1) {
                        EXPECT_NE(p->engine, Engine::llama_cpp) << what;
                    }
                    for (const Decision& d : p->decisions) {
                        EXPECT_NE(rules.find(d.rule), nullptr) << what << " " << d.step;
                    }
                }
            }
        }
    }
    EXPECT_GT(planned, 0);
    EXPECT_GT(not_fit, 0);
}

TEST(Rules, BuiltinBookHasTheSeedRulesAndSources) {
    const RuleBook& b = RuleBook::builtin();
    for (const char* id : {"R-OPS-1", "R-OPS-2", "R-OPS-3", "R-OPS-4", "R-ENG-1", "R-ENG-2",
                           "R-ENG-3", "R-ENG-4", "R-ENG-5", "R-ENG-6", "R-LIM-1", "R-LIM-2",
                           "R-LIM-3", "R-LIM-4", "R-QNT-1", "R-QNT-2", "R-QNT-3", "R-QNT-4"}) {
        const Rule* r = b.find(id);
        ASSERT_NE(r, nullptr) << id;
        EXPECT_FALSE(r->source.empty()) << id;
    }
    for (const Rule& r : b.rules()) EXPECT_FALSE(r.source.empty()) << r.id;
    EXPECT_EQ(b.get(kOps1).kind, RuleKind::ops);
    EXPECT_EQ(b.get(kEng2).engine, "vllm");
    EXPECT_EQ(b.get(kPlan1).value, 0.85);
    EXPECT_FALSE(RuleBook::parse("[X]\nkind = \"odd\"\ntext = \"t\"\n", "t").ok());
    EXPECT_FALSE(RuleBook::parse("[X]\nkind = \"ops\"\n", "t").ok());
}

// The quantization decision has one owner (moved from fit_model, which used to pick too).
TEST(QuantChoice, DefaultFollowsTheDecisionOrder) {
    auto pick = [](const char* id, Engine e) {
        const model::CatalogEntry* m = model::find_model(id);
        EXPECT_NE(m, nullptr) << id;
        fit::FitOptions o;
        o.budget_bytes = spark().budget_bytes;
        o.memory_total_bytes = spark().memory_total_bytes;
        auto c = choose_quant(m->spec, m->variants, e, o, Prefer::none, RuleBook::builtin());
        EXPECT_TRUE(c.ok());
        return c.ok() ? *c : QuantChoice{};
    };
    EXPECT_EQ(pick("gpt-oss-120b", Engine::llama_cpp).fit.quant, "MXFP4");
    EXPECT_EQ(pick("gpt-oss-120b", Engine::vllm).fit.quant, "mxfp4");
    const QuantChoice awq = pick("qwen3-8b", Engine::vllm);
    EXPECT_EQ(awq.fit.quant, "awq");  // R-QNT-1
    EXPECT_EQ(awq.rule, "R-QNT-1");
    EXPECT_TRUE(awq.fit.quant_published);
    EXPECT_EQ(awq.fit.quant_origin, "default");
    ASSERT_NE(awq.variant, nullptr);
    EXPECT_EQ(awq.variant->format, "awq");
    // No AWQ: FP8 before the native BF16. llama.cpp: the largest published GGUF that fits.
    EXPECT_EQ(pick("llama-3.1-8b", Engine::sglang).fit.quant, "fp8");
    const QuantChoice q8 = pick("llama-3.1-8b", Engine::llama_cpp);
    EXPECT_EQ(q8.fit.quant, "Q8_0");
    EXPECT_FALSE(q8.rejected.empty());
}

// Every rule id the code applies (plan/rule_ids.h) is checked at load: a rules document without
// one is an error naming it, not an assertion in the middle of a plan.
TEST(Rules, EveryRuleIdTheCodeUsesIsInTheTable) {
    const RuleBook& b = RuleBook::builtin();
    for (const RuleId& id : kAllRuleIds) EXPECT_NE(b.find(id.id), nullptr) << id.id;
    // The built-in document without R-QNT-2: parse names the missing rule.
    std::string doc;
    for (const Rule& r : b.rules()) {
        if (r.id == "R-QNT-2") continue;
        doc += "[" + r.id + "]\nkind = \"" + to_string(r.kind) + "\"\ntext = \"t\"\n";
    }
    auto parsed = RuleBook::parse(doc, "rules.toml");
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, base::Errc::bad_input);
    EXPECT_NE(parsed.error().message.find("rule R-QNT-2 is missing"), std::string::npos)
        << parsed.error().message;
    doc += "[R-QNT-2]\nkind = \"qnt\"\ntext = \"t\"\n";
    EXPECT_TRUE(RuleBook::parse(doc, "rules.toml").ok());
}

TEST(Rules, ClusterInventoryParses) {
    auto inv = parse_cluster({{"hosts", "a,b"},
                              {"addresses", "10.0.0.1,10.0.0.2"},
                              {"fabric_interface", "enp1s0f1np1"},
                              {"switch", "false"}},
                             "cfg");
    ASSERT_TRUE(inv.ok());
    ASSERT_TRUE(inv->has_value());
    EXPECT_EQ((*inv)->hosts.size(), 2u);
    EXPECT_FALSE(parse_cluster({{"hosts", "a"}, {"nope", "1"}}, "cfg").ok());
    EXPECT_FALSE(parse_cluster({{"hosts", "a,b"}, {"addresses", "1"}}, "cfg").ok());
    EXPECT_FALSE(parse_cluster({}, "cfg")->has_value());
}

TEST(EngineVersions, PlaybookDefaultsAndFlagTables) {
    EXPECT_EQ(engines::default_version(Engine::vllm).image, "nvcr.io/nvidia/vllm:26.05-py3");
    EXPECT_EQ(engines::default_version(Engine::sglang).image, "lmsysorg/sglang:latest-cu130");
    EXPECT_TRUE(engines::default_version(Engine::llama_cpp).image.empty());
    const auto& lc = engines::default_version(Engine::llama_cpp);
    EXPECT_TRUE(engines::accepts_flag(lc, "-c"));
    EXPECT_TRUE(engines::accepts_flag(lc, "--no-mmap"));
    EXPECT_FALSE(engines::accepts_flag(lc, "--swap-space"));
    EXPECT_EQ(engines::flag_takes_value(lc, "--jinja"), false);
    EXPECT_EQ(engines::unknown_flags(lc, {"llama-server", "-c", "-1", "--bogus"}, 1),
              std::vector<std::string>{"--bogus"});
    // vLLM's tables are extracted from its argument definitions: the whole parser, aliases and
    // the --no- forms of BooleanOptionalAction fields included; versions differ.
    const auto& vl = engines::default_version(Engine::vllm);
    EXPECT_EQ(vl.flags_origin, "extracted");
    EXPECT_NE(vl.flags_commit.find("v0.20.1rc0"), std::string::npos);
    EXPECT_TRUE(engines::accepts_flag(vl, "-tp"));
    EXPECT_TRUE(engines::accepts_flag(vl, "--no-enable-prefix-caching"));
    EXPECT_TRUE(engines::accepts_flag(vl, "--no-enable-auto-tool-choice"));
    EXPECT_TRUE(engines::accepts_flag(vl, "--kv-cache-memory-bytes"));
    EXPECT_EQ(engines::flag_takes_value(vl, "--enable-prefix-caching"), false);
    EXPECT_EQ(engines::flag_takes_value(vl, "--max-model-len"), true);
    EXPECT_EQ(engines::flag_takes_value(vl, "--reasoning-parser"), true);
    EXPECT_FALSE(engines::accepts_flag(vl, "--no-max-model-len"));
    EXPECT_FALSE(engines::accepts_flag(vl, "--ctx-size"));
    // --swap-space went away after v0.11; a help text is never a flag.
    EXPECT_FALSE(engines::accepts_flag(vl, "--swap-space"));
    auto old = engines::find_version(Engine::vllm, "0.11");
    ASSERT_TRUE(old.ok());
    EXPECT_TRUE(engines::accepts_flag(**old, "--swap-space"));
    EXPECT_FALSE((*old)->playbook_default);
    // SGLang: extracted from ServerArgs' dataclass fields (2026 layout) and add_cli_args.
    const auto& sg = engines::default_version(Engine::sglang);
    EXPECT_EQ(sg.flags_origin, "extracted");
    EXPECT_TRUE(engines::accepts_flag(sg, "--tp-size"));
    EXPECT_TRUE(engines::accepts_flag(sg, "--tensor-parallel-size"));  // Arg alias
    EXPECT_TRUE(engines::accepts_flag(sg, "--model"));                 // Arg alias
    EXPECT_FALSE(engines::accepts_flag(sg, "--tp"));  // only an argparse prefix: not emitted
    EXPECT_EQ(engines::flag_takes_value(sg, "--disable-radix-cache"), false);  // bool field
    EXPECT_EQ(engines::flag_takes_value(sg, "--context-length"), true);
    EXPECT_EQ(engines::flag_takes_value(sg, "--tool-call-parser"), true);  // add_argument
    // Parser names: what each version registers.
    EXPECT_TRUE(
        engines::unknown_values(
            vl, {"vllm", "serve", "--tool-call-parser", "hermes", "--reasoning-parser=qwen3"}, 2)
            .empty());
    EXPECT_EQ(engines::unknown_values(vl, {"vllm", "serve", "--tool-call-parser", "qwen25"}, 2),
              std::vector<std::string>{"--tool-call-parser qwen25"});  // SGLang's name
    EXPECT_EQ(engines::unknown_values(sg, {"python3", "--reasoning-parser", "deepseek_r1"}, 1),
              std::vector<std::string>{"--reasoning-parser deepseek_r1"});  // vLLM's name
    EXPECT_TRUE(engines::unknown_values(**old, {"vllm", "--tool-call-parser", "x"}, 1).empty());
    // Closed choice lists: vLLM's CacheDType takes "fp8", SGLang's kv_cache_dtype only the
    // explicit fp8_e4m3/fp8_e5m2 (so SGLang plans say fp8_e4m3).
    EXPECT_TRUE(engines::unknown_values(vl, {"vllm", "--kv-cache-dtype", "fp8"}, 1).empty());
    EXPECT_EQ(engines::unknown_values(sg, {"python3", "--kv-cache-dtype=fp8"}, 1),
              std::vector<std::string>{"--kv-cache-dtype fp8"});
    EXPECT_TRUE(
        engines::unknown_values(
            sg, {"python3", "--kv-cache-dtype", "fp8_e4m3", "--attention-backend", "triton"}, 1)
            .empty());
    EXPECT_TRUE(engines::llamacpp_supports("GptOssForCausalLM"));
    EXPECT_TRUE(engines::llamacpp_supports("qwen3moe"));
    EXPECT_FALSE(engines::llamacpp_supports("BrandNewForCausalLM"));
    EXPECT_FALSE(engines::find_version(Engine::vllm, "0.0.1").ok());
}

// Issue 10 item 6: every suggestion is a plan input. `--kv-cache-dtype fp8` (here: the FP8
// checkpoint under a 40 GiB budget, below the paged pool's floor at 131,072 tokens) is
// PlanRequest::kv_cache_dtype; a type the engine cannot use is an error naming it.
TEST(PlanAdvice, KvCacheDtypeSuggestionIsAPlanInput) {
    PlanRequest r = fp8_agents_under_40gib();
    Plan p = plan_for("qwen3-30b-a3b", r);
    ASSERT_EQ(p.status, Status::does_not_fit);
    ASSERT_FALSE(p.suggestions.empty());
    const Suggestion& kv = p.suggestions.front();
    EXPECT_EQ(kv.flag, "--kv-cache-dtype fp8");
    ASSERT_TRUE(kv.fits);
    r.kv_cache_dtype = kv.kv_cache_dtype;
    Plan q = plan_for("qwen3-30b-a3b", r);
    EXPECT_EQ(q.status, Status::ok);
    EXPECT_EQ(q.kv_cache_dtype, "fp8");
    EXPECT_EQ(q.fit.estimate.memory.total_bytes, kv.total_bytes);
    EXPECT_EQ(arg_after(*server(q), "--kv-cache-dtype"), "fp8");
    EXPECT_EQ(decision(q, "prefer-fit"), nullptr);  // asked for, not applied by --prefer fit
    r.kv_cache_dtype = "q8_0";                      // llama.cpp's, not vLLM's
    const model::CatalogEntry* e = model::find_model("qwen3-30b-a3b");
    auto bad = make_plan(e->spec, e->variants, r, RuleBook::builtin());
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("--kv-cache-dtype: 'q8_0'"), std::string::npos)
        << bad.error().message;
}

// Issue 10 item 6: an explicit --quant chooses an engine that runs it, naming the rule it sets
// aside, instead of failing on the engine the rule picked.
TEST(PlanAdvice, ExplicitQuantChoosesAnEngineThatRunsIt) {
    PlanRequest r = request(UseCase::chat);
    r.quant = "fp8";
    Plan p = plan_for("llama-3.1-8b", r);  // R-ENG-1 picks llama.cpp; fp8 is a vLLM format
    ASSERT_EQ(p.status, Status::ok);
    EXPECT_EQ(p.engine, Engine::vllm);
    EXPECT_EQ(p.quant, "fp8");
    EXPECT_TRUE(warned(p, "against R-ENG-1"));
    const Decision* eng = decision(p, "engine");
    ASSERT_NE(eng, nullptr);
    EXPECT_TRUE(std::any_of(eng->rejected.begin(), eng->rejected.end(),
                            [](const Rejected& x) { return x.option == "llama.cpp"; }));
    PlanRequest a = request(UseCase::agents);
    a.quant = "q4_k_m";  // R-ENG-2 picks vLLM; a GGUF type runs on llama.cpp
    Plan g = plan_for("qwen3-8b", a);
    ASSERT_EQ(g.status, Status::ok);
    EXPECT_EQ(g.engine, Engine::llama_cpp);
    EXPECT_EQ(g.quant, "Q4_K_M");
    EXPECT_TRUE(warned(g, "against R-ENG-2"));
    // For parallel use that lands on llama.cpp, which R-OPS-3 refuses, naming --quant.
    PlanRequest many = request(UseCase::agents, 4);
    many.quant = "Q4_K_M";
    Plan m = plan_for("qwen3-8b", many);
    EXPECT_EQ(m.status, Status::refused);
    EXPECT_NE(m.refusal.find("drop --quant Q4_K_M"), std::string::npos) << m.refusal;
}

// Issue 10 item 6: a checkpoint named by its repository is the one planned, on an engine that
// runs it, with a decision saying so.
TEST(PlanAdvice, NamedCheckpointIsPlannedAsNamed) {
    const model::CatalogEntry* e = model::find_model("qwen3-coder-30b-a3b");
    ASSERT_NE(e, nullptr);
    PlanRequest r = request(UseCase::chat);
    r.variant_repo = "Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8";
    auto p = make_plan(e->spec, e->variants, r, RuleBook::builtin());
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->status, Status::ok);
    EXPECT_EQ(p->engine, Engine::vllm);
    EXPECT_EQ(p->quant, "fp8");
    EXPECT_EQ(p->variant_repo, r.variant_repo);
    const Decision* f = decision(*p, "format");
    ASSERT_NE(f, nullptr);
    EXPECT_NE(f->outcome.find(r.variant_repo), std::string::npos);
    // A named GGUF for parallel use lands on llama.cpp, which R-OPS-3 refuses.
    PlanRequest many = request(UseCase::agents, 4);
    many.variant_repo = "unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF";
    auto g = make_plan(e->spec, e->variants, many, RuleBook::builtin());
    ASSERT_TRUE(g.ok()) << g.error().message;
    EXPECT_EQ(g->status, Status::refused);
    EXPECT_NE(g->refusal.find("R-OPS-3"), std::string::npos);
    // The way out is the model's safetensors checkpoint, not "drop --engine".
    EXPECT_NE(g->refusal.find("sparkctl plan Qwen/Qwen3-Coder-30B-A3B-Instruct --for agents"),
              std::string::npos)
        << g->refusal;
    PlanRequest other = request(UseCase::chat);
    other.variant_repo = "example/not-a-checkpoint";
    auto bad = make_plan(e->spec, e->variants, other, RuleBook::builtin());
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("not a published checkpoint"), std::string::npos);
}

// `variants` with only the published GGUFs of `id` in `formats` (the test's own list, so more
// catalog variants do not change it).
std::vector<model::Variant> ggufs(const std::string& id, std::vector<std::string> formats) {
    std::vector<model::Variant> out;
    const model::Variant* any = nullptr;
    for (const model::Variant& v : model::find_model(id)->variants) {
        if (!v.file.empty()) any = &v;
    }
    EXPECT_NE(any, nullptr) << id;
    for (const std::string& f : formats) {
        model::Variant v = *any;
        v.format = f;
        v.file = "*" + f + "*.gguf";
        out.push_back(v);
    }
    return out;
}

// Issue 10 item 4: llama.cpp keeps the largest published GGUF that fits, and suggests the largest
// unpublished step of the ladder that fits as a what-if ("check that a repository publishes it");
// --quant of that step plans it with the repository left to the user.
TEST(PlanQuant, GgufLadderWhatIfs) {
    const model::CatalogEntry* e = model::find_model("qwen3-235b-a22b");
    const std::vector<model::Variant> q8 = ggufs("qwen3-235b-a22b", {"Q8_0"});
    PlanRequest r = request(UseCase::chat);
    r.engine = "llama.cpp";
    auto p = make_plan(e->spec, q8, r, RuleBook::builtin());
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_EQ(p->status, Status::does_not_fit);
    // What `sparkctl fit --quant STEP` says, down the ladder: the first step that fits.
    std::string expected;
    for (const char* q : kGgufLadder) {
        fit::FitOptions o;
        o.quant = q;
        o.budget_bytes = r.hardware.budget_bytes;
        o.memory_total_bytes = r.hardware.memory_total_bytes;
        auto f = fit::fit_model(e->spec, q8, Engine::llama_cpp, o);
        ASSERT_TRUE(f.ok()) << f.error().message;
        if (f->estimate.fits) {
            expected = q;
            break;
        }
    }
    ASSERT_FALSE(expected.empty());
    const auto what_if =
        std::find_if(p->suggestions.begin(), p->suggestions.end(),
                     [](const Suggestion& s) { return s.kind == Suggestion::Kind::quant; });
    ASSERT_NE(what_if, p->suggestions.end());
    EXPECT_EQ(what_if->flag, "--quant " + expected);
    EXPECT_TRUE(what_if->what_if && what_if->fits);
    EXPECT_NE(what_if->change.find("check that a repository publishes it"), std::string::npos);

    r.quant = expected;
    auto w = make_plan(e->spec, q8, r, RuleBook::builtin());
    ASSERT_TRUE(w.ok()) << w.error().message;
    EXPECT_EQ(w->status, Status::ok);
    EXPECT_EQ(w->variant_repo, "${GGUF_REPO}");
    EXPECT_NE(std::find(w->placeholders.begin(), w->placeholders.end(), "GGUF_REPO"),
              w->placeholders.end());
    EXPECT_TRUE(warned(*w, "check that a repository publishes it"));

    // Published: the largest that fits is planned, and no step above it fits.
    r.quant.clear();
    auto k =
        make_plan(e->spec, ggufs("qwen3-235b-a22b", {"Q8_0", expected}), r, RuleBook::builtin());
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->status, Status::ok);
    EXPECT_EQ(k->quant, expected);
    EXPECT_TRUE(k->suggestions.empty());

    // Only a smaller step published: the larger unpublished step that fits is the what-if.
    PlanRequest chat = request(UseCase::chat);
    const model::CatalogEntry* small = model::find_model("qwen3-8b");
    auto s = make_plan(small->spec, ggufs("qwen3-8b", {"Q4_K_M"}), chat, RuleBook::builtin());
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->status, Status::ok);
    EXPECT_EQ(s->quant, "Q4_K_M");
    ASSERT_EQ(s->suggestions.size(), 1u);
    EXPECT_EQ(s->suggestions.front().flag, "--quant Q8_0");
    EXPECT_TRUE(s->suggestions.front().what_if);
}

// Issue 10 item 4: on vLLM, a --quant that does not fit gets the published variant the decision
// order picks, when it fits, as a suggestion (not a what-if).
TEST(PlanQuant, PublishedSmallerVariantIsSuggested) {
    PlanRequest r = request(UseCase::chat);
    r.engine = "vllm";
    r.quant = "bf16";
    Plan p = plan_for("llama-3.3-70b", r);
    ASSERT_EQ(p.status, Status::does_not_fit);
    const auto q =
        std::find_if(p.suggestions.begin(), p.suggestions.end(),
                     [](const Suggestion& s) { return s.kind == Suggestion::Kind::quant; });
    ASSERT_NE(q, p.suggestions.end());
    EXPECT_EQ(q->flag, "--quant awq");  // R-QNT-1
    EXPECT_FALSE(q->what_if);
    EXPECT_TRUE(q->fits);
}

}  // namespace
}  // namespace sparkctl::plan
