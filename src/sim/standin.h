// The stand-in engine (`sparkctl simulate serve`): an HTTP server that takes a real engine's
// command line (vLLM, SGLang, llama.cpp, as `plan` renders it) and answers the OpenAI-compatible
// endpoints in that engine's shapes, with simulated timing and deterministic filler text. Every
// response says it is simulated. docs/dev/sim.md ("The stand-in engine") describes it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "engines/engine.h"

namespace sparkctl::sim::standin {

// What the engine's command line sets (the rest of its flags are accepted and ignored).
struct EngineArgs {
    engines::Engine engine = engines::Engine::vllm;
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string model;              // the model argument (HF id or path)
    std::string served_model_name;  // the name /v1/models lists (the model argument if none)
    std::uint64_t context = 0;      // tokens per sequence; 0: the engine's default (the model's)
    std::uint32_t max_seqs = 0;     // sequences at once; 0: the engine's default
    bool prefix_caching = true;     // all three engines cache prefixes by default
    // usage.prompt_tokens_details.cached_tokens in responses: vLLM with
    // --enable-prompt-tokens-details, SGLang with --enable-cache-report, llama.cpp always.
    bool report_cached_tokens = false;
    // llama.cpp's optional endpoints (LC:common/common.h endpoint_metrics = false,
    // endpoint_slots = true): --metrics, --slots / --no-slots. vLLM and SGLang always serve
    // /metrics.
    bool metrics_endpoint = true;
    bool slots_endpoint = true;
    // llama.cpp's --embeddings: /v1/embeddings served (LC:tools/server/server-context.cpp
    // handle_embeddings_impl, 501 without it).
    bool embeddings = false;
    std::string api_key;  // empty: no key required
};

// The engine's default port: vLLM 8000 (V:vllm/entrypoints/openai/cli_args.py `port: int =
// 8000`), SGLang 30000 (S:python/sglang/srt/server_args.py `port: int = 30000`), llama.cpp 8080
// (LC:common/common.h `int32_t port = 8080`).
std::uint16_t default_port(engines::Engine engine);

// Parses the engine's argv, executable dropped ("serve MODEL ..." for vLLM, "-m
// sglang.launch_server ..." for SGLang; a leading executable or those prefixes are skipped).
// Flags the engine's flag table (engines::accepts_flag) does not know are an error naming the
// flag; known flags that matter here are read, the others skipped with their value.
base::Result<EngineArgs> parse_engine_argv(engines::Engine engine,
                                           const std::vector<std::string>& argv);

// Timing of one request: the delays before the first token and between tokens, in ms of
// simulated time. The stand-in divides them by `speed` (0: no delay).
struct Timing {
    // (prompt tokens, tokens already cached, requests in flight) -> ms to the first token.
    std::function<double(std::uint32_t, std::uint32_t, std::uint32_t)> ttft_ms;
    // (requests in flight, depth of this sequence) -> ms per later token.
    std::function<double(std::uint32_t, std::uint64_t)> itl_ms;
    // (prompt tokens) -> ms of the prompt's forward passes alone (an embedding); none: ttft_ms.
    std::function<double(std::uint32_t)> prefill_ms;
};

// Fixed timing for load tests: "fixed:TTFT_MS,ITL_MS". Errors: bad_input naming the value.
base::Result<Timing> parse_fixed_timing(std::string_view text);

struct Faults {
    std::optional<std::uint64_t> fail_after_tokens;  // the process exits mid-stream
    std::optional<std::uint64_t> hang_after_tokens;  // the stream stops sending, stays open
    double slow_start_s = 0;                         // extra seconds before ready
    double error_rate = 0;                           // fraction of requests answered 500
    std::optional<std::uint32_t> reject_over;        // 429 above this many in flight
};

struct Options {
    EngineArgs args;
    Timing timing;
    double speed = 1;   // every delay divided by this; 0 sends at once
    double load_s = 0;  // simulated model load time (before slow start)
    Faults faults;
    // The simulated model ends every sequence after this many tokens (EOS) unless the request
    // sets ignore_eos, and not before its min_tokens; none: it never does (every response runs to
    // its max_tokens or the context).
    std::optional<std::uint32_t> eos_after;
    std::uint64_t seed = 0;  // for --error-rate
    // Called with the bound port once listening (before ready on llama.cpp, which listens while
    // it loads; at ready on vLLM and SGLang).
    std::function<void(std::uint16_t port)> on_listening;
};

// The filler tokenizer: one token per whitespace-separated word. Deterministic and documented,
// so `usage` is exact for clients that count the same way.
std::uint32_t count_tokens(std::string_view text);
// Output token i of a response: a word of a fixed list, with a leading space after the first.
std::string filler_token(std::uint64_t i);

class Server {
  public:
    explicit Server(Options options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Waits for the engine's load (vLLM and SGLang refuse connections until ready; llama.cpp
    // listens at once and answers 503 while loading), then serves. Returns once listening and
    // ready; errors: io when the address cannot be bound.
    base::Result<void> start();
    std::uint16_t port() const;
    void stop();

    class Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace sparkctl::sim::standin
