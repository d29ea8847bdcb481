#include "config/config.h"

#include <toml++/toml.h>

#include <array>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "base/assert.h"
#include "base/file.h"

namespace sparkctl::config {

namespace {

using base::Errc;
using base::make_error;

// The option table: each option declared once (llama.cpp common_arg style). Keys are config-file
// keys; the env var is SPARKCTL_<KEY>; "~" and $XDG_*_HOME in defaults are expanded on resolve.
constexpr std::array kOptions = {
    OptionSpec{"hardware", "SPARKCTL_HARDWARE", "--hardware", "dgx-spark",
               "Hardware profile: a built-in name (sparkctl hw --list), a TOML file, or 'local'"},
    OptionSpec{"log_level", "SPARKCTL_LOG_LEVEL", "--log-level", "warn",
               "Log level on stderr: debug, info, warn, error"},
    OptionSpec{"data_dir", "SPARKCTL_DATA_DIR", "--data-dir", "$XDG_DATA_HOME/sparkctl",
               "Where sparkctl keeps its state database"},
    OptionSpec{"github_root", "SPARKCTL_GITHUB_ROOT", "--github-root", "~/dev/github",
               "Root of project checkouts (R-WS-1)"},
    OptionSpec{"claude_home", "SPARKCTL_CLAUDE_HOME", "--claude-home", "~/dev/claude-home",
               "Root of the assistant's home: repo index and saved plans (R-WS-2, R-WS-3)"},
    // Running engines (serve, doctor). Container images per engine version: the [images] table.
    OptionSpec{"llama_server", "SPARKCTL_LLAMA_SERVER", "--llama-server", "llama-server",
               "llama.cpp's llama-server executable (a path, or a name on PATH)"},
    OptionSpec{"vllm", "SPARKCTL_VLLM", "--vllm", "vllm", "vLLM's `vllm` executable"},
    OptionSpec{"sglang_python", "SPARKCTL_SGLANG_PYTHON", "--sglang-python", "python3",
               "The Python that has SGLang installed (runs -m sglang.launch_server)"},
    OptionSpec{"docker", "SPARKCTL_DOCKER", "--docker", "docker",
               "The docker client, for deployments with kind = container"},
    // HF_HOME's default (https://huggingface.co/docs/huggingface_hub/package_reference/
    // environment_variables#hfhome): containers mount it at /root/.cache/huggingface.
    OptionSpec{"hf_cache", "SPARKCTL_HF_CACHE", "--hf-cache", "~/.cache/huggingface",
               "The Hugging Face cache (HF_HOME) engines read weights from"},
    OptionSpec{"allow_download", "SPARKCTL_ALLOW_DOWNLOAD", "--allow-download", "false",
               "Let engines download missing weights (else HF_HUB_OFFLINE=1: weights must be "
               "local)"},
    // A floor for the load deadline (weights bytes / load_gbps), not a measured speed.
    OptionSpec{"load_gbps", "SPARKCTL_LOAD_GBPS", "--load-gbps", "0.5",
               "Slowest weight loading (GB/s) before a load counts as stuck"},
    // spark-knowledge.md "Running engines": MemAvailable minus a headroom (default 2 GiB).
    OptionSpec{"mem_headroom", "SPARKCTL_MEM_HEADROOM", "--mem-headroom", "2GiB",
               "MemAvailable kept free at every load (R-OPS-1)"},
    OptionSpec{"drop_caches", "SPARKCTL_DROP_CACHES", "--drop-caches", "false",
               "Drop the page cache before large loads, when permitted"},
    OptionSpec{"meminfo", "SPARKCTL_MEMINFO", "", "/proc/meminfo",
               "Where MemAvailable is read (tests point it at a file)"},
    // The gateway (serve --listen), docs/dev/gateway.md. Defaults are ours, not measured.
    OptionSpec{"api_keys_file", "SPARKCTL_API_KEYS_FILE", "--api-keys-file", "",
               "SHA-256 hashes of the accepted API keys, one per line (required off loopback)"},
    OptionSpec{"queue_max", "SPARKCTL_QUEUE_MAX", "", "64",
               "Requests that may wait per model while it loads (over: 503)"},
    OptionSpec{"queue_timeout_s", "SPARKCTL_QUEUE_TIMEOUT_S", "", "300",
               "Seconds a request may wait for its model to load (then 503)"},
    OptionSpec{"drain_timeout_s", "SPARKCTL_DRAIN_TIMEOUT_S", "", "60",
               "Seconds a busy deployment may take to drain before a swap is abandoned"},
    // docs/dev/serve.md "Swaps under alternating demand": auto = as long as its last load took,
    // so under alternating demand at most about half of the time goes to loading.
    OptionSpec{"swap_min_resident_s", "SPARKCTL_SWAP_MIN_RESIDENT_S", "", "auto",
               "Seconds a loaded deployment stays before a request for another may evict it "
               "(auto: as long as its load took)"},
    // The gateway's optional HTTPS (docs/dev/gateway.md "TLS"): both or neither.
    OptionSpec{"tls_cert", "SPARKCTL_TLS_CERT", "", "",
               "PEM certificate chain the gateway serves HTTPS with (with tls_key)"},
    OptionSpec{"tls_key", "SPARKCTL_TLS_KEY", "", "", "PEM private key of tls_cert (unencrypted)"},
    // fit/constants_file.h: local is $data_dir/perf-constants.toml, written by `calibrate`.
    OptionSpec{"constants", "SPARKCTL_CONSTANTS", "--constants", "builtin",
               "Performance-model constants for fit, plan and simulate: builtin, local (fitted "
               "by `sparkctl calibrate`) or a constants file"},
};

constexpr std::array<std::string_view, 3> kRawTables = {"rules", "cluster", "images"};
constexpr std::array<std::string_view, 1> kEntryTables = {"models"};

bool is_raw_key(std::string_view key) {
    for (std::string_view t : kRawTables) {
        if (key.size() > t.size() && key.substr(0, t.size()) == t && key[t.size()] == '.') {
            return true;
        }
    }
    return false;
}

std::string env_or(const Getenv& getenv, const char* name, const std::string& fallback) {
    const char* v = getenv ? getenv(name) : nullptr;
    return (v != nullptr && *v != '\0') ? std::string(v) : fallback;
}

// Expands a leading "~/" and the XDG base-directory variables with their spec defaults.
std::string expand(std::string_view value, const Getenv& getenv) {
    const std::string home = env_or(getenv, "HOME", "/");
    std::string v(value);
    if (v == "~") return home;
    if (v.rfind("~/", 0) == 0) return home + v.substr(1);
    struct Xdg {
        const char* var;
        const char* fallback;
    };
    for (const Xdg& x :
         {Xdg{"XDG_DATA_HOME", "/.local/share"}, Xdg{"XDG_CONFIG_HOME", "/.config"},
          Xdg{"XDG_STATE_HOME", "/.local/state"}, Xdg{"XDG_CACHE_HOME", "/.cache"}}) {
        std::string token = std::string("$") + x.var;
        if (v.rfind(token, 0) == 0) {
            return env_or(getenv, x.var, home + x.fallback) + v.substr(token.size());
        }
    }
    return v;
}

// Renders a scalar TOML node as a string; nullopt for arrays and tables.
std::optional<std::string> scalar(const toml::node& node) {
    if (auto s = node.value<std::string>(); s && node.is_string()) return *s;
    if (node.is_integer()) return std::to_string(node.as_integer()->get());
    if (node.is_floating_point()) {
        std::ostringstream os;
        os << node.as_floating_point()->get();
        return os.str();
    }
    if (node.is_boolean()) return std::string(node.as_boolean()->get() ? "true" : "false");
    return std::nullopt;
}

// Reads `[[name]]` entries: each a table of scalars and arrays of scalars.
base::Result<std::vector<Entry>> read_entries(const toml::node& node, const std::string& name,
                                              const std::string& file) {
    const toml::array* arr = node.as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
        return make_error(Errc::bad_input, file + ": '" + name +
                                               "': expected an array of tables ([[" + name + "]])");
    }
    std::vector<Entry> out;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string where = file + ": [[" + name + "]] entry " + std::to_string(i + 1);
        Entry entry;
        for (const auto& [k, v] : *(*arr)[i].as_table()) {
            const std::string key(k.str());
            EntryValue ev;
            if (auto text = scalar(v)) {
                ev.text = *text;
                ev.type = v.is_string()    ? EntryValue::Type::string
                          : v.is_integer() ? EntryValue::Type::integer
                          : v.is_boolean() ? EntryValue::Type::boolean
                                           : EntryValue::Type::floating;
            } else if (const toml::array* items = v.as_array()) {
                ev.type = EntryValue::Type::array;
                for (const toml::node& item : *items) {
                    auto t = scalar(item);
                    if (!t) {
                        return make_error(Errc::bad_input, where + ": key '" + key +
                                                               "': expected an array of scalars");
                    }
                    ev.items.push_back(*t);
                }
            } else {
                return make_error(
                    Errc::bad_input,
                    where + ": key '" + key + "': expected a string, number, boolean or array");
            }
            entry.emplace(key, std::move(ev));
        }
        out.push_back(std::move(entry));
    }
    return out;
}

// Flattens a TOML table into dotted keys with scalar values rendered as strings. Under a raw
// table (kRawTables), an array of scalars is joined with ",".
base::Result<void> flatten(const toml::table& table, const std::string& prefix,
                           const std::string& file, std::map<std::string, std::string>& out) {
    for (const auto& [k, node] : table) {
        std::string key =
            prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
        if (const toml::table* sub = node.as_table()) {
            auto r = flatten(*sub, key, file, out);
            if (!r) return r;
            continue;
        }
        if (auto v = scalar(node)) {
            out[key] = *v;
            continue;
        }
        if (const toml::array* arr = node.as_array(); arr && is_raw_key(key)) {
            std::string joined;
            for (const toml::node& item : *arr) {
                auto v = scalar(item);
                if (!v) {
                    return make_error(Errc::bad_input,
                                      file + ": key '" + key + "': expected an array of scalars");
                }
                if (!joined.empty()) joined += ",";
                joined += *v;
            }
            out[key] = joined;
            continue;
        }
        return make_error(Errc::bad_input,
                          file + ": key '" + key + "': expected a string, number or boolean");
    }
    return {};
}

}  // namespace

const char* to_string(Origin origin) {
    switch (origin) {
        case Origin::default_value:
            return "default";
        case Origin::file:
            return "file";
        case Origin::env:
            return "env";
        case Origin::flag:
            return "flag";
    }
    return "default";
}

std::span<const std::string_view> raw_tables() { return kRawTables; }

std::span<const std::string_view> entry_tables() { return kEntryTables; }

std::span<const OptionSpec> options() { return kOptions; }

const OptionSpec* find_option(std::string_view key) {
    for (const OptionSpec& o : kOptions) {
        if (o.key == key) return &o;
    }
    return nullptr;
}

std::filesystem::path default_config_path(const Getenv& getenv) {
    std::string explicit_path = env_or(getenv, "SPARKCTL_CONFIG", "");
    if (!explicit_path.empty()) return explicit_path;
    return expand("$XDG_CONFIG_HOME/sparkctl/config.toml", getenv);
}

base::Result<Config> Config::load(const Sources& sources) {
    Config cfg;
    const Getenv& getenv = sources.getenv;

    // 1. Defaults.
    for (const OptionSpec& o : kOptions) {
        cfg.settings_[std::string(o.key)] =
            Setting{expand(o.default_value, getenv), Origin::default_value, ""};
    }

    // 2. The config file.
    std::filesystem::path path = sources.file ? *sources.file : default_config_path(getenv);
    std::error_code ec;
    bool explicit_file = sources.file.has_value() || !env_or(getenv, "SPARKCTL_CONFIG", "").empty();
    if (explicit_file || std::filesystem::exists(path, ec)) {
        auto text = base::read_file(path, 1u << 20);
        if (!text) return text.error();
        // Debian's toml++ is built with exceptions: parse errors arrive as toml::parse_error.
        toml::table parsed;
        try {
            parsed = toml::parse(text.value(), path.string());
        } catch (const toml::parse_error& err) {
            return make_error(Errc::bad_input,
                              path.string() + ":" + std::to_string(err.source().begin.line) +
                                  ": invalid TOML: " + std::string(err.description()));
        }
        for (std::string_view t : kEntryTables) {
            const toml::node* node = parsed.get(t);
            if (node == nullptr) continue;
            auto entries = read_entries(*node, std::string(t), path.string());
            if (!entries) return entries.error();
            cfg.entries_[std::string(t)] = std::move(*entries);
            parsed.erase(t);
        }
        std::map<std::string, std::string> flat;
        auto r = flatten(parsed, "", path.string(), flat);
        if (!r) return r.error();
        for (const auto& [key, value] : flat) {
            if (is_raw_key(key)) {
                cfg.raw_[key] = value;
                continue;
            }
            auto it = cfg.settings_.find(key);
            if (it == cfg.settings_.end()) {
                return make_error(Errc::bad_input, path.string() + ": unknown key '" + key +
                                                       "' (sparkctl config show lists the keys)");
            }
            it->second = Setting{expand(value, getenv), Origin::file, path.string()};
        }
        cfg.file_ = path;
    }

    // 3. The environment.
    for (const OptionSpec& o : kOptions) {
        const char* v = getenv ? getenv(std::string(o.env).c_str()) : nullptr;
        if (v != nullptr && *v != '\0') {
            cfg.settings_[std::string(o.key)] =
                Setting{expand(v, getenv), Origin::env, std::string(o.env)};
        }
    }

    // 4. Flags.
    for (const auto& [key, value] : sources.flags) {
        const OptionSpec* o = find_option(key);
        SPARKCTL_ASSERT(o != nullptr);
        cfg.settings_[key] = Setting{expand(value, getenv), Origin::flag, std::string(o->flag)};
    }
    return cfg;
}

const Setting& Config::get(std::string_view key) const {
    auto it = settings_.find(key);
    SPARKCTL_ASSERT(it != settings_.end());
    return it->second;
}

std::vector<std::pair<const OptionSpec*, const Setting*>> Config::all() const {
    std::vector<std::pair<const OptionSpec*, const Setting*>> out;
    for (const OptionSpec& o : kOptions) out.emplace_back(&o, &get(o.key));
    return out;
}

const std::vector<Entry>& Config::entries(std::string_view table) const {
    static const std::vector<Entry> kNone;
    auto it = entries_.find(table);
    return it == entries_.end() ? kNone : it->second;
}

std::map<std::string, std::string> Config::table(std::string_view prefix) const {
    std::map<std::string, std::string> out;
    const std::string p = std::string(prefix) + ".";
    for (auto it = raw_.lower_bound(p); it != raw_.end() && it->first.rfind(p, 0) == 0; ++it) {
        out[it->first.substr(p.size())] = it->second;
    }
    return out;
}

}  // namespace sparkctl::config
