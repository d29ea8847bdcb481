#include "fit/performance.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/strings.h"
#include "engines/alloc.h"
#include "fit/memory.h"
#include "fit/quant.h"
#include "fit/weights.h"

namespace sparkctl::fit {

namespace {

using engines::Engine;
using model::LayerKind;
using model::TensorKind;

std::uint32_t kv_heads_of(const model::Arch& a, std::uint32_t il) {
    if (il < a.n_kv_heads_per_layer.size()) return a.n_kv_heads_per_layer[il];
    return a.n_kv_heads.value_or(a.n_heads.value_or(1));
}

double row_bytes(const engines::KvCacheType& t, double n) {
    return n * t.block_bytes / t.block_elems;
}

// Fraction of an MoE layer's experts that `tokens` tokens touch, each routed to k of E experts
// uniformly at random: 1 - (1 - k/E)^tokens (the expected union). Uniform routing maximises it:
// the sum over experts of 1 - (1 - p_e)^tokens with sum p_e = k is concave in p, so any skew
// touches fewer on average.
double expert_fraction(const ModelCosts& m, double tokens) {
    if (m.n_experts <= 0 || m.expert_weight_bytes <= 0) return 0;
    const double p = std::min(1.0, m.n_experts_per_token / m.n_experts);
    return 1.0 - std::pow(1.0 - p, std::max(0.0, tokens));
}

// Independent routing draws `n_seqs` sequences decoding together amount to (expert_overlap).
double effective_seqs(double n_seqs, double overlap) {
    return n_seqs <= 1 ? n_seqs : n_seqs / (1.0 + (n_seqs - 1.0) * overlap);
}

// Bytes of the MXFP4 layout of an [in, out...] matrix: E2M1 (4 bits) and one E8M0 scale per 32
// (V:vllm/model_executor/layers/quantization/mxfp4.py create_weights).
double mxfp4_bytes(const model::Tensor& t) {
    const double n = static_cast<double>(t.n_elements);
    const double in = static_cast<double>(t.shape[0]);
    return n / 2.0 + std::ceil(in / 32.0) * (n / in);
}

double attended(const LayerCosts& l, double ctx) {
    return l.window > 0 ? std::min(ctx, l.window) : ctx;
}

// KV cache and recurrent state bytes one sequence reads per decode step at `ctx` tokens.
double kv_bytes_per_seq(const ModelCosts& m, double ctx) {
    double kv = 0;
    for (const LayerCosts& l : m.layers)
        kv += l.kv_bytes_per_token * attended(l, ctx) + l.state_bytes;
    return kv;
}

double allreduce_s(const ModelCosts& m, const PerfConstants& c, const HwCaps& hw, double tokens,
                   std::uint32_t nodes) {
    if (nodes <= 1) return 0;
    // Two all-reduces per layer (attention output, FFN output) of tokens x hidden BF16 values;
    // a ring moves 2 (N-1)/N of the buffer over each link.
    const double n = nodes;
    const double buffer = tokens * m.hidden * 2.0;
    const double link = hw.interconnect_bytes_per_s.value_or(0);
    const double wire = link > 0 ? 2.0 * (n - 1) / n * buffer / link : 0;
    return 2.0 * m.n_layers * (c.allreduce_latency_s + wire);
}

// F32 bytes llama.cpp's FFN graph moves per token (written once, read back once), all layers.
// Each op of LC:src/llama-graph.cpp build_ffn / build_moe_ffn materialises an F32 tensor: MoE
// layer of k experts of width F: gate and up ([F, k] each, written by mul_mat_id), the GLU
// (reads both, writes [F, k]), the down input quantized (reads [F, k]): 6kF; the down output,
// its scaling by the router weights (read, write) and the sum over the k experts: 4kH + H.
// A dense FFN is the k = 1 case without the router sum (6F + 4H). Shared experts run as a dense
// FFN of their width. Counted for the layers that hold an FFN (the feed_forward layers of hybrid
// layouts, else every layer); the first n_leading_dense_layers are dense.
double activation_bytes_per_token(const model::Arch& a,
                                  const std::vector<model::LayerKind>& kinds) {
    const double h = static_cast<double>(a.hidden_size.value_or(0));
    std::uint32_t ffn_layers = 0;
    for (LayerKind k : kinds) ffn_layers += k == LayerKind::feed_forward;
    if (ffn_layers == 0) ffn_layers = static_cast<std::uint32_t>(kinds.size());
    auto dense = [&](double f) { return f > 0 ? 6.0 * f + 4.0 * h : 0.0; };
    std::uint32_t moe_layers = 0;
    double floats = 0;
    if (a.moe && a.moe->n_experts > 1) {
        const std::uint32_t lead = std::min(a.moe->n_leading_dense_layers, ffn_layers);
        moe_layers = std::min(a.moe->n_moe_layers.value_or(ffn_layers - lead), ffn_layers - lead);
        const double k = a.moe->n_experts_per_token;
        const double f = static_cast<double>(a.moe->expert_intermediate_size.value_or(0));
        const double shared =
            a.moe->n_shared_experts *
            static_cast<double>(a.moe->shared_expert_intermediate_size.value_or(0));
        floats += moe_layers * (6.0 * k * f + 4.0 * k * h + h + dense(shared));
    }
    floats +=
        (ffn_layers - moe_layers) * dense(static_cast<double>(a.intermediate_size.value_or(0)));
    return 4.0 * floats;
}

}  // namespace

const char* to_string(WeightLayout layout) {
    return layout == WeightLayout::stock ? "stock" : "mxfp4-layers=moe,qkv,o,lm_head";
}

std::optional<WeightLayout> parse_weight_layout(std::string_view text) {
    if (text.empty()) return WeightLayout::stock;
    for (WeightLayout l : {WeightLayout::stock, WeightLayout::mxfp4_all_linear})
        if (text == to_string(l)) return l;
    return std::nullopt;
}

base::Result<ModelCosts> model_costs(const model::ModelSpec& spec, Engine engine,
                                     std::string_view quant, std::string_view kv_cache_dtype,
                                     WeightLayout layout) {
    if (layout == WeightLayout::mxfp4_all_linear &&
        (engine == Engine::llama_cpp || !base::iequals(quant, "mxfp4"))) {
        return base::make_error(base::Errc::bad_input,
                                std::string("weight layout ") + to_string(layout) +
                                    " needs --quant mxfp4 on vllm or sglang");
    }
    auto kv = engines::resolve_kv_cache_type(engine, kv_cache_dtype);
    if (!kv) return kv.error();
    const model::Arch& a = spec.arch;
    if (const std::string missing = missing_facts(a); !missing.empty()) {
        return base::make_error(base::Errc::bad_input, "cannot price speed: unknown " + missing);
    }

    std::vector<model::Tensor> tensors;
    bool params_only = false;
    std::uint64_t params_bytes = 0;
    const bool file_quant = spec.source != model::SourceKind::catalog && spec.quant &&
                            !spec.tensors.empty() && base::iequals(spec.quant->method, quant);
    if (file_quant) {
        tensors = spec.tensors;
    } else {
        auto q = resolve_quant(engine, quant);
        if (!q) return q.error();
        auto w = estimate_weights(a, *q);
        if (!w) return w.error();
        tensors = std::move(w->tensors);
        params_only = w->from_params_only;
        params_bytes = w->bytes;
    }

    ModelCosts m;
    m.n_layers = a.n_layers.value_or(0);
    m.hidden = static_cast<double>(a.hidden_size.value_or(0));
    if (a.moe && a.moe->n_experts > 1) {
        m.n_experts = a.moe->n_experts;
        m.n_experts_per_token = a.moe->n_experts_per_token;
    }
    if (params_only || tensors.empty()) {
        // No inventory: read the active share of the weights, as if dense.
        m.from_params_only = true;
        const double total = static_cast<double>(a.params_total.value_or(0));
        const double active =
            static_cast<double>(a.params_active.value_or(a.params_total.value_or(0)));
        if (total <= 0) {
            return base::make_error(base::Errc::bad_input,
                                    "cannot price the weights: params_total is unknown");
        }
        m.dense_weight_bytes = static_cast<double>(params_bytes) * active / total;
        m.dense_flops_per_token = 2.0 * active;
        m.n_experts = 0;
    } else {
        bool has_output = false;
        for (const model::Tensor& t : tensors) has_output |= t.kind == TensorKind::output;
        double expert_params = 0;
        for (const model::Tensor& t : tensors) {
            double bytes = static_cast<double>(t.bytes);
            const double n = static_cast<double>(t.n_elements);
            // --mxfp4-layers moe,qkv,o,lm_head: the attention matrices and lm_head as MXFP4
            // (biases and sinks stay BF16).
            if (layout == WeightLayout::mxfp4_all_linear && t.shape.size() >= 2 &&
                (t.kind == TensorKind::attention || t.kind == TensorKind::output)) {
                bytes = mxfp4_bytes(t);
            }
            switch (t.kind) {
                case TensorKind::embedding:
                    // A lookup reads a few rows; tied embeddings are also the output matrix.
                    if (!has_output) {
                        m.dense_weight_bytes += bytes;
                        m.output_flops_per_token += 2.0 * n;
                    }
                    break;
                case TensorKind::output:
                    m.dense_weight_bytes += bytes;
                    m.output_flops_per_token += 2.0 * n;
                    break;
                case TensorKind::ffn_experts:
                    m.expert_weight_bytes += bytes;
                    expert_params += n;
                    break;
                case TensorKind::mtp:     // not run without speculative decoding
                case TensorKind::vision:  // not run for text
                    break;
                default:
                    m.dense_weight_bytes += bytes;
                    if (t.shape.size() >= 2) m.dense_flops_per_token += 2.0 * n;
                    break;
            }
        }
        if (m.n_experts > 0) {
            m.expert_flops_per_token = 2.0 * expert_params * m.n_experts_per_token / m.n_experts;
        } else {
            // Experts without a router count as dense (should not happen).
            m.dense_weight_bytes += m.expert_weight_bytes;
            m.dense_flops_per_token += 2.0 * expert_params;
            m.expert_weight_bytes = 0;
        }
    }

    auto layers = model::layer_layout(a);
    if (!layers) {
        return base::make_error(base::Errc::bad_input,
                                "cannot price attention: the layer layout is unknown");
    }
    if (engine == Engine::llama_cpp)
        m.activation_bytes_per_token = activation_bytes_per_token(a, *layers);
    const double n_heads = a.n_heads.value_or(0);
    const double hd_k =
        a.head_dim ? *a.head_dim
                   : (n_heads > 0 ? static_cast<double>(a.hidden_size.value_or(0)) / n_heads : 0);
    const double hd_v = a.head_dim_v ? *a.head_dim_v : hd_k;
    for (std::uint32_t il = 0; il < layers->size(); ++il) {
        LayerCosts l;
        l.kind = (*layers)[il];
        switch (l.kind) {
            case LayerKind::full_attention:
            case LayerKind::sliding_attention:
            case LayerKind::chunked_attention: {
                if (a.mla) {
                    const double latent = a.mla->kv_lora_rank + a.mla->qk_rope_head_dim;
                    l.kv_bytes_per_token = row_bytes(*kv, latent);
                    l.attn_flops_per_ctx_token = 2.0 * n_heads * (latent + a.mla->kv_lora_rank);
                } else {
                    const double nkv = kv_heads_of(a, il);
                    l.kv_bytes_per_token = row_bytes(*kv, nkv * hd_k) + row_bytes(*kv, nkv * hd_v);
                    l.attn_flops_per_ctx_token = 2.0 * n_heads * (hd_k + hd_v);
                }
                if (l.kind != LayerKind::full_attention) l.window = a.sliding_window.value_or(0);
                break;
            }
            case LayerKind::recurrent: {
                if (a.ssm) {
                    const double d_conv = a.ssm->d_conv.value_or(4);
                    const double d_inner = a.ssm->d_inner.value_or(0);
                    const double d_state = a.ssm->d_state.value_or(0);
                    const double ng = a.ssm->n_group.value_or(1);
                    // conv + SSM state in f32, read and written once per step.
                    l.state_bytes =
                        2.0 * 4.0 *
                        ((d_conv - 1) * (d_inner + 2 * ng * d_state) + d_state * d_inner);
                }
                break;
            }
            case LayerKind::feed_forward:
                break;
        }
        m.layers.push_back(l);
    }
    return m;
}

std::string quant_family(Engine engine, std::string_view quant, WeightLayout layout) {
    if (layout == WeightLayout::mxfp4_all_linear) return "mxfp4-layers";
    const std::string q = base::to_lower(quant);
    if (engine == Engine::llama_cpp) {
        if (q == "mxfp4" || q == "mxfp4_moe") return "mxfp4";
        if (q == "f16" || q == "bf16" || q == "f32") return "float";
        return "ggml";
    }
    if (q == "fp8") return "fp8";
    if (q == "awq" || q == "gptq") return "int4";
    if (q == "nvfp4" || q == "mxfp4") return q;  // different kernels (Marlin MXFP4 vs NVFP4)
    return "float";
}

namespace {

ResolvedConstants resolve_unlabelled(const ConstantsTable& table, Engine engine,
                                     std::string_view family, std::string_view quant) {
    ResolvedConstants r;
    auto find_engine = [&](Engine e) -> const EngineConstants* {
        for (const EngineConstants& ec : table.engines)
            if (ec.engine == e) return &ec;
        return nullptr;
    };
    auto find_family = [](const EngineConstants* ec, std::string_view f) -> const FamilyConstants* {
        if (!ec) return nullptr;
        for (const FamilyConstants& fc : ec->families)
            if (fc.family == f) return &fc;
        return nullptr;
    };
    const EngineConstants* ec = find_engine(engine);
    const EngineConstants* lc = find_engine(Engine::llama_cpp);
    const std::string own = std::string(engines::to_string(engine)) + "/" + std::string(family);
    if (!ec) ec = lc;
    if (!ec) {
        r.source = own + " <- none (no constants: ideal hardware)";
        return r;
    }
    r.constants = ec->shared;
    const FamilyConstants* fc = find_family(ec, family);
    if (fc) {
        r.source = own;
        r.calibrated = !fc->fitted.empty();
    } else {
        // A family no measurement covers: the nearest llama.cpp family.
        std::string mapped = "ggml";
        if (family.find("fp4") != std::string_view::npos) mapped = "mxfp4";
        if (family == "float") mapped = "float";
        fc = find_family(lc, mapped);
        if (!fc) {
            mapped = "ggml";
            fc = find_family(lc, mapped);
        }
        r.source = own + " <- llama.cpp/" + mapped;
    }
    std::string type_prefix;  // "ggml/q8_0." when the type's own gemm_eff is used
    if (fc) {
        r.constants.weights_bw_eff = fc->weights_bw_eff;
        r.constants.gemm_eff = fc->gemm_eff;
        const std::string q = base::to_lower(quant);
        for (const TypeGemmConstants& tc : fc->types) {
            if (q.empty() || tc.quant != q) continue;
            r.constants.gemm_eff = tc.gemm_eff;
            r.source += "/" + q;
            type_prefix = fc->family + "/" + q + ".";
        }
    }
    // Constants at a bound: the engine's shared ones, and the family's (of the engine the family
    // constants came from).
    const EngineConstants* fam_owner = fc && find_family(ec, fc->family) == fc ? ec : lc;
    for (const std::string& name : ec->at_bound) {
        if (name.find('.') == std::string::npos) {
            r.at_bound.push_back(std::string(engines::to_string(ec->engine)) + "/" + name);
        }
    }
    if (fc && fam_owner) {
        const std::string prefix = fc->family + ".";
        for (const std::string& name : fam_owner->at_bound) {
            // The family's gemm_eff is not used when the type has its own.
            const bool family_gemm_unused = !type_prefix.empty() && name == prefix + "gemm_eff";
            if ((name.rfind(prefix, 0) == 0 && !family_gemm_unused) ||
                (!type_prefix.empty() && name.rfind(type_prefix, 0) == 0)) {
                r.at_bound.push_back(std::string(engines::to_string(fam_owner->engine)) + "/" +
                                     name);
            }
        }
    }
    return r;
}

}  // namespace

ResolvedConstants resolve_constants(const ConstantsTable& table, Engine engine,
                                    std::string_view family, std::string_view quant) {
    ResolvedConstants r = resolve_unlabelled(table, engine, family, quant);
    if (!table.label.empty()) r.source += " (" + table.label + ")";
    return r;
}

std::optional<double> reference_flops(const hw::HardwareProfile& p) {
    std::optional<double> best;
    auto take = [&](const std::optional<double>& v) {
        if (v && *v > 0 && (!best || *v > *best)) best = *v;
    };
    for (const hw::ComputePeaks* c : {&p.compute_sparse, &p.compute_dense}) {
        take(c->fp4_flops_per_s);
        take(c->fp8_flops_per_s);
        take(c->bf16_flops_per_s);
        take(c->int8_ops_per_s);
    }
    return best;
}

base::Result<HwCaps> hw_caps(const hw::HardwareProfile& p) {
    if (!p.memory_bandwidth_bytes_per_s || *p.memory_bandwidth_bytes_per_s == 0) {
        return base::make_error(
            base::Errc::bad_input,
            "hardware profile '" + p.name + "': memory bandwidth unknown, cannot predict speed");
    }
    HwCaps h;
    h.memory_bandwidth_bytes_per_s = static_cast<double>(*p.memory_bandwidth_bytes_per_s);
    h.reference_flops_per_s = reference_flops(p);
    if (p.interconnect_gbps && *p.interconnect_gbps > 0) {
        h.interconnect_bytes_per_s = *p.interconnect_gbps * 1e9 / 8.0;
    }
    h.memory_total_bytes = p.memory_total_bytes;
    return h;
}

std::uint32_t default_ubatch(Engine engine, std::uint64_t memory_total_bytes) {
    switch (engine) {
        case Engine::llama_cpp:
            // LC:benches/dgx-spark.md runs llama-bench and llama-batched-bench at -ub 2048 (the
            // rows of data/perf-measurements.tsv); llama.cpp's own default is 512
            // (LC:common/common.h n_ubatch), which this model prefills MoE models ~1.9x slower at
            // (no -ub 512 MoE measurement is held).
            return 2048;
        case Engine::vllm:
            return engines::vllm::max_num_batched_tokens(memory_total_bytes);
        case Engine::sglang: {
            const std::uint32_t c =
                engines::sglang::gpu_defaults(memory_total_bytes >> 20, 1).chunked_prefill_size;
            return c > 0 ? c : 2048;
        }
    }
    return 512;
}

double decode_ceiling_tokens_per_s(const ModelCosts& m, const HwCaps& hw, double n_seqs, double ctx,
                                   std::uint32_t nodes, double* bytes) {
    const double n = std::max<std::uint32_t>(1, nodes);
    const double b = (m.dense_weight_bytes + m.expert_weight_bytes * expert_fraction(m, 1.0) +
                      n_seqs * kv_bytes_per_seq(m, ctx)) /
                     n;
    if (bytes) *bytes = b;
    return n_seqs * hw.memory_bandwidth_bytes_per_s / b;
}

StepTime decode_step(const ModelCosts& m, const PerfConstants& c, const HwCaps& hw, double n_seqs,
                     double ctx, std::uint32_t nodes, double* bytes) {
    const double n = std::max<std::uint32_t>(1, nodes);
    const double weights =
        m.dense_weight_bytes +
        m.expert_weight_bytes * expert_fraction(m, effective_seqs(n_seqs, c.expert_overlap));
    const double kv = n_seqs * kv_bytes_per_seq(m, ctx);
    double attn = 0;
    for (const LayerCosts& l : m.layers) attn += l.attn_flops_per_ctx_token * attended(l, ctx);
    attn *= n_seqs;
    const double linear =
        n_seqs * (m.dense_flops_per_token + m.expert_flops_per_token + m.output_flops_per_token);
    const double bw = hw.memory_bandwidth_bytes_per_s;
    StepTime s;
    s.weights_s = weights / n / (bw * c.weights_bw_eff);
    s.kv_s = kv / n / (bw * c.kv_bw_eff);
    if (hw.reference_flops_per_s) {
        const double peak = *hw.reference_flops_per_s;
        s.linear_s = linear / n / (peak * c.gemm_eff);
        s.attention_s = attn / n / (peak * c.attn_eff);
    }
    s.overhead_s = m.n_layers * c.layer_overhead_s + n_seqs * c.seq_overhead_s;
    s.allreduce_s = allreduce_s(m, c, hw, n_seqs, nodes);
    if (bytes) *bytes = (weights + kv) / n;
    return s;
}

double prefill_time_s(const ModelCosts& m, const PerfConstants& c, const HwCaps& hw,
                      double n_prompts, double prompt, double depth, double ubatch,
                      std::uint32_t nodes, double* flops) {
    const double n = std::max<std::uint32_t>(1, nodes);
    const double total = n_prompts * prompt;
    if (total <= 0) {
        if (flops) *flops = 0;
        return 0;
    }
    const double passes = std::ceil(total / std::max(1.0, ubatch));
    const double u = total / passes;          // tokens per pass
    const double ctx = depth + prompt / 2.0;  // causal: the average query sees half its prompt
    double attn_per_token = 0;
    for (const LayerCosts& l : m.layers)
        attn_per_token += l.attn_flops_per_ctx_token * attended(l, ctx);
    const double weights = m.dense_weight_bytes + m.expert_weight_bytes * expert_fraction(m, u);
    const double f_dense =
        u * m.dense_flops_per_token + n_prompts / passes * m.output_flops_per_token;
    const double f_expert = u * m.expert_flops_per_token;
    const double f_attn = u * attn_per_token;
    const double peak = hw.reference_flops_per_s.value_or(0);
    // Small GEMMs fill the tensor cores less: efficiency m / (m + m0) at m rows per matrix.
    auto fill = [&](double rows) {
        return c.moe_half_tokens > 0 ? rows / (rows + c.moe_half_tokens) : 1.0;
    };
    const double expert_rows = m.n_experts > 0 ? u * m.n_experts_per_token / m.n_experts : u;
    double t = weights / n / (hw.memory_bandwidth_bytes_per_s * c.weights_bw_eff);
    if (peak > 0) {
        t += f_dense / n / (peak * c.gemm_eff * fill(u));
        t += f_expert / n / (peak * c.gemm_eff * fill(expert_rows));
        t += f_attn / n / (peak * c.attn_eff);
    }
    // Charged at the full bandwidth (no constant is fitted to it): the least time that traffic
    // takes. Without it, qwen3-coder-30b-a3b (the most intermediate bytes per FLOP) was
    // predicted at +14.7% on pp2048 (docs/dev/performance-model.md, "MoE prefill").
    t += u * m.activation_bytes_per_token / n / hw.memory_bandwidth_bytes_per_s;
    t += m.n_layers * c.layer_overhead_s;
    t += allreduce_s(m, c, hw, u, nodes);
    if (flops) *flops = passes * (f_dense + f_expert + f_attn) / n;
    return passes * t;
}

base::Result<Performance> predict(const ModelCosts& m, const ResolvedConstants& rc,
                                  const HwCaps& hw, Engine engine, const PerfRequest& req) {
    if (req.parallel == 0 || req.nodes == 0) {
        return base::make_error(base::Errc::bad_input, "--parallel and --nodes must be at least 1");
    }
    if (req.nodes > 1 && !hw.interconnect_bytes_per_s) {
        return base::make_error(base::Errc::bad_input,
                                "--nodes " + std::to_string(req.nodes) +
                                    ": the hardware profile has no interconnect bandwidth");
    }
    const PerfConstants& c = rc.constants;
    Performance p;
    p.parallel = req.parallel;
    p.depth = req.depth;
    p.prompt = req.prompt;
    p.nodes = req.nodes;
    p.ubatch = req.ubatch ? req.ubatch : default_ubatch(engine, hw.memory_total_bytes);
    p.constants_source = rc.source;
    p.calibrated = rc.calibrated;

    const double np = req.parallel;
    const double depth = static_cast<double>(req.depth);
    double bytes = 0;
    const StepTime st = decode_step(m, c, hw, np, depth, req.nodes, &bytes);
    p.decode_tokens_per_s_total = np / st.total();
    p.decode_tokens_per_s = 1.0 / st.total();
    p.itl_ms = 1000.0 * st.total();
    p.decode_bytes_per_step = bytes;
    p.decode_ceiling_tokens_per_s_total = decode_ceiling_tokens_per_s(m, hw, np, depth, req.nodes);
    p.decode_ceiling_tokens_per_s = p.decode_ceiling_tokens_per_s_total / np;
    p.decode_ceiling_fraction = p.decode_tokens_per_s / p.decode_ceiling_tokens_per_s;
    if (req.nodes > 1) {
        const StepTime one = decode_step(m, c, hw, np, depth, 1);
        p.tp_speedup = one.total() / st.total();
    }

    if (hw.reference_flops_per_s && req.prompt > 0) {
        const double prompt = static_cast<double>(req.prompt);
        double flops = 0;
        const double t_all =
            prefill_time_s(m, c, hw, np, prompt, depth, p.ubatch, req.nodes, &flops);
        p.prefill_tokens_per_s = np * prompt / t_all;
        p.prefill_ceiling_tokens_per_s = np * prompt / (flops / *hw.reference_flops_per_s);
        p.prefill_ceiling_fraction = *p.prefill_tokens_per_s / *p.prefill_ceiling_tokens_per_s;
        p.prefill_flops_per_token = flops / (np * prompt);
        const double t_one = prefill_time_s(m, c, hw, 1, prompt, depth, p.ubatch, req.nodes);
        p.prefill_tokens_per_s_single = prompt / t_one;
        p.ttft_ms = 1000.0 * t_one;
    } else if (!hw.reference_flops_per_s) {
        p.notes.push_back(
            "prefill: the hardware profile publishes no compute peak; prefill speed unknown");
    }
    // Above 95% of a physical bound only a measurement can vouch for (kNearBound).
    constexpr double kNearBound = 0.95;
    if (p.decode_ceiling_fraction > kNearBound) {
        p.notes.push_back(fmt::format(
            "speed: decode predicted at {:.0f}% of its bandwidth bound ({:.1f} tokens/s); that "
            "close to the bound needs a measurement to back it, treat it as optimistic",
            100.0 * p.decode_ceiling_fraction, p.decode_ceiling_tokens_per_s));
    }
    if (p.prefill_ceiling_fraction && *p.prefill_ceiling_fraction > kNearBound) {
        p.notes.push_back(fmt::format(
            "speed: prefill predicted at {:.0f}% of its compute bound; treat it as optimistic",
            100.0 * *p.prefill_ceiling_fraction));
    }
    for (const std::string& name : rc.at_bound) {
        p.notes.push_back("speed: constant " + name +
                          " was fitted at the bound of its range (an efficiency at 1 or a time at "
                          "~0): the measurements wanted more than that physics allows, so it is a "
                          "limit, not a measured value");
    }
    if (!rc.calibrated) {
        p.notes.push_back("speed: no published measurement of " +
                          rc.source.substr(0, rc.source.find(' ')) +
                          " was fitted; constants borrowed (" + rc.source + ")");
    }
    if (m.from_params_only) {
        p.notes.push_back("speed: no tensor inventory; weights read per token from params_active");
    }
    return p;
}

}  // namespace sparkctl::fit
