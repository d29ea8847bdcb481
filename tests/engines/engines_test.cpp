#include <gtest/gtest.h>

#include "engines/alloc.h"
#include "engines/engine.h"
#include "engines/versions.h"

namespace sparkctl::engines {
namespace {

TEST(Engine, ParsesNamesCaseInsensitively) {
    EXPECT_EQ(*parse_engine("llama.cpp"), Engine::llama_cpp);
    EXPECT_EQ(*parse_engine("LlamaCpp"), Engine::llama_cpp);
    EXPECT_EQ(*parse_engine("VLLM"), Engine::vllm);
    EXPECT_EQ(*parse_engine("sglang"), Engine::sglang);
    auto bad = parse_engine("tensorrt");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("tensorrt"), std::string::npos);
}

TEST(Engine, WeightFormats) {
    EXPECT_EQ(weight_format(Engine::llama_cpp), WeightFormat::gguf);
    EXPECT_EQ(weight_format(Engine::vllm), WeightFormat::safetensors);
    EXPECT_EQ(weight_format(Engine::sglang), WeightFormat::safetensors);
}

TEST(KvCacheType, LlamaCppRowSizes) {
    // ggml row sizes: q8_0 34 B / 32, q4_0 18 B / 32 (LC:ggml/src/ggml-common.h block_q8_0, block_q4_0).
    auto q8 = resolve_kv_cache_type(Engine::llama_cpp, "Q8_0");
    ASSERT_TRUE(q8.ok());
    EXPECT_EQ(q8->row_bytes(1024), 1088u);
    auto q4 = resolve_kv_cache_type(Engine::llama_cpp, "q4_0");
    ASSERT_TRUE(q4.ok());
    EXPECT_EQ(q4->row_bytes(1024), 576u);
    EXPECT_TRUE(kv_type_needs_flash_attention(*q4));
    EXPECT_EQ(resolve_kv_cache_type(Engine::llama_cpp, "auto")->name, "f16");
    EXPECT_EQ(resolve_kv_cache_type(Engine::llama_cpp, "bf16")->row_bytes(128), 256u);
}

TEST(KvCacheType, EachEngineRejectsWhatItCannotUse) {
    EXPECT_FALSE(resolve_kv_cache_type(Engine::llama_cpp, "fp8").ok());
    EXPECT_FALSE(resolve_kv_cache_type(Engine::vllm, "q8_0").ok());
    EXPECT_FALSE(resolve_kv_cache_type(Engine::sglang, "q4_0").ok());
    auto fp8 = resolve_kv_cache_type(Engine::vllm, "fp8");
    ASSERT_TRUE(fp8.ok());
    EXPECT_EQ(fp8->row_bytes(100), 100u);
    EXPECT_EQ(resolve_kv_cache_type(Engine::sglang, "FP8")->name, "fp8_e4m3");
    EXPECT_EQ(resolve_kv_cache_type(Engine::vllm, "auto")->row_bytes(10), 20u);
    auto err = resolve_kv_cache_type(Engine::vllm, "q4_0");
    EXPECT_NE(err.error().message.find("vllm"), std::string::npos);
}

TEST(LlamaCppCells, PadsTo256AndSplitsStreams) {
    // -c 131072 -np 1: one stream of 131072 cells; SWA PAD256(128 + 512) = 768 (LC:src/llama-kv-cache-iswa.cpp).
    auto c = llamacpp::cells(131072, 1, false, 128, 512, false);
    EXPECT_EQ(c.n_ctx, 131072u);
    EXPECT_EQ(c.n_ctx_seq, 131072u);
    EXPECT_EQ(c.swa, 768u);
    // -c 1000 -np 3: PAD256 -> 1024, n_ctx_seq = PAD256(1024/3 = 341) = 512, n_ctx = 1536.
    c = llamacpp::cells(1000, 3, false, 0, 512, false);
    EXPECT_EQ(c.n_ctx_seq, 512u);
    EXPECT_EQ(c.n_ctx, 1536u);
    EXPECT_EQ(c.n_stream, 3u);
    // Unified: one stream; SWA window scales with the sequences.
    c = llamacpp::cells(8192, 4, true, 128, 512, false);
    EXPECT_EQ(c.n_stream, 1u);
    EXPECT_EQ(c.n_ctx_seq, 8192u);
    EXPECT_EQ(c.swa, 1024u);  // PAD256(min(8192, 128*4 + 512))
    // Non-unified: per stream PAD256(min(n_ctx_seq, 128 + 512)) = 768, times 4 streams.
    c = llamacpp::cells(8192, 4, false, 128, 512, false);
    EXPECT_EQ(c.swa, 4u * 768u);
    // A small context caps SWA cells at n_ctx_seq; --swa-full gives the full size.
    c = llamacpp::cells(256, 1, false, 1024, 512, false);
    EXPECT_EQ(c.swa, 256u);
    c = llamacpp::cells(8192, 1, false, 128, 512, true);
    EXPECT_EQ(c.swa, 8192u);
}

TEST(Vllm, BlocksOf16AndSlidingWindowTokens) {
    EXPECT_EQ(vllm::full_tokens_per_request(1000), 1008u);
    EXPECT_EQ(vllm::full_tokens_per_request(4096), 4096u);
    // min(window - 1 + T, max_model_len), in blocks: 128 - 1 + 8192 = 8319 -> 8320.
    EXPECT_EQ(vllm::swa_tokens_per_request(131072, 128, 8192), 8320u);
    EXPECT_EQ(vllm::swa_tokens_per_request(4096, 128, 8192), 4096u);
    EXPECT_EQ(vllm::max_num_batched_tokens(124610ull << 20), 8192u);
    EXPECT_EQ(vllm::max_num_batched_tokens(24ull << 30), 2048u);
}

TEST(Sglang, MemFractionStaticMatchesWorkedValues) {
    // S:python/sglang/srt/server_args.py _handle_gpu_memory_settings: H100-80G 0.835, H200 0.907, GB10 (124546 MiB) 0.892.
    EXPECT_DOUBLE_EQ(sglang::mem_fraction_static(81559, 1, 1), 0.835);
    EXPECT_DOUBLE_EQ(sglang::mem_fraction_static(143771, 1, 1), 0.907);
    EXPECT_DOUBLE_EQ(sglang::mem_fraction_static(124546, 1, 1), 0.892);
    const auto r = sglang::reserved_mib(124546, 1, 1);
    EXPECT_DOUBLE_EQ(r.total_mib(), 512 + 8192 * 1.5 + 256 * 2 + 128);
    // A small GPU: no 10 GiB floor.
    EXPECT_DOUBLE_EQ(sglang::reserved_mib(16 * 1024, 1, 1).total_mib(),
                     512 + 2048 * 1.5 + 8 * 2 + 128);
    // 60..90 GiB with a lower computed value would be raised to 10240.
    EXPECT_GE(sglang::reserved_mib(65 * 1024, 1, 1).total_mib(), 10240.0);
}

// Every embedded table parses (a malformed row would stop the registry with SPARKCTL_ASSERT)
// and describes its engine: each version accepts its server's basic flags.
TEST(EngineVersions, EveryEmbeddedTableLoads) {
    std::size_t n = 0;
    for (const EngineVersion& v : engine_versions()) {
        ++n;
        const char* port = "--port";
        EXPECT_TRUE(accepts_flag(v, port)) << to_string(v.engine) << " " << v.name;
        EXPECT_EQ(flag_takes_value(v, port), true) << v.name;
        EXPECT_FALSE(v.flags_commit.empty()) << v.name;
    }
    EXPECT_EQ(n, 4u);  // llama.cpp 2026, vLLM ngc-26.05 and 0.11, SGLang latest-cu130
    EXPECT_TRUE(llamacpp_supports("LlamaForCausalLM"));
}

}  // namespace
}  // namespace sparkctl::engines
