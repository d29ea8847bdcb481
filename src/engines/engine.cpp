#include "engines/engine.h"

#include <array>

#include "base/strings.h"

namespace sparkctl::engines {

namespace {

// ggml row sizes (LC:ggml/src/ggml-common.h block_q8_0 etc.), LC:src/llama-kv-cache.cpp (row sizes
// of the K and V tensors).
constexpr std::array kLlamaCppKv = {
    KvCacheType{"f16", 1, 2},      KvCacheType{"f32", 1, 4},    KvCacheType{"bf16", 1, 2},
    KvCacheType{"q8_0", 32, 34},   KvCacheType{"q4_0", 32, 18}, KvCacheType{"q4_1", 32, 20},
    KvCacheType{"iq4_nl", 32, 18}, KvCacheType{"q5_0", 32, 22}, KvCacheType{"q5_1", 32, 24},
};

// V:vllm/config/cache.py CacheDType (the subset that does not depend on a newer build).
constexpr std::array kVllmKv = {
    KvCacheType{"bfloat16", 1, 2}, KvCacheType{"float16", 1, 2},  KvCacheType{"fp8", 1, 1},
    KvCacheType{"fp8_e4m3", 1, 1}, KvCacheType{"fp8_e5m2", 1, 1},
};

// S:docs/advanced_features/server_arguments.md --kv-cache-dtype.
constexpr std::array kSglangKv = {
    KvCacheType{"fp8_e4m3", 1, 1},
    KvCacheType{"fp8_e5m2", 1, 1},
};

std::string accepted_list(Engine engine) {
    std::string out = "auto";
    for (const KvCacheType& t : kv_cache_types(engine)) {
        out += ", ";
        out += t.name;
    }
    return out;
}

}  // namespace

const char* to_string(Engine engine) {
    switch (engine) {
        case Engine::llama_cpp:
            return "llama.cpp";
        case Engine::vllm:
            return "vllm";
        case Engine::sglang:
            return "sglang";
    }
    return "?";
}

base::Result<Engine> parse_engine(std::string_view name) {
    const std::string n = base::to_lower(base::trim(name));
    if (n == "llama.cpp" || n == "llamacpp" || n == "llama-cpp" || n == "llama-server") {
        return Engine::llama_cpp;
    }
    if (n == "vllm") return Engine::vllm;
    if (n == "sglang") return Engine::sglang;
    return base::make_error(
        base::Errc::bad_input,
        "--engine: '" + base::printable(name) + "' is not an engine (llama.cpp, vllm, sglang)");
}

std::string_view target_version(Engine engine) {
    switch (engine) {
        case Engine::llama_cpp:
            return "llama.cpp 2026 tree (node-llama-cpp 3.21.1 bundle, release v0.4.0)";
        case Engine::vllm:
            return "vLLM V1 engine (v0.18 or later)";
        case Engine::sglang:
            return "SGLang (server_args.py with computed mem_fraction_static)";
    }
    return "";
}

WeightFormat weight_format(Engine engine) {
    return engine == Engine::llama_cpp ? WeightFormat::gguf : WeightFormat::safetensors;
}

std::span<const KvCacheType> kv_cache_types(Engine engine) {
    switch (engine) {
        case Engine::llama_cpp:
            return kLlamaCppKv;
        case Engine::vllm:
            return kVllmKv;
        case Engine::sglang:
            return kSglangKv;
    }
    return {};
}

base::Result<KvCacheType> resolve_kv_cache_type(Engine engine, std::string_view name) {
    std::string n = base::to_lower(base::trim(name));
    if (n.empty() || n == "auto") {
        // llama.cpp: -ctk/-ctv default f16 (LC:common/common.h); vLLM/SGLang: the model dtype,
        // bf16 or fp16 for every checkpoint sparkctl plans (2 bytes).
        if (engine == Engine::llama_cpp) return kLlamaCppKv[0];
        return KvCacheType{"auto", 1, 2};
    }
    if (engine == Engine::llama_cpp) {
        if (n == "fp16" || n == "float16") n = "f16";
        if (n == "bfloat16") n = "bf16";
        if (n == "fp32" || n == "float32") n = "f32";
    } else {
        if (n == "bf16") n = "bfloat16";
        if (n == "f16" || n == "fp16") n = "float16";
        if (engine == Engine::sglang && n == "fp8") n = "fp8_e4m3";
        // SGLang's "auto" is the model dtype; bf16/fp16 name the same 2-byte cache.
        if (engine == Engine::sglang && (n == "bfloat16" || n == "float16")) {
            return KvCacheType{"auto", 1, 2};
        }
    }
    for (const KvCacheType& t : kv_cache_types(engine)) {
        if (t.name == n) return t;
    }
    return base::make_error(base::Errc::bad_input, "--kv-cache-dtype: '" + base::printable(name) +
                                                       "' is not a KV cache " + "type " +
                                                       to_string(engine) + " accepts (" +
                                                       accepted_list(engine) + ")");
}

bool kv_type_needs_flash_attention(const KvCacheType& type) { return type.block_elems > 1; }

}  // namespace sparkctl::engines
