// ModelSpec from GGUF metadata: tensor kinds and architecture facts, as llama.cpp derives its
// hparams (src/llama-model.cpp load_hparams and src/models/<arch>.cpp load_arch_hparams, 2026-09
// tree). The header reader is gguf.cpp. See docs/dev/model-gguf.md.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <unordered_set>

#include "base/file.h"
#include "base/strings.h"
#include "model/gguf.h"

namespace sparkctl::model {

using base::Errc;
using base::Error;
using base::Result;

// ---------------------------------------------------------------------------------------------
// Tensor kinds

TensorKind classify_gguf_tensor(std::string_view name, std::optional<std::uint32_t> first_mtp) {
    auto starts = [&](std::string_view p) { return name.starts_with(p); };
    if (starts("v.") || starts("mm.") || starts("mm_") || starts("resampler.")) {
        return TensorKind::vision;
    }
    if (starts("token_embd_norm") || starts("output_norm")) return TensorKind::norm;
    if (starts("token_embd.") || starts("per_layer_token_embd.") || starts("position_embd.") ||
        starts("token_types.")) {
        return TensorKind::embedding;
    }
    if (starts("output.")) return TensorKind::output;
    if (!starts("blk.")) return TensorKind::other;

    std::string_view rest = name.substr(4);
    std::size_t dot = rest.find('.');
    if (dot == std::string_view::npos) return TensorKind::other;
    auto block = base::parse_u64(rest.substr(0, dot));
    std::string_view t = rest.substr(dot + 1);
    if (t.starts_with("nextn.") || (block && first_mtp && *block >= *first_mtp)) {
        return TensorKind::mtp;
    }
    if (t.starts_with("vis_")) return TensorKind::vision;  // CogVLM's visual expert
    // Strip ".weight"/".bias"/... to look at the role.
    std::string_view role = t.substr(0, t.find('.'));
    if (role.find("norm") != std::string_view::npos) return TensorKind::norm;
    if (role == "ffn_gate_inp" || role == "ffn_gate_inp_shexp" || role == "exp_probs_b" ||
        role == "ffn_gate_tid2eid") {
        return TensorKind::router;
    }
    if (role.ends_with("_exps") || role.ends_with("_chexps")) return TensorKind::ffn_experts;
    if (role.ends_with("_shexp")) return TensorKind::ffn_shared;
    if (role.starts_with("ffn") || role.starts_with("channel_mix")) return TensorKind::ffn;
    if (role.starts_with("attn") || role.starts_with("indexer")) return TensorKind::attention;
    if (role.starts_with("ssm") || role.starts_with("shortconv") || role.starts_with("time_mix")) {
        return TensorKind::ssm;
    }
    return TensorKind::other;
}

// ---------------------------------------------------------------------------------------------
// ModelSpec from GGUF metadata, as llama.cpp derives its hparams.

namespace {

using U64s = std::vector<std::uint64_t>;

constexpr std::uint64_t kLlamaMaxLayers = 512;  // LLAMA_MAX_LAYERS, src/llama-hparams.h

struct ArchReader {
    const GgufFile& f;
    std::string arch;
    std::string fname;

    std::string key(std::string_view suffix) const { return arch + "." + std::string(suffix); }
    std::optional<std::uint64_t> u(std::string_view suffix) const {
        return f.get_uint(key(suffix));
    }
    std::optional<double> fl(std::string_view suffix) const { return f.get_float(key(suffix)); }
    bool has(std::string_view suffix) const { return f.find(key(suffix)) != nullptr; }
    bool is_array(std::string_view suffix) const {
        const GgufValue* v = f.find(key(suffix));
        return v != nullptr && v->is_array();
    }
    Error fail(const std::string& what) const {
        return base::make_error(Errc::bad_input, fname + ": " + what);
    }

    // llama_model_loader::get_key_or_arr: a scalar applies to every layer; an array must have
    // one value per layer. nullopt when absent or not integers.
    Result<std::optional<U64s>> per_layer(std::string_view suffix, std::uint64_t n) const {
        const GgufValue* v = f.find(key(suffix));
        if (v == nullptr || n == 0) return std::optional<U64s>{};
        if (v->is_array() && v->n != n) {
            return fail("key '" + key(suffix) + "' has " + std::to_string(v->n) +
                        " values, expected one per layer (" + std::to_string(n) + ")");
        }
        auto arr = f.get_uint_array(key(suffix));
        if (!arr) return std::optional<U64s>{};
        if (!v->is_array()) arr->assign(static_cast<std::size_t>(n), arr->empty() ? 0 : (*arr)[0]);
        return std::optional<U64s>(std::move(*arr));
    }
};

std::uint32_t to_u32(std::uint64_t v) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, UINT32_MAX));
}

std::uint64_t max_of(const U64s& v) {
    std::uint64_t m = 0;
    for (std::uint64_t x : v) m = std::max(m, x);
    return m;
}

bool in(std::string_view a, std::initializer_list<std::string_view> set) {
    return std::find(set.begin(), set.end(), a) != set.end();
}

// llama_hparams::set_swa_pattern (src/llama-hparams.cpp).
void set_swa_pattern(std::vector<LayerKind>& kinds, std::uint64_t period, bool dense_first,
                     LayerKind swa_kind) {
    for (std::size_t il = 0; il < kinds.size(); ++il) {
        bool swa = period == 0 || (dense_first ? il % period != 0 : il % period < period - 1);
        kinds[il] = swa ? swa_kind : LayerKind::full_attention;
    }
}

// Sliding-window layout per architecture, from each src/models/<arch>.cpp load_arch_hparams.
// Returns the window when some layers use it. `swa_pattern` is read like get_key_or_arr:
// the scalar form (a period) is ignored when the key is an array, and vice versa.
Result<std::optional<std::uint64_t>> sliding_layout(const ArchReader& a, std::uint64_t n,
                                                    std::uint64_t n_all,
                                                    std::vector<LayerKind>& kinds) {
    const std::string& arch = a.arch;
    std::optional<std::uint64_t> n_swa = a.u("attention.sliding_window");
    const bool pattern_is_array = a.is_array("attention.sliding_window_pattern");
    const std::optional<std::uint64_t> pattern_scalar =
        pattern_is_array ? std::nullopt : a.u("attention.sliding_window_pattern");
    auto period = [&](std::uint64_t dflt) { return pattern_scalar.value_or(dflt); };
    // Per-layer form: a bool/int array (a scalar broadcasts, as get_key_or_arr does).
    auto apply_array = [&](std::uint64_t len) -> Result<bool> {
        const GgufValue* v = a.f.find(a.key("attention.sliding_window_pattern"));
        if (v == nullptr) return false;
        auto r = a.per_layer("attention.sliding_window_pattern", len);
        if (!r) return r.error();
        if (!r->has_value()) return false;
        for (std::size_t il = 0; il < kinds.size() && il < (*r)->size(); ++il) {
            kinds[il] = (**r)[il] != 0 ? LayerKind::sliding_attention : LayerKind::full_attention;
        }
        return true;
    };
    const LayerKind sw = LayerKind::sliding_attention;
    std::optional<std::uint64_t> window;

    if (arch == "gemma2") {
        window = n_swa.value_or(4096);
        set_swa_pattern(kinds, period(2), false, sw);
    } else if (in(arch, {"gemma3", "olmo2", "afmoe", "plamo3", "laguna", "mellum"})) {
        if (n_swa && *n_swa > 0) {
            window = n_swa;
            std::uint64_t dflt = arch == "gemma3" ? 6 : arch == "plamo3" ? 8 : 4;
            if (arch == "mellum" && pattern_is_array) {
                auto r = apply_array(n);
                if (!r) return r.error();
            } else {
                set_swa_pattern(kinds, period(dflt), arch == "laguna", sw);
            }
        }
    } else if (in(arch, {"gemma3n", "gemma-embedding", "gpt-oss", "cohere2", "exaone-moe"})) {
        std::uint64_t dflt = arch == "gemma3n"           ? 5
                             : arch == "gemma-embedding" ? 6
                             : arch == "gpt-oss"         ? 2
                                                         : 4;
        window = arch == "exaone-moe" ? n_swa.value_or(128) : n_swa;
        set_swa_pattern(kinds, period(dflt), false, sw);
    } else if (arch == "exaone4") {
        if (n == 64) {
            window = n_swa.value_or(4096);
            set_swa_pattern(kinds, period(4), false, sw);
        }
    } else if (arch == "cohere2moe" || arch == "muse-glimmer") {
        window = n_swa;
        if (pattern_scalar) {
            set_swa_pattern(kinds, *pattern_scalar, arch == "cohere2moe", sw);
        } else if (arch == "muse-glimmer" && !a.has("attention.sliding_window_pattern")) {
            set_swa_pattern(kinds, 4, false, sw);
        } else {
            auto r = apply_array(n);
            if (!r) return r.error();
        }
    } else if (in(arch, {"gemma4", "mimo2", "step35", "granite_swa", "dots3note"})) {
        window = n_swa;
        auto r = apply_array(arch == "step35" ? n_all : n);
        if (!r) return r.error();
    } else if (arch == "llama4") {
        // Chunked attention with a fixed 8192-token chunk, unless sliding_window is 0.
        if (!(n_swa && *n_swa == 0)) {
            window = 8192;
            set_swa_pattern(kinds, period(4), false, LayerKind::chunked_attention);
        }
    } else if (in(arch, {"lfm2"})) {
        if (n_swa && *n_swa > 0) {
            window = n_swa;
            for (LayerKind& k : kinds) {
                if (k == LayerKind::full_attention) k = sw;
            }
        }
    }
    bool any = std::any_of(kinds.begin(), kinds.end(), [](LayerKind k) {
        return k == LayerKind::sliding_attention || k == LayerKind::chunked_attention;
    });
    if (!any) return std::optional<std::uint64_t>{};
    return window;
}

std::string split_stem(const std::filesystem::path& p) {
    std::string name = p.filename().string();
    if (auto s = parse_gguf_split_name(name)) return s->prefix;
    return p.stem().string();
}

std::optional<std::uint32_t> bits_of(std::string_view method) {
    if (method == "F32") return 32;
    if (method == "F16" || method == "BF16") return 16;
    if (method.starts_with("MXFP4") || method.starts_with("NVFP4")) return 4;
    std::size_t i = method.starts_with("IQ") ? 2 : method.starts_with("Q") ? 1 : 0;
    if (i > 0 && i < method.size() && method[i] >= '1' && method[i] <= '8') {
        return static_cast<std::uint32_t>(method[i] - '0');
    }
    return std::nullopt;
}

}  // namespace

Result<ModelSpec> gguf_to_spec(const std::vector<GgufFile>& shards) {
    if (shards.empty()) return base::make_error(Errc::internal, "gguf_to_spec: no shards");
    const GgufFile& f = shards[0];
    ArchReader a{f, f.get_string("general.architecture").value_or(""), f.path.filename().string()};

    ModelSpec spec;
    spec.source = SourceKind::gguf;
    spec.name = split_stem(f.path);
    if (auto repo = f.get_string("general.source.huggingface.repository");
        repo && repo->find("://") == std::string::npos &&
        std::count(repo->begin(), repo->end(), '/') == 1) {
        spec.hf_id = *repo;
    }
    Arch& arch = spec.arch;
    arch.architecture = a.arch;
    arch.family = a.arch;

    // Layers: block_count includes the nextn (MTP) blocks appended at the end.
    std::uint64_t n_all = 0;
    std::uint64_t nextn = a.u("nextn_predict_layers").value_or(0);
    if (auto bc = a.u("block_count")) {
        n_all = *bc;
        if (n_all > kLlamaMaxLayers) {
            return a.fail("block_count " + std::to_string(n_all) +
                          " exceeds llama.cpp's limit of " + std::to_string(kLlamaMaxLayers));
        }
        if (nextn > n_all) return a.fail("nextn_predict_layers exceeds block_count");
        arch.n_layers = to_u32(n_all - nextn);
        arch.n_mtp_layers = to_u32(nextn);
    }
    const std::uint64_t n = n_all - (arch.n_layers ? nextn : 0);

    // Tensors from every shard.
    std::optional<std::uint32_t> first_mtp;
    if (nextn > 0 && arch.n_layers) first_mtp = *arch.n_layers;
    std::uint64_t weights = 0, files = 0, params = 0;
    std::map<std::string, std::uint64_t> bytes_by_type;  // 2-D+ tensors, for the guessed ftype
    for (std::size_t i = 0; i < shards.size(); ++i) {
        spec.files.push_back(shards[i].path);
        files += shards[i].file_bytes;
        for (const GgufTensorInfo& t : shards[i].tensors) {
            Tensor out;
            out.name = t.name;
            out.dtype = std::string(t.type->name);
            out.shape = t.ne;
            out.n_elements = t.n_elements;
            out.bytes = t.bytes;
            out.kind = classify_gguf_tensor(t.name, first_mtp);
            out.file_index = static_cast<std::uint32_t>(i);
            weights += t.bytes;  // each <= file size, so no overflow across <= 99999 shards
            params += t.n_elements;
            if (t.ne.size() >= 2) bytes_by_type[out.dtype] += t.bytes;
            spec.tensors.push_back(std::move(out));
        }
    }
    spec.weights_bytes = weights;
    spec.file_bytes = files;

    // Quantization: general.file_type, else the type holding most bytes (llama.cpp guesses
    // the same way in llama_model_loader when the key is missing).
    Quantization q;
    if (auto ft = f.get_uint("general.file_type")) {
        q.declared = "general.file_type=" + std::to_string(*ft);
        if (auto nm = llama_ftype_name(to_u32(*ft))) q.method = std::string(*nm);
    }
    if (q.method.empty() && !bytes_by_type.empty()) {
        auto it =
            std::max_element(bytes_by_type.begin(), bytes_by_type.end(),
                             [](const auto& x, const auto& y) { return x.second < y.second; });
        q.method = it->first;
        if (q.declared.empty()) q.declared = "tensor types";
    }
    if (!q.method.empty()) {
        q.bits = bits_of(q.method);
        spec.quant = q;
    }

    if (a.arch.empty()) return spec;

    arch.hidden_size = a.u("embedding_length");
    arch.context_length = a.u("context_length");
    if (auto vs = a.u("vocab_size")) {
        arch.vocab_size = vs;
    } else if (auto nt = f.array_size("tokenizer.ggml.tokens")) {
        arch.vocab_size = nt;
    }

    // Heads: scalar or per-layer; head_count_kv defaults to head_count (load_hparams).
    auto heads = a.per_layer("attention.head_count", n_all);
    if (!heads) return heads.error();
    auto kv_heads = a.per_layer("attention.head_count_kv", n_all);
    if (!kv_heads) return kv_heads.error();
    auto ff = a.per_layer("feed_forward_length", n_all);
    if (!ff) return ff.error();
    U64s h = heads->value_or(U64s(static_cast<std::size_t>(n_all), 0));
    U64s hkv = kv_heads->value_or(h);
    U64s ffl = ff->value_or(U64s(static_cast<std::size_t>(n_all), 0));
    const std::uint64_t n_head = max_of(h);
    if (heads->has_value() && n_head > 0) arch.n_heads = to_u32(n_head);
    if (ff->has_value() && max_of(ffl) > 0) arch.intermediate_size = max_of(ffl);
    if ((heads->has_value() || kv_heads->has_value()) && n > 0) {
        U64s first(hkv.begin(), hkv.begin() + static_cast<std::ptrdiff_t>(n));
        arch.n_kv_heads = to_u32(max_of(first));
        if (std::any_of(first.begin(), first.end(), [&](auto x) { return x != first[0]; })) {
            for (auto x : first) arch.n_kv_heads_per_layer.push_back(to_u32(x));
        }
    }
    if (n_head > 0) {
        // n_embd_head_k/v default to n_embd / n_head (load_hparams).
        std::optional<std::uint64_t> hd = a.u("attention.key_length");
        if (!hd && arch.hidden_size) hd = *arch.hidden_size / n_head;
        std::optional<std::uint64_t> hdv = a.u("attention.value_length");
        if (!hdv && arch.hidden_size) hdv = *arch.hidden_size / n_head;
        if (hd) arch.head_dim = to_u32(*hd);
        if (hdv && hdv != hd) arch.head_dim_v = to_u32(*hdv);
    }

    // Layer kinds: attention by default; sliding layouts; recurrent layers of hybrids.
    std::vector<LayerKind> kinds(static_cast<std::size_t>(n), LayerKind::full_attention);
    const std::string& ar = a.arch;
    if (in(ar, {"mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"})) {
        std::fill(kinds.begin(), kinds.end(), LayerKind::recurrent);
    } else if (in(ar, {"nemotron_h", "nemotron_h_moe"})) {
        // Recurrent iff no KV heads and no FFN; no KV heads with an FFN: MLP/MoE-only layer.
        for (std::size_t il = 0; il < kinds.size(); ++il) {
            if (hkv[il] == 0)
                kinds[il] = ffl[il] == 0 ? LayerKind::recurrent : LayerKind::feed_forward;
        }
    } else if (in(ar, {"jamba", "granitehybrid", "plamo2", "lfm2", "lfm2moe", "kimi-linear",
                       "bailingmoe3", "kimi-k3"})) {
        for (std::size_t il = 0; il < kinds.size(); ++il) {
            if (hkv[il] == 0) kinds[il] = LayerKind::recurrent;
        }
    } else if (in(ar, {"qwen3next", "qwen35", "qwen35moe", "qwen4exp", "minimax-01"})) {
        auto rl = a.per_layer("attention.recurrent_layers", n_all);
        if (!rl) return rl.error();
        std::uint64_t interval =
            a.u("full_attention_interval").value_or(ar == "minimax-01" ? 8 : 4);
        for (std::size_t il = 0; il < kinds.size(); ++il) {
            bool rec =
                rl->has_value() ? (**rl)[il] != 0 : interval != 0 && (il + 1) % interval != 0;
            if (rec) kinds[il] = LayerKind::recurrent;
        }
    } else if (ar != "falcon-h1") {
        // Any other arch: a layer without KV heads has no attention.
        for (std::size_t il = 0; il < kinds.size(); ++il) {
            if (hkv[il] == 0 && n_head > 0) kinds[il] = LayerKind::feed_forward;
        }
    }
    auto window = sliding_layout(a, n, n_all, kinds);
    if (!window) return window.error();
    if (window->has_value()) arch.sliding_window = to_u32(**window);
    if (arch.n_layers) arch.layer_kinds = std::move(kinds);

    // Tied embeddings: llama.cpp reuses token_embd when output.weight is absent.
    bool has_embd = false, has_out = false;
    for (const Tensor& t : spec.tensors) {
        has_embd = has_embd || t.name == "token_embd.weight";
        has_out = has_out || t.name == "output.weight";
    }
    if (has_embd) arch.tie_word_embeddings = !has_out;

    // MoE.
    if (auto ne = a.u("expert_count"); ne && *ne > 0) {
        Moe moe;
        moe.n_experts = to_u32(*ne);
        auto used = a.per_layer("expert_used_count", n_all);
        if (!used) return used.error();
        if (used->has_value()) moe.n_experts_per_token = to_u32(max_of(**used));
        moe.n_shared_experts = to_u32(a.u("expert_shared_count").value_or(0));
        auto eff = a.per_layer("expert_feed_forward_length", n_all);
        if (!eff) return eff.error();
        if (eff->has_value()) moe.expert_intermediate_size = max_of(**eff);
        moe.shared_expert_intermediate_size = a.u("expert_shared_feed_forward_length");
        moe.n_leading_dense_layers = to_u32(a.u("leading_dense_block_count").value_or(0));
        arch.moe = moe;
    }

    // MLA (deepseek2 and kin): newer converters store the cache shape in key/value_length and
    // the per-head dims in key_length_mla/value_length_mla (conversion/deepseek.py).
    if (auto kvr = a.u("attention.kv_lora_rank"); kvr && *kvr > 0) {
        Mla mla;
        mla.kv_lora_rank = to_u32(*kvr);
        mla.q_lora_rank = to_u32(a.u("attention.q_lora_rank").value_or(0));
        std::uint64_t rope = a.u("rope.dimension_count").value_or(0);
        mla.qk_rope_head_dim = to_u32(rope);
        std::optional<std::uint64_t> kmla = a.u("attention.key_length_mla");
        std::optional<std::uint64_t> vmla = a.u("attention.value_length_mla");
        if (!kmla) kmla = a.u("attention.key_length");
        if (!vmla) vmla = a.u("attention.value_length");
        if (kmla && *kmla >= rope) mla.qk_nope_head_dim = to_u32(*kmla - rope);
        if (vmla) mla.v_head_dim = to_u32(*vmla);
        arch.mla = mla;
    }

    // SSM / linear-attention state (Mamba2 naming; time_step_rank is the head count except
    // for Mamba-1, where it is the dt rank).
    if (a.has("ssm.conv_kernel") || a.has("ssm.state_size") || a.has("ssm.inner_size")) {
        Ssm ssm;
        auto u32opt = [](std::optional<std::uint64_t> v) {
            return v ? std::optional<std::uint32_t>(to_u32(*v)) : std::nullopt;
        };
        ssm.d_conv = u32opt(a.u("ssm.conv_kernel"));
        ssm.d_inner = u32opt(a.u("ssm.inner_size"));
        ssm.d_state = u32opt(a.u("ssm.state_size"));
        ssm.n_group = u32opt(a.u("ssm.group_count"));
        if (ar != "mamba") {
            ssm.n_heads = u32opt(a.u("ssm.time_step_rank"));
            if (ssm.n_heads && *ssm.n_heads > 0 && ssm.d_inner) {
                ssm.head_dim = *ssm.d_inner / *ssm.n_heads;
            }
        }
        arch.ssm = ssm;
    }

    // RoPE.
    {
        Rope rope;
        rope.theta = a.fl("rope.freq_base");
        std::string st = f.get_string(a.key("rope.scaling.type")).value_or("");
        rope.scaling_type = st == "none" ? "" : st;
        rope.factor = a.fl("rope.scaling.factor");
        if (!rope.factor) rope.factor = a.fl("rope.scale_linear");
        rope.original_context = a.u("rope.scaling.original_context_length");
        if (rope.theta || !rope.scaling_type.empty() || rope.factor || rope.original_context) {
            arch.rope = rope;
        }
    }

    // Vision tower tensors in this file (usually a separate mmproj file with arch "clip").
    std::uint64_t vision_params = 0;
    for (const Tensor& t : spec.tensors) {
        if (t.kind == TensorKind::vision) vision_params += t.n_elements;
    }
    if (vision_params > 0) {
        Vision v;
        v.params = vision_params;
        arch.vision = v;
    }

    if (!spec.tensors.empty()) {
        arch.params_total = params;
        if (arch.moe && arch.moe->n_experts > 0 && arch.moe->n_experts_per_token > 0) {
            std::uint64_t experts = 0;
            for (const Tensor& t : spec.tensors) {
                if (t.kind == TensorKind::ffn_experts) experts += t.n_elements;
            }
            arch.params_active =
                params - experts +
                static_cast<std::uint64_t>(static_cast<double>(experts) *
                                           arch.moe->n_experts_per_token / arch.moe->n_experts);
        }
    }
    return spec;
}

Result<ModelSpec> load_gguf(const std::filesystem::path& path) {
    auto shards = read_gguf_shards(path);
    if (!shards) return shards.error();
    return gguf_to_spec(*shards);
}

}  // namespace sparkctl::model
