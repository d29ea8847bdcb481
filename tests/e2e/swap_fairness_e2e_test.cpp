// Swaps under alternating demand, end to end through `sparkctl serve --simulate --listen`: two
// deployments that cannot both be resident, two clients alternating between them. A swap is
// amortised (the deployment it brought in stays for its quantum, `swap_min_resident_s`), so the
// loads stay far below one per request and every request is answered 200 within its queue
// timeout; requests for a deployment being drained for a swap wait for the swap back instead of
// failing it or each other; a load whose requests all gave up is withdrawn, and the resident
// stays without demand. docs/dev/serve.md "Swaps under alternating demand".
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "e2e/gateway_daemon.h"

namespace sparkctl::test {
namespace {

using nlohmann::json;

class SwapFairnessE2e : public GatewayE2e {
  protected:
    double loads() {
        return metric("sparkctl_loads_total", {{"model", "big-a"}}) +
               metric("sparkctl_loads_total", {{"model", "big-b"}});
    }
};

TEST_F(SwapFairnessE2e, AlternatingClientsDoNotSwapOnEveryRequest) {
    config(two_big("fixed:5,1"));
    box_.env["SPARKCTL_SWAP_MIN_RESIDENT_S"] = "1";
    box_.env["SPARKCTL_QUEUE_TIMEOUT_S"] = "20";
    start_gateway();
    // Each client sends kRequests requests one after the other, 150 ms apart (its pace, not a
    // wait for state): A for big-a, B for big-b, at the same time.
    constexpr int kRequests = 8;
    auto client = [&](const std::string& model) {
        std::vector<int> statuses;
        for (int i = 0; i < kRequests; ++i) {
            auto r = send(model, 2, false).get();
            statuses.push_back(r ? r->status : -1);
            std::this_thread::sleep_for(std::chrono::milliseconds(150));
        }
        return statuses;
    };
    auto a = std::async(std::launch::async, client, "big-a");
    auto b = std::async(std::launch::async, client, "big-b");
    const std::vector<int> all_200(kRequests, 200);
    EXPECT_EQ(a.get(), all_200) << daemon_log();
    EXPECT_EQ(b.get(), all_200) << daemon_log();
    const double n = loads();
    // One load per request would be 2 x kRequests; each quantum serves several requests.
    EXPECT_GE(n, 2) << daemon_log();
    EXPECT_LE(n, kRequests) << daemon_log();
    std::printf("alternating clients: %d requests each, %.0f loads\n", kRequests, n);
    EXPECT_EQ(daemon_log().find("swap abandoned"), std::string::npos) << daemon_log();
}

TEST_F(SwapFairnessE2e, RequestsForADrainingDeploymentWaitForTheSwapBack) {
    // big-a streams 30 tokens 100 ms apart (about 3 s); big-b is asked for meanwhile, so big-a
    // drains for the swap; A keeps asking for big-a while it drains.
    config(two_big("fixed:5,100"));
    box_.env["SPARKCTL_SWAP_MIN_RESIDENT_S"] = "0.5";
    box_.env["SPARKCTL_QUEUE_TIMEOUT_S"] = "20";
    box_.env["SPARKCTL_DRAIN_TIMEOUT_S"] = "20";
    start_gateway();
    ASSERT_EQ(chat("big-a", 1).status, 200) << daemon_log();
    auto stream = send("big-a", 30, true);
    ASSERT_TRUE(eventually([&] { return deployment("big-a")["in_flight"] == 1; })) << daemon_log();
    auto b = send("big-b", 2, false);
    ASSERT_TRUE(eventually([&] { return deployment("big-a")["state"] == "draining"; }))
        << daemon_log();
    std::vector<std::future<base::Result<net::Response>>> more_a;
    for (int i = 0; i < 3; ++i) more_a.push_back(send("big-a", 2, false));
    // They wait in big-a's queue; they neither extend the drain nor start on big-a.
    ASSERT_TRUE(eventually([&] { return deployment("big-a")["queued"] == 3; })) << daemon_log();
    EXPECT_EQ(deployment("big-a")["in_flight"], 1);
    // ps says why: big-b's load waits for big-a's drain (up to drain_timeout_s), big-a's load
    // for big-b's, ahead of it in the queue.
    json waiting;
    EXPECT_TRUE(eventually([&] {
        waiting = deployment("big-b")["waiting"];
        return waiting.is_object();
    })) << daemon_log();
    EXPECT_EQ(waiting["reason"], "draining") << waiting;
    EXPECT_EQ(waiting["behind"], "big-a") << waiting;
    EXPECT_TRUE(waiting["until_s"].is_number() && waiting["until_s"] > 0 &&
                waiting["until_s"] <= 20)
        << waiting;
    EXPECT_TRUE(eventually([&] {
        waiting = deployment("big-a")["waiting"];
        return waiting.is_object();
    })) << daemon_log();
    EXPECT_EQ(waiting, json({{"reason", "queued"}, {"behind", "big-b"}, {"until_s", nullptr}}));
    auto table = box_.run({"ps"});
    EXPECT_NE(table.out.find("draining; waiting (after big-b)"), std::string::npos) << table.out;

    auto streamed = stream.get();
    ASSERT_TRUE(streamed) << streamed.error().message;
    EXPECT_NE(streamed->body.find("data: [DONE]"), std::string::npos) << streamed->body;
    auto swapped = b.get();
    ASSERT_TRUE(swapped) << swapped.error().message;
    EXPECT_EQ(swapped->status, 200) << swapped->body << daemon_log();
    for (auto& f : more_a) {
        auto r = f.get();
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->status, 200) << r->body << daemon_log();
    }
    // big-a, big-b, big-a again: one load per swap, not per request. (The count in /metrics is
    // the loop's snapshot, refreshed just after the answered load: polled.)
    EXPECT_TRUE(eventually([&] { return loads() == 3; })) << loads() << daemon_log();
    EXPECT_EQ(deployment("big-a")["state"], "ready");
    EXPECT_EQ(daemon_log().find("swap abandoned"), std::string::npos) << daemon_log();
}

TEST_F(SwapFairnessE2e, ALoadWhoseRequestsAllGaveUpIsWithdrawn) {
    // big-b's only request times out (1 s) while big-a serves its quantum (3 s): at the quantum's
    // end nobody waits for big-b, so big-a is not evicted for it.
    config(two_big("fixed:5,1"));
    box_.env["SPARKCTL_SWAP_MIN_RESIDENT_S"] = "3";
    box_.env["SPARKCTL_QUEUE_TIMEOUT_S"] = "1";
    start_gateway();
    ASSERT_EQ(chat("big-a", 1).status, 200) << daemon_log();
    const json a = deployment("big-a");
    net::Response gave_up = chat("big-b", 1);
    EXPECT_EQ(gave_up.status, 503) << gave_up.body;
    EXPECT_EQ(json::parse(gave_up.body)["error"]["code"], "queue_timeout") << gave_up.body;
    ASSERT_TRUE(eventually([&] {
        return daemon_log().find("big-b: no request waits for it any more") != std::string::npos;
    })) << daemon_log();
    EXPECT_EQ(deployment("big-a")["state"], "ready");
    EXPECT_EQ(deployment("big-a")["pid"], a["pid"]);
    EXPECT_EQ(loads(), 1) << daemon_log();
    EXPECT_EQ(metric("sparkctl_evictions_total", {{"model", "big-a"}}), 0);
    // The next request for big-b asks again, and the quantum is over: it swaps.
    EXPECT_EQ(chat("big-b", 1).status, 200) << daemon_log();
    EXPECT_TRUE(eventually([&] { return loads() == 2; })) << loads() << daemon_log();
}

TEST_F(SwapFairnessE2e, AWaitingLoadShowsWhatItWaitsFor) {
    // big-b's load waits out big-a's 3 s quantum: ps --json and the ps table say so while it
    // waits, and stop saying so once it has loaded.
    config(two_big("fixed:5,1"));
    box_.env["SPARKCTL_SWAP_MIN_RESIDENT_S"] = "3";
    box_.env["SPARKCTL_QUEUE_TIMEOUT_S"] = "20";
    start_gateway();
    ASSERT_EQ(chat("big-a", 1).status, 200) << daemon_log();
    EXPECT_TRUE(deployment("big-a")["waiting"].is_null());
    auto b = send("big-b", 1, false);
    json waiting;
    ASSERT_TRUE(eventually([&] {
        waiting = deployment("big-b")["waiting"];
        return waiting.is_object();
    })) << daemon_log();
    EXPECT_EQ(waiting["reason"], "quantum") << waiting;
    EXPECT_EQ(waiting["behind"], "big-a") << waiting;
    ASSERT_TRUE(waiting["until_s"].is_number()) << waiting;
    EXPECT_GT(waiting["until_s"].get<double>(), 0) << waiting;
    EXPECT_LE(waiting["until_s"].get<double>(), 3) << waiting;
    auto table = box_.run({"ps"});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    EXPECT_NE(table.out.find("waiting (big-a: "), std::string::npos) << table.out;

    auto swapped = b.get();
    ASSERT_TRUE(swapped) << swapped.error().message;
    EXPECT_EQ(swapped->status, 200) << swapped->body << daemon_log();
    EXPECT_TRUE(eventually([&] { return deployment("big-b")["waiting"].is_null(); }));
}

TEST_F(SwapFairnessE2e, ALoadBehindALoadingOneShowsIt) {
    // big-a takes 2 s to load; big-b, asked for meanwhile, waits for that load (no quantum).
    config(two_big("fixed:5,1", R"(, "--slow-start", "2")"));
    box_.env["SPARKCTL_SWAP_MIN_RESIDENT_S"] = "0";
    box_.env["SPARKCTL_QUEUE_TIMEOUT_S"] = "20";
    start_gateway();
    auto a = send("big-a", 1, false);
    ASSERT_TRUE(eventually([&] { return deployment("big-a")["state"] == "loading"; }))
        << daemon_log();
    auto b = send("big-b", 1, false);
    json waiting;
    ASSERT_TRUE(eventually([&] {
        waiting = deployment("big-b")["waiting"];
        return waiting.is_object();
    })) << daemon_log();
    EXPECT_EQ(waiting["reason"], "loading") << waiting;
    EXPECT_EQ(waiting["behind"], "big-a") << waiting;
    EXPECT_TRUE(waiting["until_s"].is_null()) << waiting;
    auto table = box_.run({"ps"});
    EXPECT_NE(table.out.find("waiting (big-a loading)"), std::string::npos) << table.out;
    for (auto* f : {&a, &b}) {
        auto r = f->get();
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->status, 200) << r->body << daemon_log();
    }
}

TEST_F(SwapFairnessE2e, WithoutDemandTheResidentStays) {
    // The quantum ending is no reason to swap: with nothing asked of big-b, big-a stays.
    config(two_big("fixed:5,1"));
    box_.env["SPARKCTL_SWAP_MIN_RESIDENT_S"] = "0.2";
    start_gateway();
    ASSERT_EQ(chat("big-a", 1).status, 200) << daemon_log();
    ASSERT_EQ(chat("big-b", 1).status, 200) << daemon_log();
    const json before = deployment("big-b");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // past the quantum
    EXPECT_EQ(chat("big-b", 1).status, 200);
    const json after = deployment("big-b");
    EXPECT_EQ(after["state"], "ready");
    EXPECT_EQ(after["pid"], before["pid"]);
    EXPECT_TRUE(eventually([&] { return loads() == 2; })) << loads() << daemon_log();
}

TEST_F(SwapFairnessE2e, ABadQuantumIsExit2NamingTheKey) {
    config("");
    for (const char* value : {"-1", "soon", "86401"}) {
        box_.env["SPARKCTL_SWAP_MIN_RESIDENT_S"] = value;
        auto r = box_.run({"serve", "--simulate"});
        EXPECT_EQ(r.exit_code, 2) << value << ": " << r.err;
        EXPECT_NE(r.err.find("swap_min_resident_s"), std::string::npos) << value << ": " << r.err;
    }
}

}  // namespace
}  // namespace sparkctl::test
