#include "fit/weights.h"

#include <string>

#include "model/ggml_types.h"

namespace sparkctl::fit {

namespace {

using model::TensorKind;

struct Builder {
    std::vector<model::Tensor> out;

    void add(std::string name, std::vector<std::uint64_t> shape, TensorKind kind) {
        model::Tensor t;
        t.name = std::move(name);
        t.dtype = "BF16";
        t.n_elements = 1;
        for (std::uint64_t d : shape) t.n_elements *= d;
        t.shape = std::move(shape);
        t.kind = kind;
        out.push_back(std::move(t));
    }
};

std::string blk(std::uint32_t il, const char* name) {
    return "blk." + std::to_string(il) + "." + name;
}

base::Error missing(const char* what) {
    return base::make_error(
        base::Errc::bad_input,
        std::string("architecture too incomplete to price its weights: ") + what + " is unknown");
}

model::LayerKind kind_of(const model::Arch& a, std::uint32_t il) {
    if (il < a.layer_kinds.size()) return a.layer_kinds[il];
    return model::LayerKind::full_attention;
}

std::uint32_t kv_heads_of(const model::Arch& a, std::uint32_t il) {
    if (il < a.n_kv_heads_per_layer.size()) return a.n_kv_heads_per_layer[il];
    return a.n_kv_heads.value_or(a.n_heads.value_or(1));
}

// Nominal bits per weight of a format, for the params-only fallback (LC:ggml/src/ggml-common.h,
// V:vllm/model_executor/layers/quantization/awq.py).
double nominal_bpw(const Quant& q) {
    const std::string& n = q.name;
    if (n == "bf16" || n == "fp16" || n == "BF16" || n == "F16") return 16.0;
    if (n == "F32") return 32.0;
    if (n == "fp8") return 8.002;
    if (n == "awq" || n == "gptq") return 4.16;
    if (n == "nvfp4") return 4.5;
    if (n == "mxfp4" || n == "MXFP4") return 4.25;
    // Whole-file bpw of Llama-3.1-8B (LC:tools/quantize/README.md).
    if (n == "Q8_0") return 8.5008;
    if (n == "Q6_K") return 6.5633;
    if (n == "Q5_K_M") return 5.7036;
    if (n == "Q5_K_S") return 5.5704;
    if (n == "Q4_K_M") return 4.8944;
    if (n == "Q4_K_S") return 4.6672;
    if (n == "IQ4_XS") return 4.4597;
    if (n == "Q3_K_M") return 3.9960;
    // Block layouts (LC:ggml/src/ggml-common.h).
    if (n == "Q4_0" || n == "IQ4_NL") return 4.5;
    if (n == "Q4_1") return 5.0;
    if (n == "Q5_0") return 5.5;
    if (n == "Q5_1") return 6.0;
    if (n == "Q3_K_S" || n == "Q3_K_L") return 3.4375;
    if (n == "Q2_K") return 2.625;
    return 16.0;
}

}  // namespace

base::Result<std::vector<model::Tensor>> synthesize_tensors(const model::Arch& a) {
    if (!a.hidden_size) return missing("hidden_size");
    if (!a.n_layers) return missing("n_layers");
    if (!a.vocab_size) return missing("vocab_size");
    if (!a.n_heads && !a.mla) return missing("n_heads");
    const std::uint64_t h = *a.hidden_size;
    const std::uint64_t vocab = *a.vocab_size;
    const std::uint32_t n_layers = *a.n_layers;
    const std::uint32_t n_all = n_layers + a.n_mtp_layers.value_or(0);
    const std::uint64_t n_head = a.n_heads.value_or(0);
    const std::uint64_t hd = a.head_dim.value_or(n_head ? h / n_head : 0);
    const std::uint64_t hd_v = a.head_dim_v.value_or(hd);
    const std::string& fam = a.family;
    const bool gpt_oss = fam == "gpt-oss";
    const bool attn_bias = gpt_oss || fam == "qwen2" || fam == "qwen2moe";
    const bool qk_norm = fam == "qwen3" || fam == "qwen3moe" || fam == "gemma3" || fam == "olmo2";
    const bool hybrid_single_mixer = a.ssm.has_value() && [&] {
        for (model::LayerKind k : a.layer_kinds) {
            if (k == model::LayerKind::feed_forward) return true;
        }
        return false;
    }();

    Builder b;
    b.add("token_embd.weight", {h, vocab}, TensorKind::embedding);
    b.add("output_norm.weight", {h}, TensorKind::norm);
    // Gemma checkpoints tie the output to the embeddings (llama.cpp loads output as optional).
    const bool tied = a.tie_word_embeddings.value_or(fam.rfind("gemma", 0) == 0);
    if (!tied) {
        b.add("output.weight", {h, vocab}, TensorKind::output);
    }

    for (std::uint32_t il = 0; il < n_all; ++il) {
        const bool mtp = il >= n_layers;
        const model::LayerKind lk = mtp ? model::LayerKind::full_attention : kind_of(a, il);
        const TensorKind k_attn = mtp ? TensorKind::mtp : TensorKind::attention;
        const bool has_attn = lk == model::LayerKind::full_attention ||
                              lk == model::LayerKind::sliding_attention ||
                              lk == model::LayerKind::chunked_attention;
        const bool has_ssm = lk == model::LayerKind::recurrent;
        // Nemotron-H style hybrids: one mixer per block (attention, SSM or FFN alone).
        const bool has_ffn = !hybrid_single_mixer || lk == model::LayerKind::feed_forward;

        b.add(blk(il, "attn_norm.weight"), {h}, TensorKind::norm);
        if (has_attn && a.mla) {
            const model::Mla& m = *a.mla;
            const std::uint64_t qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
            if (m.q_lora_rank > 0) {
                b.add(blk(il, "attn_q_a.weight"), {h, m.q_lora_rank}, k_attn);
                b.add(blk(il, "attn_q_a_norm.weight"), {m.q_lora_rank}, TensorKind::norm);
                b.add(blk(il, "attn_q_b.weight"), {m.q_lora_rank, n_head * qk}, k_attn);
            } else {
                b.add(blk(il, "attn_q.weight"), {h, n_head * qk}, k_attn);
            }
            b.add(blk(il, "attn_kv_a_mqa.weight"), {h, m.kv_lora_rank + m.qk_rope_head_dim},
                  k_attn);
            b.add(blk(il, "attn_kv_a_norm.weight"), {m.kv_lora_rank}, TensorKind::norm);
            b.add(blk(il, "attn_kv_b.weight"),
                  {m.kv_lora_rank, n_head * (m.qk_nope_head_dim + m.v_head_dim)}, k_attn);
            b.add(blk(il, "attn_output.weight"), {n_head * m.v_head_dim, h}, k_attn);
        } else if (has_attn) {
            if (!hd) return missing("head_dim");
            const std::uint64_t nkv = kv_heads_of(a, il);
            b.add(blk(il, "attn_q.weight"), {h, n_head * hd}, k_attn);
            b.add(blk(il, "attn_k.weight"), {h, nkv * hd}, k_attn);
            b.add(blk(il, "attn_v.weight"), {h, nkv * hd_v}, k_attn);
            b.add(blk(il, "attn_output.weight"), {n_head * hd_v, h}, k_attn);
            if (attn_bias) {
                b.add(blk(il, "attn_q.bias"), {n_head * hd}, k_attn);
                b.add(blk(il, "attn_k.bias"), {nkv * hd}, k_attn);
                b.add(blk(il, "attn_v.bias"), {nkv * hd_v}, k_attn);
            }
            if (gpt_oss) {
                b.add(blk(il, "attn_output.bias"), {h}, k_attn);
                b.add(blk(il, "attn_sinks.weight"), {n_head}, k_attn);
            }
            if (qk_norm) {
                b.add(blk(il, "attn_q_norm.weight"), {hd}, TensorKind::norm);
                b.add(blk(il, "attn_k_norm.weight"), {hd}, TensorKind::norm);
            }
        } else if (has_ssm) {
            if (!a.ssm || !a.ssm->d_inner || !a.ssm->d_state) return missing("ssm.d_inner");
            const model::Ssm& s = *a.ssm;
            const std::uint64_t di = *s.d_inner;
            const std::uint64_t ds = *s.d_state;
            const std::uint64_t ng = s.n_group.value_or(1);
            const std::uint64_t nh = s.n_heads.value_or(s.head_dim ? di / *s.head_dim : 1);
            const std::uint64_t conv_dim = di + 2 * ng * ds;
            b.add(blk(il, "ssm_in.weight"), {h, 2 * di + 2 * ng * ds + nh}, TensorKind::ssm);
            b.add(blk(il, "ssm_conv1d.weight"), {s.d_conv.value_or(4), conv_dim}, TensorKind::ssm);
            b.add(blk(il, "ssm_conv1d.bias"), {conv_dim}, TensorKind::ssm);
            b.add(blk(il, "ssm_dt.bias"), {nh}, TensorKind::ssm);
            b.add(blk(il, "ssm_a"), {nh}, TensorKind::ssm);
            b.add(blk(il, "ssm_d"), {nh}, TensorKind::ssm);
            b.add(blk(il, "ssm_norm.weight"), {di}, TensorKind::norm);
            b.add(blk(il, "ssm_out.weight"), {di, h}, TensorKind::ssm);
        }

        if (!has_ffn) continue;
        b.add(blk(il, "ffn_norm.weight"), {h}, TensorKind::norm);
        const bool moe_layer = a.moe && a.moe->n_experts > 1 && il >= a.moe->n_leading_dense_layers;
        const TensorKind k_ffn = mtp ? TensorKind::mtp : TensorKind::ffn;
        if (!moe_layer) {
            if (!a.intermediate_size) return missing("intermediate_size");
            const std::uint64_t ff = *a.intermediate_size;
            // Nemotron-H style hybrids use an ungated (squared ReLU) FFN: up and down only.
            if (!hybrid_single_mixer) b.add(blk(il, "ffn_gate.weight"), {h, ff}, k_ffn);
            b.add(blk(il, "ffn_up.weight"), {h, ff}, k_ffn);
            b.add(blk(il, "ffn_down.weight"), {ff, h}, k_ffn);
            continue;
        }
        const model::Moe& m = *a.moe;
        const std::uint64_t ne = m.n_experts;
        if (!m.expert_intermediate_size && !a.intermediate_size) {
            return missing("moe.expert_intermediate_size");
        }
        const std::uint64_t ffe = m.expert_intermediate_size.value_or(*a.intermediate_size);
        const TensorKind k_exp = mtp ? TensorKind::mtp : TensorKind::ffn_experts;
        b.add(blk(il, "ffn_gate_inp.weight"), {h, ne}, TensorKind::router);
        // LatentMoE: experts at the latent width, between two dense projections
        // (LC:src/models/nemotron-h.cpp ffn_latent_down {n_embd, moe_n_embd}, ffn_latent_up).
        const std::uint64_t he = m.latent_size.value_or(h);
        if (m.latent_size) {
            b.add(blk(il, "ffn_latent_down.weight"), {h, he}, k_ffn);
            b.add(blk(il, "ffn_latent_up.weight"), {he, h}, k_ffn);
        }
        if (!hybrid_single_mixer) b.add(blk(il, "ffn_gate_exps.weight"), {he, ffe, ne}, k_exp);
        b.add(blk(il, "ffn_up_exps.weight"), {he, ffe, ne}, k_exp);
        b.add(blk(il, "ffn_down_exps.weight"), {ffe, he, ne}, k_exp);
        if (gpt_oss) {
            b.add(blk(il, "ffn_gate_inp.bias"), {ne}, TensorKind::router);
            b.add(blk(il, "ffn_gate_exps.bias"), {ffe, ne}, k_exp);
            b.add(blk(il, "ffn_up_exps.bias"), {ffe, ne}, k_exp);
            b.add(blk(il, "ffn_down_exps.bias"), {h, ne}, k_exp);
        }
        if (fam == "deepseek2" || fam == "glm4moe") {
            b.add(blk(il, "exp_probs_b.bias"), {ne}, TensorKind::router);
        }
        if (m.n_shared_experts > 0) {
            const std::uint64_t ffs =
                m.shared_expert_intermediate_size.value_or(ffe * m.n_shared_experts);
            const TensorKind k_sh = mtp ? TensorKind::mtp : TensorKind::ffn_shared;
            if (!hybrid_single_mixer) b.add(blk(il, "ffn_gate_shexp.weight"), {h, ffs}, k_sh);
            b.add(blk(il, "ffn_up_shexp.weight"), {h, ffs}, k_sh);
            b.add(blk(il, "ffn_down_shexp.weight"), {ffs, h}, k_sh);
        }
        if (mtp) {
            // DeepSeek/GLM next-token-prediction block extras (LC:src/llama-arch.cpp NEXTN_*).
            b.add(blk(il, "nextn.eh_proj.weight"), {2 * h, h}, TensorKind::mtp);
            b.add(blk(il, "nextn.enorm.weight"), {h}, TensorKind::norm);
            b.add(blk(il, "nextn.hnorm.weight"), {h}, TensorKind::norm);
            b.add(blk(il, "nextn.shared_head_norm.weight"), {h}, TensorKind::norm);
        }
    }
    return std::move(b.out);
}

base::Result<WeightsEstimate> estimate_weights(const model::Arch& a, const Quant& q) {
    WeightsEstimate est;
    auto tensors = synthesize_tensors(a);
    if (!tensors) {
        if (!a.params_total) return tensors.error();
        est.from_params_only = true;
        est.n_params = *a.params_total;
        est.bytes =
            static_cast<std::uint64_t>(static_cast<double>(*a.params_total) * nominal_bpw(q) / 8.0);
        return est;
    }
    est.tensors = std::move(tensors.value());
    GgufRuleContext ctx;
    ctx.n_layers_all = *a.n_layers + a.n_mtp_layers.value_or(0);
    ctx.n_experts = a.moe ? a.moe->n_experts : 0;
    const std::uint32_t nkv = a.n_kv_heads.value_or(a.n_heads.value_or(1));
    ctx.n_gqa = nkv ? a.n_heads.value_or(nkv) / nkv : 1;
    ctx.tied_embeddings = a.tie_word_embeddings.value_or(a.family.rfind("gemma", 0) == 0);
    ctx.llama_70b = a.family == "llama" && *a.n_layers == 80;
    int n_attn_v = 0;
    for (const model::Tensor& t : est.tensors) {
        if (t.name.find("attn_v.weight") != std::string::npos ||
            t.name.find("attn_kv_b.weight") != std::string::npos) {
            ++n_attn_v;
        }
    }
    int attn_v_index = 0;
    for (model::Tensor& t : est.tensors) {
        est.n_params += t.n_elements;
        if (q.format == engines::WeightFormat::gguf) {
            int layer = -1;
            if (t.name.rfind("blk.", 0) == 0) layer = std::stoi(t.name.substr(4));
            const bool is_v = t.name.find("attn_v.weight") != std::string::npos ||
                              t.name.find("attn_kv_b.weight") != std::string::npos;
            t.dtype = gguf_tensor_type(q, t, layer, attn_v_index, n_attn_v, ctx);
            if (is_v) ++attn_v_index;
            const model::GgmlType* gt = model::ggml_type_by_name(t.dtype);
            auto bytes = gt ? model::ggml_tensor_bytes(*gt, t.shape)
                            : base::Result<std::uint64_t>(t.n_elements * 2);
            t.bytes = bytes ? *bytes : t.n_elements * 2;
        } else {
            t.bytes = safetensors_tensor_bytes(q, t);
            t.dtype = q.name;
        }
        est.bytes += t.bytes;
    }
    return est;
}

}  // namespace sparkctl::fit
