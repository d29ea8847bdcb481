// The generation limits of one stand-in request (src/sim/standin.h) as each engine reads its
// body: max_tokens and its aliases, the context checks with the engine's own 400s, ignore_eos and
// min_tokens, and the simulated EOS. Pure; docs/dev/sim.md ("Length and EOS").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "engines/engine.h"

namespace sparkctl::sim::standin {

struct Limits {
    std::uint32_t max_tokens = 0;  // the request's limit
    std::uint32_t produce = 0;     // tokens it gets: max_tokens, or fewer at the simulated EOS
    bool ignore_eos = false;
    std::uint64_t min_tokens = 0;
};

// A refusal: HTTP status, message, the engine's error type, extra fields (llama.cpp's
// n_prompt_tokens and n_ctx).
struct RequestError {
    int status = 400;
    std::string message;
    std::string type;
    nlohmann::json extra;
};

// `body` is the request's JSON object; `context` the tokens per sequence (0: unknown, no check);
// `eos_after` the simulated model's sequence length (--eos-after).
std::variant<Limits, RequestError> request_limits(engines::Engine engine,
                                                  const nlohmann::json& body, bool chat,
                                                  std::uint64_t context,
                                                  std::uint32_t prompt_tokens,
                                                  std::optional<std::uint32_t> eos_after);

}  // namespace sparkctl::sim::standin
