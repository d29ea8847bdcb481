// Per-engine facts: which weight formats each engine loads, which KV cache types it accepts, and
// the versions these facts describe. Every fact cites its source in
// the engines' public repositories ("LC:" llama.cpp, "V:" vLLM, "S:" SGLang paths;
// docs/dev/engines.md). All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sparkctl::engines {

enum class Engine { llama_cpp, vllm, sglang };

inline constexpr Engine kAllEngines[] = {Engine::llama_cpp, Engine::vllm, Engine::sglang};

// "llama.cpp", "vllm", "sglang": the spelling `--engine` takes and JSON prints.
const char* to_string(Engine engine);

// Case-insensitive; also accepts "llamacpp", "llama-cpp", "llama-server".
// Errors: bad_input naming the value and listing the engines.
base::Result<Engine> parse_engine(std::string_view name);

// The engine version these facts describe (docs/dev/engines.md, "Sources").
std::string_view target_version(Engine engine);

// The weight container an engine loads.
enum class WeightFormat { gguf, safetensors };

// llama.cpp loads GGUF; vLLM and SGLang load safetensors checkpoints (docs/policy.md,
// decision order step 3). vLLM's experimental GGUF path is not planned for.
WeightFormat weight_format(Engine engine);

// A KV cache element type: bytes per element = block_bytes / block_elems (ggml row sizes for
// llama.cpp, LC:ggml/src/ggml-common.h; plain element sizes for vLLM and SGLang).
struct KvCacheType {
    std::string_view name;  // canonical spelling sparkctl prints: "f16", "q8_0", "fp8"
    std::uint32_t block_elems = 1;
    std::uint32_t block_bytes = 2;

    // Bytes of a row of `n` elements; n must be a multiple of block_elems (ggml_row_size).
    std::uint64_t row_bytes(std::uint64_t n) const {
        return (n + block_elems - 1) / block_elems * block_bytes;
    }
};

// KV cache types the engine accepts, "auto" excluded.
// llama.cpp: -ctk/-ctv f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1 (LC:common/arg.cpp).
// vLLM: --kv-cache-dtype auto, fp8 (= fp8_e4m3), fp8_e5m2, bfloat16, float16
//   (V:vllm/config/cache.py CacheDType). SGLang: auto, fp8_e5m2, fp8_e4m3
//   (S:docs/advanced_features/server_arguments.md).
std::span<const KvCacheType> kv_cache_types(Engine engine);

// Resolves a `--kv-cache-dtype` value for `engine`. "auto" (or empty) means the engine's
// default: f16 for llama.cpp (LC:common/common.h), the model dtype (2 bytes) for vLLM and SGLang.
// Accepted spellings are case-insensitive; "fp8" is vLLM's alias of fp8_e4m3 and is accepted for
// SGLang too; "bf16"/"f16"/"fp16" map to the engine's own spelling.
// Errors: bad_input naming the type and the engine, listing what it accepts.
base::Result<KvCacheType> resolve_kv_cache_type(Engine engine, std::string_view name);

// True when llama.cpp's KV cache type needs flash attention (a quantized V cache,
// LC:src/llama-context.cpp).
bool kv_type_needs_flash_attention(const KvCacheType& type);

}  // namespace sparkctl::engines
