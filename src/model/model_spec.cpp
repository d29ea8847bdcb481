#include "model/model_spec.h"

#include <map>
#include <tuple>

namespace sparkctl::model {

const char* to_string(LayerKind kind) {
    switch (kind) {
        case LayerKind::full_attention: return "full_attention";
        case LayerKind::sliding_attention: return "sliding_attention";
        case LayerKind::chunked_attention: return "chunked_attention";
        case LayerKind::recurrent: return "recurrent";
        case LayerKind::feed_forward: return "feed_forward";
    }
    return "unknown";
}

const char* to_string(TensorKind kind) {
    switch (kind) {
        case TensorKind::embedding: return "embedding";
        case TensorKind::output: return "output";
        case TensorKind::attention: return "attention";
        case TensorKind::ffn: return "ffn";
        case TensorKind::ffn_experts: return "ffn_experts";
        case TensorKind::ffn_shared: return "ffn_shared";
        case TensorKind::router: return "router";
        case TensorKind::ssm: return "ssm";
        case TensorKind::norm: return "norm";
        case TensorKind::vision: return "vision";
        case TensorKind::mtp: return "mtp";
        case TensorKind::other: return "other";
    }
    return "other";
}

const char* to_string(SourceKind kind) {
    switch (kind) {
        case SourceKind::catalog: return "catalog";
        case SourceKind::gguf: return "gguf";
        case SourceKind::safetensors: return "safetensors";
        case SourceKind::config_json: return "config.json";
        case SourceKind::hf_cache: return "hf-cache";
    }
    return "unknown";
}

std::optional<std::vector<LayerKind>> layer_layout(const Arch& arch) {
    if (!arch.layer_kinds.empty()) return arch.layer_kinds;
    if (!arch.n_layers || arch.sliding_window || arch.ssm) return std::nullopt;
    return std::vector<LayerKind>(*arch.n_layers, LayerKind::full_attention);
}

std::vector<InventoryRow> summarize_tensors(const std::vector<Tensor>& tensors) {
    std::map<std::tuple<int, std::string>, InventoryRow> rows;
    for (const Tensor& t : tensors) {
        InventoryRow& row = rows[{static_cast<int>(t.kind), t.dtype}];
        row.kind = t.kind;
        row.dtype = t.dtype;
        row.count += 1;
        row.n_elements += t.n_elements;
        row.bytes += t.bytes;
    }
    std::vector<InventoryRow> out;
    out.reserve(rows.size());
    for (auto& [key, row] : rows) out.push_back(std::move(row));
    return out;
}

}  // namespace sparkctl::model
