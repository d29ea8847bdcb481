// The stand-in engine: see standin.h and docs/dev/sim.md. Engine behaviours cite the engine's
// source: LC: github.com/ggml-org/llama.cpp, V: vllm-project/vllm, S: sgl-project/sglang.
#include "sim/standin.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "engines/alloc.h"
#include "net/prometheus.h"
#include "net/server.h"
#include "net/sse.h"
#include "sim/standin_apis.h"
#include "sim/standin_chunk.h"
#include "sim/standin_request.h"

namespace sparkctl::sim::standin {

using engines::Engine;
using nlohmann::json;

namespace {

// Per-request state of one generation.
struct Gen {
    Api api = Api::chat;
    bool chat = true;  // chat-like: a conversation (chat, Responses, Messages), not a prompt
    bool stream = false;
    bool include_usage = false;
    std::uint32_t prompt_tokens = 0;
    std::uint32_t cached_tokens = 0;
    std::uint32_t max_tokens = 0;  // the request's limit
    std::uint32_t produce = 0;     // tokens it gets: max_tokens, or fewer at the simulated EOS
    std::string id;
    std::int64_t created = 0;
    double ttft_ms = 0;  // scheduled, simulated ms (before --speed)
    double itl_ms = 0;
    std::optional<TokenEvents> events;  // a stream's token events, from its first chunk's head
    std::uint64_t seq = 0;              // the next event's sequence_number (Responses)
    enum class State { waiting, running, done } state = State::waiting;
};

// "stop" when the simulated model ended the sequence, "length" at the request's limit.
const char* finish_reason(const Gen& g) { return g.produce < g.max_tokens ? "stop" : "length"; }

std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

}  // namespace

class Server::Impl {
  public:
    explicit Impl(Options o) : opt_(std::move(o)), rng_(opt_.seed) {}

    Options opt_;
    std::unique_ptr<net::Server> server_;
    std::atomic<bool> ready_{false};
    std::mutex mu_;
    std::mt19937_64 rng_;
    std::uint32_t in_flight_ = 0;  // admitted: running and waiting
    std::uint32_t running_ = 0;    // at most the engine's sequences (--max-num-seqs, -np)
    // Over the sequences, requests wait in arrival order (vLLM's waiting queue, llama.cpp's
    // deferred tasks) and start when a running one ends.
    std::deque<std::pair<std::shared_ptr<Gen>, net::Responder>> waiting_;
    std::uint64_t next_id_ = 0;
    std::deque<std::vector<std::string>> recent_prompts_;  // for the prefix cache
    // The filler tokenizer's vocabulary: ids in order of first sight, the filler's words first.
    std::map<std::string, std::uint64_t> vocab_;
    std::vector<std::string> words_by_id_;
    // Counters for /metrics.
    std::uint64_t requests_ok_ = 0, prompt_tokens_ = 0, generation_tokens_ = 0;
    std::uint64_t prompt_cached_ = 0;  // of prompt_tokens_, reused from the cache
    std::uint64_t prefix_query_tokens_ = 0, prefix_hits_ = 0;  // at admission, in tokens
    net::
        prometheus::
            Histogram
                ttft_hist_{{0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                            0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                            20.0,  40.0,  80.0, 160.0, 640.0, 2560.0}};  // V:vllm/v1/metrics/loggers.py
                                                                         // TTFT buckets

    int delay(double sim_ms) const {
        if (opt_.speed <= 0) return 0;
        return static_cast<int>(std::lround(sim_ms / opt_.speed));
    }

    net::Headers marked(std::string content_type) const {
        return {{"Content-Type", std::move(content_type)},
                {"X-Sparkctl-Simulated", "1"},
                {"X-Sparkctl-Speed", net::prometheus::format_value(opt_.speed)}};
    }

    net::Response json_response(int status, const json& body) const {
        return net::Response{status, marked("application/json"), body.dump()};
    }

    // An error in the engine's shape. vLLM: ErrorResponse {"error": ErrorInfo {"message", "type",
    // "param", "code"}} (V:vllm/entrypoints/openai/protocol.py ErrorInfo, ErrorResponse); SGLang:
    // the flat {"object": "error", "message", "type", "param", "code"}
    // (S:python/sglang/srt/entrypoints/openai/protocol.py ErrorResponse); llama.cpp:
    // {"error": {"code", "message", "type"}} with extra fields for some types
    // (LC:tools/server/server-common.cpp format_error_response, server-task.cpp
    // server_task_result_error::to_json).
    net::Response error(int status, const std::string& message, const std::string& type,
                        json extra = json::object()) const {
        switch (opt_.args.engine) {
            case Engine::llama_cpp: {
                json e = {{"code", status}, {"message", message}, {"type", type}};
                for (const auto& [k, v] : extra.items()) e[k] = v;
                return json_response(status, {{"error", e}});
            }
            case Engine::vllm:
                return json_response(status, {{"error",
                                               {{"message", message},
                                                {"type", type},
                                                {"param", nullptr},
                                                {"code", status}}}});
            case Engine::sglang:
                break;
        }
        return json_response(status, {{"object", "error"},
                                      {"message", message},
                                      {"type", type},
                                      {"param", nullptr},
                                      {"code", status}});
    }

    std::uint32_t cached_prefix(const std::vector<std::string>& prompt) {
        if (!opt_.args.prefix_caching) return 0;
        std::size_t best = 0;
        for (const auto& p : recent_prompts_) {
            std::size_t n = 0;
            while (n < p.size() && n < prompt.size() && p[n] == prompt[n]) ++n;
            best = std::max(best, n);
        }
        recent_prompts_.push_back(prompt);
        if (recent_prompts_.size() > 64) recent_prompts_.pop_front();
        // The last prompt token is always computed (V:vllm/v1/core/kv_cache_manager.py
        // get_computed_blocks: "we need to recompute the last token").
        return static_cast<std::uint32_t>(std::min(best, prompt.empty() ? 0 : prompt.size() - 1));
    }

    void handle(const net::Request& req, const net::Responder& r);
    // Starts a running request: its schedule, then the response or the stream.
    void begin(const std::shared_ptr<Gen>& g, const net::Responder& r);
    // A request ends (done, or its client left): frees its place and starts the next waiting.
    void release(const std::shared_ptr<Gen>& g);
    void generate(const net::Request& req, const net::Responder& r, Api api);
    // /v1/embeddings: llama.cpp with --embeddings, SGLang's refusal for a generative model.
    void embeddings(const net::Request& req, const net::Responder& r);
    // A Responses or Messages reply of `g` after `produced` tokens.
    ApiReply api_reply(const Gen& g, std::uint64_t produced, bool with_text = true) const {
        ApiReply a{
            opt_.args.engine, g.id,     opt_.args.served_model_name, g.created, g.prompt_tokens,
            g.cached_tokens,  produced, g.produce < g.max_tokens,    {}};
        for (std::uint64_t i = 0; with_text && i < produced; ++i) a.text += filler_token(i);
        return a;
    }
    // A refusal in the API's shape (the Messages API has its own on vLLM and SGLang).
    net::Response refusal(Api api, const RequestError& e) const {
        if (api == Api::messages) {
            if (auto doc = messages_error(opt_.args.engine, e.message, e.type)) {
                return json_response(e.status, *doc);
            }
        }
        return error(e.status, e.message, e.type, e.extra);
    }
    void finish(const std::shared_ptr<Gen>& g, const net::Responder& r, std::uint64_t produced);
    void send_token(std::shared_ptr<Gen> g, net::Responder r, std::uint64_t i);
    std::string metrics_page();
    // The whole chat completion or completion of `g`.
    json completion_document(const Gen& g) const {
        std::string text;
        for (std::uint64_t i = 0; i < g.produce; ++i) text += filler_token(i);
        json choice = {{"index", 0}, {"finish_reason", finish_reason(g)}, {"logprobs", nullptr}};
        if (g.chat) {
            choice["message"] = {{"role", "assistant"}, {"content", text}};
        } else {
            choice["text"] = text;
        }
        json doc = chunk(g, choice);
        doc["object"] = g.chat ? "chat.completion" : "text_completion";
        doc["usage"] = usage_json(g, g.produce);
        if (opt_.args.engine == Engine::llama_cpp) doc["timings"] = timings_json(g, g.produce);
        return doc;
    }
    // A finished generation's counters for /metrics.
    void count_done(const Gen& g, std::uint64_t produced) {
        std::lock_guard lock(mu_);
        ++requests_ok_;
        prompt_tokens_ += g.prompt_tokens;
        prompt_cached_ += g.cached_tokens;
        generation_tokens_ += produced;
    }
    json usage_json(const Gen& g, std::uint64_t produced) const {
        json u = {{"prompt_tokens", g.prompt_tokens},
                  {"total_tokens", g.prompt_tokens + produced},
                  {"completion_tokens", produced}};
        // vLLM: PromptTokenUsageInfo only with --enable-prompt-tokens-details
        // (V:vllm/entrypoints/openai/serving_chat.py, enable_prompt_tokens_details); SGLang only
        // with --enable-cache-report (S:python/sglang/srt/entrypoints/openai/protocol.py
        // UsageInfo); llama.cpp always.
        if (opt_.args.report_cached_tokens) {
            u["prompt_tokens_details"] = {{"cached_tokens", g.cached_tokens}};
        }
        return u;
    }
    // llama.cpp's timings (LC:tools/server/server-common.cpp server_slot_stats::to_json): cache_n
    // prompt tokens reused from the cache, prompt_n computed; times as scheduled (simulated ms).
    json timings_json(const Gen& g, std::uint64_t produced) const {
        const double prompt_ms = g.ttft_ms;
        const double predicted_ms = g.itl_ms * double(produced > 1 ? produced - 1 : 0);
        const std::uint32_t prompt_n = g.prompt_tokens - g.cached_tokens;
        auto per_s = [](double n, double ms) { return ms > 0 ? 1000 * n / ms : 0.0; };
        return {{"cache_n", g.cached_tokens},
                {"prompt_n", prompt_n},
                {"prompt_ms", prompt_ms},
                {"prompt_per_token_ms", prompt_n ? prompt_ms / prompt_n : 0.0},
                {"prompt_per_second", per_s(prompt_n, prompt_ms)},
                {"predicted_n", produced},
                {"predicted_ms", predicted_ms},
                {"predicted_per_token_ms", produced ? predicted_ms / double(produced) : 0.0},
                {"predicted_per_second", per_s(double(produced), predicted_ms)}};
    }
    // Engine information endpoints: llama.cpp /props and /slots, SGLang /get_server_info.
    bool info(const std::string& path, const net::Responder& r);
    // /tokenize and /detokenize in the engine's shape (vLLM and llama.cpp).
    bool tokenize(const std::string& path, const net::Request& req, const net::Responder& r);
    ChunkHead head(const Gen& g) const {
        return {g.id, g.chat, g.created, opt_.args.served_model_name};
    }
    json chunk(const Gen& g, json choice) const { return chunk_json(head(g), std::move(choice)); }
};

void Server::Impl::handle(const net::Request& req, const net::Responder& r) {
    std::string path = req.target.substr(0, req.target.find('?'));
    const Engine engine = opt_.args.engine;
    if (!ready_) {
        // llama.cpp answers while loading: 503 {"error": {"message": "Loading model", "type":
        // "unavailable_error", "code": 503}} (LC:tools/server/server-http.cpp
        // middleware_server_state); vLLM and SGLang do not listen before they are ready.
        r.respond(error(503, "Loading model", "unavailable_error"));
        return;
    }
    // API keys guard /v1/* on vLLM (V:vllm/entrypoints/openai/api_server.py
    // AuthenticationMiddleware: {"error": "Unauthorized"}, 401); SGLang guards all but /health*
    // and /metrics* (S:python/sglang/srt/utils.py add_api_key_middleware, same body); llama.cpp
    // guards all but /health and /v1/health (and its web UI), and takes the key with or without
    // "Bearer " (LC:tools/server/server-http.cpp middleware_validate_api_key,
    // get_public_endpoints: {"error": {"message": "Invalid API Key", "type":
    // "authentication_error", "code": 401}}).
    if (!opt_.args.api_key.empty()) {
        const bool guarded =
            engine == Engine::llama_cpp ? !(path == "/health" || path == "/v1/health")
            : engine == Engine::sglang
                ? !(path.rfind("/health", 0) == 0 || path.rfind("/metrics", 0) == 0)
                : path.rfind("/v1", 0) == 0;
        std::string_view given = net::header_value(req.headers, "Authorization");
        if (given.rfind("Bearer ", 0) == 0) {
            given.remove_prefix(7);
        } else if (engine != Engine::llama_cpp) {
            given = {};  // vLLM and SGLang compare the whole "Bearer KEY"
        }
        if (guarded && given != opt_.args.api_key) {
            if (engine == Engine::llama_cpp) {
                r.respond(error(401, "Invalid API Key", "authentication_error"));
            } else {
                r.respond(json_response(401, {{"error", "Unauthorized"}}));
            }
            return;
        }
    }
    if (path == "/health" || (engine == Engine::llama_cpp && path == "/v1/health")) {
        // llama.cpp: {"status": "ok"}; vLLM and SGLang: 200 with an empty body.
        net::Response resp = engine == Engine::llama_cpp
                                 ? json_response(200, {{"status", "ok"}})
                                 : net::Response{200, marked("text/plain"), ""};
        r.respond(std::move(resp));
        return;
    }
    if (path == "/v1/models" || (engine == Engine::llama_cpp && path == "/models")) {
        json m = {
            {"id", opt_.args.served_model_name},
            {"object", "model"},
            {"created", 0},
            {"owned_by", engine == Engine::llama_cpp ? "llamacpp" : engines::to_string(engine)},
            {"meta", {{"sparkctl_simulated", true}, {"sparkctl_speed", opt_.speed}}}};
        if (engine == Engine::vllm && opt_.args.context) m["max_model_len"] = opt_.args.context;
        r.respond(json_response(200, {{"object", "list"}, {"data", json::array({m})}}));
        return;
    }
    if (path == "/metrics" && !opt_.args.metrics_endpoint) {
        // LC:tools/server/server-context.cpp get_metrics, ERROR_TYPE_NOT_SUPPORTED.
        r.respond(error(501,
                        "This server does not support metrics endpoint. Start it with `--metrics`",
                        "not_supported_error"));
        return;
    }
    if (path == "/metrics") {
        net::Response resp{200, marked("text/plain; version=0.0.4"), metrics_page()};
        r.respond(std::move(resp));
        return;
    }
    if (const std::optional<Api> api = generation_api(path); req.method == "POST" && api) {
        generate(req, r, *api);
        return;
    }
    if (req.method == "POST" && path == "/v1/embeddings" && engine != Engine::vllm) {
        embeddings(req, r);
        return;
    }
    if (info(path, r) || tokenize(path, req, r)) return;
    r.respond(error(404, "Not Found: " + base::printable(path), "not_found_error"));
}

void Server::Impl::generate(const net::Request& req, const net::Responder& r, Api api) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        r.respond(error(400, "the request body is not a JSON object", "invalid_request_error"));
        return;
    }
    auto g = std::make_shared<Gen>();
    g->api = api;
    g->chat = api != Api::completions;
    const bool chat = g->chat;
    std::string prompt;
    const json* limits_body = &body;
    ApiRequest api_request;
    if (api == Api::responses || api == Api::messages) {
        auto read = read_api_request(opt_.args.engine, api, body);
        if (const auto* e = std::get_if<RequestError>(&read)) {
            // A body the request model rejects: the engine's usual error shape.
            r.respond(error(e->status, e->message, e->type, e->extra));
            return;
        }
        api_request = std::move(std::get<ApiRequest>(read));
        prompt = std::move(api_request.prompt);
        limits_body = &api_request.limits_body;
    } else if (chat) {
        const json& msgs = body.value("messages", json());
        if (!msgs.is_array() || msgs.empty()) {
            r.respond(error(400, "'messages' must be a non-empty array", "invalid_request_error"));
            return;
        }
        for (const json& m : msgs) {
            if (m.is_object() && m.contains("content") && m["content"].is_string()) {
                prompt += m["content"].get<std::string>() + "\n";
            }
        }
    } else {
        const json& p = body.value("prompt", json());
        if (!p.is_string()) {
            r.respond(error(400, "'prompt' must be a string", "invalid_request_error"));
            return;
        }
        prompt = p.get<std::string>();
    }
    const std::vector<std::string> words = words_of(prompt);
    g->prompt_tokens = static_cast<std::uint32_t>(words.size());
    auto limits = request_limits(opt_.args.engine, *limits_body, chat, opt_.args.context,
                                 g->prompt_tokens, opt_.eos_after);
    if (const auto* e = std::get_if<RequestError>(&limits)) {
        r.respond(refusal(api, *e));
        return;
    }
    const Limits& l = std::get<Limits>(limits);
    g->max_tokens = l.max_tokens;
    g->produce = l.produce;
    g->stream = body.value("stream", false);
    const json& so = body.value("stream_options", json());
    g->include_usage = so.is_object() && so.value("include_usage", false);
    {
        std::lock_guard lock(mu_);
        if (opt_.faults.reject_over && in_flight_ >= *opt_.faults.reject_over) {
            r.respond(error(429, "Too many requests in flight (simulated --reject-over)",
                            "rate_limit_error"));
            return;
        }
        if (opt_.faults.error_rate > 0 &&
            std::uniform_real_distribution<double>(0, 1)(rng_) < opt_.faults.error_rate) {
            r.respond(error(500, "Simulated internal error (--error-rate)", "server_error"));
            return;
        }
        ++in_flight_;
        g->cached_tokens = cached_prefix(words);
        prefix_query_tokens_ += g->prompt_tokens;
        prefix_hits_ += g->cached_tokens;
        // Responses: "resp_" ids (LC:tools/server/server-task.cpp oai_resp_id); Messages: the
        // chat completion's id on both llama.cpp and vLLM.
        g->id = api == Api::responses
                    ? fmt::format("resp_sim-{}", next_id_++)
                    : fmt::format("{}-sim-{}", chat ? "chatcmpl" : "cmpl", next_id_++);
        if (opt_.args.max_seqs && running_ >= opt_.args.max_seqs) {
            waiting_.emplace_back(g, r);
        } else {
            g->state = Gen::State::running;
            ++running_;
        }
    }
    r.on_disconnect([this, g] { release(g); });
    if (g->state == Gen::State::running) begin(g, r);
}

void Server::Impl::embeddings(const net::Request& req, const net::Responder& r) {
    const Engine engine = opt_.args.engine;
    if (engine == Engine::llama_cpp && !opt_.args.embeddings) {
        // LC:tools/server/server-context.cpp handle_embeddings_impl, ERROR_TYPE_NOT_SUPPORTED.
        r.respond(error(501,
                        "This server does not support embeddings. Start it with `--embeddings`",
                        "not_supported_error"));
        return;
    }
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        r.respond(error(400, "the request body is not a JSON object", "invalid_request_error"));
        return;
    }
    if (engine == Engine::sglang) {
        // A generative model (the stand-in's): S:python/sglang/srt/managers/tokenizer_manager.py
        // refuses an EmbeddingReqInput when is_generation (a ValueError: 400).
        r.respond(error(400,
                        "This model does not appear to be an embedding model by default. Please "
                        "add `--is-embedding` when launching the server or try another model.",
                        "BadRequestError"));
        return;
    }
    std::uint32_t tokens = 0;
    auto doc = embeddings_document(body, opt_.args.served_model_name, tokens);
    if (const auto* e = std::get_if<RequestError>(&doc)) {
        r.respond(error(e->status, e->message, e->type, e->extra));
        return;
    }
    // The prompt's forward passes alone: an embedding samples no token.
    const double ms =
        opt_.timing.prefill_ms ? opt_.timing.prefill_ms(tokens) : opt_.timing.ttft_ms(tokens, 0, 1);
    net::Headers h = marked("application/json");
    h.emplace_back("X-Sparkctl-Scheduled-Ttft-Ms", net::prometheus::format_value(ms));
    r.after(delay(ms), [r, h, text = std::get<json>(doc).dump()] {
        r.respond(net::Response{200, h, text});
    });
}

void Server::Impl::release(const std::shared_ptr<Gen>& g) {
    std::shared_ptr<Gen> next_g;
    std::optional<net::Responder> next_r;
    {
        std::lock_guard lock(mu_);
        if (g->state == Gen::State::done) return;
        if (g->state == Gen::State::waiting) {
            std::erase_if(waiting_, [&](const auto& w) { return w.first == g; });
        } else {
            --running_;
            if (!waiting_.empty()) {
                next_g = waiting_.front().first;
                next_r = waiting_.front().second;
                waiting_.pop_front();
                next_g->state = Gen::State::running;
                ++running_;
            }
        }
        g->state = Gen::State::done;
        --in_flight_;
    }
    if (next_g) begin(next_g, *next_r);
}

void Server::Impl::begin(const std::shared_ptr<Gen>& g, const net::Responder& r) {
    {
        std::lock_guard lock(mu_);
        g->ttft_ms = opt_.timing.ttft_ms(g->prompt_tokens, g->cached_tokens, running_);
        g->itl_ms = opt_.timing.itl_ms(running_, g->prompt_tokens);
    }
    g->created = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    net::Headers h = marked(g->stream ? "text/event-stream" : "application/json");
    // The schedule, in simulated ms: clients and tests compare arrivals with it.
    h.emplace_back("X-Sparkctl-Scheduled-Ttft-Ms", net::prometheus::format_value(g->ttft_ms));
    h.emplace_back("X-Sparkctl-Scheduled-Itl-Ms", net::prometheus::format_value(g->itl_ms));
    if (!g->stream) {
        const double total = g->ttft_ms + g->itl_ms * (g->produce > 1 ? g->produce - 1 : 0);
        r.after(delay(total), [this, g, r, h]() mutable {
            json doc = g->api == Api::responses || g->api == Api::messages
                           ? api_document(g->api, api_reply(*g, g->produce))
                           : completion_document(*g);
            count_done(*g, g->produce);
            {
                std::lock_guard lock(mu_);
                ttft_hist_.observe(g->ttft_ms / 1000);
            }
            release(g);
            r.respond(net::Response{200, h, doc.dump()});
        });
        return;
    }
    r.start_stream(200, h);
    if (g->api == Api::responses || g->api == Api::messages) {
        const std::string open = api_stream_open(g->api, api_reply(*g, 0), g->seq);
        if (!open.empty()) r.write(open);
    } else {
        g->events.emplace(head(*g));
    }
    if (g->api == Api::chat) {
        // vLLM and SGLang open with the role (V:vllm/entrypoints/openai/serving_chat.py).
        r.write(net::sse_event(chunk(*g, {{"index", 0},
                                          {"delta", {{"role", "assistant"}, {"content", ""}}},
                                          {"logprobs", nullptr},
                                          {"finish_reason", nullptr}})
                                   .dump()));
    }
    if (g->produce == 0) {
        finish(g, r, 0);
        return;
    }
    r.after(delay(g->ttft_ms), [this, g, r] { send_token(g, r, 0); });
}

void Server::Impl::send_token(std::shared_ptr<Gen> g, net::Responder r, std::uint64_t i) {
    // With no delay between tokens (--speed 0, or a zero ITL) a burst of them goes out in one
    // turn, each its own event and write (the server gathers queued writes into one writev);
    // then the stream yields, so other streams and new connections get their turn.
    constexpr std::uint32_t kBurstTokens = 16;
    const int itl = delay(g->itl_ms);
    for (std::uint32_t n = 1;; ++n, ++i) {
        if (opt_.faults.fail_after_tokens && i >= *opt_.faults.fail_after_tokens) {
            std::fprintf(stderr,
                         "sparkctl: simulate serve: exiting after %llu tokens "
                         "(--fail-after-tokens)\n",
                         static_cast<unsigned long long>(i));
            std::fflush(stderr);
            std::_Exit(1);
        }
        if (opt_.faults.hang_after_tokens && i >= *opt_.faults.hang_after_tokens) return;
        if (i == 0) {
            std::lock_guard lock(mu_);
            ttft_hist_.observe(g->ttft_ms / 1000);
        }
        if (g->events) {
            r.write(g->events->event(filler_token(i)));
        } else {
            r.write(api_stream_token(g->api, api_reply(*g, i, false), filler_token(i), g->seq));
        }
        if (i + 1 >= g->produce) {
            finish(g, r, i + 1);
            return;
        }
        if (itl > 0 || n >= kBurstTokens) break;
    }
    r.after(itl, [this, g, r, i] { send_token(g, r, i + 1); });
}

void Server::Impl::finish(const std::shared_ptr<Gen>& g, const net::Responder& r,
                          std::uint64_t produced) {
    if (g->api == Api::responses || g->api == Api::messages) {
        const json timings =
            opt_.args.engine == Engine::llama_cpp ? timings_json(*g, produced) : json();
        r.write(api_stream_close(g->api, api_reply(*g, produced), g->seq, timings));
        count_done(*g, produced);
        release(g);
        r.end();
        return;
    }
    json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish_reason(*g)}};
    if (g->chat) {
        choice["delta"] = json::object();
    } else {
        choice["text"] = "";
    }
    std::vector<json> last = {chunk(*g, choice)};
    if (g->include_usage) {
        // The usage chunk: empty choices (V:vllm/entrypoints/openai/serving_chat.py).
        json u = chunk(*g, json::object());
        u["choices"] = json::array();
        u["usage"] = usage_json(*g, produced);
        last.push_back(std::move(u));
    }
    // llama.cpp adds timings to the last chunk (LC:tools/server/server-task.cpp
    // to_json_oaicompat_chat_stream: deltas.back()["timings"]).
    if (opt_.args.engine == Engine::llama_cpp) last.back()["timings"] = timings_json(*g, produced);
    for (const json& c : last) r.write(net::sse_event(c.dump()));
    r.write(net::sse_event("[DONE]"));
    count_done(*g, produced);
    release(g);
    r.end();
}

bool Server::Impl::info(const std::string& path, const net::Responder& r) {
    const EngineArgs& a = opt_.args;
    if (a.engine == Engine::llama_cpp && path == "/props") {
        // LC:tools/server/server-context.cpp get_props: the slots' defaults (n_ctx per slot and
        // the sampling params of task_params::to_json, of which the ones the stand-in honours),
        // total_slots (-np), the model and build.
        r.respond(json_response(
            200, {{"default_generation_settings",
                   {{"n_ctx", a.context},
                    {"params", {{"n_predict", -1}, {"max_tokens", -1}, {"ignore_eos", false}}}}},
                  {"total_slots", a.max_seqs},
                  {"model_alias", a.served_model_name},
                  {"model_path", a.model},
                  {"endpoint_slots", a.slots_endpoint},
                  {"endpoint_props", false},
                  {"endpoint_metrics", a.metrics_endpoint},
                  {"build_info", kFingerprint},
                  {"is_sleeping", false}}));
        return true;
    }
    if (a.engine == Engine::llama_cpp && path == "/slots") {
        if (!a.slots_endpoint) {
            // LC:tools/server/server-context.cpp get_slots, ERROR_TYPE_NOT_SUPPORTED.
            r.respond(error(501,
                            "This server does not support slots endpoint. Start it with `--slots`",
                            "not_supported_error"));
            return true;
        }
        // LC:tools/server/server-context.cpp server_slot::to_json: id, n_ctx, speculative,
        // is_processing; the first `running` slots are busy.
        std::uint32_t busy = 0;
        {
            std::lock_guard lock(mu_);
            busy = running_;
        }
        json slots = json::array();
        for (std::uint32_t i = 0; i < a.max_seqs; ++i) {
            slots.push_back({{"id", i},
                             {"n_ctx", a.context},
                             {"speculative", false},
                             {"is_processing", i < busy}});
        }
        r.respond(json_response(200, slots));
        return true;
    }
    if (a.engine == Engine::sglang && path == "/get_server_info") {
        // S:python/sglang/srt/entrypoints/http_server.py get_server_info: the server args (names
        // as S:python/sglang/srt/server_args.py) with scheduler information.
        r.respond(json_response(
            200, {{"model_path", a.model},
                  {"served_model_name", a.served_model_name},
                  {"host", a.host},
                  {"port", a.port},
                  {"context_length", a.context ? json(a.context) : json(nullptr)},
                  {"max_running_requests", a.max_seqs ? json(a.max_seqs) : json(nullptr)},
                  {"disable_radix_cache", !a.prefix_caching},
                  {"version", "sparkctl-sim"}}));
        return true;
    }
    return false;
}

bool Server::Impl::tokenize(const std::string& path, const net::Request& req,
                            const net::Responder& r) {
    const Engine engine = opt_.args.engine;
    if (engine == Engine::sglang || (path != "/tokenize" && path != "/detokenize")) return false;
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
        r.respond(error(400, "the request body is not a JSON object", "invalid_request_error"));
        return true;
    }
    std::lock_guard lock(mu_);
    if (words_by_id_.empty()) {
        for (std::uint64_t i = 0; i < 10; ++i) {
            const std::string w = words_of(filler_token(i)).front();
            vocab_.emplace(w, i);
            words_by_id_.push_back(w);
        }
    }
    if (path == "/tokenize") {
        // vLLM: {"prompt"} -> {"count", "max_model_len", "tokens"}
        // (V:vllm/entrypoints/openai/protocol.py TokenizeResponse); llama.cpp: {"content"} ->
        // {"tokens"} (LC:tools/server/README.md, POST /tokenize).
        const char* key = engine == Engine::llama_cpp ? "content" : "prompt";
        const json& text = body.value(key, json());
        if (!text.is_string()) {
            r.respond(
                error(400, std::string("'") + key + "' must be a string", "invalid_request_error"));
            return true;
        }
        json ids = json::array();
        for (const std::string& w : words_of(text.get<std::string>())) {
            auto [it, added] = vocab_.emplace(w, words_by_id_.size());
            if (added) words_by_id_.push_back(w);
            ids.push_back(it->second);
        }
        json out = {{"tokens", ids}};
        if (engine == Engine::vllm) {
            out["count"] = ids.size();
            out["max_model_len"] = opt_.args.context;
        }
        r.respond(json_response(200, out));
        return true;
    }
    const json& ids = body.value("tokens", json());
    std::string text;
    for (const json& id : ids.is_array() ? ids : json::array()) {
        if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= words_by_id_.size()) {
            r.respond(error(400, "unknown token id " + id.dump(), "invalid_request_error"));
            return true;
        }
        text += (text.empty() ? "" : " ") + words_by_id_[id.get<std::uint64_t>()];
    }
    // vLLM: {"prompt"} (DetokenizeResponse); llama.cpp: {"content"}.
    r.respond(json_response(200, {{engine == Engine::llama_cpp ? "content" : "prompt", text}}));
    return true;
}

std::string Server::Impl::metrics_page() {
    using net::prometheus::MetricType;
    std::lock_guard lock(mu_);
    net::prometheus::TextWriter w;
    const net::prometheus::Labels model = {{"model_name", opt_.args.served_model_name}};
    switch (opt_.args.engine) {
        case Engine::vllm:
            // Names: V:vllm/v1/metrics/loggers.py PrometheusStatLogger.
            w.family("vllm:num_requests_running", MetricType::gauge,
                     "Number of requests in model execution batches.");
            w.sample("vllm:num_requests_running", model, running_);
            w.family("vllm:num_requests_waiting", MetricType::gauge,
                     "Number of requests waiting to be processed.");
            w.sample("vllm:num_requests_waiting", model, double(waiting_.size()));
            w.family("vllm:prefix_cache_queries_total", MetricType::counter,
                     "Prefix cache queries, in terms of number of queried tokens.");
            w.sample("vllm:prefix_cache_queries_total", model, prefix_query_tokens_);
            w.family("vllm:prefix_cache_hits_total", MetricType::counter,
                     "Prefix cache hits, in terms of number of cached tokens.");
            w.sample("vllm:prefix_cache_hits_total", model, prefix_hits_);
            // CacheConfig.metrics_info() as labels (V:vllm/v1/metrics/loggers.py
            // log_metrics_info("cache_config")); the settings the command line sets.
            w.family("vllm:cache_config_info", MetricType::gauge,
                     "Information of the LLMEngine CacheConfig");
            w.sample("vllm:cache_config_info",
                     {{"block_size", std::to_string(engines::vllm::kBlockSize)},
                      {"enable_prefix_caching", opt_.args.prefix_caching ? "True" : "False"}},
                     1);
            w.family("vllm:prompt_tokens_total", MetricType::counter,
                     "Number of prefill tokens processed.");
            w.sample("vllm:prompt_tokens_total", model, prompt_tokens_);
            w.family("vllm:generation_tokens_total", MetricType::counter,
                     "Number of generation tokens processed.");
            w.sample("vllm:generation_tokens_total", model, generation_tokens_);
            w.family("vllm:time_to_first_token_seconds", MetricType::histogram,
                     "Histogram of time to first token in seconds.");
            w.histogram("vllm:time_to_first_token_seconds", model, ttft_hist_);
            break;
        case Engine::sglang:
            // Names: S:python/sglang/srt/metrics/collector.py.
            w.family("sglang:num_running_reqs", MetricType::gauge,
                     "The number of running requests.");
            w.sample("sglang:num_running_reqs", model, running_);
            w.family("sglang:num_queue_reqs", MetricType::gauge,
                     "The number of requests in the waiting queue.");
            w.sample("sglang:num_queue_reqs", model, double(waiting_.size()));
            w.family("sglang:prompt_tokens_total", MetricType::counter,
                     "Number of prefill tokens processed.");
            w.sample("sglang:prompt_tokens_total", model, prompt_tokens_);
            w.family("sglang:generation_tokens_total", MetricType::counter,
                     "Number of generation tokens processed.");
            w.sample("sglang:generation_tokens_total", model, generation_tokens_);
            w.family("sglang:cache_hit_rate", MetricType::gauge, "The prefix cache hit rate.");
            w.sample(
                "sglang:cache_hit_rate", model,
                prefix_query_tokens_ ? double(prefix_hits_) / double(prefix_query_tokens_) : 0);
            w.family("sglang:time_to_first_token_seconds", MetricType::histogram,
                     "Histogram of time to first token in seconds.");
            w.histogram("sglang:time_to_first_token_seconds", model, ttft_hist_);
            break;
        case Engine::llama_cpp:
            // Names and help texts: LC:tools/server/server-task.cpp
            // server_task_result_metrics::to_metrics ("llamacpp:" prefix, no labels); the prompt
            // counter excludes cached tokens, which have their own.
            w.family("llamacpp:prompt_tokens_total", MetricType::counter,
                     "Number of prompt tokens processed, excluding cached tokens");
            w.sample("llamacpp:prompt_tokens_total", {}, prompt_tokens_ - prompt_cached_);
            w.family("llamacpp:prompt_tokens_cached_total", MetricType::counter,
                     "Number of prompt tokens reused from the cache");
            w.sample("llamacpp:prompt_tokens_cached_total", {}, prompt_cached_);
            w.family("llamacpp:tokens_predicted_total", MetricType::counter,
                     "Number of generation tokens processed");
            w.sample("llamacpp:tokens_predicted_total", {}, generation_tokens_);
            w.family("llamacpp:requests_processing", MetricType::gauge,
                     "Number of requests processing");
            w.sample("llamacpp:requests_processing", {}, running_);
            w.family("llamacpp:requests_deferred", MetricType::gauge,
                     "Number of requests deferred");
            w.sample("llamacpp:requests_deferred", {}, double(waiting_.size()));
            break;
    }
    return w.text();
}

Server::Server(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() { stop(); }

base::Result<void> Server::start() {
    net::ServerOptions so;
    so.host = impl_->opt_.args.host;
    so.port = impl_->opt_.args.port;
    Impl* impl = impl_.get();
    const double wait_s = impl->opt_.load_s + impl->opt_.faults.slow_start_s;
    const auto wait = std::chrono::milliseconds(
        impl->opt_.speed <= 0 ? 0 : std::lround(wait_s * 1000 / impl->opt_.speed));
    const bool listens_while_loading = impl->opt_.args.engine == Engine::llama_cpp;
    if (!listens_while_loading) std::this_thread::sleep_for(wait);
    impl_->server_ = std::make_unique<net::Server>(
        so, [impl](const net::Request& req, net::Responder r) { impl->handle(req, r); });
    if (auto s = impl_->server_->start(); !s) return s.error();
    if (impl->opt_.on_listening) impl->opt_.on_listening(impl_->server_->port());
    if (listens_while_loading) std::this_thread::sleep_for(wait);
    impl_->ready_ = true;
    return {};
}

std::uint16_t Server::port() const { return impl_->server_ ? impl_->server_->port() : 0; }

void Server::stop() {
    if (impl_ && impl_->server_) impl_->server_->stop(1000);
}

}  // namespace sparkctl::sim::standin
