// Deployments: the `[[models]]` entries of the config file, typed and validated, and each one
// planned (the path `sparkctl plan` takes) into what the supervisor launches: argv, environment,
// reservation. Also the --simulate swap to the stand-in engine and the container (docker) forms.
// Pure apart from planning (which reads the model and may detect the hardware). Thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "engines/engine.h"

namespace sparkctl::serve {

enum class Kind { native, container };
const char* to_string(Kind kind);  // "native", "container"

// The largest max_in_flight a deployment takes (as `users`).
constexpr int kMaxInFlight = 1 << 20;

struct DeploymentConfig {  // one [[models]] entry, as typed from the config file
    std::string id;        // also the served model name; [A-Za-z0-9._:-]+
    std::string model;     // catalog id, file, directory or HF repo id
    std::vector<std::string> aliases;
    std::string use = "chat";
    int users = 1;
    std::optional<std::int64_t> context;
    std::optional<std::string> engine, quant, engine_version;
    // More of plan's options (plan --prefer, --kv-cache-dtype, --override, --budget).
    std::optional<std::string> prefer, kv_cache_dtype, budget;
    std::vector<std::string> overrides;
    Kind kind = Kind::native;
    std::vector<std::string> extra_args, simulate_args;
    bool pin = false;
    std::optional<double> ttl_s;
    bool bench = false;
    // The gateway's concurrency limit: requests relayed to it at once; one more is answered 429
    // before anything is streamed. 0: no limit. Not part of the plan (no reload needed).
    int max_in_flight = 0;
};

// Reads every [[models]] entry of the config file. Errors (bad_input) name the file, the entry
// (index and id) and the key: an unknown key, a wrong type, a missing id or model, a duplicate id
// or alias, a value out of range.
base::Result<std::vector<DeploymentConfig>> read_deployments(const config::Config& cfg);

// Validates one entry (as read_deployments does, for `up`); `where` prefixes errors.
base::Result<void> validate_deployment(const DeploymentConfig& d, const std::string& where);

struct DeploymentSpec {  // what the supervisor launches
    DeploymentConfig config;
    std::string engine;  // "llama.cpp", "vllm", "sglang"
    std::string quant;
    std::vector<std::string> argv;  // argv[0] the executable; port and api key already set
    std::vector<std::pair<std::string, std::string>> env;
    std::uint64_t planned_bytes;  // reservation: plan total incl. host caches (upper bound)
    std::uint64_t weights_bytes;  // for the load deadline (load_gbps)
    bool simulated = false;
    std::string container_name;            // kind = container: the `docker run --name`; else ""
    std::string docker;                    // kind = container: the docker client; else ""
    std::uint64_t memory_total_bytes = 0;  // the plan's hardware (vLLM's utilization fraction)
    // fit's predicted prefill rate of one prompt at the plan's shape (the gateway's first-byte
    // time-out); nullopt when the hardware profile has no compute peak or the model no costs.
    std::optional<double> prefill_tokens_per_s;
};

struct LaunchContext {
    int port;
    std::string api_key;
    bool simulate;
    std::string sparkctl_exe;
    std::string instance;  // the daemon's instance id: a container's sparkctl.instance label
};

// Plans one deployment (the path `sparkctl plan` uses) and renders its argv. Errors: bad_input
// (exit 2) for a refused plan, a cluster plan, bad extra_args; does_not_fit (exit 3) for a plan
// that does not fit; whatever planning fails with (unknown model, ...).
base::Result<DeploymentSpec> plan_deployment(const DeploymentConfig& d, const LaunchContext& ctx,
                                             const config::Config& cfg);

// Checks extra_args against the engine version's flag table: every flag known to the version and
// none that changes memory use (those are the plan's to set). Errors: bad_input naming the flag,
// and for a memory flag the plan option to use instead.
base::Result<void> check_extra_args(engines::Engine engine, const std::string& engine_version,
                                    const std::vector<std::string>& extra_args);

// vLLM refuses to start when free memory is below --gpu-memory-utilization x total memory, and on
// an integrated GPU such as GB10 free memory is the host's MemAvailable; with other engines
// resident the plan's fraction is capped at what (mem_available - headroom) allows now (rounded
// down to two decimals). A no-op for llama.cpp and SGLang or when the plan's fraction fits.
// Errors: does_not_fit when the cap is below the plan's fraction and the argv has no
// --kv-cache-memory-bytes (the KV cache would shrink below what was planned), or is zero.
base::Result<void> fit_vllm_memory_utilization(DeploymentSpec& s, std::uint64_t mem_available,
                                               std::uint64_t headroom);

}  // namespace sparkctl::serve
