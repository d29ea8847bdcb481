// The gateway under hostile clients, over raw sockets: 10,000 malformed or hostile requests
// (bad JSON, huge headers, bad chunking, garbage request lines, oversized bodies, deep nesting,
// unknown fields) are each answered or closed, and the gateway still serves; slow clients
// trickling a header (slowloris) are closed by the idle time-out while others are served; start()
// raises the open-files limit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "net/client.h"
#include "serve/gateway.h"

namespace sparkctl::serve {
namespace {

class NoDeployments : public Registry {
  public:
    std::vector<DeploymentView> deployments() override {
        DeploymentView v;
        v.id = "lazy";
        v.engine = "vllm";
        v.state = "stopped";
        return {v};
    }
    MemoryView memory() override { return {}; }
    void ensure_ready(const std::string&,
                      std::function<void(base::Result<Upstream>)> done) override {
        done(base::make_error(base::Errc::io, "no engines in this test"));
    }
    bool request_started(const std::string&) override { return true; }
    void request_finished(const std::string&) override {}
    nlohmann::json status() override { return nlohmann::json::object(); }
    std::vector<std::string> log_tail(const std::string&, std::size_t) override { return {}; }
};

int connect_to(std::uint16_t port, int timeout_ms) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Sends `bytes`, then reads until the server closes. The status of the first answer ("" when
// closed without one), or "timeout" when the server neither answered nor closed in time.
std::string exchange(std::uint16_t port, const std::string& bytes) {
    const int fd = connect_to(port, 5000);
    if (fd < 0) return "connect failed";
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;  // the server may close before reading everything
        sent += static_cast<std::size_t>(n);
    }
    shutdown(fd, SHUT_WR);
    std::string in;
    char buf[4096];
    std::string result;
    for (;;) {
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) break;
        if (n < 0) {
            result = "timeout";
            break;
        }
        in.append(buf, static_cast<std::size_t>(n));
    }
    close(fd);
    if (!result.empty()) return result;
    return in.rfind("HTTP/1.1 ", 0) == 0 ? in.substr(9, 3) : "";
}

std::string post(const std::string& target, const std::string& body,
                 const std::string& extra_headers = "") {
    return "POST " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra_headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The hostile inputs, by kind; each kind's answers allowed ("" = closed without an answer).
struct Hostile {
    std::string name;
    std::string bytes;
    std::vector<std::string> allowed;
};

std::vector<Hostile> hostile_requests() {
    const std::string deep(5000, '[');
    return {
        {"bad json", post("/v1/chat/completions", "{\"model\": \"lazy\", "), {"400"}},
        {"not an object", post("/v1/completions", "[1,2,3]"), {"400"}},
        {"deep nesting", post("/v1/chat/completions", deep), {"400"}},
        {"unknown model and fields",
         post("/v1/chat/completions", R"({"model":"nope","x-unknown":{"a":[1]},"stream":7})"),
         {"404"}},
        {"model not a string", post("/v1/embeddings", R"({"model":["lazy"]})"), {"400"}},
        {"load fails", post("/v1/chat/completions", R"({"model":"lazy","messages":[]})"), {"503"}},
        {"huge header",
         "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n",
         {"431", ""}},
        {"bad chunking",
         "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
         "abc\r\n0\r\n\r\n",
         {"400", ""}},
        {"garbage request line", "\x01\x02 NOT-HTTP \xff\r\n\r\n", {"400", ""}},
        {"body over the limit",
         "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n{",
         {"413", ""}},
        {"no body", post("/v1/chat/completions", ""), {"400"}},
        {"unknown path", post("/v2/anything", "{}"), {"404"}},
        {"binary body", post("/v1/responses", std::string("\0\xff\xfe{\"model", 9)), {"400"}},
    };
}

TEST(GatewayHostile, TenThousandMalformedRequestsAreEachAnsweredOrClosed) {
    NoDeployments reg;
    GatewayOptions opt;
    opt.max_body_bytes = 1024 * 1024;
    auto g = Gateway::create(opt, reg);
    ASSERT_TRUE(g.ok());
    ASSERT_TRUE((*g)->start().ok());
    const std::uint16_t port = (*g)->port();
    const std::vector<Hostile> kinds = hostile_requests();
    std::map<std::string, int> bad;  // kind -> unexpected answers
    for (int i = 0; i < 10'000; ++i) {
        const Hostile& h = kinds[static_cast<std::size_t>(i) % kinds.size()];
        const std::string got = exchange(port, h.bytes);
        bool ok = false;
        for (const std::string& a : h.allowed) ok = ok || got == a;
        if (!ok) {
            ++bad[h.name + " -> '" + got + "'"];
        }
    }
    EXPECT_TRUE(bad.empty()) << bad.size() << " kinds misbehaved, first: " << bad.begin()->first
                             << " x" << bad.begin()->second;
    net::Client c;
    net::ClientRequest health;
    health.port = port;
    health.target = "/health";
    auto r = c.fetch(health);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
}

TEST(GatewayHostile, SlowClientsAreClosedAndOthersServed) {
    NoDeployments reg;
    GatewayOptions opt;
    opt.idle_timeout_ms = 300;
    auto g = Gateway::create(opt, reg);
    ASSERT_TRUE(g.ok());
    ASSERT_TRUE((*g)->start().ok());
    const std::uint16_t port = (*g)->port();
    std::vector<int> slow;
    for (int i = 0; i < 50; ++i) {
        const int fd = connect_to(port, 10'000);
        ASSERT_GE(fd, 0);
        const std::string part = "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        ASSERT_GT(send(fd, part.data(), part.size(), MSG_NOSIGNAL), 0);
        slow.push_back(fd);
    }
    // Meanwhile a normal client is served.
    EXPECT_EQ(exchange(port, "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
              "200");
    // Each slow one is closed by the idle time-out (well before the 10 s receive time-out).
    const auto t0 = std::chrono::steady_clock::now();
    for (int fd : slow) {
        char c = 0;
        EXPECT_LE(recv(fd, &c, 1, 0), 0);
        close(fd);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(9));
}

// start() raises the open-files soft limit to the hard one (one descriptor per connection and
// per upstream request: 1000 streams need 2000 and more).
TEST(GatewayLimitsTest, StartRaisesTheOpenFilesLimit) {
    rlimit lim{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
    if (lim.rlim_cur == lim.rlim_max && lim.rlim_max > 64) {  // lower it first, when allowed
        lim.rlim_cur = 64;
        ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
    }
    NoDeployments reg;
    auto gw = Gateway::create({}, reg);
    ASSERT_TRUE(gw.ok()) << gw.error().message;
    ASSERT_TRUE((*gw)->start().ok());
    rlimit after{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
    EXPECT_EQ(after.rlim_cur, after.rlim_max);
    (*gw)->stop(0);
}

}  // namespace
}  // namespace sparkctl::serve
