// sparkctl simulate serve, end to end: the real binary listens on port 0, a raw HTTP client
// (net::Client) waits for /health, then checks the endpoints' shapes, usage, the simulated
// markers, timing against the schedule the stand-in reports, errors and faults. Timing checks
// compare with the scheduled values and generous deadlines, never exact wall-clock figures.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "net/client.h"
#include "net/sse.h"
#include "support/sandbox.h"
#include "support/standin_process.h"
#include "support/temp_dir.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

net::Response post(net::Client& c, std::uint16_t port, const std::string& target, const json& body,
                   net::Headers headers = {}) {
    net::ClientRequest r;
    r.port = port;
    r.method = "POST";
    r.target = target;
    r.headers = std::move(headers);
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = body.dump();
    auto resp = c.fetch(r);
    EXPECT_TRUE(resp) << resp.error().message;
    return resp ? *resp : net::Response{0, {}, ""};
}

net::Response get(net::Client& c, std::uint16_t port, const std::string& target) {
    net::ClientRequest r;
    r.port = port;
    r.target = target;
    auto resp = c.fetch(r);
    EXPECT_TRUE(resp) << resp.error().message;
    return resp ? *resp : net::Response{0, {}, ""};
}

// The events of an SSE body.
std::vector<std::string> events(const std::string& body) {
    std::vector<std::string> out;
    net::SseParser p;
    EXPECT_TRUE(p.feed(body, [&](const net::SseEvent& e) { out.push_back(e.data); }));
    return out;
}

double header_ms(const net::Response& r, const char* name) {
    return std::atof(std::string(net::header_value(r.headers, name)).c_str());
}

TEST(StandinE2e, VllmShorthandServesChatAndCompletions) {
    Standin s({"llama-3.1-8b", "--engine", "vllm", "--for", "chat", "--port", "0", "--speed", "0",
               "--hardware", "dgx-spark"});
    const std::uint16_t port = s.wait_port("ready on port ");
    ASSERT_NE(port, 0) << s.log();
    // vLLM's KV cache lines, with the plan's pool (32,768 tokens of context, one sequence).
    EXPECT_NE(s.log().find("] Available KV cache memory: "), std::string::npos) << s.log();
    EXPECT_NE(s.log().find("] GPU KV cache size: "), std::string::npos) << s.log();
    EXPECT_NE(s.log().find("] Maximum concurrency for 32,768 tokens per request: "),
              std::string::npos)
        << s.log();
    net::Client c;
    EXPECT_EQ(get(c, port, "/health").status, 200);

    const net::Response models = get(c, port, "/v1/models");
    ASSERT_EQ(models.status, 200);
    EXPECT_EQ(net::header_value(models.headers, "X-Sparkctl-Simulated"), "1");
    const json m = json::parse(models.body);
    EXPECT_EQ(m["data"][0]["id"], "llama-3.1-8b");
    EXPECT_EQ(m["data"][0]["meta"]["sparkctl_speed"], 0);
    EXPECT_TRUE(m["data"][0]["max_model_len"].is_number());

    // Non-streaming chat: usage exact (one token per word, the filler's too).
    net::Response chat =
        post(c, port, "/v1/chat/completions",
             {{"model", "llama-3.1-8b"},
              {"messages", {{{"role", "user"}, {"content", "one two three four"}}}},
              {"max_tokens", 7}});
    ASSERT_EQ(chat.status, 200) << chat.body;
    EXPECT_EQ(net::header_value(chat.headers, "X-Sparkctl-Simulated"), "1");
    json j = json::parse(chat.body);
    EXPECT_EQ(j["object"], "chat.completion");
    EXPECT_EQ(j["system_fingerprint"], "sparkctl-sim");
    EXPECT_EQ(j["usage"]["prompt_tokens"], 4);
    EXPECT_EQ(j["usage"]["completion_tokens"], 7);
    EXPECT_EQ(j["usage"]["total_tokens"], 11);
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(j["choices"][0]["message"]["content"],
              "The stand-in engine writes simulated text for");
    // Step-cost timing: a prefill and decode steps take time on the simulated Spark.
    EXPECT_GT(header_ms(chat, "X-Sparkctl-Scheduled-Ttft-Ms"), 0);
    EXPECT_GT(header_ms(chat, "X-Sparkctl-Scheduled-Itl-Ms"), 0);

    // Streaming completion with usage: one event per token, then finish, usage, [DONE].
    net::Response st = post(c, port, "/v1/completions",
                            {{"prompt", "one two three four"},
                             {"max_tokens", 5},
                             {"stream", true},
                             {"stream_options", {{"include_usage", true}}}});
    ASSERT_EQ(st.status, 200);
    EXPECT_EQ(net::header_value(st.headers, "Content-Type"), "text/event-stream");
    const auto ev = events(st.body);
    ASSERT_EQ(ev.size(), 5u + 3u) << st.body;
    EXPECT_EQ(ev.back(), "[DONE]");
    const json usage = json::parse(ev[ev.size() - 2]);
    EXPECT_TRUE(usage["choices"].empty());
    EXPECT_EQ(usage["usage"]["completion_tokens"], 5);
    EXPECT_EQ(usage["usage"]["prompt_tokens"], 4);
    // The same prompt again: the prefix cache holds all but the last token (counted in /metrics
    // below); usage reports cached tokens only with --enable-prompt-tokens-details
    // (V:vllm/entrypoints/openai/serving_chat.py), which the plan does not set.
    EXPECT_FALSE(usage["usage"].contains("prompt_tokens_details"));
    EXPECT_EQ(json::parse(ev[0])["choices"][0]["text"], "The");

    // Over the context: vLLM's 400, {"error": ErrorInfo} (V:vllm/entrypoints/openai/protocol.py
    // ErrorResponse), the words of V:vllm/entrypoints/openai/serving_engine.py _validate_input.
    net::Response big =
        post(c, port, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 10000000}});
    EXPECT_EQ(big.status, 400);
    const json e = json::parse(big.body);
    EXPECT_EQ(e["error"]["type"], "BadRequestError");
    EXPECT_EQ(e["error"]["code"], 400);
    EXPECT_EQ(e["error"]["message"].get<std::string>().rfind(
                  "'max_tokens' or 'max_completion_tokens' is too large: 10000000. This model's "
                  "maximum context length is ",
                  0),
              0u)
        << big.body;

    // /metrics counts what was served.
    const net::Response met = get(c, port, "/metrics");
    EXPECT_NE(met.body.find("vllm:prefix_cache_hits_total{model_name=\"llama-3.1-8b\"} 3"),
              std::string::npos)
        << met.body;
    EXPECT_NE(met.body.find("vllm:prefix_cache_queries_total{model_name=\"llama-3.1-8b\"} 8"),
              std::string::npos);
    EXPECT_NE(met.body.find("vllm:generation_tokens_total{model_name=\"llama-3.1-8b\"} 12"),
              std::string::npos);
    EXPECT_NE(
        met.body.find("vllm:cache_config_info{block_size=\"16\",enable_prefix_caching=\"True\"} 1"),
        std::string::npos);

    // /tokenize and /detokenize round trip, with vLLM's count and max_model_len.
    const json tok = json::parse(post(c, port, "/tokenize", {{"prompt", "The cat sat"}}).body);
    EXPECT_EQ(tok["count"], 3);
    ASSERT_EQ(tok["tokens"].size(), 3u);
    EXPECT_EQ(tok["tokens"][0], 0);  // "The": the filler's first word
    EXPECT_EQ(json::parse(post(c, port, "/detokenize", {{"tokens", tok["tokens"]}}).body)["prompt"],
              "The cat sat");
    EXPECT_EQ(post(c, port, "/detokenize", {{"tokens", {99999}}}).status, 400);
}

TEST(StandinE2e, LlamaCppArgvWithApiKeyAndFixedTiming) {
    Standin s({"--as",      "llama.cpp", "--timing", "fixed:40,20", "--slow-start",
               "1",         "--",        "-m",       "x.gguf",      "--host",
               "127.0.0.1", "--port",    "0",        "-a",          "tiny",
               "-c",        "64",        "-np",      "2",           "--api-key",
               "sekret",    "-fa",       "on"});
    const std::uint16_t port = s.wait_port("listening on 127.0.0.1:");
    ASSERT_NE(port, 0) << s.log();
    net::Client c;
    // llama.cpp listens while loading and answers 503 (the slow start keeps it loading).
    const net::Response loading = get(c, port, "/health");
    EXPECT_EQ(loading.status, 503);
    EXPECT_EQ(json::parse(loading.body)["error"]["type"], "unavailable_error");
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (get(c, port, "/health").status != 200 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(get(c, port, "/health").status, 200);

    const json req = {{"messages", {{{"role", "user"}, {"content", "a b c"}}}},
                      {"max_tokens", 4},
                      {"stream", true}};
    net::Response no_key = post(c, port, "/v1/chat/completions", req);
    EXPECT_EQ(no_key.status, 401);
    EXPECT_EQ(json::parse(no_key.body)["error"]["message"], "Invalid API Key");

    const auto t0 = Clock::now();
    net::Response st =
        post(c, port, "/v1/chat/completions", req, {{"Authorization", "Bearer sekret"}});
    const double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    ASSERT_EQ(st.status, 200) << st.body;
    EXPECT_EQ(header_ms(st, "X-Sparkctl-Scheduled-Ttft-Ms"), 40);
    EXPECT_EQ(header_ms(st, "X-Sparkctl-Scheduled-Itl-Ms"), 20);
    // The schedule is 40 + 3 * 20 ms: the stream cannot end sooner (no upper bound asserted).
    EXPECT_GE(wall_ms, 100 - 5);
    const auto ev = events(st.body);
    // role, tokens, finish with the timings (LC:tools/server/server-task.cpp: timings on the
    // last chunk), [DONE]
    ASSERT_EQ(ev.size(), 1u + 4u + 2u) << st.body;
    EXPECT_EQ(json::parse(ev[ev.size() - 2])["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(json::parse(ev[ev.size() - 2])["timings"]["predicted_n"], 4);

    // The slot's context is -c / -np = 32: a longer prompt is llama.cpp's 400.
    std::string longp;
    for (int i = 0; i < 40; ++i) longp += "w ";
    net::Response big =
        post(c, port, "/v1/completions", {{"prompt", longp}}, {{"Authorization", "Bearer sekret"}});
    EXPECT_EQ(big.status, 400);
    const json e = json::parse(big.body)["error"];
    EXPECT_EQ(e["type"], "exceed_context_size_error");
    EXPECT_EQ(e["n_ctx"], 32);
    EXPECT_EQ(e["n_prompt_tokens"], 40);

    // /props and /slots show the slots and the cache setting; timings show the cached prefix.
    net::ClientRequest pr;
    pr.port = port;
    pr.target = "/props";
    pr.headers = {{"Authorization", "Bearer sekret"}};
    const json props = json::parse(c.fetch(pr)->body);
    EXPECT_EQ(props["total_slots"], 2);
    EXPECT_EQ(props["default_generation_settings"]["n_ctx"], 32);
    EXPECT_EQ(props["model_alias"], "tiny");
    EXPECT_EQ(props["endpoint_metrics"], false);
    pr.target = "/slots";
    const json slots = json::parse(c.fetch(pr)->body);
    ASSERT_EQ(slots.size(), 2u);
    EXPECT_EQ(slots[0]["n_ctx"], 32);
    EXPECT_EQ(slots[0]["is_processing"], false);
    // Without --metrics llama.cpp has no /metrics (LC:tools/server/server-context.cpp
    // get_metrics: 501, not_supported_error); /v1/models needs the key (only /health and
    // /v1/health are public), which llama.cpp also takes without "Bearer ".
    pr.target = "/metrics";
    const auto no_metrics = c.fetch(pr);
    EXPECT_EQ(no_metrics->status, 501);
    EXPECT_EQ(json::parse(no_metrics->body)["error"]["type"], "not_supported_error");
    EXPECT_EQ(get(c, port, "/v1/models").status, 401);
    pr.target = "/v1/models";
    pr.headers = {{"Authorization", "sekret"}};
    EXPECT_EQ(c.fetch(pr)->status, 200);
    const json again =
        json::parse(post(c, port, "/v1/completions", {{"prompt", "a b c d"}, {"max_tokens", 2}},
                         {{"Authorization", "Bearer sekret"}})
                        .body);
    EXPECT_EQ(again["timings"]["cache_n"], 3);  // "a b c" was the chat's prompt
    EXPECT_EQ(again["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
    EXPECT_EQ(again["timings"]["prompt_n"], 1);
    EXPECT_EQ(again["timings"]["predicted_n"], 2);
    EXPECT_EQ(again["timings"]["prompt_ms"], 40);
}

TEST(StandinE2e, SglangInfoRejectOverAndHang) {
    Standin s({"--as",
               "sglang",
               "--timing",
               "fixed:0,0",
               "--hang-after-tokens",
               "1",
               "--reject-over",
               "1",
               "--",
               "-m",
               "sglang.launch_server",
               "--model-path",
               "org/m",
               "--served-model-name",
               "m",
               "--port",
               "0",
               "--context-length",
               "100",
               "--disable-radix-cache"});
    const std::uint16_t port = s.wait_port("ready on port ");
    ASSERT_NE(port, 0) << s.log();
    net::Client c;
    const json info = json::parse(get(c, port, "/get_server_info").body);
    EXPECT_EQ(info["served_model_name"], "m");
    EXPECT_EQ(info["context_length"], 100);
    EXPECT_EQ(info["disable_radix_cache"], true);
    // One stream hangs after its first token and stays in flight.
    net::ClientRequest r;
    r.port = port;
    r.method = "POST";
    r.target = "/v1/completions";
    r.body = json{{"prompt", "a"}, {"max_tokens", 10}, {"stream", true}}.dump();
    r.headers = {{"Authorization", "Bearer k"}};
    r.timeout_ms = 1500;
    std::atomic<int> status{0};
    std::string body;
    std::promise<void> first;
    std::promise<base::Result<void>> done;
    c.request(r, {[&](int st, const net::Headers&) { status = st; },
                  [&, once = false](std::string_view d, Clock::time_point) mutable {
                      body += d;
                      if (!once && body.find("\"text\":\"The\"") != std::string::npos) {
                          once = true;
                          first.set_value();
                      }
                  },
                  [&](base::Result<void> res) { done.set_value(std::move(res)); }});
    ASSERT_EQ(first.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    // The second is over --reject-over 1: 429.
    net::Response over = post(c, port, "/v1/completions", {{"prompt", "a"}, {"max_tokens", 1}},
                              {{"Authorization", "Bearer k"}});
    EXPECT_EQ(over.status, 429);
    EXPECT_EQ(json::parse(over.body)["code"], 429);
    // The hung stream never finishes: the client's deadline ends it.
    auto res = done.get_future().get();
    EXPECT_FALSE(res);
    EXPECT_EQ(body.find("[DONE]"), std::string::npos);
}

TEST(StandinE2e, RequestsOverTheSequencesWaitTheirTurn) {
    Standin s({"--as", "vllm", "--timing", "fixed:0,0", "--hang-after-tokens", "1", "--", "serve",
               "m", "--port", "0", "--max-num-seqs", "1"});
    const std::uint16_t port = s.wait_port("ready on port ");
    ASSERT_NE(port, 0) << s.log();
    net::Client c;
    // A hangs after its first token, holding the one sequence.
    net::ClientRequest a;
    a.port = port;
    a.method = "POST";
    a.target = "/v1/completions";
    a.body = json{{"prompt", "a"}, {"max_tokens", 5}, {"stream", true}}.dump();
    std::promise<void> first;
    std::string body_a;
    net::RequestHandle ha =
        c.request(a, {{},
                      [&, once = false](std::string_view d, Clock::time_point) mutable {
                          body_a += d;
                          if (!once) {
                              once = true;
                              first.set_value();
                          }
                      },
                      [](base::Result<void>) {}});
    ASSERT_EQ(first.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    // B waits: one token, no hang once it runs.
    net::ClientRequest b = a;
    b.body = json{{"prompt", "b"}, {"max_tokens", 1}}.dump();
    net::Response rb;
    std::promise<void> b_done;
    c.request(b, {[&](int st, const net::Headers&) { rb.status = st; },
                  [&](std::string_view d, Clock::time_point) { rb.body += d; },
                  [&](base::Result<void>) { b_done.set_value(); }});
    std::string page;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
        page = get(c, port, "/metrics").body;
        if (page.find("vllm:num_requests_waiting{model_name=\"m\"} 1") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_NE(page.find("vllm:num_requests_running{model_name=\"m\"} 1"), std::string::npos)
        << page;
    EXPECT_NE(page.find("vllm:num_requests_waiting{model_name=\"m\"} 1"), std::string::npos)
        << page;
    // A's client leaves: B runs and completes.
    ha.cancel();
    ASSERT_EQ(b_done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(rb.status, 200);
    EXPECT_EQ(json::parse(rb.body)["usage"]["completion_tokens"], 1);
}

TEST(StandinE2e, SpeedDividesTheScheduleAndIsAdvertised) {
    Standin s({"--as", "vllm", "--timing", "fixed:2000,1000", "--speed", "20", "--", "serve", "m",
               "--port", "0"});
    const std::uint16_t port = s.wait_port("ready on port ");
    ASSERT_NE(port, 0) << s.log();
    net::Client c;
    const net::Response models = get(c, port, "/v1/models");
    EXPECT_EQ(json::parse(models.body)["data"][0]["meta"]["sparkctl_speed"], 20);
    EXPECT_EQ(net::header_value(models.headers, "X-Sparkctl-Speed"), "20");
    const auto t0 = Clock::now();
    net::Response r = post(c, port, "/v1/completions", {{"prompt", "a"}, {"max_tokens", 3}});
    const double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    ASSERT_EQ(r.status, 200);
    // The schedule stays in simulated ms; the wait is (2000 + 2 * 1000) / 20 = 200 ms at least.
    EXPECT_EQ(header_ms(r, "X-Sparkctl-Scheduled-Ttft-Ms"), 2000);
    EXPECT_GE(wall_ms, 200 - 5);
}

TEST(StandinE2e, ErrorRateOneAnswers500) {
    Standin s({"--as", "vllm", "--timing", "fixed:0,0", "--error-rate", "1", "--", "serve", "m",
               "--port", "0"});
    const std::uint16_t port = s.wait_port("ready on port ");
    ASSERT_NE(port, 0) << s.log();
    net::Client c;
    net::Response r = post(c, port, "/v1/completions", {{"prompt", "a"}, {"max_tokens", 1}});
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(net::header_value(r.headers, "X-Sparkctl-Simulated"), "1");
}

TEST(StandinE2e, FailAfterTokensExitsMidStream) {
    Standin s({"--as", "sglang", "--timing", "fixed:0,0", "--speed", "0", "--fail-after-tokens",
               "2", "--", "-m", "sglang.launch_server", "--model-path", "org/m", "--port", "0"});
    const std::uint16_t port = s.wait_port("ready on port ");
    ASSERT_NE(port, 0) << s.log();
    net::Client c;
    net::ClientRequest r;
    r.port = port;
    r.method = "POST";
    r.target = "/v1/completions";
    r.body = json{{"prompt", "a"}, {"max_tokens", 10}, {"stream", true}}.dump();
    auto resp = c.fetch(r);
    // The process exits mid-stream: the response is cut off.
    EXPECT_FALSE(resp && resp->body.find("[DONE]") != std::string::npos);
    EXPECT_EQ(s.wait_exit(), 1);
}

TEST(StandinE2e, BadArgvIsUsageError) {
    Sandbox sb;
    auto r = sb.run({"simulate", "serve", "--as", "vllm", "--timing", "fixed:1,1", "--", "serve",
                     "m", "--no-such-flag"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
    // Step costs need a model sparkctl knows.
    auto u = sb.run({"simulate", "serve", "--as", "vllm", "--", "serve", "org/unknown"});
    EXPECT_EQ(u.exit_code, 2);
    EXPECT_NE(u.err.find("--timing fixed"), std::string::npos) << u.err;
    auto n = sb.run({"simulate", "serve"});
    EXPECT_EQ(n.exit_code, 2);
}

}  // namespace
}  // namespace sparkctl::test
