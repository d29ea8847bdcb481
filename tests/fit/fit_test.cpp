#include <gtest/gtest.h>

#include "fit/fit.h"
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

TEST(FitModel, EveryCatalogModelAnswersOnEveryEngine) {
    int unsupported = 0;
    for (const model::CatalogEntry& e : model::catalog()) {
        for (Engine eng : engines::kAllEngines) {
            auto r = fit_model(e.spec, e.variants, eng, spark());
            ASSERT_TRUE(r.ok()) << e.id << " " << engines::to_string(eng) << ": "
                                << r.error().message;
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
            EXPECT_EQ(m.total_bytes,
                      m.weights_bytes + m.kv_cache_bytes + m.compute_bytes + m.overhead_bytes);
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
        }
    }
    EXPECT_EQ(unsupported, 0);  // every catalog entry has the facts fit needs
}

const model::CatalogEntry& entry(std::string_view id) {
    const model::CatalogEntry* e = model::find_model(id);
    EXPECT_NE(e, nullptr) << id;
    return *e;
}

TEST(FitModel, DefaultQuantFollowsTheDecisionOrder) {
    const auto& oss = entry("gpt-oss-120b");
    EXPECT_EQ(fit_model(oss.spec, oss.variants, Engine::llama_cpp, spark())->quant, "MXFP4");
    EXPECT_EQ(fit_model(oss.spec, oss.variants, Engine::vllm, spark())->quant, "mxfp4");
    const auto& q8 = entry("qwen3-8b");
    auto r = fit_model(q8.spec, q8.variants, Engine::vllm, spark());
    EXPECT_EQ(r->quant, "awq");  // R-QNT-1
    EXPECT_TRUE(r->quant_published);
    const auto& l8 = entry("llama-3.1-8b");
    // No AWQ: the native checkpoint (bf16). llama.cpp: the largest published GGUF that fits.
    EXPECT_EQ(fit_model(l8.spec, l8.variants, Engine::sglang, spark())->quant, "bf16");
    EXPECT_EQ(fit_model(l8.spec, l8.variants, Engine::llama_cpp, spark())->quant, "Q8_0");
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
    auto r = fit_model(oss.spec, oss.variants, Engine::llama_cpp, spark());
    EXPECT_EQ(r->context, 32768u);
    EXPECT_EQ(r->context_origin, "trained-capped");
    FitOptions o = spark();
    o.context = 131072;
    o.kv_cache_dtype = "f16";
    r = fit_model(oss.spec, oss.variants, Engine::llama_cpp, o);
    EXPECT_EQ(r->estimate.memory.kv_cache_bytes, (4608 + 27) * kMiB);
    EXPECT_TRUE(r->estimate.fits);
    EXPECT_EQ(r->max_context, 131072u);  // capped at the trained context
}

TEST(FitModel, BudgetOverrideDecidesFits) {
    const auto& oss = entry("gpt-oss-120b");
    FitOptions o = spark();
    o.budget_bytes = 10ull << 30;
    auto r = fit_model(oss.spec, oss.variants, Engine::vllm, o);
    EXPECT_FALSE(r->estimate.fits);
    EXPECT_EQ(r->max_context, 0u);
    EXPECT_EQ(r->max_parallel, 0u);
    EXPECT_LT(r->headroom_bytes, 0);
}

TEST(FitModel, BadKvTypeIsBadInput) {
    const auto& oss = entry("gpt-oss-120b");
    FitOptions o = spark();
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
