#include "serve/deployment.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "base/strings.h"
#include "engines/versions.h"
#include "plan/inputs.h"
#include "serve/container.h"

namespace sparkctl::serve {

namespace {

using base::Errc;
using base::make_error;
using config::EntryValue;
using engines::Engine;

// The keys of a [[models]] entry (issue 13, "Deployments and the daemon").
constexpr std::string_view kKeys[] = {"id",
                                      "model",
                                      "aliases",
                                      "use",
                                      "users",
                                      "context",
                                      "engine",
                                      "quant",
                                      "engine_version",
                                      "prefer",
                                      "kv_cache_dtype",
                                      "overrides",
                                      "budget",
                                      "kind",
                                      "extra_args",
                                      "simulate_args",
                                      "pin",
                                      "ttl_s",
                                      "bench",
                                      "max_in_flight"};

const char* type_name(EntryValue::Type t) {
    switch (t) {
        case EntryValue::Type::string:
            return "a string";
        case EntryValue::Type::integer:
            return "an integer";
        case EntryValue::Type::floating:
            return "a number";
        case EntryValue::Type::boolean:
            return "a boolean";
        case EntryValue::Type::array:
            return "an array";
    }
    return "a value";
}

// Typed reads of one entry's keys; errors name the entry and the key.
class EntryReader {
  public:
    EntryReader(const config::Entry& e, std::string where) : e_(e), where_(std::move(where)) {}

    base::Error wrong(std::string_view key, const char* expected) const {
        const EntryValue& v = e_.find(key)->second;
        return make_error(Errc::bad_input, where_ + ": key '" + std::string(key) + "': expected " +
                                               expected + ", got " + type_name(v.type));
    }
    const EntryValue* find(std::string_view key) const {
        auto it = e_.find(key);
        return it == e_.end() ? nullptr : &it->second;
    }
    base::Result<void> string(std::string_view key, std::string& out) const {
        const EntryValue* v = find(key);
        if (v == nullptr) return {};
        if (v->type != EntryValue::Type::string) return wrong(key, "a string");
        out = v->text;
        return {};
    }
    base::Result<void> string(std::string_view key, std::optional<std::string>& out) const {
        if (find(key) == nullptr) return {};
        std::string s;
        SPARKCTL_TRY(string(key, s));
        out = s;
        return {};
    }
    base::Result<void> integer(std::string_view key, std::optional<std::int64_t>& out) const {
        const EntryValue* v = find(key);
        if (v == nullptr) return {};
        if (v->type != EntryValue::Type::integer) return wrong(key, "an integer");
        const bool negative = v->text.starts_with("-");
        auto n = base::parse_u64(negative ? v->text.substr(1) : v->text);
        if (!n || *n > static_cast<std::uint64_t>(INT64_MAX)) return wrong(key, "an integer");
        out = negative ? -static_cast<std::int64_t>(*n) : static_cast<std::int64_t>(*n);
        return {};
    }
    base::Result<void> number(std::string_view key, std::optional<double>& out) const {
        const EntryValue* v = find(key);
        if (v == nullptr) return {};
        if (v->type != EntryValue::Type::integer && v->type != EntryValue::Type::floating) {
            return wrong(key, "a number");
        }
        out = std::strtod(v->text.c_str(), nullptr);
        return {};
    }
    base::Result<void> boolean(std::string_view key, bool& out) const {
        const EntryValue* v = find(key);
        if (v == nullptr) return {};
        if (v->type != EntryValue::Type::boolean) return wrong(key, "a boolean");
        out = v->text == "true";
        return {};
    }
    base::Result<void> strings(std::string_view key, std::vector<std::string>& out) const {
        const EntryValue* v = find(key);
        if (v == nullptr) return {};
        if (v->type != EntryValue::Type::array) return wrong(key, "an array of strings");
        out = v->items;
        return {};
    }

  private:
    const config::Entry& e_;
    std::string where_;
};

base::Error bad(const std::string& where, const std::string& what) {
    return make_error(Errc::bad_input, where + ": " + what);
}

// Served model names and aliases: what clients put in "model", and part of a container name.
bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 128) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' ||
               c == '-' || c == ':' || c == '/';
    });
}

base::Result<DeploymentConfig> read_entry(const config::Entry& e, const std::string& where) {
    for (const auto& [key, value] : e) {
        if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
            std::string keys;
            for (std::string_view k : kKeys) keys += (keys.empty() ? "" : ", ") + std::string(k);
            return bad(where, "unknown key '" + base::printable(key) + "' (keys: " + keys + ")");
        }
    }
    EntryReader r(e, where);
    DeploymentConfig d;
    SPARKCTL_TRY(r.string("id", d.id));
    SPARKCTL_TRY(r.string("model", d.model));
    SPARKCTL_TRY(r.strings("aliases", d.aliases));
    SPARKCTL_TRY(r.string("use", d.use));
    std::optional<std::int64_t> users;
    SPARKCTL_TRY(r.integer("users", users));
    if (users) {
        if (*users < 1 || *users > (1 << 20)) {
            return bad(where, "key 'users': " + std::to_string(*users) + " is not in 1..1048576");
        }
        d.users = static_cast<int>(*users);
    }
    SPARKCTL_TRY(r.integer("context", d.context));
    SPARKCTL_TRY(r.string("engine", d.engine));
    SPARKCTL_TRY(r.string("quant", d.quant));
    SPARKCTL_TRY(r.string("engine_version", d.engine_version));
    SPARKCTL_TRY(r.string("prefer", d.prefer));
    SPARKCTL_TRY(r.string("kv_cache_dtype", d.kv_cache_dtype));
    SPARKCTL_TRY(r.strings("overrides", d.overrides));
    SPARKCTL_TRY(r.string("budget", d.budget));
    std::string kind = "native";
    SPARKCTL_TRY(r.string("kind", kind));
    if (kind == "container") {
        d.kind = Kind::container;
    } else if (kind != "native") {
        return bad(where, "key 'kind': '" + base::printable(kind) + "' is not native or container");
    }
    SPARKCTL_TRY(r.strings("extra_args", d.extra_args));
    SPARKCTL_TRY(r.strings("simulate_args", d.simulate_args));
    SPARKCTL_TRY(r.boolean("pin", d.pin));
    SPARKCTL_TRY(r.number("ttl_s", d.ttl_s));
    SPARKCTL_TRY(r.boolean("bench", d.bench));
    std::optional<std::int64_t> max_in_flight;
    SPARKCTL_TRY(r.integer("max_in_flight", max_in_flight));
    if (max_in_flight) {
        if (*max_in_flight < 0 || *max_in_flight > kMaxInFlight) {
            return bad(where, "key 'max_in_flight': " + std::to_string(*max_in_flight) +
                                  " is not in 0.." + std::to_string(kMaxInFlight) +
                                  " (0: no limit)");
        }
        d.max_in_flight = static_cast<int>(*max_in_flight);
    }
    if (d.id.empty() && r.find("id") == nullptr) return bad(where, "key 'id' is missing");
    if (d.model.empty() && r.find("model") == nullptr) return bad(where, "key 'model' is missing");
    return d;
}

// A flag that changes what the engine allocates: the plan sizes it (`instead`: the deployment key
// or plan option to use), or serve sets it itself.
struct MemoryFlag {
    std::vector<std::string_view> names;
    std::string_view why;
};

// llama.cpp flags (LC:common/arg.cpp) that size its buffers or place its weights.
const std::vector<MemoryFlag>& llamacpp_memory_flags() {
    static const std::vector<MemoryFlag> k = {
        {{"-c", "--ctx-size"}, "sizes the KV cache: use the deployment's `context`"},
        {{"-np", "--parallel"}, "multiplies the KV cache: use the deployment's `users`"},
        {{"-kvu", "--kv-unified", "-no-kvu", "--no-kv-unified", "--swa-full"},
         "changes the KV cache layout the plan sized"},
        {{"-ctk", "--cache-type-k", "-ctv", "--cache-type-v"},
         "KV cache type: the plan chooses it (plan --kv-cache-dtype)"},
        {{"-ngl", "--gpu-layers", "--n-gpu-layers", "-ot", "--override-tensor", "-cmoe",
          "--cpu-moe", "-ncmoe", "--n-cpu-moe", "-sm", "--split-mode", "-ts", "--tensor-split",
          "-mg", "--main-gpu"},
         "places weights: the plan offloads every layer"},
        {{"-b", "--batch-size", "-ub", "--ubatch-size"}, "sizes the compute buffer the plan fit"},
        {{"-fa", "--flash-attn"}, "changes the KV and compute buffers the plan fit"},
        {{"--mmap", "--no-mmap", "--load-mode", "--mlock", "-fit", "--fit"},
         "changes how weights are held in the pool (page cache counts on unified memory)"},
        {{"-cram", "--cache-ram"}, "host prompt cache: counted in the reservation at its default"},
        {{"-md", "--model-draft", "-cd", "--ctx-size-draft", "-ngld", "--gpu-layers-draft",
          "--lora", "--lora-scaled", "--mmproj", "-mm"},
         "loads more weights than the plan counts"},
        {{"-m", "--model", "-hf", "-hfr", "--hf-repo", "-hff", "--hf-file", "-mu", "--model-url"},
         "the model is the deployment's `model`"},
        {{"--host", "--port", "--api-key", "--api-key-file", "-a", "--alias", "-lv", "--verbosity",
          "--log-verbosity"},
         "set by serve (loopback, a free port, a random key, the deployment id, -lv 4 for the "
         "buffer sizes it measures)"},
    };
    return k;
}

// vLLM flags (V:vllm/engine/arg_utils.py, V:vllm/entrypoints/openai/cli_args.py).
const std::vector<MemoryFlag>& vllm_memory_flags() {
    static const std::vector<MemoryFlag> k = {
        {{"--max-model-len"}, "sizes the KV cache: use the deployment's `context`"},
        {{"--max-num-seqs"}, "sizes the batch: use the deployment's `users`"},
        {{"--gpu-memory-utilization", "--kv-cache-memory-bytes", "--num-gpu-blocks-override"},
         "the memory vLLM claims: the plan sizes it (R-OPS-1, SPARKCTL-PLAN-1/2)"},
        {{"--kv-cache-dtype"}, "KV cache type: the plan chooses it (plan --kv-cache-dtype)"},
        {{"--max-num-batched-tokens", "--block-size", "--enforce-eager", "--cuda-graph-sizes",
          "--max-cudagraph-capture-size", "--compilation-config", "-O"},
         "changes the activation and CUDA graph memory the plan fit"},
        {{"--tensor-parallel-size", "-tp", "--pipeline-parallel-size", "-pp",
          "--data-parallel-size", "-dp", "--distributed-executor-backend", "--nnodes"},
         "parallelism: serve runs one Spark"},
        {{"--quantization", "-q", "--dtype", "--load-format", "--model", "--tokenizer",
          "--speculative-config", "--cpu-offload-gb", "--swap-space", "--kv-offloading-size"},
         "changes the weights or caches the plan counts: use `quant`/`model`"},
        {{"--host", "--port", "--api-key", "--served-model-name"},
         "set by serve (loopback, a free port, a random key, the deployment id)"},
    };
    return k;
}

// SGLang flags (S:python/sglang/srt/server_args.py).
const std::vector<MemoryFlag>& sglang_memory_flags() {
    static const std::vector<MemoryFlag> k = {
        {{"--context-length"}, "sizes the KV cache: use the deployment's `context`"},
        {{"--max-running-requests"}, "sizes the batch: use the deployment's `users`"},
        {{"--mem-fraction-static", "--max-total-tokens"},
         "the memory SGLang claims: the plan sizes it (R-OPS-1)"},
        {{"--kv-cache-dtype"}, "KV cache type: the plan chooses it (plan --kv-cache-dtype)"},
        {{"--chunked-prefill-size", "--max-prefill-tokens", "--cuda-graph-max-bs",
          "--cuda-graph-bs", "--disable-cuda-graph"},
         "changes the activation and CUDA graph memory the plan fit"},
        {{"--tp-size", "--tp", "--tensor-parallel-size", "--dp-size", "--dp",
          "--data-parallel-size", "--pp-size", "--pipeline-parallel-size", "--nnodes"},
         "parallelism: serve runs one Spark"},
        {{"--quantization", "--dtype", "--load-format", "--model-path", "--model",
          "--tokenizer-path", "--speculative-algorithm", "--speculative-draft-model-path",
          "--cpu-offload-gb", "--enable-hierarchical-cache"},
         "changes the weights or caches the plan counts: use `quant`/`model`"},
        {{"--host", "--port", "--api-key", "--served-model-name"},
         "set by serve (loopback, a free port, a random key, the deployment id)"},
    };
    return k;
}

const std::vector<MemoryFlag>& memory_flags(Engine e) {
    switch (e) {
        case Engine::llama_cpp:
            return llamacpp_memory_flags();
        case Engine::vllm:
            return vllm_memory_flags();
        case Engine::sglang:
            return sglang_memory_flags();
    }
    return llamacpp_memory_flags();
}

bool is_flag(std::string_view s) {
    return s.size() > 1 && s[0] == '-' && std::isdigit(static_cast<unsigned char>(s[1])) == 0;
}

// Sets the value after `flag` in argv; false when the flag is absent.
bool set_value(std::vector<std::string>& argv, std::string_view flag, const std::string& value) {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == flag) {
            argv[i + 1] = value;
            return true;
        }
    }
    return false;
}

// The flag that carries the served model name, per engine (the plan renders it).
std::string_view name_flag(Engine e) {
    return e == Engine::llama_cpp ? "-a" : "--served-model-name";
}

// Docker names take [a-zA-Z0-9][a-zA-Z0-9_.-]*: the id with anything else as '-'.
std::string container_name_for(const std::string& id) {
    std::string out = "sparkctl-";
    for (char c : id) {
        const bool ok =
            std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
        out += ok ? c : '-';
    }
    return out;
}

std::string placeholders_in(const std::vector<std::string>& argv) {
    std::string out;
    for (const std::string& a : argv) {
        const std::size_t at = a.find("${");
        if (at == std::string::npos) continue;
        const std::size_t end = a.find('}', at);
        out += (out.empty() ? "" : ", ") +
               a.substr(at + 2, end == std::string::npos ? end : end - at - 2);
    }
    return out;
}

std::string fmt_bytes(std::uint64_t b) { return base::format_bytes(b); }

}  // namespace

const char* to_string(Kind kind) { return kind == Kind::container ? "container" : "native"; }

base::Result<void> validate_deployment(const DeploymentConfig& d, const std::string& where) {
    if (!valid_name(d.id)) {
        return bad(where, "key 'id': '" + base::printable(d.id) +
                              "' is not a model name (1-128 of A-Z a-z 0-9 . _ - : /)");
    }
    if (base::trim(d.model).empty()) return bad(where, "key 'model' is empty");
    for (const std::string& a : d.aliases) {
        if (!valid_name(a)) {
            return bad(where, "key 'aliases': '" + base::printable(a) +
                                  "' is not a model name (1-128 of A-Z a-z 0-9 . _ - : /)");
        }
    }
    auto use = plan::parse_use(d.use);
    if (!use) return with_context(use.error(), where + ": key 'use'");
    if (d.users < 1 || d.users > (1 << 20)) {
        return bad(where, "key 'users': " + std::to_string(d.users) + " is not in 1..1048576");
    }
    if (d.context && *d.context < 1) {
        return bad(where, "key 'context': " + std::to_string(*d.context) + " is not at least 1");
    }
    if (d.engine) {
        auto e = engines::parse_engine(*d.engine);
        if (!e) return with_context(e.error(), where + ": key 'engine'");
        if (d.engine_version && !base::iequals(*d.engine_version, "installed")) {
            auto v = engines::find_version(*e, *d.engine_version);
            if (!v) return with_context(v.error(), where + ": key 'engine_version'");
        }
    }
    if (d.prefer) {
        auto prefer = plan::parse_prefer(*d.prefer);
        if (!prefer) return with_context(prefer.error(), where + ": key 'prefer'");
    }
    if (d.budget) {
        auto budget = base::parse_bytes(*d.budget);
        if (!budget || *budget == 0) {
            return bad(where, "key 'budget': '" + base::printable(*d.budget) +
                                  "' is not a byte count (e.g. 100GiB)");
        }
    }
    if (d.ttl_s && !(std::isfinite(*d.ttl_s) && *d.ttl_s > 0)) {
        return bad(where, "key 'ttl_s': must be a positive number of seconds");
    }
    if (d.pin && d.ttl_s)
        return bad(where, "keys 'pin' and 'ttl_s': a pinned deployment never unloads");
    for (const std::string& a : d.extra_args) {
        if (a.empty()) return bad(where, "key 'extra_args': an empty argument");
    }
    if (d.max_in_flight < 0 || d.max_in_flight > kMaxInFlight) {
        return bad(where, "key 'max_in_flight': " + std::to_string(d.max_in_flight) +
                              " is not in 0.." + std::to_string(kMaxInFlight) + " (0: no limit)");
    }
    return {};
}

base::Result<std::vector<DeploymentConfig>> read_deployments(const config::Config& cfg) {
    const std::string file = cfg.file() ? cfg.file()->string() : std::string("config");
    std::vector<DeploymentConfig> out;
    // An id names one deployment: no other id or alias may be it. An alias may be shared: the
    // gateway routes a shared alias among its deployments (R-OPS-3: a llama.cpp one for chat and
    // a vLLM/SGLang one for parallel load, docs/dev/gateway.md "Routing").
    std::map<std::string, std::string> ids, aliases;  // name -> the (first) entry that has it
    const std::vector<config::Entry>& entries = cfg.entries("models");
    for (std::size_t i = 0; i < entries.size(); ++i) {
        std::string where = file + ": [[models]] entry " + std::to_string(i + 1);
        auto d = read_entry(entries[i], where);
        if (!d) return d.error();
        where += " (id '" + base::printable(d->id) + "')";
        SPARKCTL_TRY(validate_deployment(*d, where));
        const auto used = [&](const std::string& n, const std::map<std::string, std::string>& m) {
            auto it = m.find(n);
            return it == m.end() ? std::string() : it->second;
        };
        for (const auto* m : {&ids, &aliases}) {
            if (auto other = used(d->id, *m); !other.empty())
                return bad(where, "name '" + d->id + "' is already used by " + other);
        }
        ids.emplace(d->id, where);
        std::set<std::string> own;
        for (const std::string& a : d->aliases) {
            std::string other = used(a, ids);
            if (other.empty() && !own.insert(a).second) other = "this entry";
            if (!other.empty()) return bad(where, "name '" + a + "' is already used by " + other);
            aliases.emplace(a, where);
        }
        out.push_back(std::move(*d));
    }
    return out;
}

base::Result<void> check_extra_args(Engine engine, const std::string& engine_version,
                                    const std::vector<std::string>& extra_args) {
    auto version = engines::find_version(engine, engine_version);
    if (!version) return version.error();
    const std::string table =
        std::string(engines::to_string(engine)) + " " + (*version)->name + "'s flag table";
    for (std::string_view a : extra_args) {
        if (!is_flag(a)) continue;
        const std::string_view flag = a.substr(0, a.find('='));
        for (const MemoryFlag& m : memory_flags(engine)) {
            if (std::find(m.names.begin(), m.names.end(), flag) != m.names.end()) {
                return make_error(Errc::bad_input, "extra_args: " + std::string(flag) +
                                                       " is refused: " + std::string(m.why));
            }
        }
    }
    std::vector<std::string> split;  // --flag=value as two arguments, as the parsers take it
    for (const std::string& a : extra_args) {
        const std::size_t eq = a.find('=');
        if (is_flag(a) && a.starts_with("--") && eq != std::string::npos) {
            split.push_back(a.substr(0, eq));
            split.push_back(a.substr(eq + 1));
        } else {
            split.push_back(a);
        }
    }
    const std::vector<std::string> unknown = engines::unknown_flags(**version, split, 0);
    if (!unknown.empty()) {
        return make_error(Errc::bad_input, "extra_args: " + unknown.front() + " is not a flag of " +
                                               table + " (" + (*version)->flags_commit + ")");
    }
    const std::vector<std::string> values = engines::unknown_values(**version, split, 0);
    if (!values.empty()) {
        return make_error(Errc::bad_input, "extra_args: '" + values.front() + "' is not a value " +
                                               table + " accepts");
    }
    return {};
}

base::Result<DeploymentSpec> plan_deployment(const DeploymentConfig& d, const LaunchContext& ctx,
                                             const config::Config& cfg) {
    const std::string where = "deployment '" + d.id + "'";
    SPARKCTL_TRY(validate_deployment(d, where));
    plan::PlanInputs in;
    in.model = d.model;
    in.use = d.use;
    in.users = static_cast<std::uint32_t>(d.users);
    if (d.context) in.context = static_cast<std::uint64_t>(*d.context);
    in.bench = d.bench;
    in.engine = d.engine.value_or("");
    in.quant = d.quant.value_or("");
    in.engine_version = d.engine_version.value_or("");
    in.prefer = d.prefer.value_or("");
    in.kv_cache_dtype = d.kv_cache_dtype.value_or("");
    in.overrides = d.overrides;
    in.budget = d.budget.value_or("");
    auto planned = plan::plan_from_inputs(cfg, in);
    if (!planned) return with_context(planned.error(), where);
    const plan::Plan& p = planned->plan;
    if (p.status == plan::Status::refused) {
        return make_error(Errc::bad_input, where + ": the plan is refused: " + p.refusal);
    }
    const fit::MemoryBreakdown& mem = p.fit.estimate.memory;
    if (p.status == plan::Status::does_not_fit) {
        return make_error(Errc::does_not_fit,
                          where + ": does not fit: needs " + fmt_bytes(mem.total_bytes) +
                              ", the budget is " + fmt_bytes(p.fit.estimate.memory.budget_bytes) +
                              " (sparkctl plan " + d.model + " shows the suggestions)");
    }
    if (p.nodes > 1) {
        return make_error(Errc::bad_input,
                          where + ": the plan runs on " + std::to_string(p.nodes) +
                              " nodes ([cluster] inventory); serve runs deployments on one Spark "
                              "for now: cluster deployments are refused");
    }
    auto extra = check_extra_args(p.engine, p.engine_version.name, d.extra_args);
    if (!extra) return with_context(extra.error(), where);

    const plan::LaunchCommand* native = nullptr;
    const plan::LaunchCommand* container = nullptr;
    for (const plan::LaunchCommand& c : p.commands) {
        if (c.role != "server") continue;
        if (c.kind == "native" && native == nullptr) native = &c;
        if (c.kind == "container" && container == nullptr) container = &c;
    }
    if (native == nullptr) {
        return make_error(Errc::internal, where + ": the plan has no native server command");
    }
    const Engine e = p.engine;
    if (!engines::accepts_flag(p.engine_version, "--api-key")) {
        return make_error(Errc::bad_input, where + ": " + engines::to_string(e) + " " +
                                               p.engine_version.name + " has no --api-key flag");
    }
    const bool allow_download = base::iequals(cfg.value("allow_download"), "true");

    // The engine's own argv: the plan's server, on serve's port, named by the id, with a key.
    auto engine_argv = [&](std::vector<std::string> argv) {
        set_value(argv, "--port", std::to_string(ctx.port));
        set_value(argv, name_flag(e), d.id);
        argv.insert(argv.end(), {"--api-key", ctx.api_key});
        // llama.cpp logs its buffer sizes (measured memory, engines/logs.h) at trace verbosity
        // (LC:common/arg.cpp -lv "4: trace (more info)").
        if (e == Engine::llama_cpp && engines::accepts_flag(p.engine_version, "-lv")) {
            argv.insert(argv.end(), {"-lv", "4"});
        }
        // llama.cpp downloads -hf models with its own client: --offline keeps it on the cache
        // (LC:common/arg.cpp "--offline").
        if (e == Engine::llama_cpp && !allow_download &&
            engines::accepts_flag(p.engine_version, "--offline")) {
            argv.push_back("--offline");
        }
        argv.insert(argv.end(), d.extra_args.begin(), d.extra_args.end());
        return argv;
    };

    DeploymentSpec s;
    s.config = d;
    s.engine = engines::to_string(e);
    s.quant = p.quant;
    s.weights_bytes = mem.weights_bytes;
    s.simulated = ctx.simulate;
    s.memory_total_bytes = planned->request.hardware.memory_total_bytes;
    if (p.performance)
        s.prefill_tokens_per_s = p.performance->predicted.prefill_tokens_per_s_single;
    std::vector<std::string> server = engine_argv(native->argv);
    // The fit's total counts llama.cpp's host prompt cache (--cache-ram) and context checkpoints
    // (fit/memory.h): host memory, the same pool on a Spark.
    s.planned_bytes = std::max(mem.total_bytes, mem.peak_bytes);
    // huggingface_hub reads HF_HUB_OFFLINE (https://huggingface.co/docs/huggingface_hub/
    // package_reference/environment_variables#hfhuboffline): no download as a side effect.
    std::vector<std::pair<std::string, std::string>> env;
    if (!allow_download) env.emplace_back("HF_HUB_OFFLINE", "1");

    if (ctx.simulate) {
        // The stand-in takes the engine's argv after its executable (docs/dev/sim.md).
        s.argv = {ctx.sparkctl_exe, "simulate", "serve", "--as", s.engine};
        s.argv.insert(s.argv.end(), d.simulate_args.begin(), d.simulate_args.end());
        s.argv.push_back("--");
        s.argv.insert(s.argv.end(), server.begin() + 1, server.end());
        s.env = env;
        return s;
    }
    if (d.kind == Kind::native) {
        const std::string missing = placeholders_in(server);
        if (!missing.empty()) {
            return make_error(Errc::bad_input, where + ": the plan's command needs " + missing +
                                                   ", which serve cannot fill in");
        }
        server[0] = plan::engine_programs(cfg).executable(e);
        s.argv = std::move(server);
        s.env = env;
        return s;
    }

    if (container == nullptr) {
        return make_error(Errc::bad_input, where + ": kind = container: " + engines::to_string(e) +
                                               " " + p.engine_version.name +
                                               " has no official container image; use "
                                               "kind = native");
    }
    // The plan's `docker run ... IMAGE SERVER-ARGV`, detached, labelled, on serve's port, with the
    // HF cache and the configured image.
    const std::vector<std::string>& c = container->argv;
    auto image_at = std::find(c.begin(), c.end(), p.engine_version.image);
    if (image_at == c.end()) {
        return make_error(Errc::internal, where + ": the plan's container command has no image");
    }
    std::vector<std::string> opts(c.begin() + 2, image_at);
    const std::vector<std::string> inner =
        engine_argv(std::vector<std::string>(image_at + 1, c.end()));
    s.container_name = container_name_for(d.id);
    const std::string port = std::to_string(ctx.port);
    for (std::size_t i = 0; i + 1 < opts.size(); ++i) {
        if (opts[i] == "--name") opts[i + 1] = s.container_name;
        if (opts[i] == "-p") opts[i + 1] = "127.0.0.1:" + port + ":" + port;
        if (opts[i] == "-v") {
            const std::string cache = "${HF_CACHE}";
            if (opts[i + 1].starts_with(cache)) {
                opts[i + 1] = cfg.value("hf_cache") + opts[i + 1].substr(cache.size());
            }
        }
    }
    const std::string image = plan::engine_programs(cfg).image(p.engine_version);
    // Without --rm: the exit code and the log outlive a crash until serve removes the container.
    std::erase(opts, std::string("--rm"));
    s.docker = plan::engine_programs(cfg).docker;
    s.argv = {s.docker, "run", "-d", "--label", std::string(kDeploymentLabel) + "=" + d.id};
    if (!ctx.instance.empty()) {
        s.argv.insert(s.argv.end(), {"--label", std::string(kInstanceLabel) + "=" + ctx.instance});
    }
    s.argv.insert(s.argv.end(), opts.begin(), opts.end());
    if (std::find(opts.begin(), opts.end(), "HF_TOKEN") == opts.end()) {
        s.argv.insert(s.argv.end(), {"-e", "HF_TOKEN"});  // passed through when set
    }
    for (const auto& [k, v] : env) s.argv.insert(s.argv.end(), {"-e", k + "=" + v});
    s.argv.push_back(image);
    s.argv.insert(s.argv.end(), inner.begin(), inner.end());
    const std::string missing = placeholders_in(s.argv);
    if (!missing.empty()) {
        return make_error(Errc::bad_input, where + ": the plan's command needs " + missing +
                                               ", which serve cannot fill in");
    }
    return s;
}

// V:vllm/v1/worker/gpu_worker.py: "Free memory on device ... on startup is less than desired GPU
// memory utilization"; V:vllm/utils/mem_utils.py MemorySnapshot counts host memory for an
// integrated GPU. With --kv-cache-memory-bytes the fraction only gates startup ("This does not
// respect the gpu_memory_utilization config", gpu_worker.py).
base::Result<void> fit_vllm_memory_utilization(DeploymentSpec& s, std::uint64_t mem_available,
                                               std::uint64_t headroom) {
    if (s.engine != engines::to_string(Engine::vllm) || s.memory_total_bytes == 0) return {};
    auto it = std::find(s.argv.begin(), s.argv.end(), "--gpu-memory-utilization");
    if (it == s.argv.end() || it + 1 == s.argv.end()) return {};
    const double planned = std::strtod((it + 1)->c_str(), nullptr);
    const double usable =
        mem_available > headroom ? static_cast<double>(mem_available - headroom) : 0.0;
    const double cap =
        std::floor(usable / static_cast<double>(s.memory_total_bytes) * 100.0) / 100.0;
    if (cap >= planned) return {};
    char fraction[16];
    std::snprintf(fraction, sizeof fraction, "%.2f", std::max(cap, 0.0));
    const std::string numbers = "MemAvailable " + fmt_bytes(mem_available) + " minus " +
                                fmt_bytes(headroom) + " headroom allows --gpu-memory-utilization " +
                                fraction + " of " + fmt_bytes(s.memory_total_bytes) +
                                ", the plan needs " + *(it + 1);
    const bool kv_fixed =
        std::find(s.argv.begin(), s.argv.end(), "--kv-cache-memory-bytes") != s.argv.end();
    if (cap <= 0 || !kv_fixed) {
        return make_error(Errc::does_not_fit, "deployment '" + s.config.id + "': " + numbers);
    }
    *(it + 1) = fraction;
    return {};
}

}  // namespace sparkctl::serve
