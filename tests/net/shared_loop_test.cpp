// net::Client on a net::Server's loops (a shared-loop client, as the gateway uses): requests
// started on a server io thread stay on it, requests from other threads still run, flow control
// and cancel work there, and the client may go before the server. Waits are on futures with
// generous deadlines.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "net/client.h"
#include "net/server.h"

namespace sparkctl::net {
namespace {

using namespace std::chrono_literals;
constexpr auto kDeadline = 20s;

ClientRequest to(const Server& server, std::string target) {
    ClientRequest r;
    r.port = server.port();
    r.target = std::move(target);
    return r;
}

void echo(const Request& req, Responder r) { r.respond(Response{200, {}, "echo " + req.target}); }

// Waits up to kDeadline for `pred`, checking every millisecond.
template <typename Pred>
bool eventually(Pred pred) {
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

// An upstream whose handler hands its Responder to the test.
struct HeldUpstream {
    std::promise<Responder> responder;
    Server server{{}, [this](const Request& req, Responder r) {
                      if (req.target == "/ping") return r.respond(Response{200, {}, "pong"});
                      responder.set_value(r);
                  }};
};

TEST(SharedLoopClient, ARelayStartedInAHandlerRunsOnTheHandlersThread) {
    Server upstream({}, echo);
    ASSERT_TRUE(upstream.start().ok());
    ServerOptions po;
    po.io_threads = 2;
    std::unique_ptr<Client> client;
    // The proxy answers "same" when every callback of its upstream request ran on the thread
    // that ran the handler, and the upstream's body after it.
    Server proxy(po, [&](const Request& req, Responder rs) {
        const auto handler_thread = std::this_thread::get_id();
        auto same = std::make_shared<bool>(true);
        auto body = std::make_shared<std::string>();
        StreamCallbacks cb;
        cb.on_headers = [=](int, const Headers&) {
            *same = *same && std::this_thread::get_id() == handler_thread;
        };
        cb.on_body = [=](std::string_view d, std::chrono::steady_clock::time_point) {
            *same = *same && std::this_thread::get_id() == handler_thread;
            body->append(d);
        };
        cb.on_done = [=](base::Result<void> r) {
            *same = *same && std::this_thread::get_id() == handler_thread;
            rs.respond(Response{r.ok() ? 200 : 502, {}, (*same ? "same " : "other ") + *body});
        };
        client->request(to(upstream, req.target), std::move(cb));
    });
    client = std::make_unique<Client>(ClientOptions{}, proxy);
    ASSERT_TRUE(proxy.start().ok());
    Client outside;
    for (int i = 0; i < 8; ++i) {
        ClientRequest r = to(proxy, "/" + std::to_string(i));
        r.headers = {{"Connection", "close"}};  // a new connection each time: both loops serve
        auto got = outside.fetch(r);
        ASSERT_TRUE(got.ok()) << got.error().message;
        EXPECT_EQ(got->status, 200);
        EXPECT_EQ(got->body, "same echo /" + std::to_string(i));
    }
    EXPECT_EQ(proxy.connections_accepted(), 8u);
    client.reset();  // before the proxy's loops
}

TEST(SharedLoopClient, ARequestFromAnotherThreadRunsOnAServerLoop) {
    Server upstream({}, echo);
    ASSERT_TRUE(upstream.start().ok());
    ServerOptions po;
    po.io_threads = 2;
    Server proxy(po, echo);
    Client client(ClientOptions{}, proxy);
    ASSERT_TRUE(proxy.start().ok());
    for (int i = 0; i < 4; ++i) {  // round robin: both loops
        std::promise<std::thread::id> where;
        StreamCallbacks cb;
        cb.on_done = [&](base::Result<void> r) {
            EXPECT_TRUE(r.ok()) << r.error().message;
            where.set_value(std::this_thread::get_id());
        };
        client.request(to(upstream, "/x"), std::move(cb));
        auto f = where.get_future();
        ASSERT_EQ(f.wait_for(kDeadline), std::future_status::ready);
        EXPECT_NE(f.get(), std::this_thread::get_id());
    }
    auto r = client.fetch(to(upstream, "/sync"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body, "echo /sync");
}

TEST(SharedLoopClient, PauseResumeAndCancelOnTheServersLoop) {
    const std::string big(4 << 20, 'p');  // far more than one read: the rest waits in the socket
    HeldUpstream upstream;
    ASSERT_TRUE(upstream.server.start().ok());
    Server proxy({}, echo);  // one loop: the ping below runs on the paused request's loop
    Client client(ClientOptions{}, proxy);
    ASSERT_TRUE(proxy.start().ok());

    std::promise<RequestHandle> handle;
    auto handle_f = handle.get_future().share();
    std::atomic<int> pieces{0};
    std::size_t bytes = 0;
    std::promise<void> first;
    std::promise<base::Result<void>> done;
    StreamCallbacks cb;
    cb.on_body = [&](std::string_view d, std::chrono::steady_clock::time_point) {
        if (pieces++ == 0) {
            handle_f.get().pause();  // inside on_body: at once
            first.set_value();
        }
        bytes += d.size();
    };
    cb.on_done = [&](base::Result<void> r) { done.set_value(std::move(r)); };
    handle.set_value(client.request(to(upstream.server, "/big"), std::move(cb)));
    auto responder = upstream.responder.get_future();
    ASSERT_EQ(responder.wait_for(kDeadline), std::future_status::ready);
    responder.get().respond(Response{200, {}, big});
    ASSERT_EQ(first.get_future().wait_for(kDeadline), std::future_status::ready);
    auto ping = client.fetch(to(upstream.server, "/ping"));
    ASSERT_TRUE(ping.ok()) << ping.error().message;
    EXPECT_EQ(pieces.load(), 1);  // the paused request read nothing meanwhile
    handle_f.get().resume();
    auto fut = done.get_future();
    ASSERT_EQ(fut.wait_for(kDeadline), std::future_status::ready);
    auto result = fut.get();
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(bytes, big.size());

    // Cancel from this thread while the upstream has not answered.
    HeldUpstream silent;
    ASSERT_TRUE(silent.server.start().ok());
    std::promise<base::Result<void>> cancelled;
    StreamCallbacks cb2;
    cb2.on_done = [&](base::Result<void> r) { cancelled.set_value(std::move(r)); };
    RequestHandle h = client.request(to(silent.server, "/wait"), std::move(cb2));
    auto held = silent.responder.get_future();
    ASSERT_EQ(held.wait_for(kDeadline), std::future_status::ready);
    h.cancel();
    auto c = cancelled.get_future();
    ASSERT_EQ(c.wait_for(kDeadline), std::future_status::ready);
    auto cr = c.get();
    ASSERT_FALSE(cr.ok());
    EXPECT_NE(cr.error().message.find("cancelled"), std::string::npos);
}

TEST(SharedLoopClient, TheClientMayGoBeforeTheServer) {
    HeldUpstream upstream;
    ASSERT_TRUE(upstream.server.start().ok());
    Server proxy({}, echo);
    ASSERT_TRUE(proxy.start().ok());
    auto client = std::make_unique<Client>(ClientOptions{}, proxy);
    // A request in flight when the client goes: it still ends, with on_done...
    std::promise<base::Result<void>> done;
    std::string body;
    StreamCallbacks cb;
    cb.on_body = [&](std::string_view d, std::chrono::steady_clock::time_point) { body += d; };
    cb.on_done = [&](base::Result<void> res) { done.set_value(std::move(res)); };
    client->request(to(upstream.server, "/held"), std::move(cb));
    auto responder = upstream.responder.get_future();
    ASSERT_EQ(responder.wait_for(kDeadline), std::future_status::ready);
    // ...and an idle pooled connection (the first one is busy: this one is new).
    auto r = client->fetch(to(upstream.server, "/ping"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(upstream.server.connection_count(), 2u);
    client.reset();
    responder.get().respond(Response{200, {}, "late"});
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(kDeadline), std::future_status::ready);
    auto res = f.get();
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(body, "late");
    // Its connections closed (the idle one with the client, the other when it ended): none
    // went back to a pool that is gone.
    EXPECT_TRUE(eventually([&] { return upstream.server.connection_count() == 0; }));
    proxy.stop(0);
}

}  // namespace
}  // namespace sparkctl::net
