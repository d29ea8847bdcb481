#include "cli/model_json.h"

#include <fmt/format.h>

#include <map>

#include "base/strings.h"

namespace sparkctl::cli {

namespace {

template <typename T>
nlohmann::json opt(const std::optional<T>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

template <typename T>
std::string opt_text(const std::optional<T>& v) {
    return v ? fmt::format("{}", *v) : std::string("unknown");
}

std::string params_text(const std::optional<std::uint64_t>& p) {
    if (!p) return "unknown";
    return fmt::format("{:.2f}B", static_cast<double>(*p) / 1e9);
}

std::map<std::string, std::uint32_t> layer_counts(const model::Arch& arch) {
    std::map<std::string, std::uint32_t> counts;
    if (auto layout = model::layer_layout(arch)) {
        for (model::LayerKind k : *layout) counts[model::to_string(k)] += 1;
    }
    return counts;
}

}  // namespace

std::string arch_kind(const model::Arch& arch) {
    std::string kind = arch.moe ? "MoE" : "dense";
    if (arch.mla) kind += " + MLA";
    bool recurrent = false;
    bool sliding = false;
    for (model::LayerKind k : arch.layer_kinds) {
        recurrent |= k == model::LayerKind::recurrent;
        sliding |=
            k == model::LayerKind::sliding_attention || k == model::LayerKind::chunked_attention;
    }
    if (recurrent)
        kind = "hybrid " + kind + " + Mamba";
    else if (sliding)
        kind += " + SWA";
    if (arch.vision) kind += " + vision";
    return kind;
}

nlohmann::json arch_json(const model::Arch& a) {
    nlohmann::json j;
    j["architecture"] = a.architecture;
    j["family"] = a.family.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.family);
    j["kind"] = arch_kind(a);
    j["n_layers"] = opt(a.n_layers);
    j["n_mtp_layers"] = opt(a.n_mtp_layers);
    j["hidden_size"] = opt(a.hidden_size);
    j["n_heads"] = opt(a.n_heads);
    j["n_kv_heads"] = opt(a.n_kv_heads);
    if (!a.n_kv_heads_per_layer.empty()) j["n_kv_heads_per_layer"] = a.n_kv_heads_per_layer;
    j["head_dim"] = opt(a.head_dim);
    j["head_dim_v"] = opt(a.head_dim_v);
    j["intermediate_size"] = opt(a.intermediate_size);
    j["vocab_size"] = opt(a.vocab_size);
    j["context_length_tokens"] = opt(a.context_length);
    j["sliding_window_tokens"] = opt(a.sliding_window);
    nlohmann::json layers = nlohmann::json::object();
    for (const auto& [kind, n] : layer_counts(a)) layers[kind] = n;
    j["layer_kind_counts"] = layers.empty() ? nlohmann::json(nullptr) : layers;
    // null when the layout is unknown (e.g. a hybrid model whose pattern is not published).
    if (auto layout = model::layer_layout(a)) {
        nlohmann::json kinds = nlohmann::json::array();
        for (model::LayerKind k : *layout) kinds.push_back(model::to_string(k));
        j["layer_kinds"] = kinds;
    } else {
        j["layer_kinds"] = nullptr;
    }
    j["tie_word_embeddings"] = opt(a.tie_word_embeddings);
    j["params_total"] = opt(a.params_total);
    j["params_active"] = opt(a.params_active);
    if (a.mla) {
        j["mla"] = {{"kv_lora_rank", a.mla->kv_lora_rank},
                    {"q_lora_rank", a.mla->q_lora_rank},
                    {"qk_rope_head_dim", a.mla->qk_rope_head_dim},
                    {"qk_nope_head_dim", a.mla->qk_nope_head_dim},
                    {"v_head_dim", a.mla->v_head_dim}};
    } else {
        j["mla"] = nullptr;
    }
    if (a.moe) {
        j["moe"] = {
            {"n_experts", a.moe->n_experts},
            {"n_experts_per_token", a.moe->n_experts_per_token},
            {"n_shared_experts", a.moe->n_shared_experts},
            {"expert_intermediate_size", opt(a.moe->expert_intermediate_size)},
            {"shared_expert_intermediate_size", opt(a.moe->shared_expert_intermediate_size)},
            {"n_leading_dense_layers", a.moe->n_leading_dense_layers},
            {"latent_size", opt(a.moe->latent_size)}};
    } else {
        j["moe"] = nullptr;
    }
    if (a.ssm) {
        j["ssm"] = {{"d_conv", opt(a.ssm->d_conv)},   {"d_inner", opt(a.ssm->d_inner)},
                    {"d_state", opt(a.ssm->d_state)}, {"n_group", opt(a.ssm->n_group)},
                    {"n_heads", opt(a.ssm->n_heads)}, {"head_dim", opt(a.ssm->head_dim)}};
    } else {
        j["ssm"] = nullptr;
    }
    if (a.rope) {
        j["rope"] = {{"scaling_type", a.rope->scaling_type},
                     {"theta", opt(a.rope->theta)},
                     {"factor", opt(a.rope->factor)},
                     {"original_context_tokens", opt(a.rope->original_context)}};
    } else {
        j["rope"] = nullptr;
    }
    if (a.vision) {
        j["vision"] = {{"params", opt(a.vision->params)},
                       {"n_layers", opt(a.vision->n_layers)},
                       {"hidden_size", opt(a.vision->hidden_size)}};
    } else {
        j["vision"] = nullptr;
    }
    return j;
}

nlohmann::json quant_json(const model::Quantization& q) {
    return {{"method", q.method},
            {"declared", q.declared},
            {"bits", opt(q.bits)},
            {"group_size", opt(q.group_size)},
            {"zero_point", opt(q.zero_point)},
            {"not_converted", q.not_converted}};
}

nlohmann::json spec_json(const model::ModelSpec& s) {
    nlohmann::json j;
    j["name"] = s.name;
    j["source"] = model::to_string(s.source);
    j["hf_id"] = s.hf_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.hf_id);
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : s.files) files.push_back(f.string());
    j["files"] = files;
    j["file_bytes"] = opt(s.file_bytes);
    j["weights_bytes"] = opt(s.weights_bytes);
    j["arch"] = arch_json(s.arch);
    j["quant"] = s.quant ? quant_json(*s.quant) : nlohmann::json(nullptr);
    nlohmann::json inv = nlohmann::json::array();
    for (const model::InventoryRow& r : model::summarize_tensors(s.tensors)) {
        inv.push_back({{"kind", model::to_string(r.kind)},
                       {"dtype", r.dtype},
                       {"count", r.count},
                       {"n_elements", r.n_elements},
                       {"bytes", r.bytes}});
    }
    j["tensor_inventory"] = inv;
    j["n_tensors"] = s.tensors.size();
    return j;
}

std::string spec_text(const model::ModelSpec& s) {
    const model::Arch& a = s.arch;
    std::string t;
    auto row = [&t](std::string_view k, const std::string& v) {
        t += fmt::format("  {:<22} {}\n", k, v);
    };
    t += fmt::format("{} ({})\n", s.name, model::to_string(s.source));
    if (!s.hf_id.empty()) row("hf id", s.hf_id);
    for (const auto& f : s.files) row("file", f.string());
    if (s.file_bytes) row("size on disk", base::format_bytes(*s.file_bytes));
    if (s.weights_bytes) row("weights", base::format_bytes(*s.weights_bytes));
    if (s.quant) {
        std::string q = s.quant->method;
        if (!s.quant->declared.empty() && s.quant->declared != s.quant->method) {
            q += " (declared " + s.quant->declared + ")";
        }
        if (s.quant->bits) q += fmt::format(", {} bits", *s.quant->bits);
        if (s.quant->group_size) q += fmt::format(", group {}", *s.quant->group_size);
        row("quantization", q);
    }
    t += "\narchitecture\n";
    row("class", a.architecture.empty() ? "unknown" : a.architecture);
    row("kind", arch_kind(a));
    row("parameters",
        params_text(a.params_total) +
            (a.params_active ? " (" + params_text(a.params_active) + " active)" : ""));
    row("layers", opt_text(a.n_layers) + (a.n_mtp_layers && *a.n_mtp_layers > 0
                                              ? fmt::format(" + {} MTP", *a.n_mtp_layers)
                                              : std::string()));
    row("hidden size", opt_text(a.hidden_size));
    row("attention heads", opt_text(a.n_heads));
    row("KV heads", a.n_kv_heads_per_layer.empty()
                        ? opt_text(a.n_kv_heads)
                        : fmt::format("per layer: {}", fmt::join(a.n_kv_heads_per_layer, ",")));
    row("head dim", opt_text(a.head_dim) + (a.head_dim_v && a.head_dim_v != a.head_dim
                                                ? fmt::format(" (V {})", *a.head_dim_v)
                                                : std::string()));
    row("FFN size", opt_text(a.intermediate_size));
    row("vocabulary", opt_text(a.vocab_size));
    row("trained context", opt_text(a.context_length));
    if (model::layer_layout(a)) {
        std::string layers;
        for (const auto& [kind, n] : layer_counts(a)) {
            if (!layers.empty()) layers += ", ";
            layers += fmt::format("{} {}", n, kind);
        }
        row("layer layout", layers);
    }
    if (a.sliding_window) row("sliding window", fmt::format("{} tokens", *a.sliding_window));
    if (a.mla) {
        row("MLA", fmt::format("kv_lora_rank {}, q_lora_rank {}, rope dim {}, nope dim {}, v {}",
                               a.mla->kv_lora_rank, a.mla->q_lora_rank, a.mla->qk_rope_head_dim,
                               a.mla->qk_nope_head_dim, a.mla->v_head_dim));
    }
    if (a.moe) {
        row("experts",
            fmt::format("{} routed, {} per token, {} shared; expert FFN {}", a.moe->n_experts,
                        a.moe->n_experts_per_token, a.moe->n_shared_experts,
                        opt_text(a.moe->expert_intermediate_size)));
        if (a.moe->n_leading_dense_layers > 0) {
            row("dense layers first", fmt::format("{}", a.moe->n_leading_dense_layers));
        }
    }
    if (a.ssm) {
        row("Mamba state",
            fmt::format("d_state {}, d_inner {}, conv {}, groups {}, heads {}",
                        opt_text(a.ssm->d_state), opt_text(a.ssm->d_inner), opt_text(a.ssm->d_conv),
                        opt_text(a.ssm->n_group), opt_text(a.ssm->n_heads)));
    }
    if (a.rope) {
        std::string r = a.rope->scaling_type.empty() ? "none" : a.rope->scaling_type;
        if (a.rope->factor) r += fmt::format(" x{}", *a.rope->factor);
        if (a.rope->original_context) r += fmt::format(" from {}", *a.rope->original_context);
        if (a.rope->theta) r += fmt::format(", theta {}", *a.rope->theta);
        row("RoPE scaling", r);
    }
    if (a.vision) {
        row("vision tower",
            fmt::format("{} layers, hidden {}, {} params", opt_text(a.vision->n_layers),
                        opt_text(a.vision->hidden_size), params_text(a.vision->params)));
    }
    auto inventory = model::summarize_tensors(s.tensors);
    if (!inventory.empty()) {
        t += fmt::format("\ntensors ({})\n", s.tensors.size());
        t += fmt::format("  {:<12} {:<10} {:>7} {:>16} {:>12}\n", "KIND", "TYPE", "COUNT",
                         "ELEMENTS", "BYTES");
        for (const auto& r : inventory) {
            t += fmt::format("  {:<12} {:<10} {:>7} {:>16} {:>12}\n", model::to_string(r.kind),
                             r.dtype, r.count, r.n_elements, base::format_bytes(r.bytes));
        }
    }
    return t;
}

}  // namespace sparkctl::cli
