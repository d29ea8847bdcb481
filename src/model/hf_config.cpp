#include "model/hf_config.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "base/file.h"
#include "base/strings.h"
#include "model/detail/json_limits.h"

namespace sparkctl::model {

namespace {

using base::Errc;
using base::make_error;
using json = nlohmann::json;

// Thrown only inside this file by the typed getters and caught at the public boundary, which
// turns it into a bad_input Result; keeps 100 key reads free of boilerplate.
struct KeyError {
    std::string message;
};

const char* type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::object:
            return "object";
        case json::value_t::array:
            return "array";
        case json::value_t::string:
            return "string";
        case json::value_t::boolean:
            return "boolean";
        case json::value_t::number_integer:
            return "negative integer";
        case json::value_t::number_unsigned:
            return "integer";
        case json::value_t::number_float:
            return "number";
        default:
            return "other";
    }
}

// A JSON object inside the file at `prefix` ("text_config."), with typed, null-tolerant getters.
class Obj {
  public:
    Obj(const json& j, std::string prefix, std::string_view file)
        : j_(&j), prefix_(std::move(prefix)), file_(file) {}

    std::string path(std::string_view key) const { return prefix_ + std::string(key); }

    [[noreturn]] void fail(std::string_view key, const std::string& what) const {
        throw KeyError{std::string(file_) + ": key '" + base::printable(path(key)) + "': " + what};
    }
    [[noreturn]] void wrong(std::string_view key, const char* expected, const json& v) const {
        fail(key, std::string("expected ") + expected + ", got " + type_name(v));
    }

    bool has(std::string_view key) const { return raw(key) != nullptr; }

    // nullptr when absent or null.
    const json* raw(std::string_view key) const {
        auto it = j_->find(std::string(key));
        if (it == j_->end() || it->is_null()) return nullptr;
        return &*it;
    }

    std::optional<std::uint64_t> u64(std::string_view key) const {
        const json* v = raw(key);
        if (!v) return std::nullopt;
        return to_u64(key, *v);
    }
    std::uint64_t to_u64(std::string_view key, const json& v) const {
        if (v.is_number_unsigned()) return v.get<std::uint64_t>();
        if (v.is_number_float()) {
            // Some writers emit 4096.0; accept whole, in-range values only.
            double d = v.get<double>();
            if (std::isfinite(d) && d >= 0 && d < 1.8e19 && std::floor(d) == d) {
                return static_cast<std::uint64_t>(d);
            }
        }
        wrong(key, "a non-negative integer", v);
    }
    std::optional<std::uint32_t> u32(std::string_view key) const {
        auto v = u64(key);
        if (!v) return std::nullopt;
        if (*v > std::numeric_limits<std::uint32_t>::max()) fail(key, "value out of range");
        return static_cast<std::uint32_t>(*v);
    }
    std::optional<double> num(std::string_view key) const {
        const json* v = raw(key);
        if (!v) return std::nullopt;
        if (!v->is_number()) wrong(key, "a number", *v);
        double d = v->get<double>();
        if (!std::isfinite(d)) fail(key, "not a finite number");
        return d;
    }
    std::optional<bool> boolean(std::string_view key) const {
        const json* v = raw(key);
        if (!v) return std::nullopt;
        if (!v->is_boolean()) wrong(key, "true or false", *v);
        return v->get<bool>();
    }
    std::optional<std::string> str(std::string_view key) const {
        const json* v = raw(key);
        if (!v) return std::nullopt;
        if (!v->is_string()) wrong(key, "a string", *v);
        return v->get<std::string>();
    }
    std::optional<Obj> obj(std::string_view key) const {
        const json* v = raw(key);
        if (!v) return std::nullopt;
        if (!v->is_object()) wrong(key, "an object", *v);
        return Obj(*v, path(key) + ".", file_);
    }
    const json* arr(std::string_view key) const {
        const json* v = raw(key);
        if (v && !v->is_array()) wrong(key, "an array", *v);
        return v;
    }
    std::vector<std::string> strings(std::string_view key) const {
        std::vector<std::string> out;
        const json* a = arr(key);
        if (!a) return out;
        for (const json& e : *a) {
            if (!e.is_string()) wrong(key, "an array of strings", e);
            out.push_back(e.get<std::string>());
        }
        return out;
    }
    std::vector<std::uint64_t> u64s(std::string_view key) const {
        std::vector<std::uint64_t> out;
        const json* a = arr(key);
        if (!a) return out;
        for (const json& e : *a) out.push_back(to_u64(key, e));
        return out;
    }
    // First present key among several spellings.
    std::optional<std::uint64_t> u64_any(std::initializer_list<std::string_view> keys) const {
        for (std::string_view k : keys) {
            if (auto v = u64(k)) return v;
        }
        return std::nullopt;
    }
    std::optional<std::uint32_t> u32_any(std::initializer_list<std::string_view> keys) const {
        for (std::string_view k : keys) {
            if (auto v = u32(k)) return v;
        }
        return std::nullopt;
    }

  private:
    const json* j_;
    std::string prefix_;
    std::string_view file_;
};

std::optional<std::uint32_t> narrow32(const Obj& o, std::string_view key,
                                      std::optional<std::uint64_t> v) {
    if (!v) return std::nullopt;
    if (*v > std::numeric_limits<std::uint32_t>::max()) o.fail(key, "value out of range");
    return static_cast<std::uint32_t>(*v);
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), s) != names.end();
}

// llama.cpp's architecture names (LLM_ARCH_* in src/llama-arch.cpp) for the HF model types
// sparkctl knows; "" when unknown.
std::string llama_cpp_family(std::string_view mt) {
    static const std::pair<std::string_view, std::string_view> kMap[] = {
        {"llama", "llama"},
        {"mistral", "llama"},
        {"mistral3", "llama"},
        {"mixtral", "llama"},
        {"qwen2", "qwen2"},
        {"qwen2_moe", "qwen2moe"},
        {"qwen3", "qwen3"},
        {"qwen3_moe", "qwen3moe"},
        {"gpt_oss", "gpt-oss"},
        {"gemma3", "gemma3"},
        {"gemma3_text", "gemma3"},
        {"gemma2", "gemma2"},
        {"deepseek_v3", "deepseek2"},
        {"deepseek_v2", "deepseek2"},
        {"glm4_moe", "glm4moe"},
        {"nemotron_h", "nemotron_h"},
        {"llama4", "llama4"},
        {"llama4_text", "llama4"},
        {"phi3", "phi3"},
    };
    for (const auto& [k, v] : kMap) {
        if (k == mt) return std::string(v);
    }
    return "";
}

LayerKind layer_kind_from_name(const Obj& o, std::string_view key, const std::string& s) {
    // transformers' ALLOWED_LAYER_TYPES (configuration_utils.py) plus hybrid models' names.
    if (s == "full_attention" || s == "attention") return LayerKind::full_attention;
    if (s == "sliding_attention") return LayerKind::sliding_attention;
    if (s == "chunked_attention") return LayerKind::chunked_attention;
    if (s == "linear_attention" || s == "mamba" || s == "mamba2") return LayerKind::recurrent;
    o.fail(key, "unknown layer type '" + base::printable(s) + "'");
}

// ---- quantization_config -------------------------------------------------------------------

void set_not_converted(Quantization& q, const Obj& o,
                       std::initializer_list<std::string_view> keys) {
    for (std::string_view k : keys) {
        if (o.has(k)) {
            q.not_converted = o.strings(k);
            return;
        }
    }
}

// compressed-tensors (vllm/model_executor/layers/quantization/compressed_tensors/
// compressed_tensors.py: config_groups -> {targets, weights: {num_bits, type, strategy,
// group_size, symmetric}}, format, ignore).
void parse_compressed_tensors(const Obj& qc, Quantization& q) {
    std::string format = base::to_lower(qc.str("format").value_or(""));
    set_not_converted(q, qc, {"ignore"});
    std::optional<Obj> weights;
    std::string group_format;
    if (auto groups = qc.obj("config_groups")) {
        const json* g = qc.raw("config_groups");
        for (auto it = g->begin(); it != g->end(); ++it) {  // std::map: sorted, deterministic
            auto group = groups->obj(it.key());
            if (!group) continue;
            if (auto w = group->obj("weights")) {
                weights = w;
                group_format = base::to_lower(group->str("format").value_or(""));
                break;
            }
        }
    }
    if (format.empty() || format == "mixed-precision") format = group_format;
    std::string type;
    std::optional<bool> symmetric;
    if (weights) {
        q.bits = weights->u32("num_bits");
        q.group_size = weights->u32("group_size");
        type = base::to_lower(weights->str("type").value_or(""));
        symmetric = weights->boolean("symmetric");
        if (symmetric) q.zero_point = !*symmetric;
    }
    if (format == "nvfp4-pack-quantized") {
        q.method = "nvfp4";
    } else if (format == "mxfp4-pack-quantized") {
        q.method = "mxfp4";
    } else if (format == "float-quantized" || (type == "float" && q.bits == 8u)) {
        q.method = "fp8";
    } else if (format == "pack-quantized" || (type == "int" && q.bits == 4u)) {
        // Weight-only int4 group-wise: llm-compressor's AWQ recipes are asymmetric (W4A16_ASYM,
        // with zero points) and its GPTQ default is symmetric (W4A16); both run on the same
        // Marlin kernels in vLLM, so the split only names the family.
        q.method = (symmetric && !*symmetric) ? "awq" : "gptq";
    } else if (format == "int-quantized" || (type == "int" && q.bits == 8u)) {
        q.method = "int8";  // W8A8 int8: outside spark-knowledge's canonical list
    } else {
        q.method = format.empty() ? "compressed-tensors" : format;
    }
}

// ModelOpt: config.json {"quant_method": "modelopt", "quant_algo": ...} or hf_quant_config.json
// {"quantization": {...}} (vllm/.../quantization/modelopt.py ModelOptFp8Config/
// ModelOptNvFp4Config.from_config read either shape).
void parse_modelopt(const Obj& outer, Quantization& q) {
    std::optional<Obj> inner = outer.obj("quantization");
    const Obj& o = inner ? *inner : outer;
    std::string algo = o.str("quant_algo").value_or("");
    std::string lower = base::to_lower(algo);
    q.group_size = o.u32("group_size");
    set_not_converted(q, o, {"exclude_modules", "ignore"});
    if (lower == "nvfp4" || lower == "nvfp4_awq") {
        q.method = "nvfp4";
        q.bits = 4;
        if (!q.group_size) q.group_size = 16;  // NVFP4: one E4M3 scale per 16 values
    } else if (lower == "fp8" || lower == "fp8_pb_wo" || lower == "fp8_pc_pt") {
        q.method = "fp8";
        q.bits = 8;
    } else if (lower == "w4a16_awq" || lower == "w4a8_awq") {
        q.method = "awq";
        q.bits = 4;
    } else {
        q.method = lower.empty() ? "modelopt" : lower;
    }
}

std::optional<Quantization> parse_quantization(const Obj& qc) {
    Quantization q;
    std::string declared = qc.str("quant_method").value_or("");
    if (declared.empty()) {
        // hf_quant_config.json has no quant_method; its "producer" names ModelOpt.
        if (qc.has("quantization") || qc.has("quant_algo")) declared = "modelopt";
    }
    if (declared.empty()) return std::nullopt;
    q.declared = declared;
    const std::string m = base::to_lower(declared);
    if (m == "awq") {
        // vllm/.../quantization/awq.py AWQConfig.from_config: bits|w_bit, group_size|
        // q_group_size, zero_point, modules_to_not_convert.
        q.method = "awq";
        q.bits = qc.u32_any({"bits", "w_bit"});
        q.group_size = qc.u32_any({"group_size", "q_group_size"});
        q.zero_point = qc.boolean("zero_point");
        (void)qc.str("version");  // type-checked; "gemm"/"gemv" packing has the same size
        set_not_converted(q, qc, {"modules_to_not_convert"});
    } else if (m == "gptq") {
        // vllm/.../quantization/gptq.py GPTQConfig.from_config: bits, group_size, desc_act, sym.
        q.method = "gptq";
        q.bits = qc.u32("bits");
        q.group_size = qc.u32("group_size");  // -1 (per-channel) is refused as a wrong type
        (void)qc.boolean("desc_act");
        if (auto sym = qc.boolean("sym")) q.zero_point = !*sym;
        set_not_converted(q, qc, {"modules_to_not_convert"});
    } else if (m == "fp8" || m == "fbgemm_fp8") {
        // vllm/.../quantization/fp8.py Fp8Config.from_config: weight_block_size [n, k].
        q.method = "fp8";
        q.bits = 8;
        if (const json* b = qc.arr("weight_block_size")) {
            std::vector<std::uint64_t> block = qc.u64s("weight_block_size");
            if (block.size() != 2) qc.fail("weight_block_size", "expected [n, k]");
            (void)b;
        }
        set_not_converted(q, qc, {"modules_to_not_convert", "ignored_layers"});
    } else if (m == "mxfp4") {
        // transformers Mxfp4Config (gpt-oss): E2M1 + one E8M0 scale per 32 values.
        q.method = "mxfp4";
        q.bits = 4;
        q.group_size = 32;
        set_not_converted(q, qc, {"modules_to_not_convert"});
    } else if (m == "compressed-tensors" || m == "compressed_tensors") {
        parse_compressed_tensors(qc, q);
    } else if (m == "modelopt" || m == "modelopt_fp4") {
        parse_modelopt(qc, q);
    } else {
        q.method = m;
        q.bits = qc.u32("bits");
        q.group_size = qc.u32("group_size");
    }
    return q;
}

// ---- config.json -----------------------------------------------------------------------------

void parse_rope(const Obj& t, Arch& a) {
    Rope rope;
    bool any = false;
    // transformers v5 writes rope_parameters {rope_type, rope_theta, factor, ...}.
    std::optional<Obj> params = t.obj("rope_parameters");
    std::optional<Obj> scaling = t.obj("rope_scaling");
    rope.theta = t.num("rope_theta");
    if (!rope.theta && params) rope.theta = params->num("rope_theta");
    if (rope.theta) any = true;
    const std::optional<Obj>& s = scaling ? scaling : params;
    if (s) {
        std::string type = s->str("rope_type").value_or(s->str("type").value_or(""));
        if (type == "default") type.clear();
        rope.scaling_type = type;
        rope.factor = s->num("factor");
        rope.original_context = s->u64("original_max_position_embeddings");
        any = true;
    }
    if (any) a.rope = rope;
}

void parse_vision(const Obj& v, Arch& a) {
    Vision vis;
    // SigLIP/Pixtral/Llama4: num_hidden_layers, hidden_size; Qwen2-VL: depth, embed_dim.
    vis.n_layers = v.u32_any({"num_hidden_layers", "depth", "num_layers"});
    vis.hidden_size = v.u32_any({"hidden_size", "embed_dim", "width"});
    a.vision = vis;
}

void fill_layer_kinds(const Obj& t, const std::string& mt, Arch& a) {
    const std::uint32_t n = a.n_layers.value_or(0);
    auto check_len = [&](std::string_view key, std::size_t len) {
        if (a.n_layers && len != *a.n_layers) {
            t.fail(key, "has " + std::to_string(len) + " entries for " +
                            std::to_string(*a.n_layers) + " layers");
        }
    };
    if (mt == "nemotron_h") {
        // configuration_nemotron_h.py: M = Mamba2, * = attention, - = MLP, E = MoE.
        if (auto pattern = t.str("hybrid_override_pattern")) {
            if (pattern->size() > 100000) t.fail("hybrid_override_pattern", "too long");
            if (!a.n_layers) a.n_layers = static_cast<std::uint32_t>(pattern->size());
            check_len("hybrid_override_pattern", pattern->size());
            std::uint32_t n_moe = 0;
            for (char c : *pattern) {
                switch (c) {
                    case 'M':
                        a.layer_kinds.push_back(LayerKind::recurrent);
                        break;
                    case '*':
                        a.layer_kinds.push_back(LayerKind::full_attention);
                        break;
                    case '-':
                        a.layer_kinds.push_back(LayerKind::feed_forward);
                        break;
                    case 'E':
                        a.layer_kinds.push_back(LayerKind::feed_forward);
                        ++n_moe;
                        break;
                    default:
                        t.fail("hybrid_override_pattern",
                               "unknown layer code '" + base::printable(std::string(1, c)) + "'");
                }
            }
            if (a.moe) a.moe->n_moe_layers = n_moe;
            return;
        }
    }
    if (t.has("layer_types")) {
        std::vector<std::string> types = t.strings("layer_types");
        if (types.size() > 100000) t.fail("layer_types", "too long");
        if (!a.n_layers) a.n_layers = static_cast<std::uint32_t>(types.size());
        check_len("layer_types", types.size());
        for (const std::string& s : types) {
            a.layer_kinds.push_back(layer_kind_from_name(t, "layer_types", s));
        }
        return;
    }
    if (n == 0 || n > 100000) return;
    if (mt == "llama4_text" || mt == "llama4") {
        // modeling_llama4.py: a layer with RoPE (no_rope_layers[i] == 1) uses chunked attention
        // when attention_chunk_size is set; NoPE layers attend globally. Default:
        // no_rope_layers[i] = int((i + 1) % no_rope_layer_interval != 0), interval 4.
        auto chunk = t.u32("attention_chunk_size");
        if (!chunk) return;
        std::vector<std::uint64_t> rope_layers = t.u64s("no_rope_layers");
        if (rope_layers.empty()) {
            std::uint64_t interval = t.u64("no_rope_layer_interval").value_or(4);
            if (interval == 0) t.fail("no_rope_layer_interval", "must be positive");
            for (std::uint32_t i = 0; i < n; ++i) rope_layers.push_back((i + 1) % interval != 0);
        } else if (rope_layers.size() < n) {
            t.fail("no_rope_layers", "has fewer entries than layers");
        }
        for (std::uint32_t i = 0; i < n; ++i) {
            a.layer_kinds.push_back(rope_layers[i] ? LayerKind::chunked_attention
                                                   : LayerKind::full_attention);
        }
        a.sliding_window = chunk;
        return;
    }
    if (mt == "gemma3_text" || mt == "gemma3") {
        // Older Gemma3TextConfig: layer i is sliding iff (i + 1) % sliding_window_pattern != 0
        // (default 6: five local layers, then one global).
        std::uint64_t pattern =
            t.u64("sliding_window_pattern").value_or(t.u64("_sliding_window_pattern").value_or(6));
        if (pattern == 0) t.fail("sliding_window_pattern", "must be positive");
        for (std::uint32_t i = 0; i < n; ++i) {
            a.layer_kinds.push_back((i + 1) % pattern != 0 ? LayerKind::sliding_attention
                                                           : LayerKind::full_attention);
        }
        return;
    }
    if (mt == "gemma2") {
        // modeling_gemma2.py: even layers slide.
        for (std::uint32_t i = 0; i < n; ++i) {
            a.layer_kinds.push_back(i % 2 == 0 ? LayerKind::sliding_attention
                                               : LayerKind::full_attention);
        }
        return;
    }
    if (one_of(mt, {"qwen2", "qwen2_moe", "qwen3", "qwen3_moe"})) {
        // configuration_qwen2.py: sliding_window applies only with use_sliding_window, to layers
        // i >= max_window_layers.
        if (!t.boolean("use_sliding_window").value_or(false) || !t.has("sliding_window")) return;
        std::uint64_t first = t.u64("max_window_layers").value_or(n);
        for (std::uint32_t i = 0; i < n; ++i) {
            a.layer_kinds.push_back(i >= first ? LayerKind::sliding_attention
                                               : LayerKind::full_attention);
        }
        return;
    }
    if (one_of(mt, {"mistral", "mixtral"}) && t.has("sliding_window")) {
        a.layer_kinds.assign(n, LayerKind::sliding_attention);
    }
}

void parse_moe(const Obj& t, const std::string& mt, Arch& a) {
    // Expert count: num_experts (Qwen), num_local_experts (gpt-oss, Mixtral, Llama4),
    // n_routed_experts (DeepSeek, GLM, Nemotron-H).
    auto n_experts = t.u32_any({"num_experts", "num_local_experts", "n_routed_experts"});
    if (!n_experts || *n_experts == 0) return;
    Moe moe;
    moe.n_experts = *n_experts;
    moe.n_experts_per_token = t.u32_any({"num_experts_per_tok", "experts_per_token"}).value_or(0);
    moe.n_shared_experts = t.u32("n_shared_experts").value_or(0);
    moe.expert_intermediate_size = t.u64("moe_intermediate_size");
    moe.shared_expert_intermediate_size =
        t.u64_any({"shared_expert_intermediate_size", "moe_shared_expert_intermediate_size"});
    moe.latent_size = t.u64("moe_latent_size");
    if (mt == "gpt_oss" || mt == "mixtral") {
        moe.expert_intermediate_size = t.u64("intermediate_size");
    }
    if (mt == "llama4_text" || mt == "llama4") {
        // modeling_llama4.py Llama4TextMoe: experts and the one shared_expert both use
        // intermediate_size; dense layers use intermediate_size_mlp.
        moe.expert_intermediate_size = t.u64("intermediate_size");
        moe.n_shared_experts = 1;
        moe.shared_expert_intermediate_size = moe.expert_intermediate_size;
        std::uint64_t step = t.u64("interleave_moe_layer_step").value_or(1);
        if (step == 0) t.fail("interleave_moe_layer_step", "must be positive");
        if (a.n_layers) {
            std::vector<std::uint64_t> listed = t.u64s("moe_layers");
            std::uint32_t count = 0;
            if (!listed.empty()) {
                for (std::uint64_t l : listed) count += l < *a.n_layers ? 1 : 0;
            } else {
                // configuration_llama4.py: moe_layers = range(step - 1, n_layers, step).
                for (std::uint64_t i = step - 1; i < *a.n_layers; i += step) ++count;
            }
            moe.n_moe_layers = count;
        }
    }
    if (one_of(mt, {"deepseek_v3", "deepseek_v2", "glm4_moe"})) {
        moe.n_leading_dense_layers = t.u32("first_k_dense_replace").value_or(0);
        // modeling_deepseek_v3.py: shared experts are one MLP of moe_intermediate_size *
        // n_shared_experts.
        if (moe.expert_intermediate_size && moe.n_shared_experts > 0 &&
            !moe.shared_expert_intermediate_size) {
            moe.shared_expert_intermediate_size =
                *moe.expert_intermediate_size * moe.n_shared_experts;
        }
        if (a.n_layers && moe.n_leading_dense_layers > *a.n_layers) {
            t.fail("first_k_dense_replace", "exceeds num_hidden_layers");
        }
    }
    if (one_of(mt, {"qwen2_moe", "qwen3_moe"}) && a.n_layers) {
        // modeling_qwen3_moe.py: layer i is sparse iff i not in mlp_only_layers and
        // (i + 1) % decoder_sparse_step == 0.
        std::uint64_t step = t.u64("decoder_sparse_step").value_or(1);
        if (step == 0) t.fail("decoder_sparse_step", "must be positive");
        std::vector<std::uint64_t> dense = t.u64s("mlp_only_layers");
        std::uint32_t count = 0;
        std::uint32_t leading = 0;
        bool leading_run = true;
        for (std::uint32_t i = 0; i < *a.n_layers; ++i) {
            bool sparse =
                (i + 1) % step == 0 && std::find(dense.begin(), dense.end(), i) == dense.end();
            if (sparse) {
                ++count;
                leading_run = false;
            } else if (leading_run) {
                ++leading;
            }
        }
        moe.n_moe_layers = count;
        moe.n_leading_dense_layers = leading;
    }
    a.moe = moe;
}

HfConfig parse_doc(const json& doc, std::string_view file) {
    if (!doc.is_object()) throw KeyError{std::string(file) + ": not a JSON object"};
    const Obj root(doc, "", file);
    HfConfig cfg;
    cfg.model_type = root.str("model_type").value_or("");
    std::vector<std::string> archs = root.strings("architectures");
    Arch& a = cfg.arch;
    if (!archs.empty()) a.architecture = archs.front();

    // Multimodal wrappers keep the language model in text_config (Gemma3, Mistral3, Llama4).
    std::optional<Obj> text = root.obj("text_config");
    const Obj& t = text ? *text : root;
    cfg.text_model_type = t.str("model_type").value_or(cfg.model_type);
    if (text && cfg.text_model_type == cfg.model_type && cfg.model_type == "gemma3") {
        cfg.text_model_type = "gemma3_text";
    }
    const std::string& mt = cfg.text_model_type;
    a.family = llama_cpp_family(cfg.model_type);
    if (a.family.empty()) a.family = llama_cpp_family(mt);
    const bool gemma3 = mt == "gemma3_text";

    a.n_layers = t.u32("num_hidden_layers");
    a.n_mtp_layers = t.u32_any({"num_nextn_predict_layers", "mtp_num_hidden_layers"});
    a.hidden_size = t.u64("hidden_size");
    a.n_heads = t.u32("num_attention_heads");
    a.n_kv_heads = t.u32("num_key_value_heads");
    if (!a.n_kv_heads && a.n_heads &&
        one_of(mt, {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "deepseek_v3"})) {
        // configuration_llama.py (and these siblings): "If it is not specified, will default to
        // num_attention_heads" (multi-head attention).
        a.n_kv_heads = a.n_heads;
    }
    a.head_dim = t.u32("head_dim");
    if (!a.head_dim && a.hidden_size && a.n_heads && *a.n_heads > 0 &&
        one_of(mt, {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe"})) {
        // configuration_llama.py / configuration_mistral.py / modeling_qwen2.py:
        // head_dim = hidden_size // num_attention_heads when the config has none.
        a.head_dim = narrow32(t, "head_dim", *a.hidden_size / *a.n_heads);
    }
    if (gemma3 && !a.head_dim) a.head_dim = 256;  // Gemma3TextConfig default
    a.intermediate_size = t.u64("intermediate_size");
    if (mt == "llama4_text" || mt == "llama4") {
        if (auto mlp = t.u64("intermediate_size_mlp")) a.intermediate_size = mlp;  // dense FFN
    }
    a.vocab_size = t.u64("vocab_size");
    a.context_length = t.u64("max_position_embeddings");
    a.tie_word_embeddings = t.boolean("tie_word_embeddings");
    if (!a.tie_word_embeddings && text) a.tie_word_embeddings = root.boolean("tie_word_embeddings");
    if (gemma3) {
        // configuration_gemma3.py Gemma3TextConfig defaults, which gemma-3-*-it config.json files
        // rely on (they omit these keys).
        if (!a.vocab_size) a.vocab_size = 262208;
        if (!a.context_length) a.context_length = 131072;
        if (!a.tie_word_embeddings) a.tie_word_embeddings = true;
    }

    // MLA (modeling_deepseek_v3.py): keys are nope + rope dims, values v_head_dim.
    if (t.has("kv_lora_rank")) {
        Mla mla;
        mla.kv_lora_rank = t.u32("kv_lora_rank").value_or(0);
        mla.q_lora_rank = t.u32("q_lora_rank").value_or(0);
        mla.qk_rope_head_dim = t.u32("qk_rope_head_dim").value_or(0);
        mla.qk_nope_head_dim = t.u32("qk_nope_head_dim").value_or(0);
        mla.v_head_dim = t.u32("v_head_dim").value_or(0);
        a.mla = mla;
        if (mla.qk_rope_head_dim + mla.qk_nope_head_dim > 0) {
            a.head_dim = mla.qk_rope_head_dim + mla.qk_nope_head_dim;
        }
        if (mla.v_head_dim > 0) a.head_dim_v = mla.v_head_dim;
    }

    parse_moe(t, mt, a);

    if (mt == "nemotron_h") {
        // configuration_nemotron_h.py: Mamba2 mixer with mamba_num_heads x mamba_head_dim.
        Ssm ssm;
        ssm.d_conv = t.u32("conv_kernel");
        ssm.d_state = t.u32("ssm_state_size");
        ssm.n_group = t.u32("n_groups");
        ssm.n_heads = t.u32("mamba_num_heads");
        ssm.head_dim = t.u32("mamba_head_dim");
        if (ssm.n_heads && ssm.head_dim) {
            ssm.d_inner = narrow32(t, "mamba_num_heads",
                                   std::uint64_t{*ssm.n_heads} * std::uint64_t{*ssm.head_dim});
        }
        a.ssm = ssm;
    }

    fill_layer_kinds(t, mt, a);
    const bool windowed = std::any_of(a.layer_kinds.begin(), a.layer_kinds.end(), [](LayerKind k) {
        return k == LayerKind::sliding_attention;
    });
    if (windowed && !a.sliding_window) {
        a.sliding_window = t.u32("sliding_window");
        if (gemma3 && !a.sliding_window) a.sliding_window = 4096;  // Gemma3TextConfig default
    } else if (!windowed && !a.sliding_window) {
        (void)t.u32("sliding_window");  // type-checked; unused without sliding layers
    }

    parse_rope(t, a);
    if (gemma3 && a.rope && !a.rope->theta) a.rope->theta = 1'000'000.0;
    if (gemma3 && !a.rope) a.rope = Rope{"", 1'000'000.0, std::nullopt, std::nullopt};

    if (auto v = root.obj("vision_config")) parse_vision(*v, a);

    cfg.torch_dtype = root.str("torch_dtype").value_or(root.str("dtype").value_or(""));
    if (cfg.torch_dtype.empty()) {
        cfg.torch_dtype = t.str("torch_dtype").value_or(t.str("dtype").value_or(""));
    }
    std::optional<Obj> qc = root.obj("quantization_config");
    if (!qc) qc = root.obj("compression_config");  // older compressed-tensors spelling
    if (qc) cfg.quant = parse_quantization(*qc);
    if (!cfg.quant && !cfg.torch_dtype.empty()) {
        std::string m = canonical_quant_method(cfg.torch_dtype);
        if (m == "bf16" || m == "fp16")
            cfg.quant = Quantization{m, cfg.torch_dtype, 16u, {}, {}, {}};
    }
    return cfg;
}

base::Result<json> parse_json_text(std::string_view text, std::string_view name) {
    if (text.size() > kHfConfigMaxBytes) {
        return make_error(Errc::bad_input, std::string(name) + ": more than 16 MiB of JSON");
    }
    if (detail::json_nesting_depth(text, kHfConfigMaxDepth) > kHfConfigMaxDepth) {
        return make_error(Errc::bad_input, std::string(name) + ": JSON nested deeper than " +
                                               std::to_string(kHfConfigMaxDepth) + " levels");
    }
    const std::string strict = detail::python_json_to_strict(text);
    json doc = json::parse(strict.begin(), strict.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        return make_error(Errc::bad_input, std::string(name) + ": not valid JSON");
    }
    return doc;
}

}  // namespace

std::string canonical_quant_method(std::string_view declared) {
    std::string m = base::to_lower(declared);
    if (m == "bfloat16" || m == "bf16") return "bf16";
    if (m == "float16" || m == "half" || m == "fp16") return "fp16";
    if (m == "fbgemm_fp8" || m == "fp8" || m == "float8") return "fp8";
    return m;
}

base::Result<HfConfig> parse_hf_config(std::string_view text, std::string_view name) {
    auto doc = parse_json_text(text, name);
    if (!doc) return doc.error();
    try {
        return parse_doc(doc.value(), name);
    } catch (const KeyError& e) {
        return make_error(Errc::bad_input, e.message);
    } catch (const std::exception& e) {
        return make_error(Errc::bad_input, std::string(name) + ": " + e.what());
    }
}

base::Result<HfConfig> load_hf_config(const std::filesystem::path& path) {
    auto text = base::read_file(path, kHfConfigMaxBytes);
    if (!text) return text.error();
    return parse_hf_config(text.value(), path.string());
}

base::Result<std::optional<Quantization>> parse_hf_quant_config(std::string_view text,
                                                                std::string_view name) {
    auto doc = parse_json_text(text, name);
    if (!doc) return doc.error();
    try {
        if (!doc->is_object())
            return make_error(Errc::bad_input, std::string(name) + ": not an object");
        const Obj root(doc.value(), "", name);
        std::optional<Quantization> q;
        if (root.has("quant_method")) {
            q = parse_quantization(root);
        } else if (root.has("quantization")) {
            Quantization mq;
            mq.declared = "modelopt";
            parse_modelopt(root, mq);
            q = mq;
        }
        return q;
    } catch (const KeyError& e) {
        return make_error(Errc::bad_input, e.message);
    } catch (const std::exception& e) {
        return make_error(Errc::bad_input, std::string(name) + ": " + e.what());
    }
}

}  // namespace sparkctl::model
