// config.json parsing: published config.json files of seven models, quantization_config
// variants, and hostile input.
//
// Verbatim published files (tests/data/hf_configs/, sources in SOURCES.md; the same files are
// fuzzing seeds in fuzz/corpus/hf_config/): gpt-oss-120b, Qwen3-30B-A3B, Nemotron-3-Nano.
// No verbatim public copy was found for DeepSeek-V3, gemma-3-27b-it, Llama-4-Scout-Instruct and
// Mistral-Small-3.2: their texts below (and in fuzz/corpus/hf_config/) are UNVERIFIED
// reconstructions of the published files, and so are the expectations read from them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "model/detail/json_limits.h"
#include "model/hf_config.h"

namespace sparkctl::model {
namespace {

// A verbatim published config.json in tests/data/hf_configs/.
HfConfig load_verbatim(const char* file) {
    std::filesystem::path dir;
    if (const char* src = std::getenv("SPARKCTL_SOURCE_DIR")) {
        dir = std::filesystem::path(src) / "tests" / "data" / "hf_configs";
    } else {
        dir = std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "hf_configs";
    }
    auto r = load_hf_config(dir / file);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : HfConfig{};
}

// Unverified reconstructions (see above). The same text is in fuzz/corpus/hf_config/.
// deepseek-v3.json
constexpr const char* kDeepseekV3 = R"json(
{"architectures": ["DeepseekV3ForCausalLM"], "attention_bias": false,
"attention_dropout": 0.0,
"auto_map": {"AutoConfig": "configuration_deepseek.DeepseekV3Config",
"AutoModel": "modeling_deepseek.DeepseekV3Model",
"AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"}, "aux_loss_alpha": 0.001,
"bos_token_id": 0, "eos_token_id": 1, "ep_size": 1, "first_k_dense_replace": 3,
"hidden_act": "silu", "hidden_size": 7168, "initializer_range": 0.02,
"intermediate_size": 18432, "kv_lora_rank": 512, "max_position_embeddings": 163840,
"model_type": "deepseek_v3", "moe_intermediate_size": 2048, "moe_layer_freq": 1,
"n_group": 8, "n_routed_experts": 256, "n_shared_experts": 1, "norm_topk_prob": true,
"num_attention_heads": 128, "num_experts_per_tok": 8, "num_hidden_layers": 61,
"num_key_value_heads": 128, "num_nextn_predict_layers": 1, "pretraining_tp": 1,
"q_lora_rank": 1536, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
"quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3",
"quant_method": "fp8", "weight_block_size": [128, 128]}, "rms_norm_eps": 1e-06,
"rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0,
"mscale_all_dim": 1.0, "original_max_position_embeddings": 4096, "type": "yarn"},
"rope_theta": 10000, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid",
"seq_aux": true, "tie_word_embeddings": false, "topk_group": 4, "topk_method": "noaux_tc",
"torch_dtype": "bfloat16", "transformers_version": "4.33.1", "use_cache": true,
"v_head_dim": 128, "vocab_size": 129280}
)json";

// gemma-3-27b-it.json
constexpr const char* kGemma3_27b = R"json(
{"architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": 255999,
"eoi_token_index": 256000, "eos_token_id": [1, 106], "image_token_index": 262144,
"initializer_range": 0.02, "mm_tokens_per_image": 256, "model_type": "gemma3",
"text_config": {"head_dim": 128, "hidden_size": 5376, "intermediate_size": 21504,
"model_type": "gemma3_text", "num_attention_heads": 32, "num_hidden_layers": 62,
"num_key_value_heads": 16, "query_pre_attn_scalar": 168, "rope_scaling": {"factor": 8.0,
"rope_type": "linear"}, "sliding_window": 1024}, "torch_dtype": "bfloat16",
"transformers_version": "4.50.0.dev0", "vision_config": {"hidden_size": 1152,
"image_size": 896, "intermediate_size": 4304, "model_type": "siglip_vision_model",
"num_attention_heads": 16, "num_hidden_layers": 27, "patch_size": 14,
"vision_use_head": false}}
)json";

// llama-4-scout-17b-16e-instruct.json
constexpr const char* kLlama4Scout = R"json(
{"architectures": ["Llama4ForConditionalGeneration"], "boi_token_index": 200080,
"eoi_token_index": 200081, "image_token_index": 200092, "model_type": "llama4",
"text_config": {"attention_bias": false, "attention_chunk_size": 8192,
"attention_dropout": 0.0, "attn_scale": 0.1, "attn_temperature_tuning": true,
"bos_token_id": 200000, "eos_token_id": [200001, 200007, 200008], "floor_scale": 8192,
"for_llm_compressor": false, "head_dim": 128, "hidden_act": "silu", "hidden_size": 5120,
"initializer_range": 0.02, "interleave_moe_layer_step": 1, "intermediate_size": 8192,
"intermediate_size_mlp": 16384, "max_position_embeddings": 10485760,
"model_type": "llama4_text", "no_rope_layers": [1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1,
0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1,
1, 0], "num_attention_heads": 40, "num_experts_per_tok": 1, "num_hidden_layers": 48,
"num_key_value_heads": 8, "num_local_experts": 16, "output_router_logits": false,
"pad_token_id": 200018, "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 16.0,
"high_freq_factor": 1.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192,
"rope_type": "llama3"}, "rope_theta": 500000.0, "router_aux_loss_coef": 0.001,
"router_jitter_noise": 0.0, "torch_dtype": "bfloat16", "use_cache": true,
"use_qk_norm": true, "vocab_size": 202048}, "tie_word_embeddings": false,
"torch_dtype": "bfloat16", "transformers_version": "4.51.0.dev0",
"vision_config": {"attention_dropout": 0.0, "hidden_act": "gelu", "hidden_size": 1408,
"image_size": 336, "initializer_range": 0.02, "intermediate_size": 5632,
"model_type": "llama4_vision_model", "multi_modal_projector_bias": false, "norm_eps": 1e-05,
"num_attention_heads": 16, "num_channels": 3, "num_hidden_layers": 34, "patch_size": 14,
"pixel_shuffle_ratio": 0.5, "projector_dropout": 0.0, "projector_input_dim": 4096,
"projector_output_dim": 4096, "rope_theta": 10000, "vision_feature_layer": -1,
"vision_feature_select_strategy": "default", "vision_output_dim": 4096}}
)json";

// mistral-small-3.2-24b-instruct-2506.json
constexpr const char* kMistralSmall32 = R"json(
{"architectures": ["Mistral3ForConditionalGeneration"], "image_token_index": 10,
"model_type": "mistral3", "multimodal_projector_bias": false,
"projector_hidden_act": "gelu", "spatial_merge_size": 2,
"text_config": {"attention_dropout": 0.0, "head_dim": 128, "hidden_act": "silu",
"hidden_size": 5120, "initializer_range": 0.02, "intermediate_size": 32768,
"max_position_embeddings": 131072, "model_type": "mistral", "num_attention_heads": 32,
"num_hidden_layers": 40, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
"rope_theta": 1000000000.0, "sliding_window": null, "use_cache": true,
"vocab_size": 131072}, "torch_dtype": "bfloat16", "transformers_version": "4.52.4",
"vision_config": {"attention_dropout": 0.0, "head_dim": 64, "hidden_act": "silu",
"hidden_size": 1024, "image_size": 1540, "initializer_range": 0.02,
"intermediate_size": 4096, "model_type": "pixtral", "num_attention_heads": 16,
"num_channels": 3, "num_hidden_layers": 24, "patch_size": 14, "rope_theta": 10000.0},
"vision_feature_layer": -1}
)json";

HfConfig parse_ok(const char* text) {
    auto r = parse_hf_config(text, "config.json");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : HfConfig{};
}

std::size_t count_kind(const Arch& a, LayerKind k) {
    return static_cast<std::size_t>(std::count(a.layer_kinds.begin(), a.layer_kinds.end(), k));
}

base::Error parse_err(const std::string& text) {
    auto r = parse_hf_config(text, "dir/config.json");
    EXPECT_FALSE(r.ok());
    return r.ok() ? base::Error{} : r.error();
}

TEST(HfConfigReal, GptOss120b) {
    HfConfig c = load_verbatim("openai--gpt-oss-120b.json");
    const Arch& a = c.arch;
    EXPECT_EQ(a.architecture, "GptOssForCausalLM");
    EXPECT_EQ(a.family, "gpt-oss");
    EXPECT_EQ(a.n_layers, 36u);
    EXPECT_EQ(a.hidden_size, 2880u);
    EXPECT_EQ(a.n_heads, 64u);
    EXPECT_EQ(a.n_kv_heads, 8u);
    EXPECT_EQ(a.head_dim, 64u);
    EXPECT_EQ(a.intermediate_size, 2880u);
    EXPECT_EQ(a.vocab_size, 201088u);
    EXPECT_EQ(a.context_length, 131072u);
    EXPECT_EQ(a.sliding_window, 128u);
    ASSERT_EQ(a.layer_kinds.size(), 36u);
    EXPECT_EQ(a.layer_kinds[0], LayerKind::sliding_attention);
    EXPECT_EQ(a.layer_kinds[1], LayerKind::full_attention);
    EXPECT_EQ(count_kind(a, LayerKind::sliding_attention), 18u);
    EXPECT_EQ(count_kind(a, LayerKind::full_attention), 18u);
    ASSERT_TRUE(a.moe);
    EXPECT_EQ(a.moe->n_experts, 128u);
    EXPECT_EQ(a.moe->n_experts_per_token, 4u);
    EXPECT_EQ(a.moe->expert_intermediate_size, 2880u);
    EXPECT_EQ(a.moe->n_shared_experts, 0u);
    ASSERT_TRUE(a.rope);
    EXPECT_EQ(a.rope->scaling_type, "yarn");
    EXPECT_EQ(a.rope->factor, 32.0);
    EXPECT_EQ(a.rope->original_context, 4096u);
    EXPECT_EQ(a.rope->theta, 150000.0);
    EXPECT_EQ(a.tie_word_embeddings, false);
    EXPECT_FALSE(a.mla);
    EXPECT_FALSE(a.vision);
    ASSERT_TRUE(c.quant);
    EXPECT_EQ(c.quant->method, "mxfp4");
    EXPECT_EQ(c.quant->declared, "mxfp4");
    EXPECT_EQ(c.quant->bits, 4u);
    EXPECT_EQ(c.quant->group_size, 32u);
    EXPECT_EQ(c.quant->not_converted,
              (std::vector<std::string>{"model.layers.*.self_attn", "model.layers.*.mlp.router",
                                        "model.embed_tokens", "lm_head"}));
}

TEST(HfConfigReal, Qwen3_30bA3b) {
    HfConfig c = load_verbatim("Qwen--Qwen3-30B-A3B.json");
    const Arch& a = c.arch;
    EXPECT_EQ(a.architecture, "Qwen3MoeForCausalLM");
    EXPECT_EQ(a.family, "qwen3moe");
    EXPECT_EQ(a.n_layers, 48u);
    EXPECT_EQ(a.hidden_size, 2048u);
    EXPECT_EQ(a.n_heads, 32u);
    EXPECT_EQ(a.n_kv_heads, 4u);
    EXPECT_EQ(a.head_dim, 128u);
    EXPECT_EQ(a.intermediate_size, 6144u);
    EXPECT_EQ(a.vocab_size, 151936u);
    EXPECT_EQ(a.context_length, 40960u);
    EXPECT_FALSE(a.sliding_window);  // use_sliding_window false
    EXPECT_TRUE(a.layer_kinds.empty());
    ASSERT_TRUE(a.moe);
    EXPECT_EQ(a.moe->n_experts, 128u);
    EXPECT_EQ(a.moe->n_experts_per_token, 8u);
    EXPECT_EQ(a.moe->expert_intermediate_size, 768u);
    EXPECT_EQ(a.moe->n_shared_experts, 0u);
    EXPECT_EQ(a.moe->n_moe_layers, 48u);
    EXPECT_EQ(a.moe->n_leading_dense_layers, 0u);
    ASSERT_TRUE(a.rope);
    EXPECT_EQ(a.rope->theta, 1e6);
    EXPECT_EQ(a.rope->scaling_type, "");
    EXPECT_EQ(a.tie_word_embeddings, false);
    ASSERT_TRUE(c.quant);
    EXPECT_EQ(c.quant->method, "bf16");
    EXPECT_EQ(c.quant->declared, "bfloat16");
}

TEST(HfConfigReal, DeepseekV3) {
    HfConfig c = parse_ok(kDeepseekV3);
    const Arch& a = c.arch;
    EXPECT_EQ(a.architecture, "DeepseekV3ForCausalLM");
    EXPECT_EQ(a.family, "deepseek2");
    EXPECT_EQ(a.n_layers, 61u);
    EXPECT_EQ(a.n_mtp_layers, 1u);
    EXPECT_EQ(a.hidden_size, 7168u);
    EXPECT_EQ(a.n_heads, 128u);
    EXPECT_EQ(a.n_kv_heads, 128u);
    EXPECT_EQ(a.head_dim, 192u);  // qk_nope 128 + qk_rope 64
    EXPECT_EQ(a.head_dim_v, 128u);
    EXPECT_EQ(a.intermediate_size, 18432u);
    EXPECT_EQ(a.vocab_size, 129280u);
    EXPECT_EQ(a.context_length, 163840u);
    ASSERT_TRUE(a.mla);
    EXPECT_EQ(a.mla->kv_lora_rank, 512u);
    EXPECT_EQ(a.mla->q_lora_rank, 1536u);
    EXPECT_EQ(a.mla->qk_rope_head_dim, 64u);
    EXPECT_EQ(a.mla->qk_nope_head_dim, 128u);
    EXPECT_EQ(a.mla->v_head_dim, 128u);
    ASSERT_TRUE(a.moe);
    EXPECT_EQ(a.moe->n_experts, 256u);
    EXPECT_EQ(a.moe->n_experts_per_token, 8u);
    EXPECT_EQ(a.moe->n_shared_experts, 1u);
    EXPECT_EQ(a.moe->expert_intermediate_size, 2048u);
    EXPECT_EQ(a.moe->shared_expert_intermediate_size, 2048u);
    EXPECT_EQ(a.moe->n_leading_dense_layers, 3u);
    ASSERT_TRUE(a.rope);
    EXPECT_EQ(a.rope->scaling_type, "yarn");
    EXPECT_EQ(a.rope->factor, 40.0);
    EXPECT_EQ(a.rope->original_context, 4096u);
    EXPECT_EQ(a.rope->theta, 10000.0);
    ASSERT_TRUE(c.quant);
    EXPECT_EQ(c.quant->method, "fp8");
    EXPECT_EQ(c.quant->declared, "fp8");
    EXPECT_EQ(c.quant->bits, 8u);
}

TEST(HfConfigReal, Gemma3_27b) {
    HfConfig c = parse_ok(kGemma3_27b);
    const Arch& a = c.arch;
    EXPECT_EQ(a.architecture, "Gemma3ForConditionalGeneration");
    EXPECT_EQ(c.model_type, "gemma3");
    EXPECT_EQ(c.text_model_type, "gemma3_text");
    EXPECT_EQ(a.family, "gemma3");
    EXPECT_EQ(a.n_layers, 62u);
    EXPECT_EQ(a.hidden_size, 5376u);
    EXPECT_EQ(a.n_heads, 32u);
    EXPECT_EQ(a.n_kv_heads, 16u);
    EXPECT_EQ(a.head_dim, 128u);
    EXPECT_EQ(a.intermediate_size, 21504u);
    // Not in the file: Gemma3TextConfig defaults.
    EXPECT_EQ(a.vocab_size, 262208u);
    EXPECT_EQ(a.context_length, 131072u);
    EXPECT_EQ(a.tie_word_embeddings, true);
    EXPECT_EQ(a.sliding_window, 1024u);
    ASSERT_EQ(a.layer_kinds.size(), 62u);
    EXPECT_EQ(a.layer_kinds[0], LayerKind::sliding_attention);
    EXPECT_EQ(a.layer_kinds[5], LayerKind::full_attention);
    EXPECT_EQ(a.layer_kinds[11], LayerKind::full_attention);
    EXPECT_EQ(count_kind(a, LayerKind::full_attention), 10u);
    EXPECT_EQ(count_kind(a, LayerKind::sliding_attention), 52u);
    ASSERT_TRUE(a.rope);
    EXPECT_EQ(a.rope->scaling_type, "linear");
    EXPECT_EQ(a.rope->factor, 8.0);
    EXPECT_EQ(a.rope->theta, 1e6);
    ASSERT_TRUE(a.vision);
    EXPECT_EQ(a.vision->n_layers, 27u);
    EXPECT_EQ(a.vision->hidden_size, 1152u);
    EXPECT_FALSE(a.moe);
    ASSERT_TRUE(c.quant);
    EXPECT_EQ(c.quant->method, "bf16");
}

TEST(HfConfigReal, Nemotron3Nano) {
    HfConfig c = load_verbatim("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json");
    const Arch& a = c.arch;
    EXPECT_EQ(a.architecture, "NemotronHForCausalLM");
    EXPECT_EQ(a.n_layers, 52u);
    EXPECT_EQ(a.hidden_size, 2688u);
    EXPECT_EQ(a.n_heads, 32u);
    EXPECT_EQ(a.n_kv_heads, 2u);
    EXPECT_EQ(a.head_dim, 128u);
    EXPECT_EQ(a.intermediate_size, 1856u);
    EXPECT_EQ(a.vocab_size, 131072u);
    EXPECT_EQ(a.context_length, 262144u);
    ASSERT_EQ(a.layer_kinds.size(), 52u);
    EXPECT_EQ(count_kind(a, LayerKind::recurrent), 23u);
    EXPECT_EQ(count_kind(a, LayerKind::full_attention), 6u);
    EXPECT_EQ(count_kind(a, LayerKind::feed_forward), 23u);
    EXPECT_EQ(a.layer_kinds[0], LayerKind::recurrent);
    EXPECT_EQ(a.layer_kinds[1], LayerKind::feed_forward);
    EXPECT_EQ(a.layer_kinds[5], LayerKind::full_attention);
    ASSERT_TRUE(a.moe);
    EXPECT_EQ(a.moe->n_experts, 128u);
    EXPECT_EQ(a.moe->n_experts_per_token, 6u);
    EXPECT_EQ(a.moe->n_shared_experts, 1u);
    EXPECT_EQ(a.moe->expert_intermediate_size, 1856u);
    EXPECT_EQ(a.moe->shared_expert_intermediate_size, 3712u);
    EXPECT_EQ(a.moe->n_moe_layers, 23u);
    ASSERT_TRUE(a.ssm);
    EXPECT_EQ(a.ssm->n_heads, 64u);
    EXPECT_EQ(a.ssm->head_dim, 64u);
    EXPECT_EQ(a.ssm->d_inner, 4096u);
    EXPECT_EQ(a.ssm->d_state, 128u);
    EXPECT_EQ(a.ssm->n_group, 8u);
    EXPECT_EQ(a.ssm->d_conv, 4u);
    EXPECT_FALSE(a.sliding_window);
    EXPECT_EQ(a.tie_word_embeddings, false);
}

TEST(HfConfigReal, Llama4Scout) {
    HfConfig c = parse_ok(kLlama4Scout);
    const Arch& a = c.arch;
    EXPECT_EQ(a.architecture, "Llama4ForConditionalGeneration");
    EXPECT_EQ(c.text_model_type, "llama4_text");
    EXPECT_EQ(a.family, "llama4");
    EXPECT_EQ(a.n_layers, 48u);
    EXPECT_EQ(a.hidden_size, 5120u);
    EXPECT_EQ(a.n_heads, 40u);
    EXPECT_EQ(a.n_kv_heads, 8u);
    EXPECT_EQ(a.head_dim, 128u);
    EXPECT_EQ(a.intermediate_size, 16384u);  // intermediate_size_mlp: dense FFN
    EXPECT_EQ(a.vocab_size, 202048u);
    EXPECT_EQ(a.context_length, 10485760u);
    EXPECT_EQ(a.sliding_window, 8192u);  // attention_chunk_size
    ASSERT_EQ(a.layer_kinds.size(), 48u);
    EXPECT_EQ(count_kind(a, LayerKind::chunked_attention), 36u);
    EXPECT_EQ(count_kind(a, LayerKind::full_attention), 12u);
    EXPECT_EQ(a.layer_kinds[3], LayerKind::full_attention);
    EXPECT_EQ(a.layer_kinds[4], LayerKind::chunked_attention);
    ASSERT_TRUE(a.moe);
    EXPECT_EQ(a.moe->n_experts, 16u);
    EXPECT_EQ(a.moe->n_experts_per_token, 1u);
    EXPECT_EQ(a.moe->expert_intermediate_size, 8192u);
    EXPECT_EQ(a.moe->n_shared_experts, 1u);
    EXPECT_EQ(a.moe->n_moe_layers, 48u);
    ASSERT_TRUE(a.rope);
    EXPECT_EQ(a.rope->scaling_type, "llama3");
    EXPECT_EQ(a.rope->factor, 16.0);
    EXPECT_EQ(a.rope->original_context, 8192u);
    EXPECT_EQ(a.rope->theta, 500000.0);
    EXPECT_EQ(a.tie_word_embeddings, false);  // top level of the wrapper
    ASSERT_TRUE(a.vision);
    EXPECT_EQ(a.vision->n_layers, 34u);
    EXPECT_EQ(a.vision->hidden_size, 1408u);
}

TEST(HfConfigReal, MistralSmall32) {
    HfConfig c = parse_ok(kMistralSmall32);
    const Arch& a = c.arch;
    EXPECT_EQ(a.architecture, "Mistral3ForConditionalGeneration");
    EXPECT_EQ(c.text_model_type, "mistral");
    EXPECT_EQ(a.family, "llama");
    EXPECT_EQ(a.n_layers, 40u);
    EXPECT_EQ(a.hidden_size, 5120u);
    EXPECT_EQ(a.n_heads, 32u);
    EXPECT_EQ(a.n_kv_heads, 8u);
    EXPECT_EQ(a.head_dim, 128u);  // explicit: hidden/heads would be 160
    EXPECT_EQ(a.intermediate_size, 32768u);
    EXPECT_EQ(a.vocab_size, 131072u);
    EXPECT_EQ(a.context_length, 131072u);
    EXPECT_FALSE(a.sliding_window);
    EXPECT_TRUE(a.layer_kinds.empty());
    ASSERT_TRUE(a.rope);
    EXPECT_EQ(a.rope->theta, 1e9);
    ASSERT_TRUE(a.vision);
    EXPECT_EQ(a.vision->n_layers, 24u);
    EXPECT_EQ(a.vision->hidden_size, 1024u);
    ASSERT_TRUE(c.quant);
    EXPECT_EQ(c.quant->method, "bf16");
}

TEST(HfConfig, HeadDimDefaultsOnlyWhereHfDoes) {
    auto llama =
        parse_ok(R"({"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32})");
    EXPECT_EQ(llama.arch.head_dim, 128u);
    EXPECT_EQ(llama.arch.n_kv_heads, 32u);
    // gpt_oss has its own default; without the key it stays unknown.
    auto oss =
        parse_ok(R"({"model_type": "gpt_oss", "hidden_size": 2880, "num_attention_heads": 64})");
    EXPECT_FALSE(oss.arch.head_dim);
    EXPECT_FALSE(oss.arch.n_kv_heads);
    EXPECT_FALSE(oss.quant);
    EXPECT_FALSE(oss.arch.n_layers);
}

TEST(HfConfig, WholeFloatsAcceptedAsIntegers) {
    auto c = parse_ok(R"({"model_type": "llama", "max_position_embeddings": 4096.0})");
    EXPECT_EQ(c.arch.context_length, 4096u);
}

TEST(HfConfig, QwenSlidingWindowLayers) {
    auto c = parse_ok(R"({"model_type": "qwen2", "num_hidden_layers": 4, "sliding_window": 4096,
        "use_sliding_window": true, "max_window_layers": 2})");
    ASSERT_EQ(c.arch.layer_kinds.size(), 4u);
    EXPECT_EQ(c.arch.layer_kinds[1], LayerKind::full_attention);
    EXPECT_EQ(c.arch.layer_kinds[2], LayerKind::sliding_attention);
    EXPECT_EQ(c.arch.sliding_window, 4096u);
}

TEST(HfConfig, Qwen3MoeSparseStepAndDenseLayers) {
    auto c = parse_ok(R"({"model_type": "qwen3_moe", "num_hidden_layers": 6, "num_experts": 8,
        "num_experts_per_tok": 2, "decoder_sparse_step": 1, "mlp_only_layers": [0, 1]})");
    ASSERT_TRUE(c.arch.moe);
    EXPECT_EQ(c.arch.moe->n_moe_layers, 4u);
    EXPECT_EQ(c.arch.moe->n_leading_dense_layers, 2u);
}

TEST(HfConfig, Glm4MoeFacts) {
    auto c = parse_ok(R"({"architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe",
        "num_hidden_layers": 46, "hidden_size": 4096, "num_attention_heads": 96,
        "num_key_value_heads": 8, "head_dim": 128, "n_routed_experts": 128,
        "num_experts_per_tok": 8, "n_shared_experts": 1, "moe_intermediate_size": 1408,
        "first_k_dense_replace": 1, "num_nextn_predict_layers": 1, "intermediate_size": 10944})");
    ASSERT_TRUE(c.arch.moe);
    EXPECT_EQ(c.arch.family, "glm4moe");
    EXPECT_EQ(c.arch.moe->n_leading_dense_layers, 1u);
    EXPECT_EQ(c.arch.moe->n_shared_experts, 1u);
    EXPECT_EQ(c.arch.moe->shared_expert_intermediate_size, 1408u);
    EXPECT_EQ(c.arch.n_mtp_layers, 1u);
}

TEST(HfConfig, TransformersV5RopeParameters) {
    auto c = parse_ok(R"({"model_type": "llama", "rope_parameters": {"rope_type": "yarn",
        "rope_theta": 50000.0, "factor": 4.0, "original_max_position_embeddings": 32768}})");
    ASSERT_TRUE(c.arch.rope);
    EXPECT_EQ(c.arch.rope->theta, 50000.0);
    EXPECT_EQ(c.arch.rope->scaling_type, "yarn");
    EXPECT_EQ(c.arch.rope->original_context, 32768u);
}

// ---- quantization_config ---------------------------------------------------------------------

TEST(HfConfigQuant, Awq) {
    auto c = parse_ok(R"({"model_type": "qwen2", "quantization_config": {"bits": 4,
        "group_size": 128, "quant_method": "awq", "version": "gemm", "zero_point": true,
        "modules_to_not_convert": ["visual"]}})");
    ASSERT_TRUE(c.quant);
    EXPECT_EQ(c.quant->method, "awq");
    EXPECT_EQ(c.quant->declared, "awq");
    EXPECT_EQ(c.quant->bits, 4u);
    EXPECT_EQ(c.quant->group_size, 128u);
    EXPECT_EQ(c.quant->zero_point, true);
    EXPECT_EQ(c.quant->not_converted, std::vector<std::string>{"visual"});
}

TEST(HfConfigQuant, Gptq) {
    auto c = parse_ok(R"({"quantization_config": {"bits": 4, "group_size": 128,
        "desc_act": false, "sym": true, "quant_method": "gptq"}, "torch_dtype": "float16"})");
    ASSERT_TRUE(c.quant);
    EXPECT_EQ(c.quant->method, "gptq");
    EXPECT_EQ(c.quant->bits, 4u);
    EXPECT_EQ(c.quant->group_size, 128u);
    EXPECT_EQ(c.quant->zero_point, false);
}

TEST(HfConfigQuant, CompressedTensorsNvfp4) {
    auto c = parse_ok(R"({"quantization_config": {"quant_method": "compressed-tensors",
        "format": "nvfp4-pack-quantized", "ignore": ["lm_head"], "config_groups": {"group_0": {
        "targets": ["Linear"], "weights": {"num_bits": 4, "type": "float",
        "strategy": "tensor_group", "group_size": 16, "symmetric": true}}}}})");
    ASSERT_TRUE(c.quant);
    EXPECT_EQ(c.quant->method, "nvfp4");
    EXPECT_EQ(c.quant->declared, "compressed-tensors");
    EXPECT_EQ(c.quant->bits, 4u);
    EXPECT_EQ(c.quant->group_size, 16u);
    EXPECT_EQ(c.quant->not_converted, std::vector<std::string>{"lm_head"});
}

TEST(HfConfigQuant, CompressedTensorsInt4AndFp8) {
    auto asym = parse_ok(R"({"quantization_config": {"quant_method": "compressed-tensors",
        "format": "pack-quantized", "config_groups": {"group_0": {"weights": {"num_bits": 4,
        "type": "int", "strategy": "group", "group_size": 128, "symmetric": false}}}}})");
    ASSERT_TRUE(asym.quant);
    EXPECT_EQ(asym.quant->method, "awq");
    EXPECT_EQ(asym.quant->zero_point, true);
    auto sym = parse_ok(R"({"quantization_config": {"quant_method": "compressed-tensors",
        "format": "pack-quantized", "config_groups": {"group_0": {"weights": {"num_bits": 4,
        "type": "int", "strategy": "group", "group_size": 128, "symmetric": true}}}}})");
    EXPECT_EQ(sym.quant->method, "gptq");
    auto fp8 = parse_ok(R"({"quantization_config": {"quant_method": "compressed-tensors",
        "format": "float-quantized", "config_groups": {"group_0": {"weights": {"num_bits": 8,
        "type": "float", "strategy": "channel"}}}}})");
    EXPECT_EQ(fp8.quant->method, "fp8");
    EXPECT_EQ(fp8.quant->bits, 8u);
}

TEST(HfConfigQuant, ModelOptInConfigAndHfQuantConfig) {
    auto c = parse_ok(R"({"quantization_config": {"quant_method": "modelopt",
        "quant_algo": "FP8", "exclude_modules": ["lm_head"]}})");
    ASSERT_TRUE(c.quant);
    EXPECT_EQ(c.quant->method, "fp8");
    EXPECT_EQ(c.quant->declared, "modelopt");
    auto q = parse_hf_quant_config(R"({"producer": {"name": "modelopt", "version": "0.29.0"},
        "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8", "group_size": 16,
        "exclude_modules": ["lm_head", "model.layers.0.mlp"]}})",
                                   "hf_quant_config.json");
    ASSERT_TRUE(q.ok()) << q.error().message;
    ASSERT_TRUE(q.value());
    EXPECT_EQ(q.value()->method, "nvfp4");
    EXPECT_EQ(q.value()->declared, "modelopt");
    EXPECT_EQ(q.value()->group_size, 16u);
    EXPECT_EQ(q.value()->not_converted.size(), 2u);
    auto none = parse_hf_quant_config(R"({"producer": {"name": "x"}})", "hf_quant_config.json");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none.value());
    auto bad = parse_hf_quant_config(R"({"quantization": {"quant_algo": 4}})", "hq.json");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("quantization.quant_algo"), std::string::npos);
}

TEST(HfConfigQuant, CanonicalNames) {
    EXPECT_EQ(canonical_quant_method("bfloat16"), "bf16");
    EXPECT_EQ(canonical_quant_method("float16"), "fp16");
    EXPECT_EQ(canonical_quant_method("FBGEMM_FP8"), "fp8");
    EXPECT_EQ(canonical_quant_method("AWQ"), "awq");
    EXPECT_EQ(canonical_quant_method("NVFP4"), "nvfp4");
}

// ---- hostile and malformed input -------------------------------------------------------------

TEST(HfConfigBad, WrongTypeNamesFileAndKey) {
    auto e = parse_err(R"({"model_type": "llama", "num_hidden_layers": "36"})");
    EXPECT_EQ(e.code, base::Errc::bad_input);
    EXPECT_NE(e.message.find("dir/config.json"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("'num_hidden_layers'"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("string"), std::string::npos) << e.message;

    e = parse_err(R"({"text_config": {"hidden_size": [5120]}})");
    EXPECT_NE(e.message.find("'text_config.hidden_size'"), std::string::npos) << e.message;
    e = parse_err(R"({"quantization_config": {"quant_method": "awq", "bits": "4"}})");
    EXPECT_NE(e.message.find("'quantization_config.bits'"), std::string::npos) << e.message;
    e = parse_err(R"({"tie_word_embeddings": "false"})");
    EXPECT_NE(e.message.find("tie_word_embeddings"), std::string::npos) << e.message;
    e = parse_err(R"({"num_hidden_layers": -1})");
    EXPECT_NE(e.message.find("negative"), std::string::npos) << e.message;
    e = parse_err(R"({"num_hidden_layers": 5000000000})");
    EXPECT_NE(e.message.find("out of range"), std::string::npos) << e.message;
    e = parse_err(R"({"num_hidden_layers": 1.5})");
    EXPECT_NE(e.message.find("num_hidden_layers"), std::string::npos) << e.message;
    e = parse_err(R"({"text_config": 3})");
    EXPECT_NE(e.message.find("'text_config'"), std::string::npos) << e.message;
    e = parse_err(R"({"architectures": ["A", 1]})");
    EXPECT_NE(e.message.find("architectures"), std::string::npos) << e.message;
    e = parse_err(R"({"rope_scaling": "yarn"})");
    EXPECT_NE(e.message.find("rope_scaling"), std::string::npos) << e.message;
    e = parse_err(R"({"quantization_config": {"quant_method": "fp8",
        "weight_block_size": [128]}})");
    EXPECT_NE(e.message.find("weight_block_size"), std::string::npos) << e.message;
}

TEST(HfConfigBad, LayerPatternsMustMatch) {
    auto e = parse_err(R"({"num_hidden_layers": 3,
        "layer_types": ["full_attention", "sliding_attention"]})");
    EXPECT_NE(e.message.find("layer_types"), std::string::npos) << e.message;
    e = parse_err(R"({"layer_types": ["full_attention", "telepathy"]})");
    EXPECT_NE(e.message.find("telepathy"), std::string::npos) << e.message;
    e = parse_err(R"({"model_type": "nemotron_h", "hybrid_override_pattern": "M*X"})");
    EXPECT_NE(e.message.find("hybrid_override_pattern"), std::string::npos) << e.message;
    e = parse_err(R"({"model_type": "gemma3_text", "num_hidden_layers": 4,
        "sliding_window_pattern": 0})");
    EXPECT_NE(e.message.find("sliding_window_pattern"), std::string::npos) << e.message;
    e = parse_err(R"({"model_type": "deepseek_v3", "num_hidden_layers": 2, "n_routed_experts": 4,
        "first_k_dense_replace": 9})");
    EXPECT_NE(e.message.find("first_k_dense_replace"), std::string::npos) << e.message;
}

TEST(HfConfigBad, NotJsonOrNotObject) {
    EXPECT_NE(parse_err("{\"a\": ").message.find("not valid JSON"), std::string::npos);
    EXPECT_NE(parse_err("[1, 2]").message.find("not a JSON object"), std::string::npos);
    EXPECT_NE(parse_err("").message.find("not valid JSON"), std::string::npos);
    EXPECT_NE(parse_err("{\"a\": \"\xff\"}").message.find("not valid JSON"), std::string::npos);
}

TEST(HfConfigBad, DeepNestingAndSizeAreBounded) {
    std::string deep(100000, '[');
    EXPECT_NE(parse_err(deep).message.find("nested"), std::string::npos);
    std::string nested = "{\"a\": " + std::string(40, '[') + std::string(40, ']') + "}";
    EXPECT_NE(parse_err(nested).message.find("nested"), std::string::npos);
    // Brackets inside strings do not count.
    auto ok = parse_hf_config("{\"model_type\": \"" + std::string(100, '[') + "\"}", "c.json");
    EXPECT_TRUE(ok.ok());
    std::string big = "{\"pad\": \"" + std::string(kHfConfigMaxBytes, 'x') + "\"}";
    EXPECT_NE(parse_err(big).message.find("16 MiB"), std::string::npos);
}

}  // namespace
}  // namespace sparkctl::model

namespace sparkctl::model {
namespace {

TEST(HfConfigPythonJson, InfinityAndNanReadAsNullOutsideStrings) {
    auto c = parse_hf_config(R"({"model_type": "llama", "num_hidden_layers": 2,
        "time_step_limit": [0.0, Infinity], "x": -Infinity, "y": NaN,
        "name": "NaN, Infinity stay in strings"})",
                             "config.json");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->arch.n_layers, 2u);
    EXPECT_EQ(detail::python_json_to_strict(R"({"a": [1, Infinity], "b": "Infinity"})"),
              R"({"a": [1, null], "b": "Infinity"})");
    // An escaped quote does not end a string: its ", Infinity" stays text.
    EXPECT_EQ(detail::python_json_to_strict(R"({"s": "a\", Infinity", "v": [NaN]})"),
              R"({"s": "a\", Infinity", "v": [null]})");
    // Only whole value tokens: an identifier that starts alike is left for the parser to reject.
    EXPECT_FALSE(parse_hf_config(R"({"a": Infinityx})", "config.json").ok());
}

TEST(HfConfigJsonLimits, NestingDepthSkipsStrings) {
    EXPECT_EQ(detail::json_nesting_depth(R"({"a": [[1], {"b": 2}]})", 64), 3u);
    EXPECT_EQ(detail::json_nesting_depth(R"({"a": "[[[{\"[", "b": []})", 64), 2u);
    EXPECT_EQ(detail::json_nesting_depth("[[[[[[", 3), 4u);  // stops at limit + 1
}

}  // namespace
}  // namespace sparkctl::model
