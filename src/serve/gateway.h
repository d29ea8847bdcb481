// The gateway: one OpenAI-compatible HTTP endpoint in front of the daemon's deployments (issue
// 14). It routes each /v1/* request by the body's `model` (router.h), asks the daemon to make a
// deployment ready when it is not (admission and load, with a bounded per-model queue), relays
// the engine's answer (SSE chunk by chunk with high/low watermarks, whole bodies with their
// headers), enforces time-outs, concurrency limits and API keys, and serves /metrics. It knows
// the daemon only through Registry. See docs/dev/gateway.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "net/http.h"

namespace sparkctl::serve {

// Where a ready deployment answers.
struct Upstream {
    std::string deployment_id;
    std::string engine;  // "vllm", "sglang", "llama.cpp"
    std::string host = "127.0.0.1";
    int port = 0;
    std::string api_key;  // injected as Authorization: Bearer; empty: none
    // The name the engine serves (vLLM answers 404 to any other `model`,
    // vllm/entrypoints/openai/serving_engine.py _check_model): the request's `model` (an alias
    // or the deployment id) is replaced by it. Empty: forwarded as the client wrote it.
    std::string served_model;
};

// The daemon's view of one configured deployment, as the gateway reads it.
struct DeploymentView {
    std::string id;
    std::string model;
    std::vector<std::string> aliases;
    std::string engine;
    std::string state;                 // the daemon's word ("ready", "loading", ...), shown as is
    std::optional<Upstream> upstream;  // set while ready: the gateway relays to it
    int max_in_flight = 0;             // per-deployment concurrency limit; 0: none
    std::uint64_t reserved_bytes = 0;  // admission ledger reservation (0 when not resident)
    std::optional<std::uint64_t> measured_bytes;  // from the engine's load log, once known
    std::uint64_t loads_total = 0;
    double load_seconds_total = 0;
    std::uint64_t evictions_total = 0;
    std::uint64_t restarts_total = 0;
};

struct MemoryView {
    std::uint64_t budget_bytes = 0;
    std::optional<std::uint64_t> mem_available_bytes;  // /proc/meminfo MemAvailable
};

// Implemented by the daemon; tests implement it over stand-in processes. Every method may be
// called from any of the gateway's io threads and must not block for long (deployments() and
// memory() are snapshots).
class Registry {
  public:
    virtual ~Registry() = default;
    virtual std::vector<DeploymentView> deployments() = 0;
    virtual MemoryView memory() = 0;
    // Asks for deployment `id` to be ready (admission, eviction, load). `done` runs exactly once,
    // on any thread, with the upstream or the failure (its message carries the numbers when the
    // deployment did not fit). The gateway calls it at most once at a time per id (a load the
    // daemon withdrew, Gateway::withdraw_if_unwanted, no longer counts: its `done` may still be
    // on its way when the next one is asked for).
    virtual void ensure_ready(const std::string& id,
                              std::function<void(base::Result<Upstream>)> done) = 0;
    // In-flight accounting (an in-flight deployment is never evicted). request_started is false
    // when the deployment is being stopped (evicted or unloaded): the request is not relayed.
    virtual bool request_started(const std::string& id) = 0;
    virtual void request_finished(const std::string& id) = 0;
    // The `ps --json` document (issue 13): {"budget_bytes", "reserved_bytes",
    // "mem_available_bytes", "deployments": [{"id", "model", "engine", "quant", "state", "port",
    // "pid", "pinned", "max_in_flight", "in_flight", "queued", "planned_bytes",
    // "measured_bytes", "restarts", "idle_s", "last_exit"}]}. /status serves it with the gateway's
    // own numbers added.
    virtual nlohmann::json status() = 0;
    // The last `lines` lines of deployment `id`'s engine log (empty when it has none).
    virtual std::vector<std::string> log_tail(const std::string& id, std::size_t lines) = 0;
};

struct GatewayOptions {
    std::string host = "127.0.0.1";  // any other address needs api_keys_file
    std::uint16_t port = 0;          // 0: ephemeral (see Gateway::port())
    int io_threads = 1;
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_body_bytes = 8 * 1024 * 1024;
    int idle_timeout_ms = 30'000;  // no whole request on a connection in this time: closed
    std::size_t max_connections = 4096;
    std::size_t max_streams = 2048;  // relays open at once; over: 503 + Retry-After

    // Per-model queue while a deployment loads: over max length 503 + Retry-After; a request
    // still queued after queue_timeout_ms gets 503.
    std::size_t queue_max_per_model = 64;
    int queue_timeout_ms = 300'000;
    int retry_after_s = 5;

    // Flow control per relay: above high the upstream read pauses; below low it resumes.
    std::size_t high_watermark_bytes = 256 * 1024;
    std::size_t low_watermark_bytes = 64 * 1024;

    // First byte: max(floor, factor x predicted TTFT); then at most idle_chunk_timeout_ms
    // between chunks. predicted_ttft_ms(deployment id, prompt bytes) may be empty or return
    // nullopt (then the floor alone applies).
    double first_byte_factor = 3.0;
    int first_byte_floor_ms = 30'000;
    int idle_chunk_timeout_ms = 60'000;
    std::function<std::optional<double>(const std::string& id, std::size_t prompt_bytes)>
        predicted_ttft_ms;

    // SHA-256 hex digests of the accepted API keys, one per line ('#' comments allowed).
    std::optional<std::filesystem::path> api_keys_file;

    // HTTPS (config keys tls_cert, tls_key; both or neither): a PEM certificate chain and its
    // unencrypted PEM private key, loaded by start() (errors name the file).
    std::optional<std::filesystem::path> tls_cert;
    std::optional<std::filesystem::path> tls_key;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

// What the gateway reads of a /v1/* request before routing it. Pure; the fuzz target's entry.
struct RelayRequest {
    std::string model;
    bool stream = false;
    std::size_t prompt_bytes = 0;  // bytes of prompt text (prompt, messages' content, input)
};
// Errors (bad_input) name what is wrong: not JSON, not an object, no string `model`.
base::Result<RelayRequest> parse_relay_request(const net::Request& request);

// Token counts from an engine's answer (a whole JSON body, or one SSE event's data): the
// top-level "usage" object's prompt_tokens or input_tokens (Anthropic /v1/messages, plus its
// cache_read_input_tokens and cache_creation_input_tokens: Anthropic's input_tokens excludes the
// cached prompt), and completion_tokens or output_tokens, when they are unsigned integers (the
// later of each pair wins when both are there; so does the last of repeated keys, as in a
// parsed document). Text
// that is not a JSON object gives nothing. Pure and cheap (the gateway does it per answer): the
// usage value is found by a scan of strings and nesting and only it is parsed, so a body that
// is not valid JSON elsewhere may still give its counts.
struct UsageCounts {
    std::optional<std::uint64_t> prompt_tokens;
    std::optional<std::uint64_t> completion_tokens;
};
UsageCounts read_usage(std::string_view json_text);
// The same read of the "usage" inside the top-level object `parent`: "response" for a streamed
// /v1/responses (`response.completed` carries it only there), "message" for a streamed
// /v1/messages (`message_start` carries input_tokens only there). The gateway calls it on those
// paths alone, when read_usage found nothing.
UsageCounts read_nested_usage(std::string_view json_text, std::string_view parent);

// Whether an SSE event of this `event:` type carries generated output, the events the gateway's
// TTFT and inter-chunk histograms time: unnamed events ("message", as chat and completions
// stream), a Responses `*.delta` (response.output_text.delta, ...reasoning_text.delta,
// ...function_call_arguments.delta) and Messages' `content_block_delta`. Not: Responses'
// lifecycle events (response.created, ...in_progress, ...output_item.added, ...completed),
// Messages' message_start, content_block_start/stop, message_delta, message_stop, ping, error.
bool sse_event_carries_output(std::string_view event_type);

// Reads an api_keys_file: each non-blank, non-comment line is 64 hex digits (case-insensitive).
// Errors name the file and line.
base::Result<std::vector<std::string>> read_api_key_hashes(const std::filesystem::path& file);
// Lowercase hex SHA-256 of `text` (OpenSSL).
std::string sha256_hex(std::string_view text);

class Gateway {
  public:
    // Validates the options: a non-loopback host without api_keys_file is refused (bad_input,
    // exit 2); an unreadable or malformed key file is an error naming it; so is tls_cert
    // without tls_key or the reverse. `registry` must
    // outlive the gateway.
    static base::Result<std::unique_ptr<Gateway>> create(GatewayOptions options,
                                                         Registry& registry);
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    // Binds and serves (raises RLIMIT_NOFILE's soft limit to the hard one first). With TLS, a
    // missing file is not_found and an unusable certificate or key bad_input, naming the file.
    base::Result<void> start();
    std::uint16_t port() const;
    // Stops accepting, lets relays run up to grace_ms, then closes the rest. Blocks.
    void stop(int grace_ms);

    // The Prometheus page /metrics serves.
    std::string metrics_text();
    // Requests waiting in deployment `id`'s queue while it loads (`ps`'s "queued"). Never calls
    // the Registry.
    std::size_t queued(const std::string& id);
    // The daemon, before a load it was asked for evicts anything (docs/dev/serve.md "Swaps under
    // alternating demand"): true when no request waits for deployment `id` any more (they timed
    // out or went away); the load is then withdrawn: its `done` is still called and dropped, and
    // the next request for `id` calls ensure_ready again. False while one waits or when no load
    // of `id` is in progress. Never calls the Registry.
    bool withdraw_if_unwanted(const std::string& id);

    class Impl;

  private:
    explicit Gateway(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace sparkctl::serve
