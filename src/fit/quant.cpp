#include "fit/quant.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "base/strings.h"
#include "model/ggml_types.h"

namespace sparkctl::fit {

namespace {

struct GgufFtype {
    std::string_view name;  // canonical sparkctl spelling
    std::uint32_t ftype;    // include/llama.h enum llama_ftype
    std::string_view base;  // llama_ftype_get_default_type (LC:src/llama-quant.cpp)
};

// The file types sparkctl prices; ids and base types from include/llama.h and llama-quant.cpp.
constexpr std::array kGguf = {
    GgufFtype{"Q8_0", 7, "Q8_0"},      GgufFtype{"Q6_K", 18, "Q6_K"},
    GgufFtype{"Q5_K_M", 17, "Q5_K"},   GgufFtype{"Q5_K_S", 16, "Q5_K"},
    GgufFtype{"Q4_K_M", 15, "Q4_K"},   GgufFtype{"Q4_K_S", 14, "Q4_K"},
    GgufFtype{"IQ4_XS", 30, "IQ4_XS"}, GgufFtype{"IQ4_NL", 25, "IQ4_NL"},
    GgufFtype{"Q3_K_L", 13, "Q3_K"},   GgufFtype{"Q3_K_M", 12, "Q3_K"},
    GgufFtype{"Q3_K_S", 11, "Q3_K"},   GgufFtype{"Q2_K", 10, "Q2_K"},
    GgufFtype{"Q5_1", 9, "Q5_1"},      GgufFtype{"Q5_0", 8, "Q5_0"},
    GgufFtype{"Q4_1", 3, "Q4_1"},      GgufFtype{"Q4_0", 2, "Q4_0"},
    GgufFtype{"MXFP4", 38, "MXFP4"},   GgufFtype{"BF16", 32, "BF16"},
    GgufFtype{"F16", 1, "F16"},        GgufFtype{"F32", 0, "F32"},
};

constexpr std::array<std::string_view, 7> kSafetensors = {"bf16", "fp16",  "fp8",  "awq",
                                                          "gptq", "nvfp4", "mxfp4"};

const GgufFtype* gguf_by_ftype(std::uint32_t ftype) {
    for (const GgufFtype& g : kGguf) {
        if (g.ftype == ftype) return &g;
    }
    return nullptr;
}

enum class Cat { output, token_embd, attn_v, attn_k, attn_q, attn_output, ffn_down, other };

Cat category(std::string_view name) {
    auto has = [&](std::string_view s) { return name.find(s) != std::string_view::npos; };
    if (name == "output.weight") return Cat::output;
    if (name == "token_embd.weight") return Cat::token_embd;
    if (has("attn_qkv.weight") || has("attn_kv_b.weight") || has("attn_v.weight")) {
        return Cat::attn_v;
    }
    if (has("attn_k.weight")) return Cat::attn_k;
    if (has("attn_q.weight")) return Cat::attn_q;
    if (has("attn_output.weight")) return Cat::attn_output;
    if (has("ffn_up") || has("ffn_gate")) return Cat::other;
    if (has("ffn_down")) return Cat::ffn_down;
    return Cat::other;
}

// tensor_allows_quantization: 2-D and 3-D "*weight" tensors, except norms, the MoE router,
// positional embeddings and conv1d weights.
bool allows_quantization(const model::Tensor& t) {
    if (t.shape.size() < 2) return false;
    const std::string& n = t.name;
    if (n.size() < 6 || n.compare(n.size() - 6, 6, "weight") != 0) return false;
    if (n.find("_norm.weight") != std::string::npos) return false;
    if (n.find("ffn_gate_inp.weight") != std::string::npos) return false;
    if (n.find("ssm_conv1d") != std::string::npos) return false;
    return true;
}

bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

std::uint32_t block_of(std::string_view type) {
    const model::GgmlType* t = model::ggml_type_by_name(type);
    return t ? t->block_size : 1;
}

// tensor_type_fallback: a row length the type's block does not divide.
std::string fallback(std::string type, std::uint64_t ncols) {
    if (ncols % block_of(type) == 0) return type;
    std::string f;
    if (type == "IQ4_XS")
        f = "IQ4_NL";
    else if (type == "Q2_K" || type == "Q3_K")
        f = "Q4_0";
    else if (type == "Q4_K")
        f = "Q5_0";
    else if (type == "Q5_K")
        f = "Q5_1";
    else if (type == "Q6_K")
        f = "Q8_0";
    else
        f = type;
    if (ncols % block_of(f) != 0) f = "F16";
    return f;
}

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

}  // namespace

base::Result<Quant> resolve_quant(engines::Engine engine, std::string_view name) {
    const std::string lower = base::to_lower(base::trim(name));
    if (engine == engines::Engine::llama_cpp) {
        std::string upper;
        for (char c : lower) upper += static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
        if (upper == "MXFP4_MOE") upper = "MXFP4";
        if (upper == "FP16") upper = "F16";
        for (const GgufFtype& g : kGguf) {
            if (g.name == upper)
                return Quant{std::string(g.name), engines::WeightFormat::gguf, g.ftype};
        }
    } else {
        std::string n = lower;
        if (n == "f16" || n == "float16") n = "fp16";
        if (n == "bfloat16") n = "bf16";
        for (std::string_view s : kSafetensors) {
            if (s == n) return Quant{std::string(s), engines::WeightFormat::safetensors, 0};
        }
    }
    std::string list;
    for (const std::string& q : runnable_quants(engine)) list += (list.empty() ? "" : ", ") + q;
    return base::make_error(base::Errc::bad_input,
                            "--quant: '" + base::printable(name) + "' is not a quantization " +
                                engines::to_string(engine) + " runs (" + list + ")");
}

std::vector<std::string> runnable_quants(engines::Engine engine) {
    std::vector<std::string> out;
    if (engine == engines::Engine::llama_cpp) {
        for (const GgufFtype& g : kGguf) out.emplace_back(g.name);
    } else {
        for (std::string_view s : kSafetensors) out.emplace_back(s);
    }
    return out;
}

bool is_same_quant(const Quant& q, std::string_view variant_format) {
    if (q.format == engines::WeightFormat::gguf) {
        std::string v(variant_format);
        for (char& c : v) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
        return v == q.name || (q.name == "MXFP4" && v == "MXFP4_MOE");
    }
    return variant_format == q.name;
}

std::string gguf_tensor_type(const Quant& q, const model::Tensor& t, int layer, int attn_v_index,
                             int n_attn_v, const GgufRuleContext& ctx) {
    if (!allows_quantization(t)) {
        // Converters write 1-D tensors and the router as F32 (convert_hf_to_gguf.py), and
        // llama-quantize leaves them alone.
        return "F32";
    }
    const GgufFtype* g = gguf_by_ftype(q.ftype);
    std::string type = g ? std::string(g->base) : "F16";
    const model::GgmlType* base = model::ggml_type_by_name(type);
    if (!base || !base->quantized) return type;  // F32/F16/BF16 files: no mixture

    const std::uint32_t f = q.ftype;
    const bool mxfp4_moe = f == 38;
    const std::uint64_t nx = t.shape[0];
    Cat cat = category(t.name);
    if (cat == Cat::token_embd && ctx.tied_embeddings) cat = Cat::output;

    if (cat == Cat::output) {
        if (mxfp4_moe || nx % base->block_size != 0)
            type = "Q8_0";
        else if (type != "Q8_0")
            type = "Q6_K";
    } else if (mxfp4_moe) {
        type = t.shape.size() > 2 && t.shape[2] > 1 ? "MXFP4" : "Q8_0";
    } else if (cat == Cat::token_embd) {
        // base type
    } else if (cat == Cat::attn_v) {
        if (f == 10)
            type = ctx.n_gqa >= 4 ? "Q4_K" : "Q3_K";
        else if (f == 12)
            type = attn_v_index < 2 ? "Q5_K" : "Q4_K";
        else if (f == 13)
            type = "Q5_K";
        else if ((f == 25 || f == 30) && ctx.n_gqa >= 4)
            type = "Q5_K";
        else if ((f == 15 || f == 17) && use_more_bits(attn_v_index, n_attn_v))
            type = "Q6_K";
        else if (f == 14 && attn_v_index < 4)
            type = "Q5_K";
        if (ctx.llama_70b && (type == "Q3_K" || type == "Q4_K")) type = "Q5_K";
        if (ctx.n_experts == 8) type = "Q8_0";
    } else if (cat == Cat::attn_k) {
        if (ctx.n_experts == 8) type = "Q8_0";
    } else if (cat == Cat::ffn_down) {
        const int n = static_cast<int>(ctx.n_layers_all);
        const int i = layer < 0 ? 0 : layer;
        if (f == 10)
            type = "Q3_K";
        else if (f == 12)
            type = i < n / 16 ? "Q5_K" : "Q4_K";
        else if (f == 13)
            type = "Q5_K";
        else if (f == 15) {
            if (use_more_bits(i, n)) type = "Q6_K";
        } else if (i < n / 8 && (f == 25 || f == 30))
            type = "Q5_K";
        else if (f == 17 && use_more_bits(i, n))
            type = "Q6_K";
        else if (f == 14 && i < n / 8)
            type = "Q5_K";
    } else if (cat == Cat::attn_output) {
        if (ctx.n_experts == 8) {
            if (f == 10 || f == 11 || f == 12 || f == 25 || f == 14 || f == 15 || f == 30) {
                type = "Q5_K";
            }
        } else {
            if (f == 10)
                type = "Q3_K";
            else if (f == 12)
                type = "Q4_K";
            else if (f == 13)
                type = "Q5_K";
        }
    }
    return fallback(type, nx);
}

std::uint64_t safetensors_tensor_bytes(const Quant& q, const model::Tensor& t) {
    const std::uint64_t n = t.n_elements;
    const bool linear =
        t.shape.size() >= 2 &&
        (t.kind == model::TensorKind::attention || t.kind == model::TensorKind::ffn ||
         t.kind == model::TensorKind::ffn_experts || t.kind == model::TensorKind::ffn_shared ||
         t.kind == model::TensorKind::mtp || t.kind == model::TensorKind::ssm) &&
        t.name.find("conv1d") == std::string::npos;
    if (q.name == "bf16" || q.name == "fp16" || !linear) return n * 2;
    const std::uint64_t in = t.shape[0];
    const std::uint64_t out = n / in;  // all output rows (experts included)
    if (q.name == "fp8") {
        // E4M3 weights with FP32 scales per 128x128 block (the DeepSeek-V3 layout; per-channel
        // and per-tensor scales are smaller).
        return n + ceil_div(in, 128) * ceil_div(out, 128) * 4;
    }
    if (q.name == "awq") {
        // qweight int4, qzeros int32 [in/128, out/8], scales fp16 [in/128, out]
        // (V:vllm/model_executor/layers/quantization/awq.py).
        return n / 2 + ceil_div(in, 128) * ceil_div(out, 8) * 4 + ceil_div(in, 128) * out * 2;
    }
    if (q.name == "gptq") {
        // As AWQ plus g_idx int32 [in] (V:.../quantization/gptq.py create_weights).
        const std::uint64_t per_matrix_in = in;
        const std::uint64_t matrices = t.shape.size() > 2 ? t.shape[2] : 1;
        return n / 2 + ceil_div(in, 128) * ceil_div(out, 8) * 4 + ceil_div(in, 128) * out * 2 +
               per_matrix_in * 4 * matrices;
    }
    if (q.name == "nvfp4") {
        // E2M1 + one FP8 scale per 16 + FP32 weight_scale_2 and input_scale per matrix.
        const std::uint64_t matrices = t.shape.size() > 2 ? t.shape[2] : 1;
        return n / 2 + ceil_div(in, 16) * out + 8 * matrices;
    }
    if (q.name == "mxfp4") {
        // Only the routed experts are MXFP4 (E2M1 + E8M0 per 32); the rest stays BF16.
        if (t.kind != model::TensorKind::ffn_experts) return n * 2;
        return n / 2 + ceil_div(in, 32) * out;
    }
    return n * 2;
}

}  // namespace sparkctl::fit
