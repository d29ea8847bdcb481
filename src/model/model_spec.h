// ModelSpec: what sparkctl knows about a model, from a catalog entry or read from real files.
// Every fact is optional: std::nullopt means "unknown", and is printed as unknown, never guessed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sparkctl::model {

// What mixes tokens in a layer, as far as the KV cache and recurrent state are concerned.
enum class LayerKind {
    full_attention,     // attends to the whole context (GQA/MQA/MHA, or MLA when Arch::mla is set)
    sliding_attention,  // attends to the last `sliding_window` tokens
    chunked_attention,  // attends within fixed chunks (Llama-4 `attention_chunk_size`)
    recurrent,          // Mamba/SSM mixer: constant per-sequence state, no KV cache
    feed_forward,       // no token mixer at all (Nemotron-H MLP/MoE-only layers)
};

const char* to_string(LayerKind kind);

// Multi-head latent attention (DeepSeek-V2/V3): caches one latent per token per layer.
struct Mla {
    std::uint32_t kv_lora_rank = 0;
    std::uint32_t q_lora_rank = 0;  // 0: queries are not low-rank
    std::uint32_t qk_rope_head_dim = 0;
    std::uint32_t qk_nope_head_dim = 0;
    std::uint32_t v_head_dim = 0;
};

struct Moe {
    std::uint32_t n_experts = 0;
    std::uint32_t n_experts_per_token = 0;
    std::uint32_t n_shared_experts = 0;
    std::optional<std::uint64_t> expert_intermediate_size;
    std::optional<std::uint64_t> shared_expert_intermediate_size;
    std::uint32_t n_leading_dense_layers = 0;  // DeepSeek/GLM first_k_dense_replace
    // Layers that hold routed experts, when the config says which (Nemotron-H 'E' layers,
    // Qwen3-MoE decoder_sparse_step/mlp_only_layers, Llama-4 interleave_moe_layer_step);
    // nullopt: every layer past n_leading_dense_layers.
    std::optional<std::uint32_t> n_moe_layers;
    // Nemotron-H LatentMoE (config moe_latent_size): the routed experts work at this width,
    // between fc1_latent_proj (hidden -> latent) and fc2_latent_proj (latent -> hidden); the
    // router and the shared expert stay at the hidden width (transformers
    // models/nemotron_h/modeling_nemotron_h.py NemotronHMoE). nullopt: experts at hidden width.
    std::optional<std::uint64_t> latent_size;
};

// Mamba2-style recurrent mixer (state per sequence, independent of context length).
struct Ssm {
    std::optional<std::uint32_t> d_conv;   // conv kernel
    std::optional<std::uint32_t> d_inner;  // expand * hidden, = n_heads * head_dim
    std::optional<std::uint32_t> d_state;  // ssm_state_size
    std::optional<std::uint32_t> n_group;
    std::optional<std::uint32_t> n_heads;
    std::optional<std::uint32_t> head_dim;
};

struct Rope {
    std::string scaling_type;  // "" none, "linear", "yarn", "llama3", "dynamic", ...
    std::optional<double> theta;
    std::optional<double> factor;
    std::optional<std::uint64_t> original_context;
};

struct Vision {
    std::optional<std::uint64_t> params;  // parameters of the vision tower (and projector)
    std::optional<std::uint32_t> n_layers;
    std::optional<std::uint32_t> hidden_size;
};

// Architecture facts. Layer counts exclude MTP layers, which are counted in n_mtp_layers.
struct Arch {
    std::string architecture;  // HF class ("GptOssForCausalLM") or GGUF general.architecture
    std::string family;        // llama.cpp's arch name when known: "llama", "gpt-oss", "qwen3moe"
    std::optional<std::uint32_t> n_layers;
    std::optional<std::uint32_t>
        n_mtp_layers;  // extra next-token-prediction layers kept by engines
    std::optional<std::uint64_t> hidden_size;
    std::optional<std::uint32_t> n_heads;
    std::optional<std::uint32_t> n_kv_heads;          // uniform value; per-layer values below win
    std::vector<std::uint32_t> n_kv_heads_per_layer;  // empty unless layers differ
    std::optional<std::uint32_t> head_dim;            // key head dim
    std::optional<std::uint32_t> head_dim_v;         // value head dim when it differs from head_dim
    std::optional<std::uint64_t> intermediate_size;  // dense FFN
    std::optional<std::uint64_t> vocab_size;
    std::optional<std::uint64_t> context_length;  // trained context (max_position_embeddings)
    std::optional<std::uint32_t> sliding_window;  // tokens, for sliding/chunked layers
    std::vector<LayerKind> layer_kinds;  // one per layer when known; empty: see layer_layout()
    std::optional<bool> tie_word_embeddings;
    std::optional<Mla> mla;
    std::optional<Moe> moe;
    std::optional<Ssm> ssm;
    std::optional<Rope> rope;
    std::optional<Vision> vision;
    std::optional<std::uint64_t> params_total;   // parameters, all (text + vision when present)
    std::optional<std::uint64_t> params_active;  // per token, for MoE
};

// The per-layer layout: layer_kinds when given; otherwise all full attention when nothing
// suggests another layout (n_layers known, no sliding window, no SSM, no chunked attention);
// otherwise nullopt (unknown: e.g. a hybrid model whose pattern was not published).
std::optional<std::vector<LayerKind>> layer_layout(const Arch& arch);

// Where a weight tensor belongs, for the inventory and for quantization rules.
enum class TensorKind {
    embedding,
    output,       // lm_head
    attention,    // q/k/v/o projections, MLA down/up projections, sinks
    ffn,          // dense feed-forward
    ffn_experts,  // routed MoE experts (the bulk of a MoE model)
    ffn_shared,   // shared experts
    router,       // MoE gate
    ssm,          // Mamba mixer
    norm,
    vision,  // vision tower and projector
    mtp,     // next-token-prediction layers
    other,
};

const char* to_string(TensorKind kind);

struct Tensor {
    std::string name;
    std::string dtype;  // canonical: GGUF types as ggml names ("Q4_K", "MXFP4", "BF16");
                        // safetensors dtypes as in the header ("BF16", "F8_E4M3", "U8", "I32")
    std::vector<std::uint64_t> shape;
    std::uint64_t n_elements = 0;
    std::uint64_t bytes = 0;
    TensorKind kind = TensorKind::other;
    std::uint32_t file_index = 0;  // into ModelSpec::files
};

// The checkpoint's quantization, as its files declare it.
struct Quantization {
    std::string method;    // canonical: bf16, fp16, fp8, awq, gptq, nvfp4, mxfp4, or a GGUF file
                           // type in llama.cpp's spelling (Q4_K_M, Q8_0, MXFP4, ...)
    std::string declared;  // as written in the file ("compressed-tensors", "modelopt", "awq")
    std::optional<std::uint32_t> bits;
    std::optional<std::uint32_t> group_size;
    std::optional<bool> zero_point;
    std::vector<std::string> not_converted;  // modules kept unquantized (patterns as declared)
};

enum class SourceKind { catalog, gguf, safetensors, config_json, hf_cache };

const char* to_string(SourceKind kind);

struct ModelSpec {
    std::string name;  // catalog id, or the file/dir stem
    SourceKind source = SourceKind::catalog;
    std::vector<std::filesystem::path> files;  // files read (all shards)
    std::string hf_id;                         // "openai/gpt-oss-120b" when known
    Arch arch;
    std::optional<Quantization> quant;
    std::vector<Tensor> tensors;                 // empty unless read from weight files
    std::optional<std::uint64_t> weights_bytes;  // sum of tensor bytes, when read from files
    std::optional<std::uint64_t> file_bytes;     // total bytes on disk of `files`
};

// Tensor inventory grouped by (kind, dtype), for `inspect`.
struct InventoryRow {
    TensorKind kind = TensorKind::other;
    std::string dtype;
    std::uint64_t count = 0;
    std::uint64_t n_elements = 0;
    std::uint64_t bytes = 0;
};

std::vector<InventoryRow> summarize_tensors(const std::vector<Tensor>& tensors);

}  // namespace sparkctl::model
