#include <gtest/gtest.h>

#include <cctype>

#include "fit/fit.h"
#include "fit/performance.h"
#include "fit/test_archs.h"
#include "model/catalog.h"

namespace sparkctl::fit {
namespace {

using engines::Engine;

constexpr std::uint64_t kMiB = 1ull << 20;

FitOptions spark() {
    FitOptions o;
    o.memory_total_bytes = 124610 * kMiB;
    o.budget_bytes = o.memory_total_bytes - 18739 * kMiB;
    return o;
}

bool is_gguf(const std::string& format) { return !format.empty() && std::isupper(format[0]); }

TEST(FitModel, EveryCatalogVariantAnswersOnEveryEngineThatLoadsIt) {
    int unsupported = 0;
    for (const model::CatalogEntry& e : model::catalog()) {
        for (const model::Variant& v : e.variants) {
            for (Engine eng : engines::kAllEngines) {
                if (is_gguf(v.format) != (eng == Engine::llama_cpp)) continue;
                FitOptions o = spark();
                o.quant = v.format;
                auto r = fit_model(e.spec, e.variants, eng, o);
                ASSERT_TRUE(r.ok())
                    << e.id << " " << engines::to_string(eng) << ": " << r.error().message;
                const MemoryBreakdown& m = r->estimate.memory;
                if (!r->supported) {
                    // Only for catalog entries whose architecture facts are unknown.
                    EXPECT_NE(r->unsupported_reason.find("unknown"), std::string::npos) << e.id;
                    EXPECT_FALSE(r->estimate.fits);
                    ++unsupported;
                    continue;
                }
                EXPECT_FALSE(r->quant.empty());
                EXPECT_GT(m.weights_bytes, 0u) << e.id;
                EXPECT_EQ(m.total_bytes, m.weights_bytes + m.kv_cache_bytes + m.compute_bytes +
                                             m.overhead_bytes + m.host_prompt_cache_bytes +
                                             m.ctx_checkpoints_bytes);
                if (eng != Engine::llama_cpp) {  // llama-server's host caches only
                    EXPECT_EQ(m.host_prompt_cache_bytes + m.ctx_checkpoints_bytes, 0u);
                }
                EXPECT_EQ(r->estimate.fits, m.total_bytes <= m.budget_bytes);
                EXPECT_EQ(r->headroom_bytes, static_cast<std::int64_t>(m.budget_bytes) -
                                                 static_cast<std::int64_t>(m.total_bytes));
                EXPECT_GE(m.peak_bytes, m.total_bytes);
                if (r->estimate.fits) {
                    EXPECT_GE(r->max_context, r->context) << e.id;
                    EXPECT_GE(r->max_parallel, r->parallel) << e.id;
                } else {
                    EXPECT_LT(r->max_context, r->context) << e.id;
                }
                EXPECT_TRUE(r->quant_published) << e.id << " " << v.format;
            }
        }
    }
    EXPECT_EQ(unsupported, 0);  // every catalog entry has the facts fit needs
}

const model::CatalogEntry& entry(std::string_view id) {
    const model::CatalogEntry* e = model::find_model(id);
    EXPECT_NE(e, nullptr) << id;
    return *e;
}

// fit prices the quantization it is given; choosing one is plan::choose_quant's (plan_test).
TEST(FitModel, ACatalogModelNeedsAQuantization) {
    const auto& oss = entry("gpt-oss-120b");
    auto r = fit_model(oss.spec, oss.variants, Engine::vllm, spark());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
}

FitOptions spark_at(const std::string& quant) {
    FitOptions o = spark();
    o.quant = quant;
    return o;
}

// SPARKCTL-PLAN-8, owned by fit: per node, weights / TP and KV heads / TP.
TEST(FitModel, TensorParallelSizesOneNode) {
    const auto& l70 = entry("llama-3.3-70b");
    const std::string q = l70.variants.front().format;
    const Engine eng = is_gguf(q) ? Engine::llama_cpp : Engine::vllm;
    ASSERT_EQ(eng, Engine::vllm) << "the first variant of llama-3.3-70b is safetensors";
    FitOptions o = spark_at(q);
    auto one = fit_model(l70.spec, l70.variants, eng, o);
    o.tensor_parallel = 2;
    auto two = fit_model(l70.spec, l70.variants, eng, o);
    ASSERT_TRUE(one.ok() && two.ok());
    EXPECT_EQ(two->tensor_parallel, 2u);
    EXPECT_EQ(two->estimate.memory.weights_bytes, one->estimate.memory.weights_bytes / 2);
    // 8 KV heads over 2 nodes: half the KV cache per node.
    EXPECT_EQ(two->estimate.memory.kv_bytes_per_token * 2, one->estimate.memory.kv_bytes_per_token);
    EXPECT_GE(two->max_context, one->max_context);
    bool per_node = false;
    for (const std::string& n : two->notes) per_node |= n.rfind("per node: ", 0) == 0;
    EXPECT_TRUE(per_node);
    // 64 attention heads: 3 nodes do not divide them.
    o.tensor_parallel = 3;
    auto three = fit_model(l70.spec, l70.variants, eng, o);
    ASSERT_FALSE(three.ok());
    EXPECT_NE(three.error().message.find("does not divide"), std::string::npos);
    // llama.cpp has no tensor parallel.
    FitOptions lc = spark_at("Q4_K_M");
    lc.tensor_parallel = 2;
    auto r = fit_model(l70.spec, l70.variants, Engine::llama_cpp, lc);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->supported);
    EXPECT_NE(r->unsupported_reason.find("tensor parallel"), std::string::npos);
}

// KV cache sizing (issue 10 item 2): vLLM and SGLang share one paged pool; a plan needs one
// full-context sequence, and the pool gets what the budget leaves up to context x parallel.
// llama.cpp's slots are fixed.
TEST(FitModel, PagedEnginesShareOnePoolDownToOneFullSequence) {
    const auto& oss = entry("gpt-oss-120b");
    FitOptions o = spark_at("mxfp4");
    o.context = 32768;
    o.parallel = 32;
    for (Engine eng : {Engine::vllm, Engine::sglang}) {
        auto r = fit_model(oss.spec, oss.variants, eng, o);
        ASSERT_TRUE(r.ok()) << r.error().message;
        const std::string e = engines::to_string(eng);
        EXPECT_TRUE(r->estimate.fits) << e;
        EXPECT_GT(r->max_parallel, 0u) << e;
        EXPECT_LT(r->max_parallel, 32u) << e;  // 32 x 32768 does not fit in full
        EXPECT_LE(r->estimate.memory.total_bytes, o.budget_bytes) << e;
        bool said = false;
        for (const std::string& n : r->notes) {
            said |= n.find("holds " + std::to_string(r->max_parallel) + " of the 32") !=
                    std::string::npos;
        }
        EXPECT_TRUE(said) << e;
        const EngineSettings& st = r->estimate.settings;
        if (eng == Engine::vllm) {
            EXPECT_EQ(st.vllm_max_num_seqs, 32u);  // the engine admits every user, queues the rest
            EXPECT_EQ(st.vllm_kv_cache_memory_bytes, r->estimate.memory.kv_cache_bytes);
        } else {
            EXPECT_EQ(st.sglang_max_total_tokens, 32768ull * r->max_parallel);
        }
    }
    // llama.cpp: -c = context x parallel must fit; 256 slots of 32768 do not.
    FitOptions lc = spark_at("MXFP4");
    lc.context = 32768;
    lc.parallel = 256;
    auto l = fit_model(oss.spec, oss.variants, Engine::llama_cpp, lc);
    ASSERT_TRUE(l.ok());
    EXPECT_FALSE(l->estimate.fits);
    // The floor: not even one full-context sequence fits a 62 GiB budget (61 GiB of weights).
    o.budget_bytes = 62ull << 30;
    auto none = fit_model(oss.spec, oss.variants, Engine::vllm, o);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->estimate.fits);
    EXPECT_EQ(none->max_parallel, 0u);
}

TEST(FitModel, ExplicitQuantIsAWhatIf) {
    const auto& oss = entry("gpt-oss-120b");
    FitOptions o = spark();
    o.quant = "Q4_K_M";
    auto r = fit_model(oss.spec, oss.variants, Engine::llama_cpp, o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->quant, "Q4_K_M");
    EXPECT_FALSE(r->quant_published);
    EXPECT_FALSE(r->notes.empty());
    o.quant = "awq";
    EXPECT_FALSE(fit_model(oss.spec, oss.variants, Engine::llama_cpp, o).ok());
}

TEST(FitModel, ContextDefaultsToTrainedCapped) {
    const auto& oss = entry("gpt-oss-120b");
    auto r = fit_model(oss.spec, oss.variants, Engine::llama_cpp, spark_at("MXFP4"));
    EXPECT_EQ(r->context, 32768u);
    EXPECT_EQ(r->context_origin, "trained-capped");
    FitOptions o = spark_at("MXFP4");
    o.context = 131072;
    o.kv_cache_dtype = "f16";
    r = fit_model(oss.spec, oss.variants, Engine::llama_cpp, o);
    // The SWA cache holds window + n_ubatch cells: 128 + 2048 at the planned -ub 2048.
    EXPECT_EQ(r->estimate.memory.kv_cache_bytes, (4608 + 81) * kMiB);
    EXPECT_TRUE(r->estimate.fits);
    EXPECT_EQ(r->max_context, 131072u);  // capped at the trained context
}

TEST(FitModel, MicroBatchDefaultsToThePlannedOneAndSizesTheComputeBuffer) {
    const auto& oss = entry("gpt-oss-120b");
    FitOptions o = spark_at("MXFP4");
    o.performance = PerfRequest{};
    o.performance->prompt = 2048;
    o.performance_hw = HwCaps{273e9, 1e15, std::nullopt, o.memory_total_bytes};
    auto def = fit_model(oss.spec, oss.variants, Engine::llama_cpp, o);
    ASSERT_TRUE(def.ok());
    EXPECT_EQ(def->ubatch, default_ubatch(Engine::llama_cpp, o.memory_total_bytes));
    EXPECT_EQ(def->ubatch, 2048u);
    EXPECT_EQ(def->batch, 2048u);
    ASSERT_TRUE(def->performance);
    EXPECT_EQ(def->performance->ubatch, 2048u);

    o.ubatch = 512;
    auto small = fit_model(oss.spec, oss.variants, Engine::llama_cpp, o);
    ASSERT_TRUE(small.ok());
    EXPECT_EQ(small->ubatch, 512u);
    EXPECT_EQ(small->performance->ubatch, 512u);
    // Four times the tokens per pass: a larger compute buffer, a faster MoE prefill.
    EXPECT_GT(def->estimate.memory.compute_bytes, 3 * small->estimate.memory.compute_bytes);
    // (How much faster is not measured: the one u = 512 MoE row, llama-batched-bench's first
    // test, was a first run and is not held.)
    EXPECT_GT(*def->performance->prefill_tokens_per_s,
              1.5 * *small->performance->prefill_tokens_per_s);

    o.ubatch = 4096;  // the logical batch follows a larger micro-batch
    auto big = fit_model(oss.spec, oss.variants, Engine::llama_cpp, o);
    ASSERT_TRUE(big.ok());
    EXPECT_EQ(big->batch, 4096u);
    o.batch = 1024;  // llama.cpp would cut -ub to -b behind the user's back
    auto bad = fit_model(oss.spec, oss.variants, Engine::llama_cpp, o);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, base::Errc::bad_input);
    EXPECT_EQ(fit_model(oss.spec, oss.variants, Engine::vllm, o)->ubatch, 0u);  // llama.cpp only
}

TEST(FitModel, BudgetOverrideDecidesFits) {
    const auto& oss = entry("gpt-oss-120b");
    FitOptions o = spark_at("mxfp4");
    o.budget_bytes = 10ull << 30;
    auto r = fit_model(oss.spec, oss.variants, Engine::vllm, o);
    EXPECT_FALSE(r->estimate.fits);
    EXPECT_EQ(r->max_context, 0u);
    EXPECT_EQ(r->max_parallel, 0u);
    EXPECT_LT(r->headroom_bytes, 0);
}

TEST(FitModel, BadKvTypeIsBadInput) {
    const auto& oss = entry("gpt-oss-120b");
    FitOptions o = spark_at("mxfp4");
    o.kv_cache_dtype = "q8_0";
    auto r = fit_model(oss.spec, oss.variants, Engine::vllm, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
}

}  // namespace
}  // namespace sparkctl::fit

namespace sparkctl::fit {
namespace {

// Regression: page cache while loading safetensors is reclaimable, so vLLM's peak for
// gpt-oss-120b (NVIDIA's DGX Spark playbook runs it) must not exceed the device.
TEST(FitModel, ReclaimablePageCacheIsANoteNotPeak) {
    FitOptions o;
    o.quant = "mxfp4";
    o.memory_total_bytes = 124610ull << 20;
    o.budget_bytes = o.memory_total_bytes - (18739ull << 20);
    const model::CatalogEntry* e = model::find_model("gpt-oss-120b");
    ASSERT_NE(e, nullptr);
    auto r = fit_model(e->spec, e->variants, engines::Engine::vllm, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_LE(r->estimate.memory.peak_bytes, o.memory_total_bytes);
    bool noted = false;
    for (const auto& n : r->notes) noted |= n.find("page cache") != std::string::npos;
    EXPECT_TRUE(noted);
}

}  // namespace
}  // namespace sparkctl::fit
