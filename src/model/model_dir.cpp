#include "model/model_dir.h"

#include <algorithm>
#include <map>
#include <system_error>
#include <utility>
#include <vector>

#include "base/file.h"
#include "base/strings.h"
#include "model/hf_config.h"
#include "model/safetensors.h"

namespace sparkctl::model {

namespace {

namespace fs = std::filesystem;
using base::Errc;
using base::make_error;

// DeepSeek-V3's index (91k tensors) is about 9 MB; leave room, stay bounded.
constexpr std::uint64_t kMaxIndexBytes = 64ull << 20;
constexpr std::uint64_t kMaxRefBytes = 4096;
constexpr std::size_t kMaxShards = 10000;
constexpr std::size_t kMaxSnapshots = 1000;

bool is_regular(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);  // follows symlinks (HF cache files link into blobs/)
}

bool is_dir(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

// The last non-empty component ("a/b/" -> "b").
std::string last_name(const fs::path& p) {
    fs::path n = p.lexically_normal();
    if (n.filename().empty()) n = n.parent_path();
    return n.filename().string();
}

bool plain_name(std::string_view s) {
    return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
           s.find('\\') == std::string_view::npos && s.find('\0') == std::string_view::npos;
}

struct Resolved {
    fs::path dir;
    std::string hf_id;
    bool cache = false;
};

base::Result<Resolved> resolve_dir(const fs::path& input) {
    if (!is_dir(input)) {
        return make_error(Errc::not_found, input.string() + ": not a directory");
    }
    Resolved r{input, "", false};
    const std::string name = last_name(input);
    if (auto id = hf_id_from_cache_dir_name(name); id && is_dir(input / "snapshots")) {
        r.hf_id = *id;
        r.cache = true;
        const fs::path ref = input / "refs" / "main";
        if (is_regular(ref)) {
            auto text = base::read_file(ref, kMaxRefBytes);
            if (!text) return text.error();
            std::string rev(base::trim(text.value()));
            if (!plain_name(rev)) {
                return make_error(Errc::bad_input, ref.string() + ": not a snapshot name: '" +
                                                       base::printable(rev) + "'");
            }
            r.dir = input / "snapshots" / rev;
            if (!is_dir(r.dir)) {
                return make_error(Errc::not_found, ref.string() + ": names snapshot " + rev +
                                                       ", which is not in " +
                                                       (input / "snapshots").string());
            }
            return r;
        }
        std::vector<std::string> snaps;
        std::error_code ec;
        for (fs::directory_iterator it(input / "snapshots", ec), end; !ec && it != end;
             it.increment(ec)) {
            if (is_dir(it->path())) snaps.push_back(it->path().filename().string());
            if (snaps.size() > kMaxSnapshots) break;
        }
        std::sort(snaps.begin(), snaps.end());
        if (snaps.empty()) {
            return make_error(Errc::not_found,
                              (input / "snapshots").string() + ": no snapshot downloaded");
        }
        if (snaps.size() > 1) {
            std::string list;
            for (std::size_t i = 0; i < snaps.size() && i < 20; ++i) {
                list += (i ? ", " : "") + base::printable(snaps[i]);
            }
            if (snaps.size() > 20) list += ", ...";
            return make_error(Errc::bad_input,
                              input.string() + ": " + std::to_string(snaps.size()) +
                                  " snapshots and no refs/main; pick one of snapshots/{" + list +
                                  "}");
        }
        r.dir = input / "snapshots" / snaps.front();
        return r;
    }
    // A snapshot directory given directly: <cache>/models--org--name/snapshots/<rev>.
    fs::path norm = input.lexically_normal();
    if (norm.filename().empty()) norm = norm.parent_path();
    if (norm.parent_path().filename() == "snapshots") {
        if (auto id =
                hf_id_from_cache_dir_name(norm.parent_path().parent_path().filename().string())) {
            r.hf_id = *id;
            r.cache = true;
        }
    }
    return r;
}

// hf_id when `file` sits directly in an HF cache snapshot directory.
std::string hf_id_of_file(const fs::path& file) {
    fs::path dir = fs::absolute(file).lexically_normal().parent_path();
    if (dir.parent_path().filename() != "snapshots") return "";
    return hf_id_from_cache_dir_name(dir.parent_path().parent_path().filename().string())
        .value_or("");
}

std::string name_from_hf_id(const std::string& hf_id) {
    auto slash = hf_id.rfind('/');
    return slash == std::string::npos ? hf_id : hf_id.substr(slash + 1);
}

// config.json and hf_quant_config.json in `dir`, when present.
base::Result<void> read_configs(const fs::path& dir, ModelSpec& spec, bool& have_config) {
    have_config = false;
    const fs::path cfg_path = dir / "config.json";
    if (is_regular(cfg_path)) {
        auto cfg = load_hf_config(cfg_path);
        if (!cfg) return cfg.error();
        spec.arch = std::move(cfg->arch);
        spec.quant = std::move(cfg->quant);
        have_config = true;
    }
    const fs::path hq = dir / "hf_quant_config.json";
    if (is_regular(hq)) {
        auto text = base::read_file(hq, kHfConfigMaxBytes);
        if (!text) return text.error();
        auto q = parse_hf_quant_config(text.value(), hq.string());
        if (!q) return q.error();
        // config.json's quantization_config wins; ModelOpt exports may carry only this file.
        const bool declared =
            spec.quant && spec.quant->method != "bf16" && spec.quant->method != "fp16";
        if (q.value() && !declared) spec.quant = std::move(q.value());
    }
    return {};
}

void derive_params(ModelSpec& spec) {
    if (spec.tensors.empty()) return;
    std::uint64_t total = 0;
    std::uint64_t experts = 0;
    std::uint64_t vision = 0;
    bool known = true;
    bool vision_known = true;
    bool has_vision = false;
    for (const Tensor& t : spec.tensors) {
        if (t.kind == TensorKind::mtp) continue;  // Arch counts MTP layers apart
        if (t.kind == TensorKind::vision) has_vision = true;
        auto p = tensor_logical_params(t, spec.quant);
        if (!p) {
            known = false;
            if (t.kind == TensorKind::vision) vision_known = false;
            continue;
        }
        total += *p;  // < 2^64: every tensor's bytes are inside a real file
        if (t.kind == TensorKind::ffn_experts) experts += *p;
        if (t.kind == TensorKind::vision) vision += *p;
    }
    if (known) {
        spec.arch.params_total = total;
        const auto& moe = spec.arch.moe;
        if (moe && moe->n_experts > 0 && moe->n_experts_per_token > 0 &&
            moe->n_experts_per_token <= moe->n_experts) {
            // Active per token: everything but the routed experts, plus k of n of them.
            // experts * k / n without overflow (k <= n < 2^32).
            const std::uint64_t n = moe->n_experts;
            const std::uint64_t k = moe->n_experts_per_token;
            const std::uint64_t active_experts = experts / n * k + experts % n * k / n;
            spec.arch.params_active = total - experts + active_experts;
        }
    }
    if (has_vision && vision_known) {
        if (!spec.arch.vision) spec.arch.vision = Vision{};
        spec.arch.vision->params = vision;
    }
}

// Reads the headers of `files` (in order) into spec.tensors, checking `index` when given.
base::Result<void> read_weights(const std::vector<fs::path>& files, const SafetensorsIndex* index,
                                ModelSpec& spec) {
    std::uint64_t weights = 0;
    std::uint64_t on_disk = 0;
    std::map<std::string, std::uint32_t> where;  // tensor -> file index
    for (std::size_t i = 0; i < files.size(); ++i) {
        auto h = read_safetensors_header(files[i]);
        if (!h) return h.error();
        const auto file_index = static_cast<std::uint32_t>(spec.files.size());
        spec.files.push_back(files[i]);
        on_disk += h->data_offset + h->data_bytes;  // == file size, checked by the parser
        weights += h->data_bytes;
        for (Tensor& t : to_model_tensors(h.value(), file_index, spec.arch.n_layers)) {
            auto [it, inserted] = where.emplace(t.name, file_index);
            if (!inserted) {
                return make_error(Errc::bad_input, files[i].string() + ": tensor '" +
                                                       base::printable(t.name) + "' is also in " +
                                                       spec.files[it->second].string());
            }
            spec.tensors.push_back(std::move(t));
        }
    }
    if (index) {
        for (const auto& [tensor, shard] : index->weight_map) {
            auto it = where.find(tensor);
            if (it == where.end() || spec.files[it->second].filename() != shard) {
                return make_error(Errc::bad_input, "model.safetensors.index.json: tensor '" +
                                                       base::printable(tensor) + "' is not in " +
                                                       base::printable(shard));
            }
        }
    }
    spec.weights_bytes = weights;
    spec.file_bytes = on_disk;
    return {};
}

base::Result<ModelSpec> load_resolved(const Resolved& r, const std::string& fallback_name) {
    ModelSpec spec;
    spec.hf_id = r.hf_id;
    spec.name = r.hf_id.empty() ? fallback_name : name_from_hf_id(r.hf_id);
    bool have_config = false;
    auto cfg = read_configs(r.dir, spec, have_config);
    if (!cfg) return cfg.error();

    std::vector<fs::path> shards;
    std::optional<SafetensorsIndex> index;
    const fs::path index_path = r.dir / "model.safetensors.index.json";
    if (is_regular(index_path)) {
        auto text = base::read_file(index_path, kMaxIndexBytes);
        if (!text) return text.error();
        auto idx = parse_safetensors_index(text.value(), index_path.string());
        if (!idx) return idx.error();
        if (idx->shards.size() > kMaxShards) {
            return make_error(Errc::bad_input, index_path.string() + ": too many shards");
        }
        for (const std::string& s : idx->shards) {
            if (!is_regular(r.dir / s)) {
                return make_error(Errc::not_found, index_path.string() + ": names shard " +
                                                       base::printable(s) + ", which is not in " +
                                                       r.dir.string());
            }
            shards.push_back(r.dir / s);
        }
        index = std::move(idx.value());
    } else {
        std::error_code ec;
        for (fs::directory_iterator it(r.dir, ec), end; !ec && it != end; it.increment(ec)) {
            if (it->path().extension() == ".safetensors" && is_regular(it->path())) {
                shards.push_back(it->path());
                if (shards.size() > kMaxShards) {
                    return make_error(Errc::bad_input, r.dir.string() + ": too many files");
                }
            }
        }
        std::sort(shards.begin(), shards.end());
    }
    if (!have_config && shards.empty()) {
        return make_error(Errc::not_found,
                          r.dir.string() + ": no config.json and no .safetensors files");
    }
    if (shards.empty()) {
        spec.files.push_back(r.dir / "config.json");
        spec.source = r.cache ? SourceKind::hf_cache : SourceKind::config_json;
        return spec;
    }
    auto w = read_weights(shards, index ? &*index : nullptr, spec);
    if (!w) return w.error();
    spec.source = r.cache ? SourceKind::hf_cache : SourceKind::safetensors;
    derive_params(spec);
    return spec;
}

}  // namespace

std::optional<std::string> hf_id_from_cache_dir_name(std::string_view dir_name) {
    // huggingface_hub file_download.py repo_folder_name: "models--" + repo_id with "/" -> "--".
    constexpr std::string_view kPrefix = "models--";
    if (dir_name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
    std::string_view rest = dir_name.substr(kPrefix.size());
    if (rest.empty()) return std::nullopt;
    std::string id;
    auto sep = rest.find("--");
    if (sep == std::string_view::npos) {
        id = std::string(rest);  // legacy un-namespaced repos ("gpt2")
    } else {
        std::string_view org = rest.substr(0, sep);
        std::string_view repo = rest.substr(sep + 2);
        if (org.empty() || repo.empty() || repo.find("--") != std::string_view::npos) {
            return std::nullopt;
        }
        id = std::string(org) + "/" + std::string(repo);
    }
    return id;
}

base::Result<ModelSpec> load_model_dir(const std::filesystem::path& dir) {
    auto r = resolve_dir(dir);
    if (!r) return r.error();
    return load_resolved(r.value(), last_name(dir));
}

base::Result<ModelSpec> load_config_json(const std::filesystem::path& path) {
    if (!is_regular(path)) {
        return make_error(Errc::not_found, path.string() + ": not a regular file");
    }
    auto cfg = load_hf_config(path);
    if (!cfg) return cfg.error();
    ModelSpec spec;
    spec.source = SourceKind::config_json;
    spec.files.push_back(path);
    spec.hf_id = hf_id_of_file(path);
    spec.name = spec.hf_id.empty() ? last_name(fs::absolute(path).parent_path())
                                   : name_from_hf_id(spec.hf_id);
    spec.arch = std::move(cfg->arch);
    spec.quant = std::move(cfg->quant);
    return spec;
}

base::Result<ModelSpec> load_safetensors(const std::filesystem::path& path) {
    if (!is_regular(path)) {
        return make_error(Errc::not_found, path.string() + ": not a regular file");
    }
    ModelSpec spec;
    spec.source = SourceKind::safetensors;
    spec.hf_id = hf_id_of_file(path);
    spec.name = path.stem().string();
    bool have_config = false;
    auto cfg = read_configs(fs::absolute(path).parent_path(), spec, have_config);
    if (!cfg) return cfg.error();
    auto w = read_weights({path}, nullptr, spec);
    if (!w) return w.error();
    derive_params(spec);
    return spec;
}

}  // namespace sparkctl::model
