#include <gtest/gtest.h>

#include "engines/alloc.h"
#include "engines/engine.h"
#include "engines/installed.h"
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
    // ggml row sizes: q8_0 34 B / 32, q4_0 18 B / 32 (LC:ggml/src/ggml-common.h block_q8_0,
    // block_q4_0).
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
    // -c 131072 -np 1: one stream of 131072 cells; SWA PAD256(128 + 512) = 768
    // (LC:src/llama-kv-cache-iswa.cpp).
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
    // S:python/sglang/srt/server_args.py _handle_gpu_memory_settings: H100-80G 0.835, H200 0.907,
    // GB10 (124546 MiB) 0.892.
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
    EXPECT_EQ(n, 6u);  // llama.cpp 2026, b6845, b7324; vLLM ngc-26.05, 0.11; SGLang latest-cu130
    EXPECT_TRUE(llamacpp_supports("LlamaForCausalLM"));
}

// llama.cpp builds without a table of their own get the nearest table at or below them; the 2026
// tree counts as build 10621 (a lower bound, versions.cpp).
TEST(EngineVersions, LlamaCppBuildsMapToTheNearestTableAtOrBelow) {
    auto b6918 = find_version(Engine::llama_cpp, "b6918");
    ASSERT_TRUE(b6918.ok()) << b6918.error().message;
    EXPECT_EQ((*b6918)->name, "b6845");
    EXPECT_EQ((*find_version(Engine::llama_cpp, "7324"))->name, "b7324");
    EXPECT_EQ((*find_version(Engine::llama_cpp, "B7400"))->name, "b7324");
    EXPECT_EQ((*find_version(Engine::llama_cpp, "b9000"))->name, "b7324");
    EXPECT_EQ((*find_version(Engine::llama_cpp, "b10621"))->name, "2026");
    EXPECT_EQ((*find_version(Engine::llama_cpp, "b11632"))->name, "2026");
    EXPECT_FALSE(find_version(Engine::llama_cpp, "b100").ok());  // older than every table
    EXPECT_FALSE(find_version(Engine::llama_cpp, "b69x").ok());
    EXPECT_FALSE(find_version(Engine::vllm, "b6918").ok());
    // The numbered tables are real extractions: b6845 predates --load-mode and -fit, and its
    // -ngl takes a number only.
    const EngineVersion& b6845 = **b6918;
    EXPECT_TRUE(accepts_flag(b6845, "--no-mmap"));
    EXPECT_FALSE(accepts_flag(b6845, "--load-mode"));
    EXPECT_FALSE(accepts_flag(b6845, "-fit"));
    EXPECT_EQ(b6845.all_gpu_layers, "999");
    EXPECT_EQ(default_version(Engine::llama_cpp).all_gpu_layers, "all");
    // vLLM releases: at or below; older than 0.11 has no table.
    EXPECT_EQ(nearest_version(Engine::vllm, "0.11.0")->name, "0.11");
    EXPECT_EQ(nearest_version(Engine::vllm, "0.19.2")->name, "0.11");
    EXPECT_EQ(nearest_version(Engine::vllm, "0.20.1")->name, "ngc-26.05");
    EXPECT_EQ(nearest_version(Engine::vllm, "0.23.0+cu129")->name, "ngc-26.05");
    EXPECT_EQ(nearest_version(Engine::vllm, "0.10.1.dev544+gc90fb03df.precompiled"), nullptr);
    EXPECT_EQ(nearest_version(Engine::vllm, "dev"), nullptr);
    EXPECT_EQ(nearest_version(Engine::sglang, "0.5.4")->name, "latest-cu130");  // the only one
}

// Captured `--version` outputs.
TEST(EngineVersions, ParsesInstalledVersionOutputs) {
    // https://github.com/lemonade-sdk/lemonade/issues/3342 (ggml-org's build, late 2026 format).
    EXPECT_EQ(parse_llamacpp_version("version: 0.3.0-dev (build 10621, commit c1d0e7a00)\n"),
              "10621");
    // https://github.com/ggml-org/llama.cpp/issues/14160: backend lines first, then a build
    // without git metadata: no number.
    EXPECT_EQ(parse_llamacpp_version(
                  "register_backend: registered backend CPU (1 devices)\n"
                  "register_device: registered device CPU (AMD Ryzen 9 9950X3D 16-Core Processor)\n"
                  "load_backend: failed to find ggml_backend_init in "
                  "/home/ubutnu/llama.cpp-master/build/bin/libggml-cpu.so\n"
                  "version: 0 (unknown)\n"
                  "built with cc (Ubuntu 13.3.0-6ubuntu2~24.04) 13.3.0 for x86_64-linux-gnu\n"),
              std::nullopt);
    // The b6845-era format, as LC:common/arg.cpp prints it ("version: %d (%s)").
    EXPECT_EQ(parse_llamacpp_version("version: 6918 (8fb4bd34a)\nbuilt with cc for aarch64\n"),
              "6918");
    EXPECT_EQ(parse_llamacpp_version("llama-server: command not found"), std::nullopt);
    // vLLM: no captured output with a citable address was found; these are in the shape vLLM
    // prints, its platform log line (V:vllm/platforms/__init__.py) then the version
    // (V:vllm/entrypoints/cli/main.py, argparse version=VLLM_VERSION), with real release strings.
    EXPECT_EQ(parse_vllm_version("INFO 09-24 19:55:02 [__init__.py:216] Automatically detected "
                                 "platform cuda.\n0.10.2\n"),
              "0.10.2");
    EXPECT_EQ(parse_vllm_version("INFO 11-14 17:22:53 [__init__.py:241] Automatically detected "
                                 "platform cuda.\n0.10.1.dev544+gc90fb03df.precompiled\n"),
              "0.10.1.dev544+gc90fb03df.precompiled");
    EXPECT_EQ(parse_vllm_version("Traceback (most recent call last):\n"), std::nullopt);
}

// Nothing installed: a clear error naming what was looked for.
TEST(EngineVersions, DetectInstalledNamesWhatItLookedFor) {
    Programs programs;
    programs.llama_server = "/nonexistent/llama-server";
    auto r = detect_installed(Engine::llama_cpp, programs, std::chrono::seconds(5));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
    EXPECT_NE(r.error().message.find("no llama.cpp is installed here (looked for: "
                                     "`/nonexistent/llama-server --version`"),
              std::string::npos)
        << r.error().message;
}

}  // namespace
}  // namespace sparkctl::engines
