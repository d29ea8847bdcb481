// What bench asks the target before and after a run: which engine serves it (and whether it is
// sparkctl's stand-in), its prefix-cache setting and counters (R-OPS-2), and prompts of exact
// token lengths through the engine's /tokenize. Blocking calls on net::Client::fetch.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "bench/loadgen.h"
#include "engines/engine.h"
#include "engines/metrics.h"
#include "net/client.h"
#include "sim/simulator.h"

namespace sparkctl::bench {

struct TargetInfo {
    std::optional<engines::Engine> engine;
    std::string engine_version;  // "" when the engine does not say
    std::string detected_from;   // "/v1/models owned_by", "/props", ...
    std::vector<std::string> models;
    bool simulated = false;  // the stand-in: X-Sparkctl-Simulated or meta.sparkctl_simulated
    std::optional<double> simulated_speed;
};

// GET /v1/models (owned_by, the simulated markers), then the engine's own version endpoint
// (vLLM /version, llama.cpp /props build_info, SGLang /get_server_info version); an unknown
// owner is probed with /props and /get_server_info. Errors: io when /v1/models does not answer
// 200 (the message names the URL).
base::Result<TargetInfo> detect(net::Client& client, const Endpoint& ep,
                                const std::string& api_key);

// R-OPS-2 before a run: the setting as the engine shows it, and the counters to diff after.
struct CacheCheck {
    enum class State { off, on, unverified };
    State state = State::unverified;
    std::string evidence;  // where the setting was read, or why it could not be
    engines::PrefixCacheCounters before;
    bool per_request_off = false;  // llama.cpp: cache_prompt false is sent with every request
};
CacheCheck check_prefix_cache(net::Client& client, const Endpoint& ep, const std::string& api_key,
                              std::optional<engines::Engine> engine);

// Prefix-cache hits during the run, in tokens where the engine counts tokens (vLLM: the hits
// counter's growth; llama.cpp: the sum of timings.cache_n, `cache_n_total`); SGLang's hit-rate
// gauge gives a rate only: any growth counts as 1. nullopt when nothing could be read.
std::optional<double> prefix_cache_hits(net::Client& client, const Endpoint& ep,
                                        const std::string& api_key,
                                        std::optional<engines::Engine> engine,
                                        const CacheCheck& check,
                                        std::optional<std::uint64_t> cache_n_total);

// What the engine itself says about how it was launched, stored with each run: llama.cpp
// `/props` (model_path, n_ctx, total_slots, ...; LC:tools/server/server-context.cpp get_props)
// and SGLang `/get_server_info` (its server args, S:python/sglang/srt/entrypoints/http_server.py);
// vLLM serves no such page by default. `quant`: the GGUF name's quantization (gguf_quant) of
// llama.cpp's model_path, SGLang's `quantization` arg; nullopt when the page does not say.
struct LaunchReport {
    std::string source;  // the page, "/props" or "/get_server_info"
    nlohmann::json args;
    std::optional<std::string> quant;
};
std::optional<LaunchReport> launch_report(net::Client& client, const Endpoint& ep,
                                          const std::string& api_key,
                                          std::optional<engines::Engine> engine);

// The requests of a point: sizes from `load` (or its trace) drawn with `seed`, a unique tag per
// request (`nonce`, random per run, keeps tags unique across runs against one server), bodies of
// random words fitted to the exact length with the engine's /tokenize where it has one (vLLM,
// llama.cpp; up to four rounds of correction, the tag counted in), else one word per token.
// `count` requests (a trace: at most its length); open loop: arrivals from load.arrivals at
// load.rate_per_s. A dataset (load.dataset) gives each request its entry's prompt text (after
// the tag) and output length, entries taken in order and reused from the first when `count` is
// larger; its lengths are sim::estimate_tokens estimates (`tokenized` false). A trace row with
// a prefix_id and prefix_tokens starts with that id's prefix (RequestSpec::prefix: a first word
// of the id's hash and `nonce`, then words drawn from `seed` and the id, fitted to
// prefix_tokens of the id's first row), the same bytes for every row of the id; the tag and
// body follow, fitted so that the whole prompt has the row's prompt_tokens.
// Errors: io when /tokenize fails.
struct Specs {
    std::vector<RequestSpec> specs;
    bool tokenized = false;  // lengths came from the engine's tokenizer
};
base::Result<Specs> build_specs(net::Client& client, const Endpoint& ep, const std::string& api_key,
                                std::optional<engines::Engine> engine, const std::string& model,
                                const sim::Load& load, std::uint64_t count, std::uint64_t seed,
                                const std::string& nonce);

}  // namespace sparkctl::bench
