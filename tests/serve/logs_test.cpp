// Measured memory from engine log lines (engines/logs.h).
#include "engines/logs.h"

#include <gtest/gtest.h>

namespace sparkctl::engines {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

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
    EXPECT_EQ(m.weights_bytes, 1124.5 * kMiB);
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
