// Quantization schemes as sparkctl plans them, and their per-tensor rules: which tensors stay
// unquantized and what each quantized tensor costs. GGUF rules follow llama.cpp's quantizer
// (LC:src/llama-quant.cpp: tensor_allows_quantization, llama_tensor_get_type_impl,
// tensor_type_fallback); safetensors rules follow each format's layout
// (V:vllm/model_executor/layers/quantization/awq.py, gptq.py; the MXFP4 and NVFP4 blocks as in
// LC:ggml/src/ggml-common.h block_mxfp4, block_nvfp4). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engines/engine.h"
#include "model/model_spec.h"

namespace sparkctl::fit {

struct Quant {
    std::string name;  // canonical: "Q4_K_M", "MXFP4" (GGUF) or "bf16", "awq", ... (safetensors)
    engines::WeightFormat format = engines::WeightFormat::safetensors;
    std::uint32_t ftype = 0;  // llama_ftype (include/llama.h) when format == gguf
};

// Resolves a --quant value (case-insensitive) for an engine: GGUF types for llama.cpp ("q4_k_m"
// -> Q4_K_M, "mxfp4" -> MXFP4, i.e. llama.cpp's MXFP4_MOE), safetensors formats for vLLM and
// SGLang (bf16, fp16, fp8, awq, gptq, nvfp4, mxfp4). Errors: bad_input naming the value, the
// engine, and what it can run.
base::Result<Quant> resolve_quant(engines::Engine engine, std::string_view name);

// Canonical names of every quantization the engine can run, in display order.
std::vector<std::string> runnable_quants(engines::Engine engine);

// True when a published variant `format` (catalog spelling) is the quantization `q`.
bool is_same_quant(const Quant& q, std::string_view variant_format);

// GGUF tensor type llama-quantize gives `tensor` for file type `q` (a ggml type name:
// "Q4_K", "Q6_K", "F32"). `tensor.shape` is in ggml order (shape[0] = row). `layer` is the
// block index or -1; `n_layers_all` counts blocks including MTP blocks.
struct GgufRuleContext {
    std::uint32_t n_layers_all = 0;
    std::uint32_t n_experts = 0;
    std::uint32_t n_gqa = 1;
    bool tied_embeddings = false;
    bool llama_70b = false;  // LLM_TYPE_70B (llama family, 80 layers)
};
std::string gguf_tensor_type(const Quant& q, const model::Tensor& tensor, int layer,
                             int attn_v_index, int n_attn_v, const GgufRuleContext& ctx);

// Bytes of `tensor` in safetensors format `q` (bf16, fp16, fp8, awq, gptq, nvfp4, mxfp4).
std::uint64_t safetensors_tensor_bytes(const Quant& q, const model::Tensor& tensor);

}  // namespace sparkctl::fit
