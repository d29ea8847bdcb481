#include "bench/probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "base/strings.h"
#include "bench/history.h"

namespace sparkctl::bench {

namespace {

using engines::Engine;
using nlohmann::json;

net::ClientRequest make_request(const Endpoint& ep, const std::string& api_key,
                                const std::string& method, const std::string& path,
                                std::string body = {}) {
    net::ClientRequest r;
    r.host = ep.host;
    r.port = ep.port;
    r.method = method;
    r.target = ep.prefix + path;
    r.timeout_ms = 10'000;
    if (!body.empty()) {
        r.headers.emplace_back("Content-Type", "application/json");
        r.body = std::move(body);
    }
    if (!api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + api_key);
    return r;
}

// The body of a 200 answer to GET `path`, else nullopt.
std::optional<std::string> get_ok(net::Client& c, const Endpoint& ep, const std::string& key,
                                  const std::string& path) {
    auto r = c.fetch(make_request(ep, key, "GET", path));
    if (!r || r->status != 200) return std::nullopt;
    return r->body;
}

// Words of the prompt bodies: common English words, most of them one token in BPE vocabularies.
constexpr const char* kWords[] = {
    "time",    "year",    "people",   "way",    "day",    "man",     "thing",   "woman",
    "life",    "child",   "world",    "school", "state",  "family",  "student", "group",
    "country", "problem", "hand",     "part",   "place",  "case",    "week",    "company",
    "system",  "program", "question", "work",   "number", "night",   "point",   "home",
    "water",   "room",    "mother",   "area",   "money",  "story",   "fact",    "month",
    "lot",     "right",   "study",    "book",   "eye",    "job",     "word",    "business",
    "issue",   "side",    "kind",     "head",   "house",  "service", "friend",  "father",
    "power",   "hour",    "game",     "line",   "end",    "member",  "law",     "car"};
constexpr std::size_t kWordCount = sizeof kWords / sizeof kWords[0];

// FNV-1a, 64 bits (http://www.isthe.com/chongo/tech/comp/fnv/: offset basis 14695981039346656037,
// prime 1099511628211): a hash of a prefix id that is the same on every platform and run.
std::uint64_t fnv1a(std::string_view text) {
    std::uint64_t h = 14695981039346656037ull;
    for (const char ch : text) {
        h ^= static_cast<unsigned char>(ch);
        h *= 1099511628211ull;
    }
    return h;
}

// The engine's token count of `text`, or nullopt when it has no /tokenize.
base::Result<std::optional<std::uint64_t>> count_tokens(net::Client& c, const Endpoint& ep,
                                                        const std::string& key,
                                                        std::optional<Engine> engine,
                                                        const std::string& model,
                                                        const std::string& text) {
    if (!engine || *engine == Engine::sglang) return std::optional<std::uint64_t>{};
    json body;
    if (*engine == Engine::vllm) {
        // V:vllm/entrypoints/openai/protocol.py TokenizeCompletionRequest (add_special_tokens
        // defaults to true, as for a completion).
        body = {{"model", model}, {"prompt", text}};
    } else {
        // LC:tools/server/server-context.cpp handle_tokenize: add_special as a completion does.
        body = {{"content", text}, {"add_special", true}};
    }
    auto r = c.fetch(make_request(ep, key, "POST", "/tokenize", body.dump()));
    if (!r) return base::with_context(r.error(), ep.url + "/tokenize");
    if (r->status != 200) {
        return base::make_error(base::Errc::io, ep.url + "/tokenize: HTTP " +
                                                    std::to_string(r->status) + ": " +
                                                    base::printable(r->body.substr(0, 200)));
    }
    const json doc = json::parse(r->body, nullptr, false);
    if (doc.is_object() && doc.contains("count") && doc["count"].is_number_unsigned()) {
        return std::optional<std::uint64_t>(doc["count"].get<std::uint64_t>());
    }
    if (doc.is_object() && doc.contains("tokens") && doc["tokens"].is_array()) {
        return std::optional<std::uint64_t>(doc["tokens"].size());
    }
    return base::make_error(base::Errc::io, ep.url + "/tokenize: no count or tokens in the answer");
}

}  // namespace

base::Result<TargetInfo> detect(net::Client& c, const Endpoint& ep, const std::string& key) {
    TargetInfo t;
    auto models = c.fetch(make_request(ep, key, "GET", "/v1/models"));
    if (!models) return base::with_context(models.error(), ep.url + "/v1/models");
    if (models->status != 200) {
        return base::make_error(base::Errc::io, ep.url + "/v1/models: HTTP " +
                                                    std::to_string(models->status) + ": " +
                                                    base::printable(models->body.substr(0, 200)));
    }
    t.simulated = net::header_value(models->headers, "X-Sparkctl-Simulated") == "1";
    const json doc = json::parse(models->body, nullptr, false);
    if (doc.is_object() && doc.contains("data") && doc["data"].is_array()) {
        for (const json& m : doc["data"]) {
            if (!m.is_object()) continue;
            if (m.contains("id") && m["id"].is_string()) t.models.push_back(m["id"]);
            const json& meta = m.value("meta", json());
            if (meta.is_object() && meta.value("sparkctl_simulated", false)) {
                t.simulated = true;
                const json& sp = meta.value("sparkctl_speed", json());
                if (sp.is_number()) t.simulated_speed = sp.get<double>();
            }
        }
    }
    t.engine = engines::engine_from_models(models->body);
    if (t.engine) t.detected_from = "/v1/models owned_by";
    // The engines' own information endpoints give the version (and the engine, if /v1/models
    // did not).
    if (!t.engine || *t.engine == Engine::llama_cpp) {
        if (auto props = get_ok(c, ep, key, "/props")) {
            const json p = json::parse(*props, nullptr, false);
            if (p.is_object() && p.contains("default_generation_settings")) {
                if (!t.engine) t.detected_from = "/props";
                t.engine = Engine::llama_cpp;
                if (p.contains("build_info") && p["build_info"].is_string()) {
                    t.engine_version = p["build_info"];
                }
            }
        }
    }
    if (!t.engine || *t.engine == Engine::sglang) {
        if (auto info = get_ok(c, ep, key, "/get_server_info")) {
            const json p = json::parse(*info, nullptr, false);
            if (p.is_object() && p.contains("disable_radix_cache")) {
                if (!t.engine) t.detected_from = "/get_server_info";
                t.engine = Engine::sglang;
                if (p.contains("version") && p["version"].is_string())
                    t.engine_version = p["version"];
            }
        }
    }
    if (!t.engine || *t.engine == Engine::vllm) {
        // V:vllm/entrypoints/openai/api_server.py show_version: {"version": VLLM_VERSION}.
        if (auto v = get_ok(c, ep, key, "/version")) {
            const json p = json::parse(*v, nullptr, false);
            if (p.is_object() && p.contains("version") && p["version"].is_string()) {
                if (!t.engine) t.detected_from = "/version";
                t.engine = t.engine.value_or(Engine::vllm);
                t.engine_version = p["version"];
            }
        }
    }
    return t;
}

CacheCheck check_prefix_cache(net::Client& c, const Endpoint& ep, const std::string& key,
                              std::optional<Engine> engine) {
    CacheCheck out;
    auto unverified = [&](const std::string& why) {
        out.state = CacheCheck::State::unverified;
        out.evidence = why;
        return out;
    };
    if (!engine) return unverified("unverified: the engine could not be identified");
    auto set = [&](const engines::PrefixCacheSetting& s) {
        out.state = s.enabled ? CacheCheck::State::on : CacheCheck::State::off;
        out.evidence = s.evidence;
    };
    switch (*engine) {
        case Engine::vllm: {
            auto page = get_ok(c, ep, key, "/metrics");
            if (!page) return unverified("unverified: vLLM /metrics did not answer 200");
            auto s = engines::vllm_prefix_cache_setting(*page, ep.url + "/metrics");
            if (!s) return unverified("unverified: " + s.error().message);
            set(*s);
            if (auto cn = engines::vllm_prefix_cache_counters(*page, ep.url + "/metrics")) {
                out.before = *cn;
            }
            break;
        }
        case Engine::sglang: {
            auto info = get_ok(c, ep, key, "/get_server_info");
            if (!info) return unverified("unverified: SGLang /get_server_info did not answer 200");
            auto s = engines::sglang_prefix_cache_setting(*info, ep.url + "/get_server_info");
            if (!s) return unverified("unverified: " + s.error().message);
            set(*s);
            if (auto page = get_ok(c, ep, key, "/metrics")) {
                if (auto cn = engines::sglang_prefix_cache_counters(*page, ep.url + "/metrics")) {
                    out.before = *cn;
                }
            }
            break;
        }
        case Engine::llama_cpp: {
            // The server default may be on; every request of the run carries cache_prompt:false
            // (a per-request field, LC:tools/server/server-schema.cpp), and timings.cache_n
            // counts what was reused anyway.
            out.per_request_off = true;
            std::string server = "server default not shown";
            if (auto props = get_ok(c, ep, key, "/props")) {
                if (auto s = engines::llamacpp_prefix_cache_setting(*props, ep.url + "/props");
                    s && *s) {
                    server = (*s)->evidence;
                }
            }
            out.state = CacheCheck::State::off;
            out.evidence = "cache_prompt=false sent with every request (" + server + ")";
            break;
        }
    }
    return out;
}

std::optional<double> prefix_cache_hits(net::Client& c, const Endpoint& ep, const std::string& key,
                                        std::optional<Engine> engine, const CacheCheck& check,
                                        std::optional<std::uint64_t> cache_n_total) {
    if (!engine) return std::nullopt;
    switch (*engine) {
        case Engine::vllm: {
            auto page = get_ok(c, ep, key, "/metrics");
            if (!page || !check.before.hit_tokens) return std::nullopt;
            auto cn = engines::vllm_prefix_cache_counters(*page, ep.url + "/metrics");
            if (!cn || !cn->hit_tokens) return std::nullopt;
            return std::max(0.0, *cn->hit_tokens - *check.before.hit_tokens);
        }
        case Engine::sglang: {
            auto page = get_ok(c, ep, key, "/metrics");
            if (!page) return std::nullopt;
            auto cn = engines::sglang_prefix_cache_counters(*page, ep.url + "/metrics");
            if (!cn || !cn->hit_rate) return std::nullopt;
            return *cn->hit_rate > check.before.hit_rate.value_or(0) ? 1.0 : 0.0;
        }
        case Engine::llama_cpp:
            if (!cache_n_total) return std::nullopt;
            return double(*cache_n_total);
    }
    return std::nullopt;
}

base::Result<Specs> build_specs(net::Client& c, const Endpoint& ep, const std::string& key,
                                std::optional<Engine> engine, const std::string& model,
                                const sim::Load& load, std::uint64_t count, std::uint64_t seed,
                                const std::string& nonce) {
    Specs out;
    sim::Sampler sampler(seed);
    std::mt19937_64 words(seed ^ 0x9e3779b97f4a7c15ull);
    auto tag_of = [&](std::uint64_t i) {
        // The request's number first: a prefix cache keyed on leading tokens or blocks
        // (vLLM's blocks of 16, the stand-in's words) finds nothing in common.
        return std::to_string(1000000 + i) + "-" + nonce + ": ";
    };
    bool tokenized = true;
    // Words fitted with the engine's tokenizer so that `lead + words` counts `tokens` (up to
    // four rounds of correction; one word per token where the engine has no /tokenize).
    auto fit_words = [&](std::mt19937_64& rng, const std::string& lead, std::uint32_t tokens,
                         std::int64_t start) -> base::Result<std::string> {
        std::vector<std::string> w;
        auto resize = [&](std::int64_t n) {
            n = std::max<std::int64_t>(n, 0);
            while (std::int64_t(w.size()) > n) w.pop_back();
            while (std::int64_t(w.size()) < n) w.push_back(kWords[rng() % kWordCount]);
        };
        auto text = [&] {
            std::string t;
            for (const std::string& x : w) t += (t.empty() ? "" : " ") + x;
            return t;
        };
        resize(start);
        bool exact = false;
        for (int round = 0; round < 4; ++round) {
            auto n = count_tokens(c, ep, key, engine, model, lead + text());
            if (!n) return n.error();
            if (!*n) break;
            const std::int64_t diff = std::int64_t(tokens) - std::int64_t(**n);
            if (diff == 0) {
                exact = true;
                break;
            }
            resize(std::int64_t(w.size()) + diff);
        }
        if (!exact) tokenized = false;
        return text();
    };
    // A trace's shared prefixes, by prefix_id (with a trailing space, before the tag); the
    // id's first row sets its length.
    std::map<std::string, std::shared_ptr<const std::string>> prefixes;
    auto prefix_for =
        [&](const std::string& id,
            std::uint32_t tokens) -> base::Result<std::shared_ptr<const std::string>> {
        if (auto it = prefixes.find(id); it != prefixes.end()) return it->second;
        const std::uint64_t h = fnv1a(id);
        // Its own first word (the id's hash and the run's nonce: distinct ids share no leading
        // token, and a cache left warm by an earlier run cannot hit), then words drawn from the
        // seed and the id, so every request of the id sends the same bytes.
        const std::string lead = fmt::format("P{:016x}-{}:", h, nonce);
        std::mt19937_64 rng(seed ^ h);
        auto drawn = fit_words(rng, lead + " ", tokens, std::int64_t(tokens) - 2);
        if (!drawn) return drawn.error();
        auto text = std::make_shared<const std::string>(lead + " " + *drawn + " ");
        prefixes.emplace(id, text);
        return text;
    };
    // One body per prompt length and prefix id, fitted once with the engine's tokenizer with
    // the prefix and the tag counted in (a start of one word per token, less about two for the
    // tag).
    std::map<std::pair<std::string, std::uint32_t>, std::shared_ptr<const std::string>> bodies;
    auto body_for =
        [&](std::uint32_t tokens, const std::string& prefix_id, const std::string& prefix,
            std::uint32_t prefix_tokens) -> base::Result<std::shared_ptr<const std::string>> {
        const auto k = std::make_pair(prefix_id, tokens);
        if (auto it = bodies.find(k); it != bodies.end()) return it->second;
        auto text = fit_words(words, prefix + tag_of(0), tokens,
                              std::int64_t(tokens) - std::int64_t(prefix_tokens) - 2);
        if (!text) return text.error();
        auto body = std::make_shared<const std::string>(std::move(*text));
        bodies.emplace(k, body);
        return body;
    };
    std::vector<std::shared_ptr<const std::string>> dataset_bodies(load.dataset.size());
    double t = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
        RequestSpec s;
        if (load.kind == sim::Load::Kind::trace) {
            if (i >= load.trace.size()) break;
            const sim::TraceRequest& tr = load.trace[i];
            s.prompt_tokens = std::max<std::uint32_t>(1, tr.prompt_tokens);
            s.output_tokens = std::max<std::uint32_t>(1, tr.output_tokens);
            s.arrival_s = tr.arrival_s;
        } else {
            if (!load.dataset.empty()) {
                // The dataset's own prompt text, after the tag (its lengths are estimates).
                const sim::DatasetEntry& e = load.dataset[i % load.dataset.size()];
                s.prompt_tokens = e.prompt_tokens;
                s.output_tokens = std::max<std::uint32_t>(1, e.output_tokens);
                auto& text = dataset_bodies[i % load.dataset.size()];
                if (!text) text = std::make_shared<const std::string>(e.prompt);
                s.body = text;
            } else {
                s.prompt_tokens = sampler.tokens(load.prompt_tokens);
                s.output_tokens = sampler.tokens(load.output_tokens);
            }
            if (load.kind == sim::Load::Kind::open) {
                s.arrival_s = t;
                t += sampler.gap_s(load.arrivals, load.rate_per_s);
            }
        }
        s.tag = tag_of(i);
        std::string prefix_id;
        std::uint32_t prefix_tokens = 0;
        if (load.kind == sim::Load::Kind::trace && !load.trace[i].prefix_id.empty() &&
            load.trace[i].prefix_tokens > 0) {
            prefix_id = load.trace[i].prefix_id;
            prefix_tokens = load.trace[i].prefix_tokens;
            auto prefix = prefix_for(prefix_id, prefix_tokens);
            if (!prefix) return prefix.error();
            s.prefix = *prefix;
        }
        if (!s.body) {
            auto body = body_for(s.prompt_tokens, prefix_id, s.prefix ? *s.prefix : std::string(),
                                 prefix_tokens);
            if (!body) return body.error();
            s.body = *body;
        }
        out.specs.push_back(std::move(s));
    }
    out.tokenized = tokenized && engine && *engine != Engine::sglang && load.dataset.empty();
    return out;
}

std::optional<LaunchReport> launch_report(net::Client& c, const Endpoint& ep,
                                          const std::string& key, std::optional<Engine> engine) {
    if (!engine || (*engine != Engine::llama_cpp && *engine != Engine::sglang)) return std::nullopt;
    const bool llama = *engine == Engine::llama_cpp;
    LaunchReport r;
    r.source = llama ? "/props" : "/get_server_info";
    auto body = get_ok(c, ep, key, r.source);
    if (!body) return std::nullopt;
    r.args = json::parse(*body, nullptr, false);
    if (!r.args.is_object()) return std::nullopt;
    const char* field = llama ? "model_path" : "quantization";
    auto it = r.args.find(field);
    if (it != r.args.end() && it->is_string()) {
        r.quant = llama ? gguf_quant(it->get<std::string>())
                        : std::optional<std::string>(it->get<std::string>());
    }
    return r;
}

}  // namespace sparkctl::bench
