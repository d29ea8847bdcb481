#include "model/safetensors.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/strings.h"
#include "model/detail/json_limits.h"

namespace sparkctl::model {

namespace {

using base::Errc;
using base::make_error;
using json = nlohmann::json;

// A header is one object of tensor objects: depth 3 ({ name: { shape: [ ] } }). Allow slack.
constexpr std::size_t kMaxHeaderDepth = 8;
constexpr std::size_t kMaxIndexDepth = 8;
constexpr std::size_t kMaxShapeRank = 64;

base::Error bad(std::string_view name, const std::string& what) {
    return make_error(Errc::bad_input, std::string(name) + ": " + what);
}

std::string q_name(std::string_view s) { return "'" + base::printable(s) + "'"; }

struct DtypeBits {
    std::string_view name;
    std::uint32_t bits;
};

// safetensors/src/tensor.rs `Dtype::bitsize` (safetensors 0.6+: F4, F6_*, F8_E8M0, C64; 0.7+:
// the FNUZ float8 variants).
constexpr std::array<DtypeBits, 22> kDtypes = {{
    {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
    {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
    {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
    {"I64", 64},        {"U64", 64},
}};

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
    if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
    out = a * b;
    return true;
}

std::uint64_t read_le_u64(std::string_view bytes) {
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) {
        n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    }
    return n;
}

// A non-negative JSON integer (serde `usize`): no floats, no negatives.
bool as_u64(const json& v, std::uint64_t& out) {
    if (!v.is_number_unsigned()) return false;
    out = v.get<std::uint64_t>();
    return true;
}

base::Result<SafetensorsTensor> parse_tensor_info(const std::string& tname, const json& info,
                                                  std::string_view name) {
    std::string where = "tensor " + q_name(tname);
    if (!info.is_object()) return bad(name, where + ": entry is not an object");
    auto dt = info.find("dtype");
    auto sh = info.find("shape");
    auto off = info.find("data_offsets");
    if (dt == info.end() || sh == info.end() || off == info.end()) {
        return bad(name, where + ": needs dtype, shape and data_offsets");
    }
    if (!dt->is_string()) return bad(name, where + ": dtype is not a string");
    SafetensorsTensor t;
    t.name = tname;
    t.dtype = dt->get<std::string>();
    auto bits = safetensors_dtype_bits(t.dtype);
    if (!bits) return bad(name, where + ": unknown dtype " + q_name(t.dtype));
    if (!sh->is_array()) return bad(name, where + ": shape is not an array");
    if (sh->size() > kMaxShapeRank) return bad(name, where + ": shape has too many dimensions");
    std::uint64_t n = 1;
    for (const json& d : *sh) {
        std::uint64_t dim = 0;
        if (!as_u64(d, dim)) return bad(name, where + ": shape holds a non-integer or negative");
        t.shape.push_back(dim);
        if (!checked_mul(n, dim, n)) return bad(name, where + ": shape product overflows");
    }
    t.n_elements = n;
    if (!off->is_array() || off->size() != 2 || !as_u64((*off)[0], t.data_begin) ||
        !as_u64((*off)[1], t.data_end)) {
        return bad(name, where + ": data_offsets is not [begin, end] of non-negative integers");
    }
    if (t.data_end < t.data_begin) return bad(name, where + ": data_offsets end before begin");
    std::uint64_t total_bits = 0;
    if (!checked_mul(n, *bits, total_bits)) {
        return bad(name, where + ": shape x dtype size overflows");
    }
    if (total_bits % 8 != 0) {
        return bad(name, where + ": " + std::to_string(n) + " elements of " + t.dtype +
                             " are not a whole number of bytes");
    }
    if (t.data_end - t.data_begin != total_bits / 8) {
        return bad(name, where + ": data_offsets span " +
                             std::to_string(t.data_end - t.data_begin) +
                             " bytes, shape x dtype needs " + std::to_string(total_bits / 8));
    }
    return t;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

std::vector<std::string_view> components(std::string_view name) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) dot = name.size();
        out.push_back(name.substr(start, dot - start));
        start = dot + 1;
    }
    return out;
}

std::optional<std::uint64_t> parse_index(std::string_view s) {
    if (s.empty() || s.size() > 9) return std::nullopt;
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

bool any_component(const std::vector<std::string_view>& parts,
                   std::initializer_list<std::string_view> names) {
    for (std::string_view p : parts) {
        for (std::string_view n : names) {
            if (p == n) return true;
        }
    }
    return false;
}

}  // namespace

std::optional<std::uint32_t> safetensors_dtype_bits(std::string_view dtype) {
    for (const DtypeBits& d : kDtypes) {
        if (d.name == dtype) return d.bits;
    }
    return std::nullopt;
}

base::Result<SafetensorsHeader> parse_safetensors_header(std::string_view bytes,
                                                         std::uint64_t file_size,
                                                         std::string_view name) {
    if (file_size < 8 || bytes.size() < 8) {
        return bad(name, "file is smaller than the 8-byte header length");
    }
    SafetensorsHeader h;
    h.header_bytes = read_le_u64(bytes);
    if (h.header_bytes > kSafetensorsMaxHeaderBytes) {
        return bad(name, "header length " + std::to_string(h.header_bytes) +
                             " is over safetensors' limit of 100000000 bytes");
    }
    h.data_offset = 8 + h.header_bytes;
    if (h.data_offset > file_size) {
        return bad(name, "header length " + std::to_string(h.header_bytes) +
                             " runs past the end of the file (" + std::to_string(file_size) +
                             " bytes)");
    }
    if (bytes.size() < h.data_offset) return bad(name, "truncated: header not fully read");
    std::string_view text = bytes.substr(8, static_cast<std::size_t>(h.header_bytes));
    if (detail::json_nesting_depth(text, kMaxHeaderDepth) > kMaxHeaderDepth) {
        return bad(name, "header JSON is nested too deeply");
    }
    json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return bad(name, "header is not valid JSON");
    if (!doc.is_object()) return bad(name, "header is not a JSON object");

    for (auto it = doc.begin(); it != doc.end(); ++it) {
        if (it.key() == "__metadata__") {
            const json& meta = it.value();
            if (meta.is_null()) continue;
            if (!meta.is_object()) return bad(name, "__metadata__ is not an object");
            for (auto m = meta.begin(); m != meta.end(); ++m) {
                if (!m.value().is_string()) {
                    return bad(name, "__metadata__ key " + q_name(m.key()) + " is not a string");
                }
                h.metadata.emplace_back(m.key(), m.value().get<std::string>());
            }
            continue;
        }
        auto t = parse_tensor_info(it.key(), it.value(), name);
        if (!t) return t.error();
        h.tensors.push_back(std::move(t.value()));
    }
    // nlohmann's object is a std::map: metadata already sorted by key.
    std::sort(h.tensors.begin(), h.tensors.end(),
              [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
                  return std::tie(a.data_begin, a.data_end) < std::tie(b.data_begin, b.data_end);
              });
    std::uint64_t expected = 0;
    for (const SafetensorsTensor& t : h.tensors) {
        if (t.data_begin != expected) {
            return bad(name, "tensor " + q_name(t.name) + ": data_offsets begin at " +
                                 std::to_string(t.data_begin) + ", expected " +
                                 std::to_string(expected) +
                                 (t.data_begin < expected ? " (overlaps the previous tensor)"
                                                          : " (gap before it)"));
        }
        expected = t.data_end;
    }
    h.data_bytes = expected;
    std::uint64_t available = file_size - h.data_offset;
    if (h.data_bytes != available) {
        return bad(name,
                   "tensors cover " + std::to_string(h.data_bytes) +
                       " bytes of data but the file holds " + std::to_string(available) +
                       (h.data_bytes > available ? " (truncated file or offsets out of bounds)"
                                                 : " (trailing bytes)"));
    }
    return h;
}

base::Result<SafetensorsHeader> read_safetensors_header(const std::filesystem::path& path) {
    auto file = base::RandomAccessFile::open(path);
    if (!file) return file.error();
    const std::string label = path.string();
    if (file->size() < 8) return bad(label, "file is smaller than the 8-byte header length");
    std::string bytes;
    auto r = file->read_at(0, 8, bytes);
    if (!r) return r.error();
    std::uint64_t n = read_le_u64(bytes);
    if (n > kSafetensorsMaxHeaderBytes || n > file->size() - 8) {
        return parse_safetensors_header(bytes, file->size(), label);  // reports the reason
    }
    std::string rest;
    r = file->read_at(8, static_cast<std::size_t>(n), rest);
    if (!r) return r.error();
    bytes += rest;
    return parse_safetensors_header(bytes, file->size(), label);
}

base::Result<SafetensorsIndex> parse_safetensors_index(std::string_view text,
                                                       std::string_view name) {
    if (detail::json_nesting_depth(text, kMaxIndexDepth) > kMaxIndexDepth) {
        return bad(name, "JSON is nested too deeply");
    }
    json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return bad(name, "not valid JSON");
    if (!doc.is_object()) return bad(name, "not a JSON object");
    SafetensorsIndex idx;
    if (auto meta = doc.find("metadata"); meta != doc.end() && !meta->is_null()) {
        if (!meta->is_object()) return bad(name, "key 'metadata': not an object");
        if (auto ts = meta->find("total_size"); ts != meta->end() && !ts->is_null()) {
            std::uint64_t v = 0;
            if (ts->is_number_unsigned()) {
                v = ts->get<std::uint64_t>();
            } else if (ts->is_number_float() && ts->get<double>() >= 0 &&
                       ts->get<double>() < 1.8e19 &&
                       ts->get<double>() ==
                           static_cast<double>(static_cast<std::uint64_t>(ts->get<double>()))) {
                v = static_cast<std::uint64_t>(ts->get<double>());  // some writers emit 1.2e10
            } else {
                return bad(name, "key 'metadata.total_size': not a non-negative integer");
            }
            idx.total_size = v;
        }
    }
    auto wm = doc.find("weight_map");
    if (wm == doc.end() || !wm->is_object()) {
        return bad(name, "key 'weight_map': missing or not an object");
    }
    for (auto it = wm->begin(); it != wm->end(); ++it) {
        if (!it.value().is_string()) {
            return bad(name, "key 'weight_map." + base::printable(it.key()) + "': not a string");
        }
        std::string shard = it.value().get<std::string>();
        if (shard.empty() || shard == "." || contains(shard, "/") || contains(shard, "\\") ||
            contains(shard, "..") || contains(shard, std::string_view("\0", 1))) {
            return bad(name, "tensor " + q_name(it.key()) + ": shard name " + q_name(shard) +
                                 " is not a plain file name");
        }
        idx.weight_map.emplace_back(it.key(), shard);
        idx.shards.push_back(std::move(shard));
    }
    std::sort(idx.shards.begin(), idx.shards.end());
    idx.shards.erase(std::unique(idx.shards.begin(), idx.shards.end()), idx.shards.end());
    return idx;
}

TensorKind classify_hf_tensor(std::string_view name, std::optional<std::uint32_t> n_layers) {
    const std::vector<std::string_view> parts = components(name);

    // Multimodal towers first: their inner names look like a text model's.
    if (any_component(parts, {"vision_tower", "vision_model", "visual", "multi_modal_projector",
                              "mm_projector", "vision_encoder", "vision_embed_tokens",
                              "image_newline", "audio_tower", "audio_model"})) {
        return TensorKind::vision;
    }
    // MTP: "mtp.*" (Qwen3-Next, Nemotron-3, MiMo) or a decoder layer past num_hidden_layers
    // (DeepSeek-V3/GLM-4.5 store num_nextn_predict_layers extra layers as model.layers.N).
    if (!parts.empty() && (parts[0] == "mtp" || any_component(parts, {"mtp", "mtp_layers"}))) {
        return TensorKind::mtp;
    }
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        if (parts[i] == "layers" || parts[i] == "h" || parts[i] == "blocks") {
            auto idx = parse_index(parts[i + 1]);
            if (idx && n_layers && *idx >= *n_layers) return TensorKind::mtp;
            break;
        }
    }
    if (any_component(parts, {"embed_tokens", "wte", "tok_embeddings", "embeddings",
                              "word_embeddings", "embedding"})) {
        return TensorKind::embedding;
    }
    if (any_component(parts, {"lm_head"}) || name == "output.weight") return TensorKind::output;
    for (std::string_view p : parts) {
        if (contains(p, "norm") || p == "ln_f" || p == "ln_1" || p == "ln_2") {
            return TensorKind::norm;
        }
    }
    for (std::string_view p : parts) {
        if (starts_with(p, "shared_expert")) return TensorKind::ffn_shared;  // + _gate (Qwen2-MoE)
    }
    if (any_component(parts, {"experts"})) return TensorKind::ffn_experts;
    if (any_component(parts, {"gate", "router"})) return TensorKind::router;
    if (any_component(parts,
                      {"self_attn", "attn", "attention", "self_attention", "q_proj", "k_proj",
                       "v_proj", "o_proj", "qkv_proj", "query_key_value", "q_a_proj", "q_b_proj",
                       "kv_a_proj_with_mqa", "kv_b_proj", "sinks"})) {
        return TensorKind::attention;
    }
    // Mamba / linear-attention mixers (Nemotron-H uses `mixer` for every block kind, so the
    // attention/expert/router checks above must run first; its MLP blocks use up/down_proj).
    if (any_component(parts, {"mamba", "linear_attn", "in_proj", "conv1d", "A_log", "D", "dt_bias",
                              "dt_proj", "x_proj"})) {
        return TensorKind::ssm;
    }
    if (any_component(parts, {"mlp", "feed_forward", "ffn", "gate_proj", "up_proj", "down_proj",
                              "gate_up_proj", "fc1", "fc2", "w1", "w2", "w3"})) {
        return TensorKind::ffn;
    }
    if (any_component(parts, {"mixer"})) return TensorKind::ssm;
    return TensorKind::other;
}

std::vector<Tensor> to_model_tensors(const SafetensorsHeader& header, std::uint32_t file_index,
                                     std::optional<std::uint32_t> n_layers) {
    std::vector<Tensor> out;
    out.reserve(header.tensors.size());
    for (const SafetensorsTensor& st : header.tensors) {
        Tensor t;
        t.name = st.name;
        t.dtype = st.dtype;
        t.shape = st.shape;
        t.n_elements = st.n_elements;
        t.bytes = st.data_end - st.data_begin;
        t.kind = classify_hf_tensor(st.name, n_layers);
        t.file_index = file_index;
        out.push_back(std::move(t));
    }
    return out;
}

std::optional<std::uint64_t> tensor_logical_params(const Tensor& t,
                                                   const std::optional<Quantization>& quant) {
    const std::string_view n = t.name;
    // Quantization side data: scales, zero points, activation ordering, shapes. Not weights.
    static constexpr std::array<std::string_view, 14> kSideSuffixes = {
        ".qzeros",
        ".scales",
        ".g_idx",
        ".weight_scale",
        ".weight_scale_inv",
        ".weight_scale_2",
        ".input_scale",
        ".weight_global_scale",
        ".input_global_scale",
        ".weight_zero_point",
        ".weight_shape",
        ".k_scale",
        ".v_scale",
        "_scales",
    };
    for (std::string_view s : kSideSuffixes) {
        if (ends_with(n, s)) return 0;
    }
    const std::string& d = t.dtype;
    auto bits = safetensors_dtype_bits(d);
    if (!bits) return std::nullopt;
    const bool is_float = d == "F64" || d == "F32" || d == "F16" || d == "BF16" ||
                          starts_with(d, "F8_") || starts_with(d, "F6_") || d == "F4";
    if (is_float) return t.n_elements;
    const std::string method = quant ? quant->method : std::string();
    std::uint64_t out = 0;
    if ((d == "I32" || d == "U32") &&
        (ends_with(n, ".qweight") || ends_with(n, ".weight_packed"))) {
        // AWQ packs 8 int4 along the output dim, GPTQ along the input dim: 32/bits either way.
        if (!quant || !quant->bits || *quant->bits == 0 || 32 % *quant->bits != 0) {
            return std::nullopt;
        }
        if (!checked_mul(t.n_elements, 32 / *quant->bits, out)) return std::nullopt;
        return out;
    }
    if (d == "U8" && (ends_with(n, "_blocks") || ends_with(n, ".weight_packed") ||
                      (method == "nvfp4" && ends_with(n, ".weight")))) {
        // Two E2M1 (FP4) values per byte: MXFP4 blocks, NVFP4 packed weights.
        if (!checked_mul(t.n_elements, 2, out)) return std::nullopt;
        return out;
    }
    if (d == "I8" && ends_with(n, ".weight")) return t.n_elements;  // int8 W8A8 weights
    return std::nullopt;
}

}  // namespace sparkctl::model
