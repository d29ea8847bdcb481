#include "fit/memory.h"

#include <algorithm>
#include <cmath>

#include "engines/alloc.h"

namespace sparkctl::fit {

namespace {

using engines::Engine;
using model::LayerKind;

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;

// SPARKCTL-FIT-2: llama.cpp runtime overhead (CUDA context, cuBLAS workspace, server process).
constexpr std::uint64_t kLlamaCppOverheadBytes = 512 * kMiB;
// SPARKCTL-FIT-6: vLLM non-torch memory and CUDA graphs: GPUStack's 2 GiB LLM overhead
// (gpustack/policies/utils.py estimate_model_vram, orchestration-anchors.md section 1).
constexpr std::uint64_t kVllmOverheadBytes = 2 * kGiB;

LayerKind layer_kind(const model::Arch& a, std::uint32_t il) {
    if (il < a.layer_kinds.size()) return a.layer_kinds[il];
    return LayerKind::full_attention;
}

std::uint32_t kv_heads(const model::Arch& a, std::uint32_t il) {
    if (il < a.n_kv_heads_per_layer.size()) return a.n_kv_heads_per_layer[il];
    return a.n_kv_heads.value_or(a.n_heads.value_or(0));
}

std::uint64_t head_dim(const model::Arch& a) {
    if (a.head_dim) return *a.head_dim;
    if (a.hidden_size && a.n_heads && *a.n_heads) return *a.hidden_size / *a.n_heads;
    return 0;
}

bool is_attention(LayerKind k) {
    return k == LayerKind::full_attention || k == LayerKind::sliding_attention ||
           k == LayerKind::chunked_attention;
}

// Elements of K and of V one token stores in layer il (MLA: one latent, no V;
// LC:src/llama-kv-cache.cpp has_v = !is_mla; V:kv_cache_interface.py coef 1 for MLA).
struct KvWidth {
    std::uint64_t k = 0;
    std::uint64_t v = 0;
};

KvWidth kv_width(const model::Arch& a, std::uint32_t il) {
    if (a.mla)
        return {static_cast<std::uint64_t>(a.mla->kv_lora_rank) + a.mla->qk_rope_head_dim, 0};
    const std::uint64_t hd = head_dim(a);
    const std::uint64_t hd_v = a.head_dim_v.value_or(hd);
    const std::uint64_t n = kv_heads(a, il);
    return {n * hd, n * hd_v};
}

std::uint64_t max_v_width(const model::Arch& a) {
    std::uint64_t m = 0;
    for (std::uint32_t il = 0; il < a.n_layers.value_or(0); ++il) {
        if (is_attention(layer_kind(a, il))) m = std::max(m, kv_width(a, il).v);
    }
    return m;
}

// Bytes per token of layer il in `engine`'s cache.
std::uint64_t layer_token_bytes(const model::Arch& a, std::uint32_t il, Engine engine,
                                const engines::KvCacheType& t, bool flash_attn) {
    KvWidth w = kv_width(a, il);
    if (engine == Engine::llama_cpp) {
        // V transposed without flash attention uses n_embd_v_gqa_max (TAG_V_CACHE_VARIABLE).
        if (!flash_attn && !a.mla) w.v = max_v_width(a);
        return t.row_bytes(w.k) + (w.v ? t.row_bytes(w.v) : 0);
    }
    return (w.k + w.v) * t.block_bytes / t.block_elems;
}

// Recurrent state elements per sequence per layer: conv (d_conv-1)(d_inner + 2 ng ds) and
// ssm ds * d_inner (LC:src/llama-hparams.cpp n_embd_r / n_embd_s).
struct SsmState {
    std::uint64_t conv = 0;
    std::uint64_t ssm = 0;
};

SsmState ssm_state(const model::Arch& a) {
    if (!a.ssm) return {};
    const model::Ssm& s = *a.ssm;
    const std::uint64_t di = s.d_inner.value_or(0);
    const std::uint64_t ds = s.d_state.value_or(0);
    const std::uint64_t ng = s.n_group.value_or(1);
    const std::uint64_t dc = s.d_conv.value_or(4);
    return {(dc > 0 ? dc - 1 : 0) * (di + 2 * ng * ds), ds * di};
}

std::uint64_t ffn_width(const model::Arch& a) {
    if (a.moe && a.moe->n_experts > 1) {
        const std::uint64_t ffe =
            a.moe->expert_intermediate_size.value_or(a.intermediate_size.value_or(0));
        std::uint64_t w = ffe * a.moe->n_experts_per_token;
        if (a.moe->n_shared_experts) {
            w += a.moe->shared_expert_intermediate_size.value_or(ffe * a.moe->n_shared_experts);
        }
        return std::max<std::uint64_t>(w, a.intermediate_size.value_or(0));
    }
    return a.intermediate_size.value_or(0);
}

// Width of the FFN activations one token holds at the FFN's peak: the dense FFN width, or for
// MoE the routed experts (top_k * expert_ff); the shared expert and the leading dense layers run
// as separate, narrower FFNs and are not live at the same time (the wider of the two counts).
std::uint64_t ffn_act_width(const model::Arch& a) {
    if (a.moe && a.moe->n_experts > 1) {
        const std::uint64_t ffe =
            a.moe->expert_intermediate_size.value_or(a.intermediate_size.value_or(0));
        std::uint64_t shared = 0;
        if (a.moe->n_shared_experts) {
            shared = a.moe->shared_expert_intermediate_size.value_or(ffe * a.moe->n_shared_experts);
        }
        return std::max({ffe * a.moe->n_experts_per_token, shared,
                         a.moe->n_leading_dense_layers ? a.intermediate_size.value_or(0) : 0});
    }
    return a.intermediate_size.value_or(0);
}

// SPARKCTL-FIT-1: llama.cpp compute buffer, the ggml-alloc high-water mark of the reserve graph
// (n_tokens = min(n_ctx, n_ubatch); n_outputs = min(n_tokens, n_outputs_max), which llama-server
// sets to the slot count without speculative decoding; LC:src/llama-context.cpp sched_reserve,
// LC:tools/server/server-context.cpp server_output_limits): KQ masks for each cache (below), plus
// the largest of the logits with two hidden states, one layer's attention intermediates, and the
// FFN: two FFN-wide activations (gate/up, the GLU in place) and four hidden states (residual,
// normed input, down output, sum). Calibrated against the CPU-backend runs in
// data/llamacpp-measurements.tsv (docs/dev/fit.md "Validation").
std::uint64_t llamacpp_compute(const model::Arch& a, const FitRequest& r,
                               const engines::llamacpp::Cells& c, bool has_full, bool has_swa) {
    const std::uint64_t ub = std::min<std::uint64_t>(r.n_ubatch, c.n_ctx);
    const std::uint64_t n_out =
        std::min<std::uint64_t>({ub, r.n_batch, std::max<std::uint32_t>(1, r.parallel)});
    const std::uint64_t h = a.hidden_size.value_or(0);
    const std::uint64_t vocab = a.vocab_size.value_or(0);
    const std::uint64_t n_head = a.n_heads.value_or(0);
    const std::uint64_t hd =
        a.mla ? a.mla->qk_nope_head_dim + a.mla->qk_rope_head_dim : head_dim(a);
    // Each cache's KQ mask is [n_kv, n_ubatch], F16 with flash attention and F32 without
    // (LC:src/llama-graph.cpp:29-45 build_attn_inp_kq_mask; the iSWA input builds one per cache,
    // :3333-3343). The full cache is charged 4 B per element more with flash attention: the CPU
    // runs need it (an f32 [n_kv, n_ubatch] tensor the source read has not pinned down), and the
    // SWA runs at -ub 512 and 2048 show it does not recur for the SWA cache (docs/dev/fit.md).
    std::uint64_t masks = 0;
    if (has_full) masks += c.n_ctx_seq * ub * (r.flash_attn ? 6 : 4);
    if (has_swa) masks += c.swa / c.n_stream * ub * (r.flash_attn ? 2 : 4);

    const std::uint64_t logits = vocab * n_out * 4 + 2 * h * ub * 4;
    std::uint64_t attn = (2 * n_head * hd + 2 * h) * ub * 4;
    if (!r.flash_attn) attn += c.n_ctx_seq * ub * n_head * 4;
    std::uint64_t ffn = (2 * ffn_act_width(a) + 4 * h) * ub * 4;
    if (a.moe && a.moe->n_experts > 1) ffn += 3ull * a.moe->n_experts * ub * 4;
    return masks + std::max({logits, attn, ffn});
}

// SPARKCTL-FIT-5: vLLM peak activation of the profile run with max_num_batched_tokens tokens
// (no closed form in the source, engines.md 1.3): T * (8 h + 3 ffn_width) * 2 B for the
// residual stream, attention projections and the FFN, plus the sampler's fp32 logits and
// probabilities for max_num_seqs sequences.
std::uint64_t vllm_activation(const model::Arch& a, std::uint32_t batched, std::uint32_t seqs) {
    const std::uint64_t h = a.hidden_size.value_or(0);
    const std::uint64_t vocab = a.vocab_size.value_or(0);
    return static_cast<std::uint64_t>(batched) * (8 * h + 3 * ffn_width(a)) * 2 +
           static_cast<std::uint64_t>(seqs) * vocab * 4 * 2;
}

std::uint64_t to_mib_bytes(double mib) { return static_cast<std::uint64_t>(mib * kMiB); }

}  // namespace

std::uint64_t kv_bytes_per_token(const model::Arch& a, Engine engine, const engines::KvCacheType& t,
                                 bool flash_attn) {
    std::uint64_t sum = 0;
    for (std::uint32_t il = 0; il < a.n_layers.value_or(0); ++il) {
        if (layer_kind(a, il) == LayerKind::full_attention) {
            sum += layer_token_bytes(a, il, engine, t, flash_attn);
        }
    }
    return sum;
}

std::uint32_t default_ctx_checkpoints(std::uint64_t context, bool makes_checkpoints) {
    namespace lc = engines::llamacpp;
    if (!makes_checkpoints) return 0;
    const std::uint64_t n = (context + lc::kCheckpointMinStep - 1) / lc::kCheckpointMinStep + 3;
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(n, lc::kDefaultCtxCheckpoints));
}

std::string missing_facts(const model::Arch& a) {
    std::string m;
    auto need = [&](bool ok, const char* what) {
        if (!ok) m += (m.empty() ? "" : ", ") + std::string(what);
    };
    need(a.n_layers.has_value(), "n_layers");
    need(a.mla.has_value() || (a.n_kv_heads || a.n_heads), "n_kv_heads");
    need(a.mla.has_value() || head_dim(a) > 0, "head_dim");
    bool sliding = false;
    bool recurrent = false;
    for (LayerKind k : a.layer_kinds) {
        sliding |= k == LayerKind::sliding_attention || k == LayerKind::chunked_attention;
        recurrent |= k == LayerKind::recurrent;
    }
    if (sliding) need(a.sliding_window.has_value(), "sliding_window");
    if (recurrent) need(a.ssm && a.ssm->d_inner && a.ssm->d_state, "ssm.d_inner/d_state");
    return m;
}

Estimate estimate(const model::Arch& a, const FitRequest& r) {
    Estimate e;
    MemoryBreakdown& m = e.memory;
    KvBreakdown& kv = e.kv;
    m.weights_bytes = r.weights_bytes;
    m.budget_bytes = r.budget_bytes;
    const std::uint32_t np = std::max<std::uint32_t>(1, r.parallel);
    // Sequences the KV cache holds at full context: llama.cpp's slots, the paged engines' pool.
    const std::uint32_t pool = paged_kv(r.engine) && r.pool_sequences ? r.pool_sequences : np;
    const std::uint64_t ctx = std::max<std::uint64_t>(1, r.context);
    const std::uint32_t window = a.sliding_window.value_or(0);
    const std::uint32_t n_layers = a.n_layers.value_or(0);
    const SsmState ssm = ssm_state(a);

    std::uint64_t full_tok = 0;  // bytes per cell, summed over layers
    std::uint64_t swa_tok = 0;
    for (std::uint32_t il = 0; il < n_layers; ++il) {
        const LayerKind k = layer_kind(a, il);
        if (k == LayerKind::full_attention) {
            ++kv.n_full_layers;
            full_tok += layer_token_bytes(a, il, r.engine, r.kv_type, r.flash_attn);
        } else if (k == LayerKind::sliding_attention || k == LayerKind::chunked_attention) {
            ++kv.n_swa_layers;
            swa_tok += layer_token_bytes(a, il, r.engine, r.kv_type, r.flash_attn);
        } else if (k == LayerKind::recurrent) {
            ++kv.n_recurrent_layers;
        }
    }
    m.kv_bytes_per_token = full_tok;
    const bool has_swa = kv.n_swa_layers > 0 && window > 0;
    if (kv.n_swa_layers > 0 && window == 0) {  // unknown window: charge as full
        full_tok += swa_tok;
        kv.n_full_layers += kv.n_swa_layers;
        kv.n_swa_layers = 0;
        swa_tok = 0;
    }

    switch (r.engine) {
        case Engine::llama_cpp: {
            namespace lc = engines::llamacpp;
            const lc::Cells c =
                lc::cells(ctx * np, np, r.kv_unified, has_swa ? window : 0, r.n_ubatch, r.swa_full);
            kv.full_cells = kv.n_full_layers ? c.n_ctx : 0;
            kv.swa_cells = has_swa ? c.swa : 0;
            kv.full_bytes = kv.full_cells * full_tok;
            kv.swa_bytes = kv.swa_cells * swa_tok;
            // f32 r and s rows, max(1, n_seq) of them (LC:src/llama-memory-recurrent.cpp).
            kv.recurrent_bytes =
                kv.n_recurrent_layers * lc::recurrent_rows(np) * (ssm.conv + ssm.ssm) * 4;
            m.compute_bytes = llamacpp_compute(a, r, c, kv.n_full_layers > 0, has_swa) +
                              lc::output_buffer_bytes(a.vocab_size.value_or(0), np);
            m.overhead_bytes = kLlamaCppOverheadBytes;
            // Context checkpoints (LC:tools/server/server-context.cpp create_checkpoint, with
            // LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY): an iSWA cache writes only its SWA cache
            // (LC:src/llama-kv-cache-iswa.cpp state_write), and of it only the slot's cells the
            // window does not mask, n_swa at most (LC:src/llama-kv-cache.cpp state_write); a
            // hybrid or recurrent memory its recurrent state (LC:src/llama-memory-hybrid.cpp);
            // full-attention models make none (the server's do_checkpoint condition).
            const std::uint64_t swa_slot_cells =
                has_swa && !r.swa_full ? std::min<std::uint64_t>(window, c.swa / c.n_stream) : 0;
            m.ctx_checkpoint_bytes =
                swa_slot_cells * swa_tok + kv.n_recurrent_layers * (ssm.conv + ssm.ssm) * 4;
            const std::uint32_t n_ckpt = r.ctx_checkpoints.value_or(
                default_ctx_checkpoints(ctx, m.ctx_checkpoint_bytes > 0));
            m.ctx_checkpoints_bytes =
                static_cast<std::uint64_t>(n_ckpt) * np * m.ctx_checkpoint_bytes;
            e.settings.llamacpp_ctx_checkpoints = n_ckpt;
            e.settings.llamacpp_n_ctx = c.n_ctx;
            e.settings.llamacpp_n_ctx_seq = c.n_ctx_seq;
            break;
        }
        case Engine::vllm: {
            namespace vl = engines::vllm;
            const std::uint32_t batched = vl::max_num_batched_tokens(r.memory_total_bytes);
            kv.full_cells = kv.n_full_layers ? vl::full_tokens_per_request(ctx) * pool : 0;
            kv.swa_cells = has_swa ? vl::swa_tokens_per_request(ctx, window, batched) * pool : 0;
            kv.full_bytes = kv.full_cells * full_tok;
            kv.swa_bytes = kv.swa_cells * swa_tok;
            // SPARKCTL-FIT-9: Mamba state per request, conv in the model dtype, SSM state f32.
            kv.recurrent_bytes = kv.n_recurrent_layers * pool * (ssm.conv * 2 + ssm.ssm * 4);
            m.compute_bytes = vllm_activation(a, batched, np);
            m.overhead_bytes = kVllmOverheadBytes;
            e.settings.vllm_max_num_batched_tokens = batched;
            e.settings.vllm_max_num_seqs = np;
            break;
        }
        case Engine::sglang: {
            namespace sg = engines::sglang;
            // Page size 1: exactly context x parallel token slots; the hybrid SWA pool gives
            // sliding layers swa_full_tokens_ratio of the full pool's tokens.
            kv.full_cells = kv.n_full_layers || !has_swa ? ctx * pool : 0;
            kv.swa_cells = has_swa ? static_cast<std::uint64_t>(std::ceil(
                                         static_cast<double>(ctx * pool) * sg::kSwaFullTokensRatio))
                                   : 0;
            if (kv.n_full_layers == 0) kv.full_cells = 0;
            kv.full_bytes = kv.full_cells * full_tok;
            kv.swa_bytes = kv.swa_cells * swa_tok;
            kv.recurrent_bytes = kv.n_recurrent_layers * pool * (ssm.conv * 2 + ssm.ssm * 4);
            const std::uint64_t gpu_mib = r.memory_total_bytes / kMiB;
            const sg::Reserved res = sg::reserved_mib(gpu_mib, 1, 1);
            m.compute_bytes = to_mib_bytes(res.activation_mib);
            m.overhead_bytes = to_mib_bytes(res.other_mib);
            e.settings.sglang_mem_fraction_static = sg::mem_fraction_static(gpu_mib, 1, 1);
            e.settings.sglang_max_total_tokens = ctx * pool;
            break;
        }
    }
    m.kv_cache_bytes = kv.full_bytes + kv.swa_bytes + kv.recurrent_bytes;
    m.total_bytes = m.weights_bytes + m.kv_cache_bytes + m.compute_bytes + m.overhead_bytes +
                    m.ctx_checkpoints_bytes;
    if (r.engine == Engine::llama_cpp) {
        // The host prompt cache holds at most --cache-ram MiB of slot states (with their
        // checkpoints); without a limit at most n_ctx tokens of them
        // (LC:tools/server/server-task.cpp server_prompt_cache::update, limit_tokens = n_ctx).
        std::int64_t mib = 0;
        if (r.cache_ram_mib) {
            mib = *r.cache_ram_mib;
            m.host_prompt_cache_bytes = mib < 0 ? m.kv_cache_bytes + m.ctx_checkpoints_bytes
                                                : static_cast<std::uint64_t>(mib) * kMiB;
        } else {
            // SPARKCTL-PLAN-19: half of what the budget leaves, in steps of 256 MiB, at most
            // llama.cpp's default; never what makes a deployment not fit.
            const std::uint64_t left =
                r.budget_bytes > m.total_bytes ? r.budget_bytes - m.total_bytes : 0;
            const std::uint64_t half_mib = left / 2 / kMiB / 256 * 256;
            mib = static_cast<std::int64_t>(std::min<std::uint64_t>(
                half_mib, static_cast<std::uint64_t>(engines::llamacpp::kDefaultCacheRamMib)));
            m.host_prompt_cache_bytes = static_cast<std::uint64_t>(mib) * kMiB;
        }
        e.settings.llamacpp_cache_ram_mib = mib;
        m.total_bytes += m.host_prompt_cache_bytes;
    }
    if (r.engine == Engine::llama_cpp) {
        // SPARKCTL-FIT-10: with --no-mmap the file is read in chunks into the buffers; with mmap
        // the page cache holds the file beside the device copy while loading.
        m.peak_bytes = m.total_bytes + (r.mmap ? m.weights_bytes : 0);
    } else {
        // SPARKCTL-FIT-11: the profile run (weights + activations) precedes the KV cache, so it
        // stays under total. Safetensors also pass through the page cache while loading, but
        // that is reclaimable (vLLM's UMA check reads MemAvailable), so it is a note, not peak.
        m.peak_bytes =
            std::max(m.total_bytes, m.weights_bytes + m.compute_bytes + m.overhead_bytes);
    }
    if (r.engine == Engine::vllm) {
        e.settings.vllm_kv_cache_memory_bytes = m.kv_cache_bytes;
        if (r.memory_total_bytes) {
            e.settings.vllm_gpu_memory_utilization =
                std::ceil(static_cast<double>(m.total_bytes) / r.memory_total_bytes * 100.0) /
                100.0;
        }
    }
    e.fits = m.total_bytes <= r.budget_bytes;
    return e;
}

namespace {

// The largest n in [1, limit] with fits(n), given fits is monotone (true, then false); 0 when
// fits(1) is false.
template <typename N, typename Fits>
N largest_fitting(N limit, Fits fits) {
    if (limit == 0 || !fits(N{1})) return 0;
    if (fits(limit)) return limit;
    N lo = 1;
    N hi = limit;  // fits(lo) && !fits(hi)
    while (hi - lo > 1) {
        const N mid = lo + (hi - lo) / 2;
        (fits(mid) ? lo : hi) = mid;
    }
    return lo;
}

}  // namespace

std::uint64_t max_context(const model::Arch& a, const FitRequest& request, std::uint64_t limit) {
    FitRequest r = request;
    return largest_fitting(limit, [&](std::uint64_t c) {
        r.context = c;
        return estimate(a, r).fits;
    });
}

std::uint32_t max_parallel(const model::Arch& a, const FitRequest& request, std::uint32_t limit) {
    FitRequest r = request;
    return largest_fitting(limit, [&](std::uint32_t p) {
        r.parallel = p;
        r.pool_sequences = 0;
        return estimate(a, r).fits;
    });
}

std::uint32_t max_pool_sequences(const model::Arch& a, const FitRequest& request,
                                 std::uint32_t limit) {
    FitRequest r = request;
    return largest_fitting(limit, [&](std::uint32_t n) {
        r.pool_sequences = n;
        return estimate(a, r).fits;
    });
}

bool paged_kv(Engine engine) { return engine != Engine::llama_cpp; }

std::uint32_t parallel_limit(Engine engine) {
    switch (engine) {
        case Engine::llama_cpp:
            return 256;  // LLAMA_MAX_SEQ
        case Engine::vllm:
            return engines::vllm::kMaxNumSeqsLarge;
        case Engine::sglang:
            return 4096;  // SPARKCTL-FIT-8: search bound; SGLang's own derivation is unknown
    }
    return 1;
}

}  // namespace sparkctl::fit
