#include "serve/router.h"

#include <algorithm>

namespace sparkctl::serve {

bool is_parallel_engine(std::string_view engine) { return engine == "vllm" || engine == "sglang"; }

namespace {

bool names(const RouteCandidate& c, std::string_view model) {
    return std::find(c.aliases.begin(), c.aliases.end(), model) != c.aliases.end();
}

RouteDecision decide(const RouteCandidate& c, RouteDecision::Kind kind) {
    RouteDecision d;
    d.kind = kind;
    d.id = c.id;
    d.parallel_on_llamacpp =
        kind == RouteDecision::Kind::resident && c.engine == "llama.cpp" && c.in_flight > 0;
    return d;
}

}  // namespace

RouteDecision route(std::string_view model, const std::vector<RouteCandidate>& candidates) {
    if (model.empty()) return {};
    for (const RouteCandidate& c : candidates) {
        if (c.id == model) {
            return decide(
                c, c.resident ? RouteDecision::Kind::resident : RouteDecision::Kind::not_loaded);
        }
    }
    std::vector<const RouteCandidate*> matches;
    for (const RouteCandidate& c : candidates) {
        if (names(c, model)) matches.push_back(&c);
    }
    if (matches.empty()) return {};

    const RouteCandidate* idle_llamacpp = nullptr;
    const RouteCandidate* parallel = nullptr;
    const RouteCandidate* least = nullptr;
    for (const RouteCandidate* c : matches) {
        if (!c->resident) continue;
        if (c->engine == "llama.cpp" && c->in_flight == 0 && !idle_llamacpp) idle_llamacpp = c;
        if (is_parallel_engine(c->engine) && (!parallel || c->in_flight < parallel->in_flight)) {
            parallel = c;
        }
        if (!least || c->in_flight < least->in_flight) least = c;
    }
    if (idle_llamacpp) return decide(*idle_llamacpp, RouteDecision::Kind::resident);
    if (parallel) return decide(*parallel, RouteDecision::Kind::resident);
    if (least) return decide(*least, RouteDecision::Kind::resident);
    return decide(*matches.front(), RouteDecision::Kind::not_loaded);
}

}  // namespace sparkctl::serve
