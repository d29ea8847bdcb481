// What each engine says about its prefix cache (R-OPS-2): the setting, from the page that shows
// it, and the hit counters, from the page that counts them. Readers take the page text as the
// engine served it; each fact cites its source. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "engines/engine.h"

namespace sparkctl::engines {

// The prefix-cache setting as the engine reports it; `evidence` quotes where it was read
// ("vllm:cache_config_info enable_prefix_caching=\"False\"").
struct PrefixCacheSetting {
    bool enabled = false;
    std::string evidence;
};

// Prefix-cache counters at one moment. Fields the page does not carry stay nullopt.
struct PrefixCacheCounters {
    std::optional<double> query_tokens;  // cumulative tokens looked up (vLLM)
    std::optional<double> hit_tokens;    // cumulative tokens found (vLLM)
    std::optional<double> hit_rate;      // hits / queries since start (SGLang's gauge)
};

// vLLM /metrics: the label `enable_prefix_caching` ("True"/"False", str() of the bool) of the
// info gauge `vllm:cache_config_info` (V:vllm/v1/metrics/loggers.py log_metrics_info
// ("cache_config"), labels from CacheConfig.metrics_info()). Errors: bad_input naming `source`
// when the page is not Prometheus text or has no such sample or label.
base::Result<PrefixCacheSetting> vllm_prefix_cache_setting(std::string_view metrics_page,
                                                           std::string_view source);
// vLLM /metrics: `vllm:prefix_cache_queries_total` and `vllm:prefix_cache_hits_total`, in tokens
// (V:vllm/v1/metrics/loggers.py PrometheusStatLogger), summed over their label sets; the older
// `vllm:gpu_prefix_cache_{queries,hits}_total` names (deprecated in 0.10, both served then) for
// each one that is absent.
base::Result<PrefixCacheCounters> vllm_prefix_cache_counters(std::string_view metrics_page,
                                                             std::string_view source);

// SGLang /get_server_info: the server arguments, `disable_radix_cache` among them
// (S:python/sglang/srt/entrypoints/http_server.py get_server_info returns
// dataclasses.asdict(server_args); S:python/sglang/srt/server_args.py disable_radix_cache).
base::Result<PrefixCacheSetting> sglang_prefix_cache_setting(std::string_view server_info_json,
                                                             std::string_view source);
// SGLang /metrics: the gauge `sglang:cache_hit_rate` (S:python/sglang/srt/metrics/collector.py),
// the mean over its label sets.
base::Result<PrefixCacheCounters> sglang_prefix_cache_counters(std::string_view metrics_page,
                                                               std::string_view source);

// llama.cpp /props: `default_generation_settings.params.cache_prompt` where the server lists it
// (older servers, and the stand-in). Newer llama-server builds print only the sampling
// parameters there (LC:tools/server/server-task.cpp task_params::to_json(only_metrics)): then
// nullopt, and the caller relies on the per-request `cache_prompt` field instead
// (LC:tools/server/server-schema.cpp, field_bool "cache_prompt"). Errors: bad_input when the
// page is not a JSON object.
base::Result<std::optional<PrefixCacheSetting>> llamacpp_prefix_cache_setting(
    std::string_view props_json, std::string_view source);
// llama.cpp: `timings.cache_n` (prompt tokens reused from the cache) of one response or SSE
// chunk (LC:tools/server/server-common.cpp server_slot_stats::to_json); nullopt when absent.
std::optional<std::uint64_t> llamacpp_cache_n(std::string_view response_json);

// The engine that serves an OpenAI-compatible endpoint, from /v1/models' `owned_by` ("vllm",
// "sglang", "llamacpp": V:vllm/entrypoints/openai/protocol.py ModelCard, SGLang's ModelCard,
// LC:tools/server/server-context.cpp handle_models). nullopt for anything else.
std::optional<Engine> engine_from_models(std::string_view models_json);

}  // namespace sparkctl::engines
