#include "model/catalog.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "base/assert.h"
#include "base/strings.h"

extern const char sparkctl_catalog_json[];
extern const unsigned long sparkctl_catalog_json_size;

namespace sparkctl::model {

namespace {

using base::Errc;
using base::Error;
using nlohmann::json;

// Canonical variant formats (docs/dev/catalog.md): safetensors methods in lower case, GGUF types
// in llama.cpp's spelling.
const std::set<std::string, std::less<>> kFormats = {
    "bf16",   "fp16",   "fp8",   "awq",    "gptq",   "nvfp4",  "mxfp4",  "F32",
    "F16",    "BF16",   "Q8_0",  "Q6_K",   "Q5_K_M", "Q5_K_S", "Q5_0",   "Q5_1",
    "Q4_K_M", "Q4_K_S", "Q4_0",  "Q4_1",   "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q2_K",
    "IQ4_XS", "IQ4_NL", "IQ3_M", "IQ3_XS", "IQ2_M",  "IQ1_S",  "MXFP4",  "NVFP4",
};

// Reads one JSON document into catalog entries; remembers the first error.
class Reader {
  public:
    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }

    void fail(const std::string& where, const std::string& what) {
        if (error_.empty()) error_ = where + ": " + what;
    }

    // Optional unsigned integer member; wrong type or range is an error.
    template <typename T>
    std::optional<T> uint(const json& obj, const char* key, const std::string& where) {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return std::nullopt;
        if (!it->is_number_unsigned()) {
            fail(where + "." + key, "expected a non-negative integer");
            return std::nullopt;
        }
        auto v = it->get<std::uint64_t>();
        if (v > std::numeric_limits<T>::max()) {
            fail(where + "." + key, "value out of range");
            return std::nullopt;
        }
        return static_cast<T>(v);
    }

    std::optional<double> number(const json& obj, const char* key, const std::string& where) {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return std::nullopt;
        if (!it->is_number()) {
            fail(where + "." + key, "expected a number");
            return std::nullopt;
        }
        return it->get<double>();
    }

    std::optional<bool> boolean(const json& obj, const char* key, const std::string& where) {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return std::nullopt;
        if (!it->is_boolean()) {
            fail(where + "." + key, "expected true or false");
            return std::nullopt;
        }
        return it->get<bool>();
    }

    std::string string(const json& obj, const char* key, const std::string& where) {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return {};
        if (!it->is_string()) {
            fail(where + "." + key, "expected a string");
            return {};
        }
        return it->get<std::string>();
    }

    std::vector<std::string> strings(const json& obj, const char* key, const std::string& where) {
        std::vector<std::string> out;
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return out;
        if (!it->is_array()) {
            fail(where + "." + key, "expected an array of strings");
            return out;
        }
        for (const json& s : *it) {
            if (!s.is_string()) {
                fail(where + "." + key, "expected an array of strings");
                return out;
            }
            out.push_back(s.get<std::string>());
        }
        return out;
    }

    const json* object(const json& obj, const char* key, const std::string& where) {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return nullptr;
        if (!it->is_object()) {
            fail(where + "." + key, "expected an object");
            return nullptr;
        }
        return &*it;
    }

  private:
    std::string error_;
};

std::optional<LayerKind> layer_kind_from_name(std::string_view s) {
    if (s == "full") return LayerKind::full_attention;
    if (s == "sliding") return LayerKind::sliding_attention;
    if (s == "chunked") return LayerKind::chunked_attention;
    if (s == "recurrent") return LayerKind::recurrent;
    if (s == "feed_forward") return LayerKind::feed_forward;
    return std::nullopt;
}

// Nemotron-H hybrid_override_pattern: M Mamba2, * attention, E MoE-only, - MLP-only.
std::optional<LayerKind> layer_kind_from_pattern_char(char c) {
    switch (c) {
        case 'M':
            return LayerKind::recurrent;
        case '*':
            return LayerKind::full_attention;
        case 'E':
        case '-':
            return LayerKind::feed_forward;
        default:
            return std::nullopt;
    }
}

// Expands "layer_layout" ({"cycle": [...]}, {"list": [...]} or {"hybrid_pattern": "..."}).
std::vector<LayerKind> read_layout(Reader& r, const json& layout, std::optional<std::uint32_t> n,
                                   const std::string& where) {
    std::vector<LayerKind> kinds;
    const std::string w = where + ".layer_layout";
    if (layout.contains("hybrid_pattern")) {
        std::string pattern = r.string(layout, "hybrid_pattern", w);
        for (char c : pattern) {
            auto k = layer_kind_from_pattern_char(c);
            if (!k) {
                r.fail(w, std::string("unknown hybrid_pattern character '") + c + "'");
                return {};
            }
            kinds.push_back(*k);
        }
    } else if (layout.contains("cycle") || layout.contains("list")) {
        const bool cycle = layout.contains("cycle");
        std::vector<std::string> names = r.strings(layout, cycle ? "cycle" : "list", w);
        std::vector<LayerKind> unit;
        for (const std::string& name : names) {
            auto k = layer_kind_from_name(name);
            if (!k) {
                r.fail(w, "unknown layer kind '" + name + "'");
                return {};
            }
            unit.push_back(*k);
        }
        if (unit.empty()) {
            r.fail(w, "empty layer layout");
            return {};
        }
        if (!cycle) {
            kinds = std::move(unit);
        } else {
            if (!n) {
                r.fail(w, "a cycle needs n_layers");
                return {};
            }
            for (std::uint32_t i = 0; i < *n; ++i) kinds.push_back(unit[i % unit.size()]);
        }
    } else {
        r.fail(w, "expected one of cycle, list, hybrid_pattern");
        return {};
    }
    if (n && kinds.size() != *n) {
        r.fail(w, "expands to " + std::to_string(kinds.size()) + " layers, n_layers is " +
                      std::to_string(*n));
        return {};
    }
    return kinds;
}

Arch read_arch(Reader& r, const json& a, const std::string& where) {
    Arch arch;
    arch.architecture = r.string(a, "architecture", where);
    arch.family = r.string(a, "family", where);
    arch.n_layers = r.uint<std::uint32_t>(a, "n_layers", where);
    arch.n_mtp_layers = r.uint<std::uint32_t>(a, "n_mtp_layers", where);
    arch.hidden_size = r.uint<std::uint64_t>(a, "hidden_size", where);
    arch.n_heads = r.uint<std::uint32_t>(a, "n_heads", where);
    arch.n_kv_heads = r.uint<std::uint32_t>(a, "n_kv_heads", where);
    arch.head_dim = r.uint<std::uint32_t>(a, "head_dim", where);
    arch.head_dim_v = r.uint<std::uint32_t>(a, "head_dim_v", where);
    arch.intermediate_size = r.uint<std::uint64_t>(a, "intermediate_size", where);
    arch.vocab_size = r.uint<std::uint64_t>(a, "vocab_size", where);
    arch.context_length = r.uint<std::uint64_t>(a, "context_length", where);
    arch.sliding_window = r.uint<std::uint32_t>(a, "sliding_window", where);
    arch.tie_word_embeddings = r.boolean(a, "tie_word_embeddings", where);
    arch.params_total = r.uint<std::uint64_t>(a, "params_total", where);
    arch.params_active = r.uint<std::uint64_t>(a, "params_active", where);
    if (const json* layout = r.object(a, "layer_layout", where)) {
        arch.layer_kinds = read_layout(r, *layout, arch.n_layers, where);
    }
    if (const json* m = r.object(a, "mla", where)) {
        const std::string w = where + ".mla";
        Mla mla;
        mla.kv_lora_rank = r.uint<std::uint32_t>(*m, "kv_lora_rank", w).value_or(0);
        mla.q_lora_rank = r.uint<std::uint32_t>(*m, "q_lora_rank", w).value_or(0);
        mla.qk_rope_head_dim = r.uint<std::uint32_t>(*m, "qk_rope_head_dim", w).value_or(0);
        mla.qk_nope_head_dim = r.uint<std::uint32_t>(*m, "qk_nope_head_dim", w).value_or(0);
        mla.v_head_dim = r.uint<std::uint32_t>(*m, "v_head_dim", w).value_or(0);
        if (mla.kv_lora_rank == 0) r.fail(w, "kv_lora_rank is required");
        arch.mla = mla;
    }
    if (const json* m = r.object(a, "moe", where)) {
        const std::string w = where + ".moe";
        Moe moe;
        moe.n_experts = r.uint<std::uint32_t>(*m, "n_experts", w).value_or(0);
        moe.n_experts_per_token = r.uint<std::uint32_t>(*m, "n_experts_per_token", w).value_or(0);
        moe.n_shared_experts = r.uint<std::uint32_t>(*m, "n_shared_experts", w).value_or(0);
        moe.expert_intermediate_size = r.uint<std::uint64_t>(*m, "expert_intermediate_size", w);
        moe.shared_expert_intermediate_size =
            r.uint<std::uint64_t>(*m, "shared_expert_intermediate_size", w);
        moe.n_leading_dense_layers =
            r.uint<std::uint32_t>(*m, "n_leading_dense_layers", w).value_or(0);
        moe.latent_size = r.uint<std::uint64_t>(*m, "latent_size", w);
        if (moe.n_experts == 0 || moe.n_experts_per_token == 0) {
            r.fail(w, "n_experts and n_experts_per_token are required");
        }
        arch.moe = moe;
    }
    if (const json* s = r.object(a, "ssm", where)) {
        const std::string w = where + ".ssm";
        Ssm ssm;
        ssm.d_conv = r.uint<std::uint32_t>(*s, "d_conv", w);
        ssm.d_inner = r.uint<std::uint32_t>(*s, "d_inner", w);
        ssm.d_state = r.uint<std::uint32_t>(*s, "d_state", w);
        ssm.n_group = r.uint<std::uint32_t>(*s, "n_group", w);
        ssm.n_heads = r.uint<std::uint32_t>(*s, "n_heads", w);
        ssm.head_dim = r.uint<std::uint32_t>(*s, "head_dim", w);
        arch.ssm = ssm;
    }
    if (const json* o = r.object(a, "rope", where)) {
        const std::string w = where + ".rope";
        Rope rope;
        rope.scaling_type = r.string(*o, "scaling_type", w);
        rope.theta = r.number(*o, "theta", w);
        rope.factor = r.number(*o, "factor", w);
        rope.original_context = r.uint<std::uint64_t>(*o, "original_context", w);
        arch.rope = rope;
    }
    if (const json* o = r.object(a, "vision", where)) {
        const std::string w = where + ".vision";
        Vision vision;
        vision.params = r.uint<std::uint64_t>(*o, "params", w);
        vision.n_layers = r.uint<std::uint32_t>(*o, "n_layers", w);
        vision.hidden_size = r.uint<std::uint32_t>(*o, "hidden_size", w);
        arch.vision = vision;
    }
    return arch;
}

Variant read_variant(Reader& r, const json& v, const std::string& where) {
    Variant out;
    if (!v.is_object()) {
        r.fail(where, "expected an object");
        return out;
    }
    out.format = r.string(v, "format", where);
    out.repo = r.string(v, "repo", where);
    out.file = r.string(v, "file", where);
    out.size_bytes = r.uint<std::uint64_t>(v, "size_bytes", where);
    out.size_exact = r.boolean(v, "size_exact", where).value_or(false);
    out.size_source = r.string(v, "size_source", where);
    out.publisher = r.string(v, "publisher", where);
    out.source = r.string(v, "source", where);
    if (out.repo.empty()) r.fail(where, "repo is required");
    if (out.source.empty()) r.fail(where, "source is required");
    if (kFormats.find(out.format) == kFormats.end()) {
        r.fail(where, "format '" + out.format + "' is not a canonical quantization name");
    }
    if (out.size_bytes && out.size_source.empty()) r.fail(where, "size_bytes needs size_source");
    return out;
}

CatalogEntry read_entry(Reader& r, const json& m, std::size_t index) {
    CatalogEntry e;
    std::string where = "models[" + std::to_string(index) + "]";
    if (!m.is_object()) {
        r.fail(where, "expected an object");
        return e;
    }
    e.id = r.string(m, "id", where);
    if (e.id.empty()) {
        r.fail(where, "id is required");
        return e;
    }
    where = "model '" + e.id + "'";
    e.display_name = r.string(m, "display_name", where);
    if (e.display_name.empty()) e.display_name = e.id;
    e.aliases = r.strings(m, "aliases", where);
    e.unknown = r.strings(m, "unknown", where);
    e.notes = r.string(m, "notes", where);
    e.spec.name = e.id;
    e.spec.source = SourceKind::catalog;
    e.spec.hf_id = r.string(m, "hf_id", where);
    if (e.spec.hf_id.empty()) r.fail(where, "hf_id is required");
    if (const json* s = r.object(m, "sources", where)) {
        for (const auto& [key, value] : s->items()) {
            if (!value.is_string() || value.get<std::string>().empty()) {
                r.fail(where + ".sources." + key, "expected a non-empty string");
                continue;
            }
            e.sources[key] = value.get<std::string>();
        }
    }
    if (e.sources.find("config") == e.sources.end()) r.fail(where, "sources.config is required");
    if (const json* a = r.object(m, "arch", where)) {
        e.spec.arch = read_arch(r, *a, where);
    } else {
        r.fail(where, "arch is required");
    }
    auto vit = m.find("variants");
    if (vit != m.end() && !vit->is_array()) r.fail(where, "variants: expected an array");
    if (vit != m.end() && vit->is_array()) {
        std::size_t i = 0;
        for (const json& v : *vit) {
            e.variants.push_back(
                read_variant(r, v, where + ".variants[" + std::to_string(i) + "]"));
            ++i;
        }
    }
    return e;
}

// Every name find_model matches for `e`, normalized.
std::vector<std::string> names_of(const CatalogEntry& e) {
    std::vector<std::string> names;
    names.push_back(normalize_model_name(e.id));
    for (const std::string& a : e.aliases) names.push_back(normalize_model_name(a));
    names.push_back(normalize_model_name(e.spec.hf_id));
    for (const Variant& v : e.variants) names.push_back(normalize_model_name(v.repo));
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::vector<CatalogEntry> load_embedded() {
    auto parsed =
        parse_catalog(std::string_view(sparkctl_catalog_json, sparkctl_catalog_json_size));
    if (!parsed.ok()) {
        std::fprintf(stderr, "sparkctl: embedded catalog: %s\n", parsed.error().message.c_str());
    }
    SPARKCTL_ASSERT(parsed.ok());
    return std::move(parsed).value();
}

}  // namespace

const std::string& CatalogEntry::source_for(std::string_view field) const {
    std::string key(field);
    for (;;) {
        auto it = sources.find(key);
        if (it != sources.end()) return it->second;
        std::size_t dot = key.rfind('.');
        if (dot == std::string::npos) break;
        key.resize(dot);
    }
    if (key == "params_total" || key == "params_active") {
        auto it = sources.find("params");
        if (it != sources.end()) return it->second;
    }
    auto it = sources.find("config");
    SPARKCTL_ASSERT(it != sources.end());
    return it->second;
}

std::string normalize_model_name(std::string_view name) {
    std::string s = base::to_lower(base::trim(name));
    std::string_view v = s;
    for (std::string_view prefix : {"https://", "http://"}) {
        if (v.substr(0, prefix.size()) == prefix) v.remove_prefix(prefix.size());
    }
    for (std::string_view prefix : {"www.huggingface.co/", "huggingface.co/", "hf.co/"}) {
        if (v.substr(0, prefix.size()) == prefix) {
            v.remove_prefix(prefix.size());
            break;
        }
    }
    while (!v.empty() && v.back() == '/') v.remove_suffix(1);
    return std::string(v);
}

base::Result<std::vector<CatalogEntry>> parse_catalog(std::string_view json_text) {
    json doc = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Error{Errc::bad_input, "catalog: not valid JSON"};
    if (!doc.is_object() || !doc.contains("models") || !doc["models"].is_array()) {
        return Error{Errc::bad_input, "catalog: expected an object with a \"models\" array"};
    }
    Reader r;
    std::vector<CatalogEntry> entries;
    std::size_t index = 0;
    for (const json& m : doc["models"]) {
        entries.push_back(read_entry(r, m, index++));
        if (!r.ok()) return Error{Errc::bad_input, "catalog: " + r.error()};
    }
    // A name must lead to one model, or find_model would depend on file order.
    std::map<std::string, std::string> owner;
    for (const CatalogEntry& e : entries) {
        for (const std::string& n : names_of(e)) {
            auto [it, inserted] = owner.emplace(n, e.id);
            if (!inserted) {
                return Error{Errc::bad_input, "catalog: name '" + n + "' belongs to both '" +
                                                  it->second + "' and '" + e.id + "'"};
            }
        }
    }
    return entries;
}

const std::vector<CatalogEntry>& catalog() {
    static const std::vector<CatalogEntry> entries = load_embedded();
    return entries;
}

const CatalogEntry* find_model(std::string_view name) {
    const std::string wanted = normalize_model_name(name);
    if (wanted.empty()) return nullptr;
    for (const CatalogEntry& e : catalog()) {
        for (const std::string& n : names_of(e)) {
            if (n == wanted) return &e;
        }
    }
    return nullptr;
}

std::vector<Variant> published_variants(const ModelSpec& spec) {
    if (spec.source != SourceKind::catalog) return {};
    const CatalogEntry* e = find_model(spec.name);
    return e ? e->variants : std::vector<Variant>{};
}

std::string named_checkpoint(std::string_view name, const ModelSpec& spec) {
    const std::string wanted = normalize_model_name(name);
    if (wanted == normalize_model_name(spec.hf_id)) return "";
    for (const Variant& v : published_variants(spec)) {
        if (normalize_model_name(v.repo) == wanted) return v.repo;
    }
    return "";
}

std::vector<std::string> suggest_models(std::string_view name, std::size_t max_results) {
    const std::string wanted = normalize_model_name(name);
    std::vector<std::pair<std::size_t, std::string>> scored;  // (score, id), lower is better
    if (wanted.empty()) return {};
    for (const CatalogEntry& e : catalog()) {
        std::size_t best = std::numeric_limits<std::size_t>::max();
        std::vector<std::string> names{base::to_lower(e.id)};
        for (const std::string& a : e.aliases) names.push_back(base::to_lower(a));
        for (const std::string& n : names) {
            std::size_t d = edit_distance(wanted, n);
            // A name that contains the query (or the reverse) is a good guess even when long.
            if (wanted.size() >= 3 &&
                (n.find(wanted) != std::string::npos || wanted.find(n) != std::string::npos)) {
                d = std::min<std::size_t>(d, 1);
            }
            best = std::min(best, d);
        }
        const std::size_t limit = std::max<std::size_t>(2, wanted.size() / 3);
        if (best <= limit) scored.emplace_back(best, e.id);
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (const auto& [score, id] : scored) {
        if (out.size() >= max_results) break;
        out.push_back(id);
    }
    return out;
}

}  // namespace sparkctl::model
