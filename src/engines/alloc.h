// Per-engine memory allocation rules: how each engine lays out its KV cache (llama.cpp cells,
// PAD256, SWA cells and streams; vLLM blocks of 16; SGLang token slots and the hybrid SWA pool)
// and how it sizes what is not weights or KV (compute buffers, reserved memory, CUDA graphs).
// Every constant cites the engine's source path (LC:/V:/S:, docs/dev/engines.md), or a sparkctl
// choice ID documented in docs/dev/fit.md. Pure functions, thread-safe.
#pragma once

#include <cstdint>

namespace sparkctl::engines {

// ---- llama.cpp (LC:src/llama-context.cpp, LC:src/llama-kv-cache.cpp,
//      LC:src/llama-kv-cache-iswa.cpp, LC:src/llama-model.cpp create_memory) ----
namespace llamacpp {

inline constexpr std::uint32_t kCtxPad = 256;         // n_ctx = GGML_PAD(n_ctx, 256)
inline constexpr std::uint32_t kDefaultUbatch = 512;  // -ub (LC:common/common.h)
inline constexpr std::uint32_t kDefaultBatch = 2048;  // -b

constexpr std::uint64_t pad(std::uint64_t n, std::uint64_t to) { return (n + to - 1) / to * to; }

// The KV cells llama.cpp allocates for `-c n_ctx -np n_seq` (LC:src/llama-context.cpp,
// LC:src/llama-kv-cache.cpp, LC:src/llama-kv-cache-iswa.cpp).
struct Cells {
    std::uint64_t n_ctx = 0;      // total cells of a full-attention layer (all streams)
    std::uint64_t n_ctx_seq = 0;  // cells each sequence may use
    std::uint32_t n_stream = 1;   // kv_unified ? 1 : n_seq
    std::uint64_t swa = 0;        // total cells of a sliding-window layer (all streams)
};

// `n_ctx_flag` is the -c value (total over slots); `window` the model's n_swa (0: none).
// cells_full: n_ctx = PAD256(c); non-unified: n_ctx_seq = PAD256(n_ctx / np), n_ctx = n_ctx_seq*np.
// cells_swa = n_stream * PAD256(min(n_ctx_seq, n_swa * (unified ? np : 1) + n_ubatch)), or the
// full size with --swa-full.
Cells cells(std::uint64_t n_ctx_flag, std::uint32_t n_seq, bool kv_unified, std::uint32_t window,
            std::uint32_t n_ubatch, bool swa_full);

// Recurrent state rows: max(1, n_seq_max) * (1 + n_rs_seq), n_rs_seq = 0 without speculative
// rollback (LC:src/llama-memory-recurrent.cpp, LC:src/llama-model.cpp).
constexpr std::uint64_t recurrent_rows(std::uint32_t n_seq) { return n_seq == 0 ? 1 : n_seq; }

// Host output buffer: n_vocab * max(n_outputs, n_seq_max) * 4 B (LC:src/llama-context.cpp
// output_reserve, called with n_seq_max at context creation).
constexpr std::uint64_t output_buffer_bytes(std::uint64_t n_vocab, std::uint32_t n_seq) {
    return n_vocab * (n_seq == 0 ? 1 : n_seq) * 4;
}

// llama-server's host memory (LC:common/common.h, 2026 tree 80fb11a lines 629-632; b6845 and
// b7324 default --ctx-checkpoints to 8 and have no --checkpoint-min-step): the prompt cache
// --cache-ram in MiB (-1 no limit, 0 off) and the context checkpoints per slot.
inline constexpr std::int64_t kDefaultCacheRamMib = 8192;
inline constexpr std::uint32_t kDefaultCtxCheckpoints = 32;
inline constexpr std::uint32_t kCheckpointMinStep = 8192;  // --checkpoint-min-step (tokens)

}  // namespace llamacpp

// ---- vLLM V1 (V:vllm/v1/worker/gpu_worker.py, V:vllm/v1/kv_cache_interface.py,
//      V:vllm/engine/arg_utils.py) ----
namespace vllm {

inline constexpr std::uint32_t kBlockSize = 16;  // CacheConfig.DEFAULT_BLOCK_SIZE
// get_batch_defaults for the API server on a device with >= 70 GiB not named A100.
inline constexpr std::uint32_t kMaxNumBatchedTokensLarge = 8192;
inline constexpr std::uint32_t kMaxNumSeqsLarge = 1024;
inline constexpr std::uint32_t kMaxNumBatchedTokensSmall = 2048;
inline constexpr std::uint32_t kMaxNumSeqsSmall = 256;
inline constexpr std::uint64_t kLargeDeviceBytes = 70ull << 30;

constexpr std::uint32_t max_num_batched_tokens(std::uint64_t device_total_bytes) {
    return device_total_bytes >= kLargeDeviceBytes ? kMaxNumBatchedTokensLarge
                                                   : kMaxNumBatchedTokensSmall;
}

constexpr std::uint64_t cdiv(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

// Tokens one request holds in a full-attention layer: cdiv(max_model_len, 16) blocks
// (FullAttentionSpec.max_memory_usage_bytes).
constexpr std::uint64_t full_tokens_per_request(std::uint64_t max_model_len) {
    return cdiv(max_model_len, kBlockSize) * kBlockSize;
}

// Sliding-window layers: min(sliding_window - 1 + max_num_batched_tokens, max_model_len),
// in blocks (SlidingWindowSpec, V:vllm/v1/kv_cache_interface.py).
constexpr std::uint64_t swa_tokens_per_request(std::uint64_t max_model_len, std::uint32_t window,
                                               std::uint32_t batched_tokens) {
    const std::uint64_t need = window == 0 ? max_model_len : window - 1ull + batched_tokens;
    return cdiv(need < max_model_len ? need : max_model_len, kBlockSize) * kBlockSize;
}

// The default --gpu-memory-utilization (0.92, V:vllm/config/cache.py) cannot be met on GB10;
// 0.85 is what works (docs/policy.md, Hardware; https://github.com/vllm-project/recipes/pull/632).
inline constexpr double kSparkGpuMemoryUtilization = 0.85;

}  // namespace vllm

// ---- SGLang (S:python/sglang/srt/server_args.py _handle_gpu_memory_settings,
//      S:python/sglang/srt/model_executor/model_runner.py profile_max_num_token) ----
namespace sglang {

inline constexpr std::uint32_t kPageSize = 1;              // --page-size default
inline constexpr double kSwaFullTokensRatio = 0.8;         // --swa-full-tokens-ratio default
inline constexpr std::uint32_t kMaxPrefillTokens = 16384;  // --max-prefill-tokens default

// Per-GPU defaults by total memory in MiB (S:python/sglang/srt/server_args.py
// _handle_gpu_memory_settings).
struct GpuDefaults {
    std::uint32_t chunked_prefill_size = 0;
    std::uint32_t cuda_graph_max_bs = 0;
};
GpuDefaults gpu_defaults(std::uint64_t gpu_mem_mib, std::uint32_t tp);

// Reserved memory in MiB that mem_fraction_static leaves for activations and CUDA graphs:
// 512 + max(chunked_prefill_size, 2048) * 1.5 + cuda_graph_max_bs * 2 + tp*pp/8 * 1024,
// at least 10240 when gpu_mem > 60 GiB.
struct Reserved {
    double activation_mib = 0;  // max(chunked_prefill_size, 2048) * 1.5
    double other_mib = 0;       // 512 + graphs + tp*pp/8*1024 + the floor's top-up
    double total_mib() const { return activation_mib + other_mib; }
};
Reserved reserved_mib(std::uint64_t gpu_mem_mib, std::uint32_t tp, std::uint32_t pp);

// round((gpu_mem - reserved) / gpu_mem, 3).
double mem_fraction_static(std::uint64_t gpu_mem_mib, std::uint32_t tp, std::uint32_t pp);

}  // namespace sglang

}  // namespace sparkctl::engines
