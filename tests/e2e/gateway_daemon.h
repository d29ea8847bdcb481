// The fixture of the end-to-end tests through the gateway (gateway_e2e_test.cpp,
// swap_fairness_e2e_test.cpp, gateway_apis_e2e_test.cpp): serve_daemon.h's daemon with `--listen
// 127.0.0.1:0`, requests over loopback with net::Client, one sample of /metrics.
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <string>

#include "e2e/serve_daemon.h"
#include "net/client.h"
#include "net/prometheus.h"

namespace sparkctl::test {

// Two 70B deployments on dgx-spark (budget 103 GiB): each fits alone, not both together. The
// stand-ins stream a token every ITL ms (`--timing fixed:TTFT,ITL`); big-b's is fixed:5,1.
// `more_args_a`: further stand-in arguments for big-a (TOML array items, each with its comma);
// `keys_a`: further `[[models]]` keys of big-a (TOML lines).
inline std::string two_big(const std::string& timing_a, const std::string& more_args_a = "",
                           const std::string& keys_a = "") {
    return R"(
[[models]]
id = "big-a"
model = "llama-3.1-70b"
engine = "llama.cpp"
quant = "Q8_0"
simulate_args = ["--timing", ")" +
           timing_a + "\"" + more_args_a + "]\n" + keys_a + R"(
[[models]]
id = "big-b"
model = "llama-3.3-70b"
engine = "llama.cpp"
quant = "Q6_K"
simulate_args = ["--timing", "fixed:5,1"]
)";
}

class GatewayE2e : public ServeDaemonTest {
  protected:
    // Starts the daemon with the gateway on a free port and reads the port from its line.
    void start_gateway() {
        start_daemon({"--listen", "127.0.0.1:0"});
        const std::string marker = "sparkctl serve: listening on http://127.0.0.1:";
        std::string log;
        ASSERT_TRUE(eventually([&] {
            log = daemon_log();
            return log.find(marker) != std::string::npos;
        })) << log;
        port_ = static_cast<std::uint16_t>(std::stoi(log.substr(log.find(marker) + marker.size())));
    }

    net::ClientRequest request(const std::string& model, int max_tokens, bool stream) const {
        net::ClientRequest r;
        r.port = port_;
        r.method = "POST";
        r.target = "/v1/chat/completions";
        r.headers = {{"Content-Type", "application/json"}};
        r.body = nlohmann::json{
            {"model", model},
            {"messages", {{{"role", "user"}, {"content", "hello"}}}},
            {"max_tokens", max_tokens},
            {"stream",
             stream}}.dump();
        r.timeout_ms = 60'000;
        return r;
    }

    // One request on its own client and thread: the whole response.
    std::future<base::Result<net::Response>> send(const std::string& model, int max_tokens,
                                                  bool stream) const {
        net::ClientRequest r = request(model, max_tokens, stream);
        return std::async(std::launch::async, [r]() mutable {
            net::Client client;
            return client.fetch(std::move(r));
        });
    }

    net::Response chat(const std::string& model, int max_tokens = 3, bool stream = false) {
        auto r = send(model, max_tokens, stream).get();
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? *r : net::Response{};
    }

    // One sample of the gateway's /metrics (-1 when it is not there).
    double metric(const std::string& name, const net::prometheus::Labels& labels = {}) const {
        net::ClientRequest get;
        get.port = port_;
        get.target = "/metrics";
        net::Client client;
        auto page = client.fetch(get);
        if (!page) return -1;
        auto samples = net::prometheus::parse_text(page->body, "gateway /metrics");
        if (!samples) return -1;
        return net::prometheus::find_value(*samples, name, labels).value_or(-1);
    }

    std::uint16_t port_ = 0;
};

}  // namespace sparkctl::test
