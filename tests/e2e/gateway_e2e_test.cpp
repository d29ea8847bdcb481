// `sparkctl serve --simulate --listen 127.0.0.1:0`, end to end through the gateway: the real
// daemon (serve_daemon.h's fixture), stand-in engines underneath, requests over loopback with
// net::Client. A request loads its model; a second model that does not fit evicts the first; the
// queue bound answers 503; an eviction waits for a stream in flight (drain) or gives up at the
// drain deadline; a crash mid-stream is an SSE error event; ttl_s unloads; SIGTERM leaves nothing;
// max_in_flight answers 429.
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <nlohmann/json.hpp>
#include <string>

#include "e2e/gateway_daemon.h"
#include "net/client.h"
#include "net/prometheus.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;

TEST_F(GatewayE2e, ARequestLoadsItsModelThenItAnswers) {
    config(R"(
[[models]]
id = "small"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
simulate_args = ["--timing", "fixed:5,1"]
)");
    start_gateway();
    EXPECT_EQ(deployment("small")["state"], "unloaded");
    net::Response r = chat("small");
    ASSERT_EQ(r.status, 200) << r.body << daemon_log();
    json body = json::parse(r.body);
    EXPECT_EQ(body["choices"].size(), 1u) << r.body;
    auto d = deployment("small");
    EXPECT_EQ(d["state"], "ready");
    EXPECT_EQ(d["in_flight"], 0);
    EXPECT_EQ(d["queued"], 0);
    EXPECT_TRUE(d["idle_s"].is_number()) << d;

    net::Response unknown = chat("nope");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(json::parse(unknown.body)["error"]["code"], "model_not_found");
}

TEST_F(GatewayE2e, ARequestForTheSecondModelEvictsTheFirst) {
    config(two_big("fixed:5,1"));
    start_gateway();
    ASSERT_EQ(chat("big-a").status, 200) << daemon_log();
    EXPECT_EQ(deployment("big-a")["state"], "ready");
    net::Response r = chat("big-b");
    ASSERT_EQ(r.status, 200) << r.body << daemon_log();
    EXPECT_EQ(deployment("big-a")["state"], "unloaded");
    EXPECT_EQ(deployment("big-b")["state"], "ready");
    // The daemon's counters in /metrics (the Registry's view).
    EXPECT_EQ(metric("sparkctl_loads_total", {{"model", "big-a"}}), 1);
    EXPECT_EQ(metric("sparkctl_loads_total", {{"model", "big-b"}}), 1);
    EXPECT_EQ(metric("sparkctl_evictions_total", {{"model", "big-a"}}), 1);
    EXPECT_EQ(metric("sparkctl_evictions_total", {{"model", "big-b"}}), 0);
    EXPECT_GT(metric("sparkctl_load_seconds_total", {{"model", "big-b"}}), 0);
    EXPECT_EQ(metric("sparkctl_reserved_bytes", {{"model", "big-a"}}), 0);
    EXPECT_GT(metric("sparkctl_reserved_bytes", {{"model", "big-b"}}), 0);
    EXPECT_GT(metric("sparkctl_mem_available_bytes"), 0);
    EXPECT_GT(metric("sparkctl_budget_bytes"), 0);
}

TEST_F(GatewayE2e, TheQueueIsBoundedThen503) {
    config(R"(
[[models]]
id = "slow"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
simulate_args = ["--timing", "fixed:5,1", "--slow-start", "3"]
)");
    box_.env["SPARKCTL_QUEUE_MAX"] = "1";
    start_gateway();
    auto first = send("slow", 2, false);
    ASSERT_TRUE(eventually([&] { return deployment("slow")["queued"] == 1; })) << daemon_log();
    net::Response over = chat("slow");
    EXPECT_EQ(over.status, 503) << over.body;
    EXPECT_EQ(json::parse(over.body)["error"]["code"], "queue_full") << over.body;
    auto answered = first.get();
    ASSERT_TRUE(answered) << answered.error().message;
    EXPECT_EQ(answered->status, 200) << answered->body;
}

TEST_F(GatewayE2e, EvictionWaitsForTheStreamInFlightToDrain) {
    // big-a streams 30 tokens 100 ms apart (about 3 s); big-b arrives meanwhile.
    config(two_big("fixed:5,100"));
    start_gateway();
    ASSERT_EQ(chat("big-a", 1).status, 200) << daemon_log();
    auto stream = send("big-a", 30, true);
    ASSERT_TRUE(eventually([&] { return deployment("big-a")["in_flight"] == 1; })) << daemon_log();
    auto second = send("big-b", 2, false);
    ASSERT_TRUE(eventually([&] { return deployment("big-a")["state"] == "draining"; }))
        << daemon_log();
    EXPECT_EQ(deployment("big-b")["state"], "unloaded");  // not loaded while big-a drains

    auto streamed = stream.get();
    ASSERT_TRUE(streamed) << streamed.error().message;
    EXPECT_EQ(streamed->status, 200);
    EXPECT_EQ(streamed->body.find("\"error\""), std::string::npos) << streamed->body;
    EXPECT_NE(streamed->body.find("data: [DONE]"), std::string::npos) << streamed->body;
    auto swapped = second.get();
    ASSERT_TRUE(swapped) << swapped.error().message;
    EXPECT_EQ(swapped->status, 200) << swapped->body << daemon_log();
    EXPECT_EQ(deployment("big-a")["state"], "unloaded");
    EXPECT_EQ(deployment("big-b")["state"], "ready");
}

TEST_F(GatewayE2e, PastTheDrainDeadlineTheSwapIsAbandoned) {
    // big-a streams for about 4 s; the drain deadline is 1 s.
    config(two_big("fixed:5,100"));
    box_.env["SPARKCTL_DRAIN_TIMEOUT_S"] = "1";
    start_gateway();
    ASSERT_EQ(chat("big-a", 1).status, 200) << daemon_log();
    auto stream = send("big-a", 40, true);
    ASSERT_TRUE(eventually([&] { return deployment("big-a")["in_flight"] == 1; })) << daemon_log();
    auto up = box_.run({"up", "big-b", "--json"});  // `up` evicts exactly as a request would
    EXPECT_EQ(up.exit_code, 3) << up.err;
    EXPECT_NE(up.err.find("swap abandoned"), std::string::npos) << up.err << up.out;
    net::Response r = chat("big-b");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find("did not drain"), std::string::npos) << r.body;
    EXPECT_EQ(deployment("big-a")["state"], "ready");
    EXPECT_EQ(deployment("big-b")["state"], "unloaded");
    auto streamed = stream.get();
    ASSERT_TRUE(streamed) << streamed.error().message;
    EXPECT_NE(streamed->body.find("data: [DONE]"), std::string::npos);
}

TEST_F(GatewayE2e, AnEngineCrashMidStreamIsAnSseErrorAndTheGatewayStaysUp) {
    config(R"(
[[models]]
id = "crashy"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
simulate_args = ["--timing", "fixed:5,5", "--fail-after-tokens", "3"]
)");
    start_gateway();
    net::Response r = chat("crashy", 20, true);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("data: {\"error\""), std::string::npos) << r.body;
    net::ClientRequest health;
    health.port = port_;
    health.target = "/health";
    net::Client client;
    auto h = client.fetch(health);
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_EQ(h->status, 200);
    // The engine exited: the daemon restarts it, and /metrics counts the restart.
    EXPECT_TRUE(eventually([&] {
        return metric("sparkctl_restarts_total", {{"model", "crashy"}}) >= 1;
    })) << daemon_log();
}

// R-OPS-3 at run time: parallel requests on a llama.cpp deployment are counted each and warned
// in the daemon's log once per burst (a burst ends when its in-flight count is back to 0).
TEST_F(GatewayE2e, ParallelLoadOnLlamaCppIsWarnedOncePerBurst) {
    config(R"(
[[models]]
id = "solo"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
simulate_args = ["--timing", "fixed:5,50"]
)");
    start_gateway();
    ASSERT_EQ(chat("solo", 1).status, 200) << daemon_log();  // loaded, alone: no warning
    const std::string warning = "solo: parallel requests on a llama.cpp deployment (R-OPS-3";
    auto count = [&] {
        const std::string log = daemon_log();
        int n = 0;
        for (auto at = log.find(warning); at != std::string::npos; at = log.find(warning, at + 1))
            ++n;
        return n;
    };
    EXPECT_EQ(count(), 0);
    for (int burst = 1; burst <= 2; ++burst) {
        // Three streams of 40 tokens 50 ms apart (about 2 s each), started together.
        auto a = send("solo", 40, true);
        ASSERT_TRUE(eventually([&] { return deployment("solo")["in_flight"] == 1; }))
            << daemon_log();
        auto b = send("solo", 40, true);
        auto c = send("solo", 40, true);
        for (auto* f : {&a, &b, &c}) {
            auto r = f->get();
            ASSERT_TRUE(r) << r.error().message;
            EXPECT_EQ(r->status, 200);
        }
        EXPECT_EQ(count(), burst) << daemon_log();
    }
    EXPECT_EQ(metric("sparkctl_rops3_parallel_on_llamacpp_total", {{"model", "solo"}}), 4);
}

// R-OPS-3 routing through the daemon: one alias on a llama.cpp deployment (chat) and a vLLM one
// (agents), both resident. A request for the alias goes to llama.cpp while it has nothing in
// flight; one arriving while llama.cpp streams goes to vLLM, so llama.cpp never sees parallel
// load.
TEST_F(GatewayE2e, ASharedAliasRoutesParallelLoadToVllm) {
    config(R"(
[[models]]
id = "chat-l"
model = "qwen3-8b"
engine = "llama.cpp"
quant = "Q4_K_M"
aliases = ["qwen"]
simulate_args = ["--timing", "fixed:5,50"]

[[models]]
id = "chat-v"
model = "qwen3-8b"
engine = "vllm"
aliases = ["qwen"]
simulate_args = ["--timing", "fixed:5,50"]
)");
    start_gateway();
    for (const char* id : {"chat-l", "chat-v"}) {
        auto up = box_.run({"up", id});
        ASSERT_EQ(up.exit_code, 0) << up.err << daemon_log();
    }
    auto first = send("qwen", 40, true);  // about 2 s
    ASSERT_TRUE(eventually([&] { return deployment("chat-l")["in_flight"] == 1; })) << daemon_log();
    EXPECT_EQ(deployment("chat-v")["in_flight"], 0);
    auto second = send("qwen", 40, true);
    ASSERT_TRUE(eventually([&] { return deployment("chat-v")["in_flight"] == 1; })) << daemon_log();
    for (auto* f : {&first, &second}) {
        auto r = f->get();
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->status, 200);
        EXPECT_NE(r->body.find("data: [DONE]"), std::string::npos) << r->body;
    }
    EXPECT_EQ(metric("sparkctl_gateway_requests_total", {{"model", "chat-l"}, {"status", "200"}}),
              1);
    EXPECT_EQ(metric("sparkctl_gateway_requests_total", {{"model", "chat-v"}, {"status", "200"}}),
              1);
    EXPECT_EQ(metric("sparkctl_rops3_parallel_on_llamacpp_total", {{"model", "chat-l"}}), 0);
}

// A model that cannot fit at all: the request's load fails and it is answered 503 `load_failed`
// with the reason and the numbers.
TEST_F(GatewayE2e, AModelThatDoesNotFitIs503WithTheNumbers) {
    config(R"(
[[models]]
id = "huge"
model = "deepseek-v3"
engine = "llama.cpp"
quant = "Q8_0"
)");
    start_gateway();
    net::Response r = chat("huge");
    EXPECT_EQ(r.status, 503) << r.body;
    const json err = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(err.contains("error")) << r.body;
    EXPECT_EQ(err["error"]["code"], "load_failed") << r.body;
    EXPECT_NE(err["error"]["message"].get<std::string>().find("GiB"), std::string::npos) << r.body;
    EXPECT_FALSE(net::header_value(r.headers, "retry-after").empty());
    EXPECT_EQ(deployment("huge")["state"], "unloaded");
}

TEST_F(GatewayE2e, AnIdleDeploymentIsUnloadedAfterItsTtl) {
    config(two_big("fixed:5,1", "", "ttl_s = 1\n"));
    start_gateway();
    ASSERT_EQ(chat("big-a").status, 200) << daemon_log();
    ASSERT_TRUE(eventually([&] { return deployment("big-a")["state"] == "unloaded"; }))
        << daemon_log();
    EXPECT_NE(daemon_log().find("big-a: idle for its ttl_s"), std::string::npos);
}

TEST_F(GatewayE2e, SigtermStopsTheGatewayAndEveryEngine) {
    config(two_big("fixed:5,1"));
    start_gateway();
    ASSERT_EQ(chat("big-a").status, 200) << daemon_log();
    EXPECT_EQ(processes_of(box_.home()).size(), 2u);  // the daemon and its engine
    EXPECT_EQ(stop_daemon(SIGTERM), 0);
    EXPECT_TRUE(processes_of(box_.home()).empty());
    net::ClientRequest health;
    health.port = port_;
    health.target = "/health";
    net::Client client;
    EXPECT_FALSE(client.fetch(health));  // nothing listens any more
}

// `up --max-in-flight 1`: while one request streams, a second is answered 429 in OpenAI's
// shape with Retry-After before anything streams, counted in /metrics; the first completes and
// the limit then admits the next one. The limit is in `ps --json` and /status.
TEST_F(GatewayE2e, MaxInFlightAnswers429WhileTheFirstStreams) {
    config("");
    start_gateway();
    auto up = box_.run({"up", "qwen3-8b", "--engine", "llama.cpp", "--quant", "Q4_K_M",
                        "--max-in-flight", "1", "--json"});
    ASSERT_EQ(up.exit_code, 0) << up.err << daemon_log();
    EXPECT_EQ(json::parse(up.out)["deployment"]["max_in_flight"], 1) << up.out;
    EXPECT_EQ(deployment("qwen3-8b")["max_in_flight"], 1);

    // The served name is the catalog id, so the stand-in prices the steps with fit (it cannot for
    // another --id without simulate_args). Its own timing (fit's decode step for qwen3-8b on the
    // Spark): 300 tokens stream for seconds, while the test needs one ps and one request.
    auto first = send("qwen3-8b", 300, true);
    ASSERT_TRUE(eventually([&] { return deployment("qwen3-8b")["in_flight"] == 1; }))
        << daemon_log();
    net::Response second = chat("qwen3-8b");
    EXPECT_EQ(second.status, 429) << second.body;
    const json err = json::parse(second.body, nullptr, false);
    ASSERT_TRUE(err.contains("error")) << second.body;
    EXPECT_EQ(err["error"]["code"], "concurrency_limit");
    EXPECT_EQ(err["error"]["type"], "rate_limit_error");
    EXPECT_TRUE(err["error"]["message"].is_string());
    EXPECT_FALSE(net::header_value(second.headers, "retry-after").empty());
    EXPECT_EQ(deployment("qwen3-8b")["in_flight"], 1);  // the first was not disturbed

    auto streamed = first.get();
    ASSERT_TRUE(streamed) << streamed.error().message;
    EXPECT_EQ(streamed->status, 200);
    EXPECT_EQ(streamed->body.find("\"error\""), std::string::npos) << streamed->body;
    EXPECT_NE(streamed->body.find("data: [DONE]"), std::string::npos) << streamed->body;
    EXPECT_EQ(chat("qwen3-8b").status, 200);  // nothing in flight: admitted again

    net::ClientRequest get;
    get.port = port_;
    get.target = "/metrics";
    net::Client client;
    auto metrics = client.fetch(get);
    ASSERT_TRUE(metrics) << metrics.error().message;
    EXPECT_NE(
        metrics->body.find(R"(sparkctl_gateway_requests_total{model="qwen3-8b",status="429"} 1)"),
        std::string::npos)
        << metrics->body;
    EXPECT_NE(
        metrics->body.find(R"(sparkctl_gateway_requests_total{model="qwen3-8b",status="200"} 2)"),
        std::string::npos)
        << metrics->body;
    get.target = "/status";
    auto status = client.fetch(get);
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(json::parse(status->body)["deployments"][0]["max_in_flight"], 1) << status->body;

    // A changed limit for the same plan: applied without a restart of the engine.
    const auto pid = deployment("qwen3-8b")["pid"];
    auto again = box_.run(
        {"up", "qwen3-8b", "--engine", "llama.cpp", "--quant", "Q4_K_M", "--max-in-flight", "4"});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(deployment("qwen3-8b")["max_in_flight"], 4);
    EXPECT_EQ(deployment("qwen3-8b")["pid"], pid);

    // Stored with the deployment: a new daemon knows the limit.
    ASSERT_EQ(stop_daemon(SIGTERM), 0);
    start_daemon({"--listen", "127.0.0.1:0"});
    EXPECT_EQ(deployment("qwen3-8b")["max_in_flight"], 4);
}

// An id names one deployment: `up` refuses a new id that is another deployment's alias (the
// alias's requests would go to it: an exact id wins in routing).
TEST_F(GatewayE2e, UpRefusesAnIdThatIsAnAlias) {
    config(R"(
[[models]]
id = "chat"
model = "qwen3-8b"
aliases = ["qwen"]
)");
    start_daemon();
    auto r = box_.run({"up", "qwen3-8b", "--id", "qwen", "--engine", "llama.cpp"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("'qwen' is an alias of deployment 'chat'"), std::string::npos) << r.err;
    EXPECT_TRUE(deployment("qwen").empty());  // not created
}

TEST_F(GatewayE2e, ABadMaxInFlightIsExit2NamingTheFlag) {
    config("");
    for (const char* value : {"-1", "many", "1.5"}) {
        auto r = box_.run({"up", "qwen3-8b", "--max-in-flight", value});
        EXPECT_EQ(r.exit_code, 2) << value << ": " << r.err;
        EXPECT_NE(r.err.find("--max-in-flight"), std::string::npos) << value << ": " << r.err;
    }
}

TEST_F(GatewayE2e, OffLoopbackWithoutKeysServeRefusesToStart) {
    config("");
    auto r = box_.run({"serve", "--simulate", "--listen", "0.0.0.0:0"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("api_keys_file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sparkctl::test
