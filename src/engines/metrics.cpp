#include "engines/metrics.h"

#include <nlohmann/json.hpp>

#include "net/prometheus.h"

namespace sparkctl::engines {

namespace {

using nlohmann::json;
namespace prom = net::prometheus;

base::Error bad(std::string_view source, const std::string& what) {
    return base::make_error(base::Errc::bad_input, std::string(source) + ": " + what);
}

// Sum of every sample named `name` (over its label sets); nullopt when none.
std::optional<double> sum_of(const std::vector<prom::Sample>& samples, std::string_view name) {
    std::optional<double> sum;
    for (const prom::Sample& s : samples) {
        if (s.name == name) sum = sum.value_or(0) + s.value;
    }
    return sum;
}

base::Result<json> parse_object(std::string_view text, std::string_view source) {
    json doc = json::parse(text, nullptr, false);
    if (!doc.is_object()) return bad(source, "not a JSON object");
    return doc;
}

}  // namespace

base::Result<PrefixCacheSetting> vllm_prefix_cache_setting(std::string_view metrics_page,
                                                           std::string_view source) {
    auto samples = prom::parse_text(metrics_page, source);
    if (!samples) return samples.error();
    for (const prom::Sample& s : *samples) {
        if (s.name != "vllm:cache_config_info") continue;
        for (const auto& [k, v] : s.labels) {
            if (k != "enable_prefix_caching") continue;
            if (v != "True" && v != "False") {
                return bad(source, "vllm:cache_config_info: enable_prefix_caching=\"" + v +
                                       "\" is neither True nor False");
            }
            return PrefixCacheSetting{v == "True",
                                      "vllm:cache_config_info enable_prefix_caching=\"" + v + "\""};
        }
        return bad(source, "vllm:cache_config_info has no enable_prefix_caching label");
    }
    return bad(source, "no vllm:cache_config_info sample (is this vLLM's /metrics?)");
}

base::Result<PrefixCacheCounters> vllm_prefix_cache_counters(std::string_view metrics_page,
                                                             std::string_view source) {
    auto samples = prom::parse_text(metrics_page, source);
    if (!samples) return samples.error();
    PrefixCacheCounters c;
    c.query_tokens = sum_of(*samples, "vllm:prefix_cache_queries_total");
    if (!c.query_tokens) c.query_tokens = sum_of(*samples, "vllm:gpu_prefix_cache_queries_total");
    c.hit_tokens = sum_of(*samples, "vllm:prefix_cache_hits_total");
    if (!c.hit_tokens) c.hit_tokens = sum_of(*samples, "vllm:gpu_prefix_cache_hits_total");
    return c;
}

base::Result<PrefixCacheSetting> sglang_prefix_cache_setting(std::string_view server_info_json,
                                                             std::string_view source) {
    auto doc = parse_object(server_info_json, source);
    if (!doc) return doc.error();
    const auto it = doc->find("disable_radix_cache");
    if (it == doc->end() || !it->is_boolean()) {
        return bad(source, "no boolean disable_radix_cache (is this SGLang's /get_server_info?)");
    }
    const bool disabled = it->get<bool>();
    return PrefixCacheSetting{!disabled,
                              std::string("disable_radix_cache=") + (disabled ? "true" : "false")};
}

base::Result<PrefixCacheCounters> sglang_prefix_cache_counters(std::string_view metrics_page,
                                                               std::string_view source) {
    auto samples = prom::parse_text(metrics_page, source);
    if (!samples) return samples.error();
    PrefixCacheCounters c;
    double sum = 0;
    int n = 0;
    for (const prom::Sample& s : *samples) {
        if (s.name == "sglang:cache_hit_rate") {
            sum += s.value;
            ++n;
        }
    }
    if (n > 0) c.hit_rate = sum / n;
    return c;
}

base::Result<std::optional<PrefixCacheSetting>> llamacpp_prefix_cache_setting(
    std::string_view props_json, std::string_view source) {
    auto doc = parse_object(props_json, source);
    if (!doc) return doc.error();
    const json& dgs = doc->value("default_generation_settings", json::object());
    const json& params = dgs.is_object() ? dgs.value("params", json::object()) : json::object();
    if (!params.is_object()) return std::optional<PrefixCacheSetting>{};
    const auto it = params.find("cache_prompt");
    if (it == params.end() || !it->is_boolean()) return std::optional<PrefixCacheSetting>{};
    const bool on = it->get<bool>();
    return std::optional<PrefixCacheSetting>(PrefixCacheSetting{
        on,
        std::string("default_generation_settings.params.cache_prompt=") + (on ? "true" : "false")});
}

std::optional<std::uint64_t> llamacpp_cache_n(std::string_view response_json) {
    const json doc = json::parse(response_json, nullptr, false);
    if (!doc.is_object()) return std::nullopt;
    const json& t = doc.value("timings", json());
    if (!t.is_object()) return std::nullopt;
    const json& n = t.value("cache_n", json());
    if (!n.is_number_integer() || n.get<std::int64_t>() < 0) return std::nullopt;
    return n.get<std::uint64_t>();
}

std::optional<Engine> engine_from_models(std::string_view models_json) {
    const json doc = json::parse(models_json, nullptr, false);
    if (!doc.is_object()) return std::nullopt;
    const json& data = doc.value("data", json());
    if (!data.is_array() || data.empty() || !data[0].is_object()) return std::nullopt;
    const json& owner = data[0].value("owned_by", json());
    if (!owner.is_string()) return std::nullopt;
    const std::string o = owner.get<std::string>();
    if (o == "vllm") return Engine::vllm;
    if (o == "sglang") return Engine::sglang;
    if (o == "llamacpp") return Engine::llama_cpp;
    return std::nullopt;
}

}  // namespace sparkctl::engines
