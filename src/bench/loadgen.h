// The load generator of `sparkctl bench run`: requests to an OpenAI-compatible endpoint over
// net::Client, open or closed loop (sim::Load, the shared workload vocabulary), with a
// steady-clock time on every SSE event. docs/dev/bench.md ("Life of a run").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engines/engine.h"
#include "net/client.h"
#include "sim/simulator.h"

namespace sparkctl::bench {

// http://HOST[:PORT][/PREFIX]: the endpoint's root; requests go to PREFIX/v1/completions.
// A trailing "/v1" is dropped (users paste OpenAI base URLs). Errors: bad_input naming the URL
// (not http, no host, bad port; https is not supported).
struct Endpoint {
    std::string host;
    std::uint16_t port = 80;
    std::string prefix;  // "" or "/path" (no trailing slash)
    std::string url;     // as given
};
base::Result<Endpoint> parse_url(std::string_view url);

// One request to send: its prompt (a trace's shared prefix when it has one, a unique tag, then
// a body shared by every request of that length), the prompt length it was built to and the
// output length.
struct RequestSpec {
    // A trace row's prefix_id: the same text for every request of the id (a deliberate cache
    // workload); null otherwise.
    std::shared_ptr<const std::string> prefix;
    std::string tag;  // unique per request: no prefix cache can hit past the prefix
    // shared_ptr: one body per prompt length, shared by the specs of that length.
    std::shared_ptr<const std::string> body;
    std::uint32_t prompt_tokens = 0;  // as built (exact where the engine tokenized it)
    std::uint32_t output_tokens = 0;  // max_tokens, with ignore_eos / min_tokens where accepted
    double arrival_s = 0;             // open loop and traces: when it is due, from the start
};

// What happened to one request. Times are steady-clock ms from the request's own send.
struct RequestRecord {
    bool ok = false;
    std::string error;  // "HTTP 500: ...", "connection closed after 7 chunks", ...
    int status = 0;
    double queue_ms = 0;  // due -> sent: the client's own lag (open loop), think time excluded
    double ttft_ms = 0;   // sent -> first content chunk (non-streaming: the whole response)
    double e2e_ms = 0;    // sent -> last byte
    std::vector<double> chunk_gap_ms;  // between content chunks after the first
    std::uint32_t content_chunks = 0;
    std::uint64_t output_tokens = 0;                   // usage.completion_tokens, else chunks
    std::optional<std::uint64_t> usage_prompt_tokens;  // the engine's count
    std::uint32_t prompt_tokens_built = 0;
    std::optional<std::uint64_t> cache_n;     // llama.cpp timings.cache_n
    std::optional<double> scheduled_ttft_ms;  // the stand-in's X-Sparkctl-Scheduled-* headers
    std::optional<double> scheduled_itl_ms;
    bool simulated = false;  // X-Sparkctl-Simulated: 1
    double sent_s = 0;       // from the point's start
    double done_s = 0;
};

struct RunOptions {
    Endpoint endpoint;
    std::string model;
    std::string api_key;                    // sent as a Bearer token when not empty
    std::optional<engines::Engine> engine;  // which extra request fields it accepts
    bool stream = true;
    bool cache_prompt_off = false;  // llama.cpp: "cache_prompt": false on every request
    int request_timeout_ms = 300'000;
    // Called about once a second from the driver thread with (done, errors, sent).
    std::function<void(std::uint64_t, std::uint64_t, std::uint64_t)> progress;
};

struct PointResult {
    std::vector<RequestRecord> records;  // in send order, warm-up excluded
    double duration_s = 0;               // first send to last completion
};

// Sends `specs` under `load` (closed: load.concurrency users, each sending its next request
// think_s after the last finished; open and trace: each at its arrival_s; load.duration_s stops
// new sends). `warmup` requests are sent first, one at a time, and left out. Never throws;
// errors of single requests are records, not failures. Blocks until every request finished or
// timed out (request_timeout_ms bounds each).
PointResult run_point(net::Client& client, const RunOptions& options, const sim::Load& load,
                      const std::vector<RequestSpec>& specs, std::uint32_t warmup);

// The body of one /v1/completions request (exposed for tests).
std::string request_body(const RunOptions& options, const RequestSpec& spec);

}  // namespace sparkctl::bench
