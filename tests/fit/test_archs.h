// Architectures for fit tests, from the models' config.json as cited in engines.md and the
// catalog (data/catalog.json).
#pragma once

#include "model/model_spec.h"

namespace sparkctl::fit::testing {

inline model::Arch llama31_8b() {
    model::Arch a;
    a.family = "llama";
    a.n_layers = 32;
    a.hidden_size = 4096;
    a.n_heads = 32;
    a.n_kv_heads = 8;
    a.head_dim = 128;
    a.intermediate_size = 14336;
    a.vocab_size = 128256;
    a.context_length = 131072;
    a.tie_word_embeddings = false;
    return a;
}

inline model::Arch gpt_oss(std::uint32_t layers, std::uint32_t experts) {
    model::Arch a;
    a.family = "gpt-oss";
    a.n_layers = layers;
    a.hidden_size = 2880;
    a.n_heads = 64;
    a.n_kv_heads = 8;
    a.head_dim = 64;
    a.intermediate_size = 2880;
    a.vocab_size = 201088;
    a.context_length = 131072;
    a.sliding_window = 128;
    a.tie_word_embeddings = false;
    for (std::uint32_t i = 0; i < layers; ++i) {
        a.layer_kinds.push_back(i % 2 == 0 ? model::LayerKind::sliding_attention
                                           : model::LayerKind::full_attention);
    }
    model::Moe m;
    m.n_experts = experts;
    m.n_experts_per_token = 4;
    m.expert_intermediate_size = 2880;
    a.moe = m;
    return a;
}

inline model::Arch deepseek_v3() {
    model::Arch a;
    a.family = "deepseek2";
    a.n_layers = 61;
    a.n_mtp_layers = 1;
    a.hidden_size = 7168;
    a.n_heads = 128;
    a.n_kv_heads = 128;
    a.head_dim = 192;
    a.intermediate_size = 18432;
    a.vocab_size = 129280;
    a.context_length = 163840;
    a.tie_word_embeddings = false;
    model::Mla mla;
    mla.kv_lora_rank = 512;
    mla.q_lora_rank = 1536;
    mla.qk_rope_head_dim = 64;
    mla.qk_nope_head_dim = 128;
    mla.v_head_dim = 128;
    a.mla = mla;
    model::Moe m;
    m.n_experts = 256;
    m.n_experts_per_token = 8;
    m.n_shared_experts = 1;
    m.expert_intermediate_size = 2048;
    m.shared_expert_intermediate_size = 2048;
    m.n_leading_dense_layers = 3;
    a.moe = m;
    return a;
}

}  // namespace sparkctl::fit::testing
