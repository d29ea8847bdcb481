#include <gtest/gtest.h>

#include "engines/engine.h"
#include "fit/memory.h"
#include "fit/test_archs.h"

namespace sparkctl::fit {
namespace {

using engines::Engine;

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kGiB = 1024 * kMiB;

FitRequest request(Engine e, std::uint64_t ctx, std::uint32_t np, std::string_view kv = "auto") {
    FitRequest r;
    r.engine = e;
    r.context = ctx;
    r.parallel = np;
    r.kv_type = *engines::resolve_kv_cache_type(e, kv);
    r.memory_total_bytes = 124610 * kMiB;
    r.budget_bytes = r.memory_total_bytes - 18739 * kMiB;
    return r;
}

TEST(KvPerToken, Llama31_8bBf16Is128KiB) {
    // engines.md section 0: 2 * 32 * 8 * 128 * 2 = 131072 B.
    const auto a = testing::llama31_8b();
    for (Engine e : engines::kAllEngines) {
        const auto t = *engines::resolve_kv_cache_type(e, e == Engine::llama_cpp ? "bf16" : "auto");
        EXPECT_EQ(kv_bytes_per_token(a, e, t), 128 * kKiB) << engines::to_string(e);
    }
    // q8_0: 34/32 bytes per element; fp8: 1 byte.
    EXPECT_EQ(kv_bytes_per_token(a, Engine::llama_cpp,
                                 *engines::resolve_kv_cache_type(Engine::llama_cpp, "q8_0")),
              2u * 32 * 1024 / 32 * 34);
    EXPECT_EQ(
        kv_bytes_per_token(a, Engine::vllm, *engines::resolve_kv_cache_type(Engine::vllm, "fp8")),
        64 * kKiB);
}

TEST(KvPerToken, DeepSeekV3MlaIsOneLatent) {
    // 61 layers * (512 + 64) * 2 B = 70272 B (engines.md 2.4, orchestration-anchors.md).
    const auto a = testing::deepseek_v3();
    for (Engine e : engines::kAllEngines) {
        const auto t = *engines::resolve_kv_cache_type(e, "auto");
        EXPECT_EQ(kv_bytes_per_token(a, e, t), 61u * 576 * 2) << engines::to_string(e);
    }
}

TEST(LlamaCppKv, GptOss120bFullAndSwa) {
    // engines.md 2.4: f16, -c 131072 -np 1: full 18*131072*2*512*2 B = 4.5 GiB;
    // SWA 18 * 768 cells * 2 KiB = 27 MiB.
    const auto a = testing::gpt_oss(36, 128);
    const Estimate e = estimate(a, request(Engine::llama_cpp, 131072, 1));
    EXPECT_EQ(e.kv.full_bytes, 4608 * kMiB);
    EXPECT_EQ(e.kv.swa_bytes, 27 * kMiB);
    EXPECT_EQ(e.kv.swa_cells, 768u);
    EXPECT_EQ(e.memory.kv_cache_bytes, 4608 * kMiB + 27 * kMiB);
    EXPECT_EQ(e.memory.kv_bytes_per_token, 18u * 2048);
    EXPECT_EQ(e.settings.llamacpp_n_ctx, 131072u);
}

TEST(LlamaCppKv, ParallelSlotsGetTheirOwnSwaCells) {
    const auto a = testing::gpt_oss(36, 128);
    const Estimate e = estimate(a, request(Engine::llama_cpp, 8192, 4));
    EXPECT_EQ(e.kv.full_cells, 32768u);
    EXPECT_EQ(e.kv.swa_cells, 4u * 768);
    EXPECT_EQ(e.settings.llamacpp_n_ctx_seq, 8192u);
}

TEST(LlamaCppKv, MlaHasNoV) {
    const auto a = testing::deepseek_v3();
    const Estimate e = estimate(a, request(Engine::llama_cpp, 4096, 1));
    EXPECT_EQ(e.memory.kv_cache_bytes, 4096u * 61 * 576 * 2);
}

TEST(LlamaCppKv, QuantizedCacheUsesRowSizes) {
    const auto a = testing::llama31_8b();
    const Estimate e = estimate(a, request(Engine::llama_cpp, 8192, 1, "q4_0"));
    EXPECT_EQ(e.memory.kv_cache_bytes, 8192u * 32 * 2 * (1024 / 32 * 18));
}

TEST(LlamaCppKv, RecurrentStatePerSequence) {
    model::Arch a;
    a.n_layers = 2;
    a.hidden_size = 1024;
    a.n_heads = 8;
    a.n_kv_heads = 2;
    a.head_dim = 128;
    a.vocab_size = 1000;
    a.layer_kinds = {model::LayerKind::recurrent, model::LayerKind::full_attention};
    model::Ssm s;
    s.d_conv = 4;
    s.d_inner = 2048;
    s.d_state = 128;
    s.n_group = 1;
    a.ssm = s;
    const Estimate e = estimate(a, request(Engine::llama_cpp, 1024, 2));
    // conv (4-1)*(2048 + 2*128) + ssm 128*2048, f32, 2 sequences, 1 layer.
    EXPECT_EQ(e.kv.recurrent_bytes, 2u * (3 * 2304 + 128 * 2048) * 4);
    EXPECT_EQ(e.kv.full_bytes, 2048u * 2 * 256 * 2);
}

TEST(VllmKv, BlocksPerRequestAndSlidingWindow) {
    const auto a = testing::llama31_8b();
    const Estimate e = estimate(a, request(Engine::vllm, 1000, 3));
    EXPECT_EQ(e.kv.full_cells, 3u * 1008);
    EXPECT_EQ(e.memory.kv_cache_bytes, 3u * 1008 * 128 * kKiB);
    const auto g = testing::gpt_oss(36, 128);
    const Estimate s = estimate(g, request(Engine::vllm, 131072, 1));
    EXPECT_EQ(s.kv.swa_cells, 8320u);
    EXPECT_EQ(s.kv.swa_bytes, 8320u * 18 * 2048);
    EXPECT_EQ(s.kv.full_bytes, 4608 * kMiB);
    EXPECT_EQ(s.settings.vllm_max_num_batched_tokens, 8192u);
    EXPECT_EQ(s.memory.overhead_bytes, 2 * kGiB);
}

TEST(SglangKv, TokenSlotsAndSwaRatio) {
    const auto g = testing::gpt_oss(36, 128);
    const Estimate s = estimate(g, request(Engine::sglang, 10000, 2));
    EXPECT_EQ(s.kv.full_cells, 20000u);
    EXPECT_EQ(s.kv.swa_cells, 16000u);  // swa_full_tokens_ratio 0.8
    EXPECT_EQ(s.memory.kv_cache_bytes, (20000u + 16000u) * 18 * 2048);
    // Reserved memory of GB10 (124610 MiB): 512 + 12288 + 512 + 128 MiB.
    EXPECT_EQ(s.memory.compute_bytes + s.memory.overhead_bytes, 13440 * kMiB);
    EXPECT_DOUBLE_EQ(s.settings.sglang_mem_fraction_static, 0.892);
}

TEST(Total, IsTheSumAndFitsAgainstBudget) {
    const auto a = testing::llama31_8b();
    FitRequest r = request(Engine::llama_cpp, 8192, 1);
    r.weights_bytes = 5 * kGiB;
    r.cache_ram_mib = 1024;  // fixed, so that the budget below does not size it
    const Estimate e = estimate(a, r);
    const MemoryBreakdown& m = e.memory;
    EXPECT_EQ(m.host_prompt_cache_bytes, 1024 * kMiB);
    EXPECT_EQ(m.total_bytes, m.weights_bytes + m.kv_cache_bytes + m.compute_bytes +
                                 m.overhead_bytes + m.host_prompt_cache_bytes +
                                 m.ctx_checkpoints_bytes);
    EXPECT_TRUE(e.fits);
    EXPECT_EQ(m.peak_bytes, m.total_bytes);  // --no-mmap
    r.budget_bytes = m.total_bytes - 1;
    EXPECT_FALSE(estimate(a, r).fits);
    r.budget_bytes = m.total_bytes;
    EXPECT_TRUE(estimate(a, r).fits);
}

// llama-server's host memory (docs/dev/fit.md "Host memory of the engines").
TEST(HostMemory, SwaCheckpointIsTheWindowOfOneSlot) {
    // gpt-oss: 18 SWA layers x 2 KiB per cell (f16), window 128: a checkpoint holds the 128
    // cells the window does not mask, 4.5 MiB; 131072 tokens per sequence: 16 + 3 checkpoints.
    const auto a = testing::gpt_oss(36, 128);
    FitRequest r = request(Engine::llama_cpp, 131072, 1);
    Estimate e = estimate(a, r);
    EXPECT_EQ(e.memory.ctx_checkpoint_bytes, 128u * 18 * 2048);
    EXPECT_EQ(e.settings.llamacpp_ctx_checkpoints, 19u);
    EXPECT_EQ(e.memory.ctx_checkpoints_bytes, 19u * 128 * 18 * 2048);
    // Per slot: four slots hold four times as many.
    r.context = 8192;
    r.parallel = 4;
    e = estimate(a, r);
    EXPECT_EQ(e.settings.llamacpp_ctx_checkpoints, 4u);
    EXPECT_EQ(e.memory.ctx_checkpoints_bytes, 4u * 4 * 128 * 18 * 2048);
    r.ctx_checkpoints = 32;  // llama.cpp's default, asked for
    EXPECT_EQ(estimate(a, r).memory.ctx_checkpoints_bytes, 32u * 4 * 128 * 18 * 2048);
    r.swa_full = true;  // a full-size SWA cache rolls back like a full one: no checkpoints
    EXPECT_EQ(estimate(a, r).memory.ctx_checkpoints_bytes, 0u);
}

TEST(HostMemory, FullAttentionMakesNoCheckpointsRecurrentItsState) {
    const Estimate full = estimate(testing::llama31_8b(), request(Engine::llama_cpp, 65536, 1));
    EXPECT_EQ(full.memory.ctx_checkpoint_bytes, 0u);
    EXPECT_EQ(full.settings.llamacpp_ctx_checkpoints, 0u);
    EXPECT_EQ(full.memory.ctx_checkpoints_bytes, 0u);

    model::Arch a = testing::llama31_8b();
    a.n_layers = 2;
    a.layer_kinds = {model::LayerKind::recurrent, model::LayerKind::full_attention};
    model::Ssm s;
    s.d_conv = 4;
    s.d_inner = 2048;
    s.d_state = 128;
    s.n_group = 1;
    a.ssm = s;
    const Estimate e = estimate(a, request(Engine::llama_cpp, 4096, 2));
    // A hybrid checkpoint is the recurrent state of one slot (f32 conv + ssm), 1 + 3 of them.
    EXPECT_EQ(e.memory.ctx_checkpoint_bytes, (3u * 2304 + 128 * 2048) * 4);
    EXPECT_EQ(e.settings.llamacpp_ctx_checkpoints, 4u);
    EXPECT_EQ(e.memory.ctx_checkpoints_bytes, 4u * 2 * e.memory.ctx_checkpoint_bytes);
}

TEST(HostMemory, CheckpointCountFollowsTheSpacingUpToTheDefault) {
    EXPECT_EQ(default_ctx_checkpoints(100000, false), 0u);
    EXPECT_EQ(default_ctx_checkpoints(1, true), 4u);
    EXPECT_EQ(default_ctx_checkpoints(8192, true), 4u);
    EXPECT_EQ(default_ctx_checkpoints(8193, true), 5u);
    EXPECT_EQ(default_ctx_checkpoints(1u << 20, true), 32u);
}

TEST(HostMemory, PromptCacheIsHalfOfWhatIsLeftAndNeverBreaksTheFit) {
    const auto a = testing::llama31_8b();
    FitRequest r = request(Engine::llama_cpp, 8192, 1);
    r.weights_bytes = 5 * kGiB;
    r.cache_ram_mib = 0;
    const std::uint64_t base = estimate(a, r).memory.total_bytes;
    r.cache_ram_mib.reset();
    // Plenty left: llama.cpp's default 8192 MiB.
    Estimate e = estimate(a, r);
    EXPECT_EQ(e.settings.llamacpp_cache_ram_mib, 8192);
    EXPECT_EQ(e.memory.host_prompt_cache_bytes, 8 * kGiB);
    EXPECT_EQ(e.memory.total_bytes, base + 8 * kGiB);
    // 3 GiB left: half, in steps of 256 MiB.
    r.budget_bytes = base + 3 * kGiB + 100 * kMiB;
    e = estimate(a, r);
    EXPECT_EQ(e.settings.llamacpp_cache_ram_mib, 1536);
    EXPECT_TRUE(e.fits);
    // Less than 512 MiB left: none; over the budget: none, and it still does not fit.
    r.budget_bytes = base + 500 * kMiB;
    EXPECT_EQ(estimate(a, r).settings.llamacpp_cache_ram_mib, 0);
    r.budget_bytes = base - 1;
    e = estimate(a, r);
    EXPECT_EQ(e.memory.host_prompt_cache_bytes, 0u);
    EXPECT_FALSE(e.fits);
    // Asked for: counted as asked, and it can make a deployment not fit.
    r.budget_bytes = base + 4 * kGiB;
    r.cache_ram_mib = 8192;
    e = estimate(a, r);
    EXPECT_EQ(e.memory.host_prompt_cache_bytes, 8 * kGiB);
    EXPECT_FALSE(e.fits);
    // No limit: at most n_ctx tokens of slot states, the size of the KV cache.
    r.cache_ram_mib = -1;
    e = estimate(a, r);
    EXPECT_EQ(e.settings.llamacpp_cache_ram_mib, -1);
    EXPECT_EQ(e.memory.host_prompt_cache_bytes, e.memory.kv_cache_bytes);
    // The other engines have neither.
    for (Engine eng : {Engine::vllm, Engine::sglang}) {
        const Estimate o = estimate(a, request(eng, 8192, 1));
        EXPECT_EQ(o.memory.host_prompt_cache_bytes + o.memory.ctx_checkpoints_bytes, 0u);
    }
}

TEST(Solvers, MaxContextAndParallelAreTheEdgeOfFitting) {
    const auto a = testing::llama31_8b();
    for (Engine eng : engines::kAllEngines) {
        FitRequest r = request(eng, 8192, 1);
        r.weights_bytes = 16 * kGiB;
        r.budget_bytes = 40 * kGiB;
        const std::uint64_t mc = max_context(a, r, 1u << 22);
        ASSERT_GT(mc, 0u) << engines::to_string(eng);
        FitRequest at = r;
        at.context = mc;
        EXPECT_TRUE(estimate(a, at).fits);
        at.context = mc + (eng == Engine::llama_cpp ? 256 : 16);
        EXPECT_FALSE(estimate(a, at).fits);

        const std::uint32_t mp = max_parallel(a, r, parallel_limit(eng));
        ASSERT_GT(mp, 0u);
        at = r;
        at.parallel = mp;
        EXPECT_TRUE(estimate(a, at).fits);
        if (mp < parallel_limit(eng)) {
            at.parallel = mp + 1;
            EXPECT_FALSE(estimate(a, at).fits);
        }
    }
}

TEST(Solvers, NothingFitsGivesZero) {
    const auto a = testing::llama31_8b();
    FitRequest r = request(Engine::vllm, 8192, 1);
    r.weights_bytes = 200 * kGiB;
    EXPECT_EQ(max_context(a, r, 131072), 0u);
    EXPECT_EQ(max_parallel(a, r, 1024), 0u);
}

}  // namespace
}  // namespace sparkctl::fit
