// The golden matrix of `sparkctl plan`: every use case (chat for one user, agents x8, batch x16 at
// 8k, long-context for one user) on a small dense, a large dense, a MoE, a sliding-window, a
// MoE + sliding-window and two MLA models, with the engine, rule, checkpoint and context each
// must get under spark-knowledge.md's decision order, and the per-use flags. Each expectation
// follows from the rules and the catalog's published variants (comments say which), not from a
// snapshot of the output.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "engines/versions.h"
#include "model/catalog.h"
#include "plan/plan.h"
#include "plan/plan_fixtures.h"
#include "plan/quant_choice.h"
#include "plan/rules.h"

namespace sparkctl::plan {
namespace {

using engines::Engine;
using namespace fixtures;  // NOLINT(google-build-using-namespace): shared helpers

struct Cell {
    const char* model;
    UseCase use;
    Status status;
    Engine engine;
    const char* engine_rule;
    const char* quant;
    const char* variant;  // repository
    std::uint64_t context;
};

constexpr std::uint32_t kAgents = 8;
constexpr std::uint32_t kBatch = 16;
constexpr std::uint64_t kBatchContext = 8192;

PlanRequest request_for(UseCase use) {
    PlanRequest r = request(use, use == UseCase::agents  ? kAgents
                                 : use == UseCase::batch ? kBatch
                                                         : 1);
    if (use == UseCase::batch) r.context = kBatchContext;
    return r;
}

std::string name(const Cell& c) { return std::string(c.model) + " " + to_string(c.use); }

// What every plan of the matrix must show for its use case.
void expect_use_flags(const Cell& c, const Plan& p) {
    const LaunchCommand* s = server(p);
    ASSERT_NE(s, nullptr) << name(c);
    const std::uint32_t users = request_for(c.use).users;
    if (p.engine == Engine::llama_cpp) {
        EXPECT_EQ(arg_after(*s, "-np"), std::to_string(users)) << name(c);
        EXPECT_EQ(arg_after(*s, "-c"), std::to_string(p.context * users)) << name(c);
        EXPECT_EQ(arg_after(*s, "-ngl"), "all") << name(c);
    } else {
        EXPECT_EQ(arg_after(*s, "--max-model-len"), std::to_string(p.context)) << name(c);
        EXPECT_EQ(arg_after(*s, "--max-num-seqs"), std::to_string(users)) << name(c);
        EXPECT_FALSE(arg_after(*s, "--kv-cache-memory-bytes").empty()) << name(c);
        EXPECT_EQ(arg_after(*s, "--host"), "127.0.0.1") << name(c);
        ASSERT_NE(server(p, "container"), nullptr) << name(c);  // NVIDIA's vLLM image
    }
    if (c.use == UseCase::agents) {
        EXPECT_EQ(decision(p, "tools")->rule, "SPARKCTL-PLAN-14") << name(c);
        // An agents plan without tool calls is a defect (issue 10 item 5).
        if (p.engine == Engine::llama_cpp) {
            EXPECT_TRUE(has_arg(*s, "--jinja")) << name(c);
        } else {
            EXPECT_FALSE(arg_after(*s, "--tool-call-parser").empty()) << name(c);
        }
        if (p.engine == Engine::vllm) {
            EXPECT_TRUE(has_arg(*s, "--enable-auto-tool-choice")) << name(c);
        }
    }
    if (c.use == UseCase::long_context || c.use == UseCase::agents) {
        const Decision* d = decision(p, "context");
        ASSERT_NE(d, nullptr) << name(c);
        EXPECT_EQ(d->rule, c.use == UseCase::agents ? "SPARKCTL-PLAN-16" : "SPARKCTL-PLAN-15")
            << name(c);
    }
    EXPECT_TRUE(s->health_url.has_value()) << name(c);
}

void check(const Cell& c, const Plan& p) {
    EXPECT_EQ(p.status, c.status) << name(c) << ": " << p.refusal;
    EXPECT_EQ(p.engine, c.engine) << name(c);
    const Decision* e = decision(p, "engine");
    ASSERT_NE(e, nullptr) << name(c);
    EXPECT_EQ(e->rule, c.engine_rule) << name(c);
    EXPECT_EQ(p.quant, c.quant) << name(c);
    EXPECT_EQ(p.variant_repo, c.variant) << name(c);
    EXPECT_EQ(p.context, c.context) << name(c);
    for (const Decision& d : p.decisions) {
        EXPECT_NE(RuleBook::builtin().find(d.rule), nullptr) << name(c) << " " << d.step;
    }
    if (p.status == Status::ok) {
        EXPECT_LE(p.fit.estimate.memory.total_bytes, p.fit.estimate.memory.budget_bytes) << name(c);
        // Only the what-if of a larger GGUF ladder step than the published one planned.
        for (const Suggestion& s : p.suggestions) {
            EXPECT_EQ(s.kind, Suggestion::Kind::quant) << name(c) << " " << s.flag;
            EXPECT_TRUE(s.what_if && s.fits) << name(c) << " " << s.flag;
            EXPECT_EQ(p.engine, Engine::llama_cpp) << name(c) << " " << s.flag;
        }
        expect_flags_accepted(p);
        expect_use_flags(c, p);
    } else {
        EXPECT_EQ(p.exit_status(), 3) << name(c);
        EXPECT_TRUE(p.commands.empty()) << name(c);
        ASSERT_FALSE(p.suggestions.empty()) << name(c);
        for (const Suggestion& s : p.suggestions) {
            EXPECT_FALSE(s.flag.empty()) << name(c);
            EXPECT_FALSE(s.buys.empty()) << name(c);
        }
    }
}

// Rows: the model's class, then why each cell is what it is.
const std::vector<Cell> kCatalogMatrix = {
    // Small dense (Qwen3-8B: GGUF, AWQ, FP8, NVFP4, BF16 published; trained context 40960).
    // chat: one user -> llama.cpp (R-ENG-1), the largest published GGUF that fits.
    {"qwen3-8b", UseCase::chat, Status::ok, Engine::llama_cpp, "R-ENG-1", "Q8_0",
     "unsloth/Qwen3-8B-GGUF", 32768},
    // agents/batch: parallel -> vLLM (R-ENG-2), AWQ by default (R-QNT-1); agents get the whole
    // trained context (under the 131,072 cap, and 8 x 40960 fits: SPARKCTL-PLAN-16).
    {"qwen3-8b", UseCase::agents, Status::ok, Engine::vllm, "R-ENG-2", "awq", "Qwen/Qwen3-8B-AWQ",
     40960},
    {"qwen3-8b", UseCase::batch, Status::ok, Engine::vllm, "R-ENG-2", "awq", "Qwen/Qwen3-8B-AWQ",
     kBatchContext},
    // long-context -> vLLM (R-ENG-6) at the whole trained window (SPARKCTL-PLAN-15).
    {"qwen3-8b", UseCase::long_context, Status::ok, Engine::vllm, "R-ENG-6", "awq",
     "Qwen/Qwen3-8B-AWQ", 40960},

    // Large dense (Llama-3.3-70B: bartowski's GGUF ladder, AWQ/NVFP4/BF16).
    // chat: one user -> llama.cpp (R-ENG-1); Q8_0 (70B x 8.5 bits) + 32k of KV fits one Spark.
    {"llama-3.3-70b", UseCase::chat, Status::ok, Engine::llama_cpp, "R-ENG-1", "Q8_0",
     "bartowski/Llama-3.3-70B-Instruct-GGUF", 32768},
    // agents x8: 8 x 32768 x 320 KiB of KV + 37 GiB of AWQ weights is over the budget even at the
    // 32,768 floor, so the paged pool holds what fits at full context (SPARKCTL-PLAN-17).
    {"llama-3.3-70b", UseCase::agents, Status::ok, Engine::vllm, "R-ENG-2", "awq",
     "casperhansen/llama-3.3-70b-instruct-awq", 32768},
    {"llama-3.3-70b", UseCase::batch, Status::ok, Engine::vllm, "R-ENG-2", "awq",
     "casperhansen/llama-3.3-70b-instruct-awq", kBatchContext},
    {"llama-3.3-70b", UseCase::long_context, Status::ok, Engine::vllm, "R-ENG-6", "awq",
     "casperhansen/llama-3.3-70b-instruct-awq", 131072},

    // MoE (Qwen3-30B-A3B: GGUF Q8_0, BF16, FP8, NVFP4; no AWQ) -> FP8 before BF16 (R-QNT-3: half
    // the bytes read per token).
    {"qwen3-30b-a3b", UseCase::chat, Status::ok, Engine::llama_cpp, "R-ENG-1", "Q8_0",
     "Qwen/Qwen3-30B-A3B-GGUF", 32768},
    {"qwen3-30b-a3b", UseCase::agents, Status::ok, Engine::vllm, "R-ENG-2", "fp8",
     "RedHatAI/Qwen3-30B-A3B-FP8-dynamic", 40960},
    {"qwen3-30b-a3b", UseCase::batch, Status::ok, Engine::vllm, "R-ENG-2", "fp8",
     "RedHatAI/Qwen3-30B-A3B-FP8-dynamic", kBatchContext},
    {"qwen3-30b-a3b", UseCase::long_context, Status::ok, Engine::vllm, "R-ENG-6", "fp8",
     "RedHatAI/Qwen3-30B-A3B-FP8-dynamic", 40960},

    // Sliding window, dense (Gemma-3-27B: 5 of 6 layers SWA; QAT Q4_0 and Unsloth's GGUF
    // ladder, BF16, FP8). chat: the largest published GGUF that fits is Unsloth's Q8_0.
    {"gemma-3-27b", UseCase::chat, Status::ok, Engine::llama_cpp, "R-ENG-1", "Q8_0",
     "unsloth/gemma-3-27b-it-GGUF", 32768},
    // agents x8: FP8 before BF16; 8 x 131072 does not fit in full, 8 x 71680 does.
    {"gemma-3-27b", UseCase::agents, Status::ok, Engine::vllm, "R-ENG-2", "fp8",
     "RedHatAI/gemma-3-27b-it-FP8-dynamic", 71680},
    {"gemma-3-27b", UseCase::batch, Status::ok, Engine::vllm, "R-ENG-2", "fp8",
     "RedHatAI/gemma-3-27b-it-FP8-dynamic", kBatchContext},
    {"gemma-3-27b", UseCase::long_context, Status::ok, Engine::vllm, "R-ENG-6", "fp8",
     "RedHatAI/gemma-3-27b-it-FP8-dynamic", 131072},

    // MoE + sliding window (gpt-oss-120b: MXFP4 only, natively; GGUF MXFP4).
    {"gpt-oss-120b", UseCase::chat, Status::ok, Engine::llama_cpp, "R-ENG-1", "MXFP4",
     "ggml-org/gpt-oss-120b-GGUF", 32768},
    {"gpt-oss-120b", UseCase::agents, Status::ok, Engine::vllm, "R-ENG-2", "mxfp4",
     "openai/gpt-oss-120b", 131072},
    {"gpt-oss-120b", UseCase::batch, Status::ok, Engine::vllm, "R-ENG-2", "mxfp4",
     "openai/gpt-oss-120b", kBatchContext},
    {"gpt-oss-120b", UseCase::long_context, Status::ok, Engine::vllm, "R-ENG-6", "mxfp4",
     "openai/gpt-oss-120b", 131072},

    // MLA (DeepSeek-R1, 671B: FP8 and GGUF Q8_0 / Q4_K_M published): nothing fits one or two
    // Sparks (chat plans the smallest GGUF); the long-context plan keeps the trained window since
    // no shorter one fits either.
    {"deepseek-r1", UseCase::chat, Status::does_not_fit, Engine::llama_cpp, "R-ENG-1", "Q4_K_M",
     "unsloth/DeepSeek-R1-GGUF", 32768},
    {"deepseek-r1", UseCase::agents, Status::does_not_fit, Engine::vllm, "R-ENG-2", "fp8",
     "deepseek-ai/DeepSeek-R1", 32768},
    {"deepseek-r1", UseCase::batch, Status::does_not_fit, Engine::vllm, "R-ENG-2", "fp8",
     "deepseek-ai/DeepSeek-R1", kBatchContext},
    {"deepseek-r1", UseCase::long_context, Status::does_not_fit, Engine::vllm, "R-ENG-6", "fp8",
     "deepseek-ai/DeepSeek-R1", 163840},
};

TEST(PlanMatrix, EveryUseCaseOnEveryModelClass) {
    for (const Cell& c : kCatalogMatrix) {
        check(c, plan_for(c.model, request_for(c.use)));
    }
}

TEST(PlanMatrix, SlidingWindowModelsCacheOnlyTheWindowOnSwaLayers) {
    for (const char* id : {"gemma-3-27b", "gpt-oss-120b"}) {
        Plan p = plan_for(id, request_for(UseCase::long_context));
        ASSERT_EQ(p.status, Status::ok) << id;
        EXPECT_GT(p.fit.estimate.kv.n_swa_layers, 0u) << id;
        // The full-attention layers alone price a token; the SWA layers add a bounded window.
        EXPECT_LT(p.fit.estimate.memory.kv_cache_bytes,
                  p.fit.estimate.memory.kv_bytes_per_token * 2 * p.context)
            << id;
    }
}

TEST(PlanMatrix, DoesNotFitCellsOfferWhatFits) {
    // Llama-3.3-70B for 8 agents under a 45 GiB budget: not even one sequence at the 32,768 floor
    // fits (37 GiB of AWQ weights + 10 GiB of KV); the first suggestion that fits is what
    // --prefer fit applies.
    PlanRequest r = request_for(UseCase::agents);
    r.hardware.budget_bytes = 45ull << 30;
    Plan p = plan_for("llama-3.3-70b", r);
    ASSERT_EQ(p.status, Status::does_not_fit);
    const auto fits = std::find_if(p.suggestions.begin(), p.suggestions.end(),
                                   [](const Suggestion& s) { return s.fits; });
    ASSERT_NE(fits, p.suggestions.end());
    r.prefer = Prefer::fit;
    Plan q = plan_for("llama-3.3-70b", r);
    ASSERT_EQ(q.status, Status::ok);
    EXPECT_EQ(decision(q, "prefer-fit")->outcome, fits->flag);
    EXPECT_LE(q.fit.estimate.memory.total_bytes, q.fit.estimate.memory.budget_bytes);
    expect_flags_accepted(q);
    // DeepSeek-R1: no suggestion fits, two nodes included.
    Plan d = plan_for("deepseek-r1", request_for(UseCase::agents));
    for (const Suggestion& s : d.suggestions) EXPECT_FALSE(s.fits) << s.flag;
}

// An MLA model that fits: DeepSeek-V3's architecture at the shape of the 16B DeepSeek-V2-Lite
// (27 layers, hidden 2048, 16 heads, 64 routed + 2 shared experts, 6 active, kv_lora_rank 512,
// no q_lora), with a GGUF and a BF16 checkpoint under made-up repositories. The shape is a test
// input, not a catalog fact.
model::ModelSpec mla_16b() {
    model::ModelSpec s = model::find_model("deepseek-v3")->spec;
    s.name = "mla-16b";
    s.hf_id = "example/mla-16b";
    model::Arch& a = s.arch;
    a.n_layers = 27;
    a.n_mtp_layers = 0;
    a.hidden_size = 2048;
    a.n_heads = 16;
    a.n_kv_heads = 16;
    a.intermediate_size = 10944;
    a.vocab_size = 102400;
    a.context_length = 163840;
    a.mla->q_lora_rank = 0;
    a.moe = model::Moe{};
    a.moe->n_experts = 64;
    a.moe->n_experts_per_token = 6;
    a.moe->n_shared_experts = 2;
    a.moe->expert_intermediate_size = 1408;
    a.moe->shared_expert_intermediate_size = 2816;
    a.moe->n_leading_dense_layers = 1;
    a.params_total.reset();
    a.params_active.reset();
    return s;
}

std::vector<model::Variant> mla_16b_variants() {
    model::Variant gguf;
    gguf.format = "Q4_K_M";
    gguf.repo = "example/mla-16b-GGUF";
    gguf.file = "*Q4_K_M*";
    model::Variant bf16;
    bf16.format = "bf16";
    bf16.repo = "example/mla-16b";
    return {gguf, bf16};
}

TEST(PlanMatrix, MlaModelThatFitsEveryUseCase) {
    const model::ModelSpec spec = mla_16b();
    const std::vector<Cell> cells = {
        {"mla-16b", UseCase::chat, Status::ok, Engine::llama_cpp, "R-ENG-1", "Q4_K_M",
         "example/mla-16b-GGUF", 32768},
        // agents: the trained 163,840 capped at 131,072 (SPARKCTL-PLAN-16); 8 of them fit in full.
        {"mla-16b", UseCase::agents, Status::ok, Engine::vllm, "R-ENG-2", "bf16", "example/mla-16b",
         131072},
        {"mla-16b", UseCase::batch, Status::ok, Engine::vllm, "R-ENG-2", "bf16", "example/mla-16b",
         kBatchContext},
        {"mla-16b", UseCase::long_context, Status::ok, Engine::vllm, "R-ENG-6", "bf16",
         "example/mla-16b", 163840},
    };
    for (const Cell& c : cells) {
        auto p = make_plan(spec, mla_16b_variants(), request_for(c.use), RuleBook::builtin());
        ASSERT_TRUE(p.ok()) << p.error().message;
        check(c, *p);
        if (p->engine == Engine::vllm) {
            // vLLM's MLA cache: one latent (kv_lora_rank + qk_rope_head_dim) per layer, BF16.
            EXPECT_EQ(p->fit.estimate.memory.kv_bytes_per_token, 27u * (512 + 64) * 2) << name(c);
            // DeepSeek's tool-call parser; no reasoning parser for a non-R1 checkpoint.
            if (c.use == UseCase::agents) {
                EXPECT_EQ(arg_after(*server(*p), "--tool-call-parser"), "deepseek_v3");
            }
        }
    }
}

// Every catalog model on each server engine, forced: whatever is planned uses only flags and
// parser names the targeted version registers.
TEST(PlanMatrix, ForcedEnginesEmitOnlyRegisteredFlagsAndParsers) {
    int planned = 0;
    for (const model::CatalogEntry& e : model::catalog()) {
        for (Engine engine : {Engine::vllm, Engine::sglang}) {
            for (UseCase use : {UseCase::agents, UseCase::batch}) {
                PlanRequest r = request_for(use);
                r.engine = engines::to_string(engine);
                r.prefer = Prefer::fit;  // applies --kv-cache-dtype fp8 where that fits
                auto p = make_plan(e.spec, e.variants, r, RuleBook::builtin());
                if (!p.ok()) continue;  // no checkpoint this engine loads
                if (p->status != Status::ok) continue;
                ++planned;
                expect_flags_accepted(*p);
                if (use == UseCase::agents) {  // every family gets its tool-call parser
                    EXPECT_FALSE(arg_after(*server(*p), "--tool-call-parser").empty())
                        << e.id << " on " << r.engine;
                }
                for (const std::string& w : p->warnings) {
                    EXPECT_EQ(w.find("is not registered"), std::string::npos) << e.id << ": " << w;
                    EXPECT_EQ(w.find("flag table"), std::string::npos) << e.id << ": " << w;
                }
            }
        }
    }
    EXPECT_GT(planned, 40);
}

// One owner for each decision: `sparkctl fit` (plan::choose_quant and fit::fit_model, what
// cmd_fit runs without --quant) and `sparkctl plan` with the same engine forced agree on the
// quantization, the memory and the predicted speed, for every catalog model x engine x use where
// the engine can load the model.
TEST(PlanFitAgree, EveryCatalogModelEngineAndUse) {
    const RuleBook& rules = RuleBook::builtin();
    int compared = 0;
    for (const model::CatalogEntry& e : model::catalog()) {
        for (Engine eng : engines::kAllEngines) {
            for (UseCase use :
                 {UseCase::chat, UseCase::agents, UseCase::batch, UseCase::long_context}) {
                // llama.cpp takes one user (R-OPS-3); the paged engines one and several.
                for (std::uint32_t users : {1u, 4u}) {
                    if (users > 1 && eng == Engine::llama_cpp) continue;
                    PlanRequest r = request(use, users);
                    r.engine = engines::to_string(eng);
                    auto p = make_plan(e.spec, e.variants, r, rules);
                    const std::string what =
                        e.id + " " + r.engine + " " + to_string(use) + " x" + std::to_string(users);
                    if (!p.ok()) {  // the engine cannot load any published checkpoint
                        EXPECT_NE(p.error().message.find("no checkpoint"), std::string::npos)
                            << what << ": " << p.error().message;
                        continue;
                    }
                    if (p->status == Status::refused) continue;
                    fit::FitOptions o;
                    o.context = p->context;
                    o.parallel = p->parallel;
                    o.budget_bytes = r.hardware.budget_bytes;
                    o.memory_total_bytes = r.hardware.memory_total_bytes;
                    fit::PerfRequest pr;
                    if (p->performance) pr.depth = p->performance->predicted.depth;
                    o.performance = pr;
                    o.performance_hw = *r.hardware.caps;
                    auto f = choose_quant(e.spec, e.variants, eng, o, Prefer::none, rules);
                    ASSERT_TRUE(f.ok()) << what << ": " << f.error().message;
                    EXPECT_EQ(f->fit.quant, p->quant) << what;
                    const fit::MemoryBreakdown& fm = f->fit.estimate.memory;
                    const fit::MemoryBreakdown& pm = p->fit.estimate.memory;
                    EXPECT_EQ(fm.total_bytes, pm.total_bytes) << what;
                    EXPECT_EQ(fm.kv_cache_bytes, pm.kv_cache_bytes) << what;
                    EXPECT_EQ(f->fit.max_parallel, p->fit.max_parallel) << what;
                    EXPECT_EQ(f->fit.estimate.fits, p->status == Status::ok) << what;
                    if (p->performance) {
                        ASSERT_TRUE(f->fit.performance.has_value()) << what;
                        EXPECT_DOUBLE_EQ(f->fit.performance->decode_tokens_per_s,
                                         p->performance->predicted.decode_tokens_per_s)
                            << what;
                        EXPECT_EQ(f->fit.performance->ttft_ms, p->performance->predicted.ttft_ms)
                            << what;
                    }
                    ++compared;
                }
            }
        }
    }
    EXPECT_GT(compared, 100);
}

}  // namespace
}  // namespace sparkctl::plan
