// Measured memory from engine log lines (engines/logs.h).
#include "engines/logs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace sparkctl::engines {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// Runs the parser over every line of a fixture (src/engines/fixtures/); `hits` counts the lines
// that carried a figure.
MeasuredMemory parse_fixture(Engine e, const std::string& name, int* hits = nullptr) {
    std::ifstream in(std::string(SPARKCTL_TEST_SOURCE_DIR) + "/src/engines/fixtures/" + name);
    EXPECT_TRUE(in.good()) << name;
    MeasuredMemory m;
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += parse_memory_log_line(e, line, m) ? 1 : 0;
    if (hits != nullptr) *hits = n;
    return m;
}

std::uint64_t gib(double v) { return static_cast<std::uint64_t>(std::llround(v * kGiB)); }

TEST(MemoryLogFixtures, LlamaCppRealServer) {
    // A real llama-server (-lv 4) on a `sparkctl dev make-gguf` model: fixtures/README.md.
    int hits = 0;
    MeasuredMemory m = parse_fixture(Engine::llama_cpp, "llamacpp-load.log", &hits);
    EXPECT_EQ(hits, 4);  // model, output, KV and compute buffers
    EXPECT_EQ(m.weights_bytes, static_cast<std::uint64_t>(std::llround(19.97 * kMiB)));
    EXPECT_EQ(m.kv_bytes, 16 * kMiB);
    EXPECT_EQ(m.compute_bytes, static_cast<std::uint64_t>(std::llround(52.05 * kMiB)));
    EXPECT_TRUE(m.loaded);
}

TEST(MemoryLogFixtures, VllmModelLoadingTook) {
    int hits = 0;
    MeasuredMemory m = parse_fixture(Engine::vllm, "vllm-gguf-load.log", &hits);
    EXPECT_EQ(hits, 1);
    EXPECT_EQ(m.weights_bytes, gib(2.2845));
    EXPECT_FALSE(m.kv_bytes.has_value());
}

TEST(MemoryLogFixtures, VllmAvailableKvCacheMemory) {
    int hits = 0;
    MeasuredMemory m = parse_fixture(Engine::vllm, "vllm-kv-cache.log", &hits);
    EXPECT_EQ(hits, 1);
    EXPECT_EQ(m.kv_bytes, gib(112.61));
    EXPECT_EQ(m.total_bytes, gib(112.61));
}

TEST(MemoryLogFixtures, VllmEarlyV1LoadingModelWeightsTook) {
    MeasuredMemory m = parse_fixture(Engine::vllm, "vllm-v1-early.log");
    EXPECT_EQ(m.weights_bytes, gib(67.7229));
}

TEST(MemoryLogFixtures, SglangWeightsAndKv) {
    int hits = 0;
    MeasuredMemory m = parse_fixture(Engine::sglang, "sglang-load.log", &hits);
    EXPECT_EQ(hits, 2);
    EXPECT_EQ(m.weights_bytes, gib(8.13));
    EXPECT_EQ(m.kv_bytes, gib(54.12) * 2);
    EXPECT_EQ(m.total_bytes, gib(8.13) + gib(54.12) * 2);
}

TEST(MemoryLogFixtures, SglangRanksAreNotSummed) {
    // Each data-parallel rank prints its own figures: one rank's, not their sum.
    MeasuredMemory m = parse_fixture(Engine::sglang, "sglang-dp2.log");
    EXPECT_EQ(m.weights_bytes, gib(30.67));
    EXPECT_EQ(m.kv_bytes, gib(8.84) * 2);
}

TEST(MemoryLogLines, SglangMlaKvSize) {
    // S:python/sglang/srt/mem_cache/memory_pool.py MLATokenToKVPool: one latent cache.
    MeasuredMemory m;
    EXPECT_TRUE(parse_memory_log_line(
        Engine::sglang,
        "[2026-01-01 00:00:00 TP0] KV Cache is allocated. #tokens: 524288, KV size: 17.16 GB", m));
    EXPECT_EQ(m.kv_bytes, gib(17.16));
}

TEST(MemoryLogLines, ReadyLines) {
    MeasuredMemory v, s;
    parse_memory_log_line(Engine::vllm, "(APIServer pid=1) INFO:     Application startup complete.",
                          v);
    parse_memory_log_line(Engine::sglang,
                          "[2025-03-27 21:33:40] The server is fired up and ready to roll!", s);
    EXPECT_TRUE(v.loaded);
    EXPECT_TRUE(s.loaded);
}

TEST(MemoryLogLines, LlamaCppBuffersAddUp) {
    MeasuredMemory m;
    EXPECT_TRUE(parse_memory_log_line(
        Engine::llama_cpp, "load_tensors:          CPU model buffer size =   100.00 MiB", m));
    EXPECT_TRUE(parse_memory_log_line(
        Engine::llama_cpp, "load_tensors:        CUDA0 model buffer size =  1024.50 MiB", m));
    EXPECT_TRUE(parse_memory_log_line(
        Engine::llama_cpp, "llama_kv_cache:      CUDA0 KV buffer size =   512.00 MiB", m));
    EXPECT_TRUE(parse_memory_log_line(
        Engine::llama_cpp, "llama_context:      CUDA0 compute buffer size =   300.75 MiB", m));
    EXPECT_FALSE(m.loaded);
    EXPECT_FALSE(
        parse_memory_log_line(Engine::llama_cpp, "srv    load_model: loading model 'x.gguf'", m));
    EXPECT_FALSE(
        parse_memory_log_line(Engine::llama_cpp, "main: model loaded", m));  // not the server's
    EXPECT_FALSE(m.loaded);
    EXPECT_FALSE(parse_memory_log_line(Engine::llama_cpp, "srv          main: model loaded", m));
    EXPECT_TRUE(m.loaded);
    EXPECT_EQ(m.weights_bytes, static_cast<std::uint64_t>(1124.5 * kMiB));
    EXPECT_EQ(m.kv_bytes, 512 * kMiB);
    EXPECT_EQ(m.compute_bytes, static_cast<std::uint64_t>(300.75 * kMiB));
    EXPECT_EQ(m.total_bytes, *m.weights_bytes + *m.kv_bytes + *m.compute_bytes);
}

TEST(MemoryLogLines, JunkIsIgnored) {
    MeasuredMemory m;
    for (const char* line : {"", "model buffer size =", " model buffer size = nan MiB",
                             " KV buffer size = -5 MiB", " compute buffer size = 1e99 MiB",
                             "Model loading took", "KV Cache is allocated. #tokens: 5"}) {
        for (Engine e : kAllEngines) EXPECT_FALSE(parse_memory_log_line(e, line, m)) << line;
    }
    EXPECT_FALSE(m.total_bytes.has_value());
}

}  // namespace
}  // namespace sparkctl::engines
