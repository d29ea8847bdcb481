// Pure routing for the gateway: which deployment serves a request's `model` (a deployment id or
// one of its aliases), among resident deployments first, with R-OPS-3 (docs/rules.md: parallel
// load belongs on vLLM/SGLang, not llama.cpp) applied at run time. No I/O, no clock, no locks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sparkctl::serve {

// What the router needs to know of one configured deployment.
struct RouteCandidate {
    std::string id;
    std::vector<std::string> aliases;
    std::string engine;     // "vllm", "sglang", "llama.cpp"
    bool resident = false;  // loaded and answering (the daemon's "ready")
    int in_flight = 0;      // requests the gateway has relayed and not finished
};

struct RouteDecision {
    enum class Kind {
        unknown,     // no deployment has that id or alias
        resident,    // `id` is loaded: relay now
        not_loaded,  // `id` must be made ready first (admission and load)
    };
    Kind kind = Kind::unknown;
    std::string id;
    // The request lands on a llama.cpp deployment that already has a request in flight: parallel
    // load on llama.cpp (R-OPS-3), to be counted and warned about.
    bool parallel_on_llamacpp = false;
};

// Routes `model`:
// - an exact id match wins over aliases (a client that names a deployment gets it);
// - among the resident matches: a llama.cpp deployment while it has nothing in flight, else
//   the resident vLLM/SGLang match with the fewest in flight, else the least busy match;
// - no resident match: the first configured match is not_loaded (the daemon loads it).
// Ties keep configuration order, so routing is deterministic.
RouteDecision route(std::string_view model, const std::vector<RouteCandidate>& candidates);

// True for the engines that batch parallel requests (vLLM, SGLang).
bool is_parallel_engine(std::string_view engine);

}  // namespace sparkctl::serve
