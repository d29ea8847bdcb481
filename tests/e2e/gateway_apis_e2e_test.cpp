// `sparkctl serve --simulate --listen 127.0.0.1:0`: /v1/responses, /v1/messages and
// /v1/embeddings relayed through the gateway to stand-ins of each engine, whole and streamed,
// with the engines' own answers (docs/dev/sim.md "Other APIs"): llama.cpp with --embeddings
// serves embeddings; vLLM has no such route (404, the gateway's 501); SGLang refuses them for a
// generative model (400, relayed as it is). The gateway's token counts of each (streams: the
// usage nested in response.completed and message_start, llama.cpp's cached prompt tokens) and
// the events its TTFT and chunk-gap histograms time (the output deltas alone).
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2e/gateway_daemon.h"
#include "net/client.h"
#include "net/sse.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;

class GatewayApisE2e : public GatewayE2e {
  protected:
    void SetUp() override {
        GatewayE2e::SetUp();
        config(R"(
[[models]]
id = "lc"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
extra_args = ["--embeddings"]
simulate_args = ["--timing", "fixed:5,1"]

[[models]]
id = "vl"
model = "qwen3-8b"
engine = "vllm"
simulate_args = ["--timing", "fixed:5,1"]

[[models]]
id = "sg"
model = "qwen3-8b"
engine = "sglang"
simulate_args = ["--timing", "fixed:5,1"]

[[models]]
id = "vslow"
model = "qwen3-8b"
engine = "vllm"
simulate_args = ["--timing", "fixed:300,1"]
)");
        start_gateway();
    }

    net::Response post(const std::string& target, const json& body) {
        net::ClientRequest r;
        r.port = port_;
        r.method = "POST";
        r.target = target;
        r.headers = {{"Content-Type", "application/json"}};
        r.body = body.dump();
        r.timeout_ms = 60'000;
        net::Client client;
        auto out = client.fetch(std::move(r));
        EXPECT_TRUE(out) << (out ? "" : out.error().message);
        return out ? *out : net::Response{};
    }
};

std::vector<net::SseEvent> events_of(const std::string& body) {
    std::vector<net::SseEvent> out;
    net::SseParser p;
    EXPECT_TRUE(p.feed(body, [&](const net::SseEvent& e) { out.push_back(e); }));
    return out;
}

// The event types in order, runs of one type as one.
std::vector<std::string> type_runs(const std::vector<net::SseEvent>& events) {
    std::vector<std::string> out;
    for (const net::SseEvent& e : events) {
        if (e.data == "[DONE]") continue;
        if (out.empty() || out.back() != e.type) out.push_back(e.type);
    }
    return out;
}

TEST_F(GatewayApisE2e, ResponsesWholeAndStreamedOnEachEngine) {
    for (const char* model : {"lc", "vl", "sg"}) {
        const json req = {
            {"model", model}, {"input", "one two three four"}, {"max_output_tokens", 6}};
        net::Response whole = post("/v1/responses", req);
        ASSERT_EQ(whole.status, 200) << model << whole.body << daemon_log();
        const json doc = json::parse(whole.body);
        EXPECT_EQ(doc["object"], "response") << model;
        EXPECT_EQ(doc["model"], model);
        EXPECT_EQ(doc["usage"]["output_tokens"], 6) << model;
        // The whole response's usage (top-level input_tokens/output_tokens) is counted.
        EXPECT_EQ(metric("sparkctl_gateway_completion_tokens_total", {{"model", model}}), 6)
            << model;
        EXPECT_EQ(metric("sparkctl_gateway_prompt_tokens_total", {{"model", model}}), 4) << model;
        json sreq = req;
        sreq["stream"] = true;
        net::Response streamed = post("/v1/responses", sreq);
        ASSERT_EQ(streamed.status, 200) << model << streamed.body;
        const auto events = events_of(streamed.body);
        EXPECT_EQ(type_runs(events),
                  (std::vector<std::string>{
                      "response.created", "response.in_progress", "response.output_item.added",
                      "response.content_part.added", "response.output_text.delta",
                      "response.output_text.done", "response.content_part.done",
                      "response.output_item.done", "response.completed"}))
            << model << streamed.body;
        std::size_t deltas = 0;
        for (const auto& e : events) deltas += e.type == "response.output_text.delta";
        EXPECT_EQ(deltas, 6u) << model;
        EXPECT_EQ(metric("sparkctl_gateway_requests_total", {{"model", model}, {"status", "200"}}),
                  2)
            << model;
        // The stream's usage, inside response.completed's "response", is counted too.
        EXPECT_EQ(metric("sparkctl_gateway_completion_tokens_total", {{"model", model}}), 12)
            << model;
        EXPECT_EQ(metric("sparkctl_gateway_prompt_tokens_total", {{"model", model}}), 8) << model;
        // Timed: the deltas alone (one TTFT, five gaps between six), not the eight lifecycle
        // events around them; every event is relayed and counted as a chunk.
        EXPECT_EQ(metric("sparkctl_gateway_ttft_seconds_count", {{"model", model}}), 1) << model;
        EXPECT_EQ(metric("sparkctl_gateway_inter_chunk_seconds_count", {{"model", model}}), 5)
            << model;
        EXPECT_EQ(metric("sparkctl_gateway_stream_chunks_total", {{"model", model}}),
                  static_cast<double>(events.size()))
            << model;
    }
}

TEST_F(GatewayApisE2e, MessagesWholeAndStreamedOnEachEngine) {
    for (const char* model : {"lc", "vl", "sg"}) {
        const json req = {{"model", model},
                          {"max_tokens", 4},
                          {"messages", {{{"role", "user"}, {"content", "a b c"}}}}};
        net::Response whole = post("/v1/messages", req);
        ASSERT_EQ(whole.status, 200) << model << whole.body << daemon_log();
        const json doc = json::parse(whole.body);
        EXPECT_EQ(doc["type"], "message") << model;
        EXPECT_EQ(doc["stop_reason"], "max_tokens");
        EXPECT_EQ(doc["usage"]["output_tokens"], 4);
        EXPECT_EQ(metric("sparkctl_gateway_prompt_tokens_total", {{"model", model}}), 3) << model;
        json sreq = req;
        sreq["stream"] = true;
        net::Response streamed = post("/v1/messages", sreq);
        ASSERT_EQ(streamed.status, 200) << model << streamed.body;
        const auto events = events_of(streamed.body);
        EXPECT_EQ(
            type_runs(events),
            (std::vector<std::string>{"message_start", "content_block_start", "content_block_delta",
                                      "content_block_stop", "message_delta", "message_stop"}))
            << model << streamed.body;
        // Whole then streamed: 4 output tokens each (message_delta's top-level usage), and 3
        // input tokens each: on llama.cpp only in message_start's "message", and the second
        // request's prompt is mostly cached there (cache_read_input_tokens, which input_tokens
        // excludes), so 3 only when the gateway adds it.
        EXPECT_EQ(metric("sparkctl_gateway_completion_tokens_total", {{"model", model}}), 8)
            << model;
        EXPECT_EQ(metric("sparkctl_gateway_prompt_tokens_total", {{"model", model}}), 6) << model;
        if (std::string(model) == "lc") {
            const json start = json::parse(events.at(0).data);
            EXPECT_GT(start["message"]["usage"]["cache_read_input_tokens"], 0) << events.at(0).data;
            EXPECT_LT(start["message"]["usage"]["input_tokens"], 3) << events.at(0).data;
        }
        // Timed: the four content_block_delta events (one TTFT, three gaps).
        EXPECT_EQ(metric("sparkctl_gateway_ttft_seconds_count", {{"model", model}}), 1) << model;
        EXPECT_EQ(metric("sparkctl_gateway_inter_chunk_seconds_count", {{"model", model}}), 3)
            << model;
    }
}

// vLLM sends response.created and response.in_progress before generating: TTFT is timed to the
// first output_text.delta, after the stand-in's 300 ms fixed prefill, not to those.
TEST_F(GatewayApisE2e, ResponsesTtftIsTheFirstDelta) {
    const json req = {
        {"model", "vslow"}, {"input", "one two three"}, {"max_output_tokens", 2}, {"stream", true}};
    net::Response streamed = post("/v1/responses", req);
    ASSERT_EQ(streamed.status, 200) << streamed.body << daemon_log();
    ASSERT_EQ(events_of(streamed.body).at(0).type, "response.created") << streamed.body;
    EXPECT_EQ(metric("sparkctl_gateway_ttft_seconds_count", {{"model", "vslow"}}), 1);
    // Bucket bounds are the gateway's (0.25 s, then 0.5 s): none at or under 0.25 s.
    EXPECT_EQ(metric("sparkctl_gateway_ttft_seconds_bucket", {{"model", "vslow"}, {"le", "0.25"}}),
              0);
    EXPECT_EQ(metric("sparkctl_gateway_prompt_tokens_total", {{"model", "vslow"}}), 3);
}

TEST_F(GatewayApisE2e, EmbeddingsWhereTheEngineServesThem) {
    const json input = {"the first text", "and a second"};
    net::Response lc = post("/v1/embeddings", {{"model", "lc"}, {"input", input}});
    ASSERT_EQ(lc.status, 200) << lc.body << daemon_log();
    const json doc = json::parse(lc.body);
    ASSERT_EQ(doc["data"].size(), 2u);
    EXPECT_EQ(doc["data"][0]["embedding"].size(), 256u);
    EXPECT_EQ(doc["usage"]["prompt_tokens"], 6);
    EXPECT_EQ(metric("sparkctl_gateway_prompt_tokens_total", {{"model", "lc"}}), 6);
    // The same input, the same vector (deterministic), through a second request.
    net::Response again = post("/v1/embeddings", {{"model", "lc"}, {"input", input[0]}});
    ASSERT_EQ(again.status, 200);
    EXPECT_EQ(json::parse(again.body)["data"][0]["embedding"], doc["data"][0]["embedding"]);

    // vLLM serving a generative model has no /v1/embeddings: the engine's 404 is the gateway's
    // 501 in OpenAI's error shape.
    net::Response vl = post("/v1/embeddings", {{"model", "vl"}, {"input", "x"}});
    EXPECT_EQ(vl.status, 501) << vl.body;
    EXPECT_EQ(json::parse(vl.body)["error"]["code"], "not_implemented") << vl.body;
    // SGLang answers 400 itself; the gateway relays it.
    net::Response sg = post("/v1/embeddings", {{"model", "sg"}, {"input", "x"}});
    EXPECT_EQ(sg.status, 400) << sg.body;
    EXPECT_NE(sg.body.find("--is-embedding"), std::string::npos) << sg.body;
}

}  // namespace
}  // namespace sparkctl::test
