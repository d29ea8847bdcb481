#include "hw/profile.h"

#include <toml++/toml.h>

#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "base/file.h"
#include "base/strings.h"

// Embedded data/hardware/*.toml (cmake/SparkctlEmbed.cmake, src/hw/CMakeLists.txt).
extern const char sparkctl_hw_dgx_spark_toml[];
extern const unsigned long sparkctl_hw_dgx_spark_toml_size;
extern const char sparkctl_hw_rtx_5090_toml[];
extern const unsigned long sparkctl_hw_rtx_5090_toml_size;
extern const char sparkctl_hw_rtx_pro_6000_toml[];
extern const unsigned long sparkctl_hw_rtx_pro_6000_toml_size;
extern const char sparkctl_hw_h100_sxm_toml[];
extern const unsigned long sparkctl_hw_h100_sxm_toml_size;
extern const char sparkctl_hw_ryzen_ai_max_395_toml[];
extern const unsigned long sparkctl_hw_ryzen_ai_max_395_toml_size;
extern const char sparkctl_hw_m3_ultra_toml[];
extern const unsigned long sparkctl_hw_m3_ultra_toml_size;

namespace sparkctl::hw {

namespace {

using base::Errc;
using base::make_error;

struct Embedded {
    const char* file;
    const char* data;
    const unsigned long* size;
};

// Display order of the built-ins: the default first, then the comparison machines.
const Embedded kBuiltins[] = {
    {"dgx-spark.toml", sparkctl_hw_dgx_spark_toml, &sparkctl_hw_dgx_spark_toml_size},
    {"rtx-5090.toml", sparkctl_hw_rtx_5090_toml, &sparkctl_hw_rtx_5090_toml_size},
    {"rtx-pro-6000.toml", sparkctl_hw_rtx_pro_6000_toml, &sparkctl_hw_rtx_pro_6000_toml_size},
    {"h100-sxm.toml", sparkctl_hw_h100_sxm_toml, &sparkctl_hw_h100_sxm_toml_size},
    {"ryzen-ai-max-395.toml", sparkctl_hw_ryzen_ai_max_395_toml,
     &sparkctl_hw_ryzen_ai_max_395_toml_size},
    {"m3-ultra.toml", sparkctl_hw_m3_ultra_toml, &sparkctl_hw_m3_ultra_toml_size},
};

constexpr std::uint64_t kMaxProfileFileBytes = 1u << 20;

const char* const kComputeKeys[] = {"fp4_flops_per_s", "fp8_flops_per_s", "bf16_flops_per_s",
                                    "int8_ops_per_s", "fp32_flops_per_s"};

std::optional<double>* compute_field(ComputePeaks& c, std::string_view key) {
    if (key == "fp4_flops_per_s") return &c.fp4_flops_per_s;
    if (key == "fp8_flops_per_s") return &c.fp8_flops_per_s;
    if (key == "bf16_flops_per_s") return &c.bf16_flops_per_s;
    if (key == "int8_ops_per_s") return &c.int8_ops_per_s;
    if (key == "fp32_flops_per_s") return &c.fp32_flops_per_s;
    return nullptr;
}

const std::optional<double>* compute_field(const ComputePeaks& c, std::string_view key) {
    return compute_field(const_cast<ComputePeaks&>(c), key);  // NOLINT: same storage, read only
}

// Every field path a profile may carry, which is also the set of valid [sources] keys.
const std::set<std::string>& known_fields() {
    static const std::set<std::string> fields = [] {
        std::set<std::string> f = {
            "memory_total_bytes", "os_reserve", "memory_bandwidth_bytes_per_s",
            "unified_memory",     "gpu.name",   "gpu.compute_capability",
            "cpu.description",    "cpu.cores",  "interconnect.name",
            "interconnect.gbps"};
        for (const char* k : kComputeKeys) {
            f.insert(std::string("compute_dense.") + k);
            f.insert(std::string("compute_sparse.") + k);
        }
        return f;
    }();
    return fields;
}

// Reads one table against a schema: every key must be known. Errors name origin and key.
class Reader {
  public:
    Reader(std::string origin) : origin_(std::move(origin)) {}  // NOLINT

    base::Error error(const std::string& key, const std::string& what) const {
        return make_error(Errc::bad_input, origin_ + ": key '" + key + "': " + what);
    }

    base::Result<void> check_keys(const toml::table& t, const std::string& prefix,
                                  std::initializer_list<std::string_view> allowed) const {
        for (const auto& [k, v] : t) {
            bool ok = false;
            for (std::string_view a : allowed) ok = ok || k.str() == a;
            if (!ok) return error(prefix + std::string(k.str()), "unknown key");
        }
        return {};
    }

    base::Result<std::string> string(const toml::table& t, const std::string& prefix,
                                     std::string_view key, bool required) const {
        const toml::node* n = t.get(key);
        std::string path = prefix + std::string(key);
        if (n == nullptr) {
            if (required) return error(path, "missing");
            return std::string();
        }
        auto s = n->value<std::string>();
        if (!n->is_string() || !s) return error(path, "must be a string");
        return *s;
    }

    // A non-negative number (integer or float) within `max`; nullopt when absent.
    base::Result<std::optional<double>> number(const toml::table& t, const std::string& prefix,
                                               std::string_view key, bool required,
                                               double max = 1e30) const {
        const toml::node* n = t.get(key);
        std::string path = prefix + std::string(key);
        if (n == nullptr) {
            if (required) return error(path, "missing");
            return std::optional<double>();
        }
        double v = 0;
        if (auto i = n->as_integer()) {
            v = static_cast<double>(i->get());
        } else if (auto f = n->as_floating_point()) {
            v = f->get();
        } else {
            return error(path, "must be a number");
        }
        if (!std::isfinite(v) || v < 0) return error(path, "must be a non-negative number");
        if (v > max) return error(path, "out of range");
        return std::optional<double>(v);
    }

    // A non-negative integer; nullopt when absent.
    base::Result<std::optional<std::uint64_t>> integer(const toml::table& t,
                                                       const std::string& prefix,
                                                       std::string_view key, bool required) const {
        const toml::node* n = t.get(key);
        std::string path = prefix + std::string(key);
        if (n == nullptr) {
            if (required) return error(path, "missing");
            return std::optional<std::uint64_t>();
        }
        auto i = n->as_integer();
        if (i == nullptr) return error(path, "must be an integer");
        if (i->get() < 0) return error(path, "must not be negative");
        return std::optional<std::uint64_t>(static_cast<std::uint64_t>(i->get()));
    }

    const std::string& origin() const { return origin_; }

  private:
    std::string origin_;
};

base::Result<void> read_compute(const Reader& r, const toml::table& root, const char* table_name,
                                ComputePeaks& out) {
    const toml::node* n = root.get(table_name);
    if (n == nullptr) return {};
    const toml::table* t = n->as_table();
    std::string prefix = std::string(table_name) + ".";
    if (t == nullptr) return r.error(table_name, "must be a table");
    SPARKCTL_TRY(r.check_keys(
        *t, prefix,
        {kComputeKeys[0], kComputeKeys[1], kComputeKeys[2], kComputeKeys[3], kComputeKeys[4]}));
    for (const char* k : kComputeKeys) {
        auto v = r.number(*t, prefix, k, false);
        if (!v) return v.error();
        *compute_field(out, k) = *v;
    }
    return {};
}

const toml::table* subtable(const toml::table& root, std::string_view key) {
    const toml::node* n = root.get(key);
    return n == nullptr ? nullptr : n->as_table();
}

base::Result<HardwareProfile> parse_table(const toml::table& root, const Reader& r) {
    SPARKCTL_TRY(
        r.check_keys(root, "",
                     {"name", "description", "aliases", "unified_memory", "nodes",
                      "memory_total_bytes", "os_reserve_bytes", "os_reserve_fraction",
                      "os_reserve_rule", "memory_bandwidth_bytes_per_s", "gpu", "cpu",
                      "interconnect", "compute_dense", "compute_sparse", "notes", "sources"}));
    HardwareProfile p;

    auto name = r.string(root, "", "name", true);
    if (!name) return name.error();
    if (name->empty()) return r.error("name", "must not be empty");
    p.name = base::to_lower(*name);
    auto desc = r.string(root, "", "description", false);
    if (!desc) return desc.error();
    p.description = *desc;

    if (const toml::node* n = root.get("aliases")) {
        const toml::array* a = n->as_array();
        if (a == nullptr) return r.error("aliases", "must be an array of strings");
        for (const toml::node& e : *a) {
            auto s = e.value<std::string>();
            if (!e.is_string() || !s) return r.error("aliases", "must be an array of strings");
            p.aliases.push_back(base::to_lower(*s));
        }
    }
    if (const toml::node* n = root.get("notes")) {
        const toml::array* a = n->as_array();
        if (a == nullptr) return r.error("notes", "must be an array of strings");
        for (const toml::node& e : *a) {
            auto s = e.value<std::string>();
            if (!e.is_string() || !s) return r.error("notes", "must be an array of strings");
            p.notes.push_back(*s);
        }
    }

    const toml::node* um = root.get("unified_memory");
    if (um == nullptr) return r.error("unified_memory", "missing");
    if (!um->is_boolean()) return r.error("unified_memory", "must be true or false");
    p.unified_memory = *um->value<bool>();

    auto nodes = r.integer(root, "", "nodes", false);
    if (!nodes) return nodes.error();
    if (*nodes) {
        if (**nodes < 1 || **nodes > 1024) return r.error("nodes", "must be between 1 and 1024");
        p.nodes = static_cast<int>(**nodes);
    }

    auto total = r.integer(root, "", "memory_total_bytes", true);
    if (!total) return total.error();
    if (**total == 0) return r.error("memory_total_bytes", "must be positive");
    p.memory_total_bytes = **total;

    auto reserve = r.integer(root, "", "os_reserve_bytes", false);
    if (!reserve) return reserve.error();
    auto fraction = r.number(root, "", "os_reserve_fraction", false, 1.0);
    if (!fraction) return fraction.error();
    if (*reserve && *fraction) {
        return r.error("os_reserve_bytes",
                       "give os_reserve_bytes or os_reserve_fraction, not both");
    }
    if (!*reserve && !*fraction) {
        return r.error("os_reserve_bytes", "missing (or give os_reserve_fraction)");
    }
    auto rule = r.string(root, "", "os_reserve_rule", false);
    if (!rule) return rule.error();
    if (*reserve) {
        if (**reserve > p.memory_total_bytes) {
            return r.error("os_reserve_bytes", "larger than memory_total_bytes");
        }
        p.os_reserve_bytes = **reserve;
        p.os_reserve_rule = rule->empty() ? "fixed" : *rule;
    } else {
        if (**fraction >= 1.0) return r.error("os_reserve_fraction", "must be below 1");
        p.os_reserve_bytes = static_cast<std::uint64_t>(
            std::llround(static_cast<double>(p.memory_total_bytes) * **fraction));
        std::ostringstream os;
        os << **fraction << " x memory_total_bytes";
        p.os_reserve_rule = rule->empty() ? os.str() : os.str() + " (" + *rule + ")";
    }

    auto bw = r.integer(root, "", "memory_bandwidth_bytes_per_s", false);
    if (!bw) return bw.error();
    if (*bw && **bw == 0) return r.error("memory_bandwidth_bytes_per_s", "must be positive");
    p.memory_bandwidth_bytes_per_s = *bw;

    if (root.get("gpu") != nullptr) {
        const toml::table* t = subtable(root, "gpu");
        if (t == nullptr) return r.error("gpu", "must be a table");
        SPARKCTL_TRY(r.check_keys(*t, "gpu.", {"name", "compute_capability"}));
        auto gname = r.string(*t, "gpu.", "name", false);
        if (!gname) return gname.error();
        p.gpu_name = *gname;
        auto cc = r.string(*t, "gpu.", "compute_capability", false);
        if (!cc) return cc.error();
        p.gpu_compute_capability = *cc;
    }
    if (root.get("cpu") != nullptr) {
        const toml::table* t = subtable(root, "cpu");
        if (t == nullptr) return r.error("cpu", "must be a table");
        SPARKCTL_TRY(r.check_keys(*t, "cpu.", {"description", "cores"}));
        auto d = r.string(*t, "cpu.", "description", false);
        if (!d) return d.error();
        p.cpu_description = *d;
        auto cores = r.integer(*t, "cpu.", "cores", false);
        if (!cores) return cores.error();
        if (*cores) {
            if (**cores < 1 || **cores > 100000) return r.error("cpu.cores", "out of range");
            p.cpu_cores = static_cast<int>(**cores);
        }
    }
    if (root.get("interconnect") != nullptr) {
        const toml::table* t = subtable(root, "interconnect");
        if (t == nullptr) return r.error("interconnect", "must be a table");
        SPARKCTL_TRY(r.check_keys(*t, "interconnect.", {"name", "gbps"}));
        auto iname = r.string(*t, "interconnect.", "name", false);
        if (!iname) return iname.error();
        p.interconnect_name = *iname;
        auto gbps = r.number(*t, "interconnect.", "gbps", false, 1e9);
        if (!gbps) return gbps.error();
        p.interconnect_gbps = *gbps;
    }
    SPARKCTL_TRY(read_compute(r, root, "compute_dense", p.compute_dense));
    SPARKCTL_TRY(read_compute(r, root, "compute_sparse", p.compute_sparse));

    if (root.get("sources") != nullptr) {
        const toml::table* t = subtable(root, "sources");
        if (t == nullptr) return r.error("sources", "must be a table");
        for (const auto& [k, v] : *t) {
            std::string key(k.str());
            if (known_fields().count(key) == 0) {
                return r.error("sources." + key, "names no profile field");
            }
            auto s = v.value<std::string>();
            if (!v.is_string() || !s || s->empty()) {
                return r.error("sources." + key, "must be a non-empty string");
            }
            p.sources[key] = *s;
        }
    }
    return p;
}

std::vector<HardwareProfile> load_builtins() {
    std::vector<HardwareProfile> out;
    for (const Embedded& e : kBuiltins) {
        std::string_view text(e.data, static_cast<std::size_t>(*e.size));
        auto p = parse_profile_toml(text, std::string("data/hardware/") + e.file);
        // The embedded files are ours and covered by tests: a parse failure is a bug.
        SPARKCTL_ASSERT(p.ok());
        out.push_back(std::move(p).value());
    }
    return out;
}

const std::vector<HardwareProfile>& builtins() {
    static const std::vector<HardwareProfile> profiles = load_builtins();
    return profiles;
}

}  // namespace

std::vector<std::string> carried_fields(const HardwareProfile& p) {
    std::vector<std::string> f = {"memory_total_bytes", "os_reserve", "unified_memory"};
    if (p.memory_bandwidth_bytes_per_s) f.push_back("memory_bandwidth_bytes_per_s");
    if (!p.gpu_name.empty()) f.push_back("gpu.name");
    if (!p.gpu_compute_capability.empty()) f.push_back("gpu.compute_capability");
    if (!p.cpu_description.empty()) f.push_back("cpu.description");
    if (p.cpu_cores) f.push_back("cpu.cores");
    if (!p.interconnect_name.empty()) f.push_back("interconnect.name");
    if (p.interconnect_gbps) f.push_back("interconnect.gbps");
    for (const char* k : kComputeKeys) {
        if (*compute_field(p.compute_dense, k)) f.push_back(std::string("compute_dense.") + k);
        if (*compute_field(p.compute_sparse, k)) f.push_back(std::string("compute_sparse.") + k);
    }
    return f;
}

std::vector<std::string> unsourced_fields(const HardwareProfile& p) {
    std::vector<std::string> out;
    for (const std::string& f : carried_fields(p)) {
        if (p.sources.count(f) == 0) out.push_back(f);
    }
    return out;
}

std::vector<std::string> profile_names() {
    std::vector<std::string> names;
    for (const HardwareProfile& p : builtins()) names.push_back(p.name);
    return names;
}

base::Result<HardwareProfile> find_profile(std::string_view name) {
    std::string key = base::to_lower(base::trim(name));
    for (const HardwareProfile& p : builtins()) {
        if (p.name == key) return p;
        for (const std::string& a : p.aliases) {
            if (a == key) return p;
        }
    }
    std::string known;
    for (const std::string& n : profile_names()) known += (known.empty() ? "" : ", ") + n;
    return make_error(Errc::not_found, "hardware profile '" + base::printable(name) +
                                           "': unknown (built-in: " + known +
                                           "; or give a .toml file, or 'local')");
}

base::Result<HardwareProfile> parse_profile_toml(std::string_view text, std::string_view origin) {
    toml::table root;
    try {
        root = toml::parse(text, origin);
    } catch (const toml::parse_error& err) {
        std::ostringstream os;
        os << origin << ":" << err.source().begin.line << ": " << err.description();
        return make_error(Errc::bad_input, os.str());
    }
    return parse_table(root, Reader(std::string(origin)));
}

base::Result<HardwareProfile> load_profile_file(const std::filesystem::path& path) {
    auto text = base::read_file(path, kMaxProfileFileBytes);
    if (!text) return text.error();
    return parse_profile_toml(*text, path.string());
}

}  // namespace sparkctl::hw
