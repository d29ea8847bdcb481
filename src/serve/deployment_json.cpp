#include "serve/deployment_json.h"

#include <climits>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace sparkctl::serve {

using base::Errc;
using base::make_error;
using json = nlohmann::json;

std::string deployment_to_json(const DeploymentConfig& d) {
    json j = {{"id", d.id},
              {"model", d.model},
              {"aliases", d.aliases},
              {"use", d.use},
              {"users", d.users},
              {"kind", to_string(d.kind)},
              {"extra_args", d.extra_args},
              {"simulate_args", d.simulate_args},
              {"overrides", d.overrides},
              {"pin", d.pin},
              {"bench", d.bench},
              {"max_in_flight", d.max_in_flight}};
    if (d.context) j["context"] = *d.context;
    if (d.engine) j["engine"] = *d.engine;
    if (d.quant) j["quant"] = *d.quant;
    if (d.engine_version) j["engine_version"] = *d.engine_version;
    if (d.prefer) j["prefer"] = *d.prefer;
    if (d.kv_cache_dtype) j["kv_cache_dtype"] = *d.kv_cache_dtype;
    if (d.budget) j["budget"] = *d.budget;
    if (d.ttl_s) j["ttl_s"] = *d.ttl_s;
    return j.dump();  // nlohmann's object keeps keys sorted
}

base::Result<DeploymentConfig> deployment_from_json(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return make_error(Errc::bad_input, "deployment: not a JSON object");
    }
    DeploymentConfig d;
    std::string bad;
    auto str = [&](const char* key, std::string& out) {
        if (!j.contains(key)) return;
        if (j[key].is_string())
            out = j[key].get<std::string>();
        else
            bad = key;
    };
    auto opt_str = [&](const char* key, std::optional<std::string>& out) {
        if (!j.contains(key)) return;
        if (j[key].is_string())
            out = j[key].get<std::string>();
        else
            bad = key;
    };
    auto strs = [&](const char* key, std::vector<std::string>& out) {
        if (!j.contains(key)) return;
        if (!j[key].is_array()) {
            bad = key;
            return;
        }
        for (const auto& v : j[key]) {
            if (!v.is_string()) {
                bad = key;
                return;
            }
            out.push_back(v.get<std::string>());
        }
    };
    auto boolean = [&](const char* key, bool& out) {
        if (!j.contains(key)) return;
        if (j[key].is_boolean())
            out = j[key].get<bool>();
        else
            bad = key;
    };
    str("id", d.id);
    str("model", d.model);
    strs("aliases", d.aliases);
    str("use", d.use);
    if (j.contains("users")) {
        if (j["users"].is_number_integer())
            d.users = j["users"].get<int>();
        else
            bad = "users";
    }
    if (j.contains("context")) {
        if (j["context"].is_number_integer())
            d.context = j["context"].get<std::int64_t>();
        else
            bad = "context";
    }
    opt_str("engine", d.engine);
    opt_str("quant", d.quant);
    opt_str("engine_version", d.engine_version);
    opt_str("prefer", d.prefer);
    opt_str("kv_cache_dtype", d.kv_cache_dtype);
    opt_str("budget", d.budget);
    strs("overrides", d.overrides);
    if (j.contains("kind")) {
        std::string kind = j["kind"].is_string() ? j["kind"].get<std::string>() : "";
        if (kind == "native")
            d.kind = Kind::native;
        else if (kind == "container")
            d.kind = Kind::container;
        else
            bad = "kind";
    }
    strs("extra_args", d.extra_args);
    strs("simulate_args", d.simulate_args);
    boolean("pin", d.pin);
    boolean("bench", d.bench);
    if (j.contains("ttl_s")) {
        if (j["ttl_s"].is_number())
            d.ttl_s = j["ttl_s"].get<double>();
        else
            bad = "ttl_s";
    }
    if (j.contains("max_in_flight")) {
        // Out of int's range is refused here; validate_deployment checks 0..kMaxInFlight.
        const json& v = j["max_in_flight"];
        if (v.is_number_integer() && v.get<std::int64_t>() >= INT_MIN &&
            v.get<std::int64_t>() <= INT_MAX)
            d.max_in_flight = v.get<int>();
        else
            bad = "max_in_flight";
    }
    if (!bad.empty()) {
        return make_error(Errc::bad_input, "deployment: key '" + bad + "' has the wrong type");
    }
    return d;
}

}  // namespace sparkctl::serve
