// net::Server and net::Client together on 127.0.0.1, port 0. Waits are on futures with generous
// deadlines; nothing sleeps to wait for state.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "net/client.h"
#include "net/server.h"
#include "net/sse.h"

namespace sparkctl::net {
namespace {

using namespace std::chrono_literals;
constexpr auto kDeadline = 20s;

ClientRequest get(const Server& server, std::string target) {
    ClientRequest r;
    r.port = server.port();
    r.target = std::move(target);
    return r;
}

// A blocking POSIX socket for what the client will not do (partial requests, idling).
class RawSocket {
  public:
    explicit RawSocket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        timeval tv{20, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~RawSocket() { ::close(fd_); }
    bool connected() const { return connected_; }
    void send(std::string_view s) {
        ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
    }
    // Reads until `want` appears, EOF (returns what came) or the receive timeout.
    std::string read_until(std::string_view want) {
        std::string got;
        char buf[4096];
        while (got.find(want) == std::string::npos) {
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                eof_ = n == 0;
                break;
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got;
    }
    bool eof() const { return eof_; }

  private:
    int fd_;
    bool connected_ = false;
    bool eof_ = false;
};

void echo(const Request& req, Responder r) {
    Response out;
    out.headers = {{"Content-Type", "text/plain"}, {"X-Method", req.method}};
    out.body = req.method + " " + req.target + " " + req.body;
    if (req.target == "/host") {  // every Host header the server got, joined
        for (const auto& [name, value] : req.headers) {
            if (name == "Host") out.body += value;
        }
    }
    r.respond(std::move(out));
}

TEST(Http, WholeResponsesGetAndPost) {
    Server server({}, echo);
    ASSERT_TRUE(server.start().ok());
    ASSERT_NE(server.port(), 0);
    Client client;
    auto r = client.fetch(get(server, "/health?x=1"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "GET /health?x=1 ");
    EXPECT_EQ(header_value(r->headers, "x-method"), "GET");
    EXPECT_EQ(header_value(r->headers, "content-length"), "16");

    ClientRequest with_host = get(server, "/host");
    with_host.headers = {{"Host", "engine.local"}};
    r = client.fetch(with_host);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body, "GET /host engine.local");  // one Host header: the caller's

    ClientRequest post = get(server, "/v1/completions");
    post.method = "POST";
    post.body = std::string(100'000, 'b');
    r = client.fetch(post);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body, "POST /v1/completions " + post.body);
}

TEST(Http, KeepAliveReusesOneConnection) {
    Server server({}, echo);
    ASSERT_TRUE(server.start().ok());
    Client client;
    for (int i = 0; i < 20; ++i) {
        auto r = client.fetch(get(server, "/" + std::to_string(i)));
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_EQ(r->body, "GET /" + std::to_string(i) + " ");
    }
    EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST(Http, StaleKeepAliveConnectionIsRetriedOnce) {
    ServerOptions options;
    options.idle_timeout_ms = 50;  // the server drops the idle connection quickly
    Server server(options, echo);
    ASSERT_TRUE(server.start().ok());
    Client client;
    ASSERT_TRUE(client.fetch(get(server, "/a")).ok());
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (server.connection_count() != 0 && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(5ms);  // polling the state, with a deadline
    }
    ASSERT_EQ(server.connection_count(), 0u);
    auto r = client.fetch(get(server, "/b"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body, "GET /b ");
    EXPECT_EQ(server.connections_accepted(), 2u);
}

// The stand-in engine's shape: headers, then one SSE event per timer tick, then the end.
void sse_ticker(const Request&, Responder r) {
    r.start_stream(200, {{"Content-Type", "text/event-stream"}});
    auto tick = std::make_shared<std::function<void(int)>>();
    *tick = [r, tick](int i) {
        if (i == 5) {
            r.write(sse_event("[DONE]"));
            r.end();
            *tick = nullptr;  // break the self-reference
            return;
        }
        r.write(sse_event("token " + std::to_string(i)));
        r.after(2, [tick, i] {
            if (*tick) (*tick)(i + 1);
        });
    };
    (*tick)(0);
}

TEST(Http, StreamsSseEventsWithOrderedTimestamps) {
    Server server({}, sse_ticker);
    ASSERT_TRUE(server.start().ok());
    Client client;
    struct Seen {
        std::string data;
        std::chrono::steady_clock::time_point at;
    };
    std::vector<Seen> seen;
    SseParser parser;
    int status = 0;
    std::string content_type;
    std::promise<base::Result<void>> done;
    StreamCallbacks cb;
    cb.on_headers = [&](int s, const Headers& h) {
        status = s;
        content_type = header_value(h, "content-type");
    };
    cb.on_body = [&](std::string_view data, std::chrono::steady_clock::time_point at) {
        auto r = parser.feed(data, [&](const SseEvent& e) { seen.push_back({e.data, at}); });
        EXPECT_TRUE(r.ok());
    };
    cb.on_done = [&](base::Result<void> r) { done.set_value(std::move(r)); };
    client.request(get(server, "/v1/chat/completions"), std::move(cb));
    auto fut = done.get_future();
    ASSERT_EQ(fut.wait_for(kDeadline), std::future_status::ready);
    auto result = fut.get();
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(status, 200);
    EXPECT_EQ(content_type, "text/event-stream");
    ASSERT_EQ(seen.size(), 6u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(seen[i].data, "token " + std::to_string(i));
    EXPECT_EQ(seen[5].data, "[DONE]");
    for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_LE(seen[i - 1].at, seen[i].at);
    // The connection goes back to the pool after a streamed response too.
    ASSERT_TRUE(client.fetch(get(server, "/again")).ok());
    EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST(Http, ClientDisconnectMidStreamIsNoticedAndCancelReported) {
    std::promise<void> noticed;
    std::atomic<bool> late_write_failed{false};
    Server server({}, [&](const Request&, Responder r) {
        r.start_stream(200, {{"Content-Type", "text/event-stream"}});
        r.write(sse_event("first"));
        r.on_disconnect([&noticed, r, &late_write_failed] {
            EXPECT_TRUE(r.disconnected());
            r.write("late", [&late_write_failed](bool ok) { late_write_failed = !ok; });
            noticed.set_value();
        });
        // Never ends on its own: only the disconnect finishes this exchange.
    });
    ASSERT_TRUE(server.start().ok());
    Client client;
    std::promise<base::Result<void>> done;
    auto handle = std::make_shared<RequestHandle>();
    std::promise<void> got_first;
    StreamCallbacks cb;
    cb.on_body = [&](std::string_view, std::chrono::steady_clock::time_point) {
        got_first.set_value();
    };
    cb.on_done = [&](base::Result<void> r) { done.set_value(std::move(r)); };
    *handle = client.request(get(server, "/stream"), std::move(cb));
    ASSERT_EQ(got_first.get_future().wait_for(kDeadline), std::future_status::ready);
    handle->cancel();
    auto fut = done.get_future();
    ASSERT_EQ(fut.wait_for(kDeadline), std::future_status::ready);
    auto result = fut.get();
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.error().message.find("cancelled"), std::string::npos)
        << result.error().message;
    ASSERT_EQ(noticed.get_future().wait_for(kDeadline), std::future_status::ready);
    EXPECT_TRUE(late_write_failed);
}

TEST(Http, HeadGetsTheLengthWithoutTheBody) {
    Server server({}, echo);
    ASSERT_TRUE(server.start().ok());
    Client client;
    ClientRequest head = get(server, "/h");
    head.method = "HEAD";
    auto r = client.fetch(head);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body, "");
    EXPECT_EQ(header_value(r->headers, "content-length"), "8");  // "HEAD /h "
    r = client.fetch(get(server, "/after-head"));                // the connection is still in step
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body, "GET /after-head ");
    EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST(Http, ExpectContinueIsAnswered) {
    Server server({}, echo);
    ASSERT_TRUE(server.start().ok());
    RawSocket s(server.port());
    ASSERT_TRUE(s.connected());
    s.send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(s.read_until("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
    s.send("hello");
    EXPECT_NE(s.read_until("POST /p hello").find("POST /p hello"), std::string::npos);
}

TEST(Http, ResponderWorksFromAnotherThread) {
    std::mutex mutex;
    std::condition_variable ready;
    std::optional<Responder> pending;
    Server server({}, [&](const Request&, Responder r) {
        std::lock_guard lock(mutex);
        pending = std::move(r);
        ready.notify_one();
    });
    ASSERT_TRUE(server.start().ok());
    std::thread worker([&] {
        std::unique_lock lock(mutex);
        if (!ready.wait_for(lock, kDeadline, [&] { return pending.has_value(); })) return;
        pending->start_stream(200, {});
        pending->write("from ");
        pending->write("worker");
        pending->end();
        pending.reset();
    });
    Client client;
    auto r = client.fetch(get(server, "/"));
    worker.join();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body, "from worker");
}

TEST(Http, QueuedBytesAndWriteCallbacksTrackTheSocket) {
    constexpr int kChunks = 16;
    constexpr std::size_t kChunk = 128 * 1024;
    std::size_t queued_after_writes = 0;
    std::size_t queued_at_last_callback = 1;
    std::vector<int> order;
    std::promise<void> last_done;  // the server's callbacks may run after the client has it all
    Server server({}, [&](const Request&, Responder r) {
        r.start_stream(200, {});
        for (int i = 0; i < kChunks; ++i) {
            r.write(std::string(kChunk, 'x'), [&, r, i](bool ok) {
                EXPECT_TRUE(ok);
                order.push_back(i);
                if (i == kChunks - 1) {
                    queued_at_last_callback = r.queued_bytes();
                    last_done.set_value();
                }
            });
        }
        // Nothing can have reached the socket yet: completions run after this handler returns.
        queued_after_writes = r.queued_bytes();
        r.end();
    });
    ASSERT_TRUE(server.start().ok());
    Client client;
    auto r = client.fetch(get(server, "/big"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body.size(), kChunks * kChunk);
    ASSERT_EQ(last_done.get_future().wait_for(kDeadline), std::future_status::ready);
    EXPECT_GE(queued_after_writes, kChunks * kChunk);
    EXPECT_EQ(queued_at_last_callback, 0u);
    ASSERT_EQ(order.size(), static_cast<std::size_t>(kChunks));
    for (int i = 0; i < kChunks; ++i) EXPECT_EQ(order[i], i);
}

// A request handle that on_body may read: published under a lock before the server answers
// (the server holds its answer until release()).
struct HeldRequest {
    std::mutex mutex;
    RequestHandle handle;
    std::promise<Responder> responder;

    RequestHandle get() {
        std::lock_guard lock(mutex);
        return handle;
    }
    void publish(RequestHandle h) {
        std::lock_guard lock(mutex);
        handle = std::move(h);
    }
};

TEST(Http, PausedClientReadsNothingUntilResumed) {
    const std::string big(4 << 20, 'p');  // far more than one read: the rest waits in the socket
    HeldRequest held;
    Server server({}, [&held](const Request& req, Responder r) {
        if (req.target == "/ping") return r.respond(Response{200, {}, "pong"});
        held.responder.set_value(r);
    });
    ASSERT_TRUE(server.start().ok());
    Client client;  // one io thread: the ping below runs on the paused request's loop
    std::atomic<int> pieces{0};
    std::size_t bytes = 0;
    std::promise<void> first;
    std::promise<base::Result<void>> done;
    StreamCallbacks cb;
    cb.on_body = [&](std::string_view d, std::chrono::steady_clock::time_point) {
        if (pieces++ == 0) {
            held.get().pause();
            first.set_value();
        }
        bytes += d.size();
    };
    cb.on_done = [&](base::Result<void> r) { done.set_value(std::move(r)); };
    held.publish(client.request(get(server, "/big"), std::move(cb)));
    auto responder = held.responder.get_future();
    ASSERT_EQ(responder.wait_for(kDeadline), std::future_status::ready);
    responder.get().respond(Response{200, {}, big});
    ASSERT_EQ(first.get_future().wait_for(kDeadline), std::future_status::ready);
    // Another exchange completes on the same loop; the paused one must not have read meanwhile.
    auto ping = client.fetch(get(server, "/ping"));
    ASSERT_TRUE(ping.ok()) << ping.error().message;
    EXPECT_EQ(pieces.load(), 1);
    held.get().resume();
    auto fut = done.get_future();
    ASSERT_EQ(fut.wait_for(kDeadline), std::future_status::ready);
    auto result = fut.get();
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(bytes, big.size());
    EXPECT_GT(pieces.load(), 1);
}

TEST(Http, CancelWhilePausedReportsCancelled) {
    HeldRequest held;
    Server server({}, [&held](const Request&, Responder r) { held.responder.set_value(r); });
    ASSERT_TRUE(server.start().ok());
    Client client;
    std::promise<base::Result<void>> done;
    StreamCallbacks cb;
    cb.on_body = [&held](std::string_view, std::chrono::steady_clock::time_point) {
        const RequestHandle h = held.get();
        h.pause();
        h.cancel();  // from inside on_body: the request is paused, nothing is pending
    };
    cb.on_done = [&](base::Result<void> r) { done.set_value(std::move(r)); };
    held.publish(client.request(get(server, "/"), std::move(cb)));
    auto responder = held.responder.get_future();
    ASSERT_EQ(responder.wait_for(kDeadline), std::future_status::ready);
    responder.get().respond(Response{200, {}, std::string(4 << 20, 'c')});
    auto fut = done.get_future();
    ASSERT_EQ(fut.wait_for(kDeadline), std::future_status::ready);
    auto result = fut.get();
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.error().message.find("cancelled"), std::string::npos);
}

TEST(Http, OversizedHeaderGets431AndBodyGets413) {
    ServerOptions options;
    options.max_header_bytes = 1024;
    options.max_body_bytes = 4096;
    std::atomic<int> handled{0};
    Server server(options, [&](const Request& req, Responder r) {
        ++handled;
        echo(req, std::move(r));
    });
    ASSERT_TRUE(server.start().ok());
    Client client;
    ClientRequest big_header = get(server, "/");
    big_header.headers = {{"X-Big", std::string(2000, 'h')}};
    auto r = client.fetch(big_header);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 431);
    EXPECT_EQ(header_value(r->headers, "connection"), "close");

    ClientRequest big_body = get(server, "/");
    big_body.method = "POST";
    big_body.body = std::string(1 << 20, 'b');
    r = client.fetch(big_body);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 413);

    EXPECT_EQ(handled.load(), 0);
    r = client.fetch(get(server, "/still-serving"));  // no crash, next clients are served
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200);
}

TEST(Http, MalformedRequestGets400) {
    Server server({}, echo);
    ASSERT_TRUE(server.start().ok());
    RawSocket s(server.port());
    ASSERT_TRUE(s.connected());
    s.send("GET / HTTP/9.9\r\n\r\n");
    EXPECT_EQ(s.read_until("\r\n\r\n").substr(0, 12), "HTTP/1.1 400");
}

TEST(Http, SlowClientIsClosedAfterIdleTimeout) {
    ServerOptions options;
    options.idle_timeout_ms = 100;
    Server server(options, echo);
    ASSERT_TRUE(server.start().ok());
    RawSocket s(server.port());
    ASSERT_TRUE(s.connected());
    s.send("GET /slow HTTP/1.1\r\nHost: x\r\n");  // never finishes the header
    const std::string got = s.read_until("never");
    EXPECT_TRUE(s.eof());  // the server closed (a receive timeout would leave eof false)
    EXPECT_EQ(got, "");
}

TEST(Http, ConnectionsOverTheLimitAreClosed) {
    ServerOptions options;
    options.max_connections = 1;
    Server server(options, echo);
    ASSERT_TRUE(server.start().ok());
    RawSocket first(server.port());
    first.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(first.read_until("GET / ").find("200 OK"), std::string::npos);
    RawSocket second(server.port());
    ASSERT_TRUE(second.connected());  // the kernel completes it; the server closes it
    EXPECT_EQ(second.read_until("HTTP"), "");
    EXPECT_TRUE(second.eof());
}

TEST(Http, HandlerExceptionBecomes500) {
    Server server({}, [](const Request&, Responder) { throw std::runtime_error("boom"); });
    ASSERT_TRUE(server.start().ok());
    Client client;
    auto r = client.fetch(get(server, "/"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 500);
}

TEST(Http, ClientDeadline) {
    Server server({}, [](const Request&, Responder) {});  // never answers
    ASSERT_TRUE(server.start().ok());
    Client client;
    ClientRequest req = get(server, "/");
    req.timeout_ms = 100;
    auto r = client.fetch(req);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::io);
    EXPECT_NE(r.error().message.find("timed out after 100 ms"), std::string::npos)
        << r.error().message;
}

// The deadline also ends a body that stops arriving: what came is delivered, then the timeout.
TEST(Http, ClientDeadlineMidBody) {
    Server server({}, [](const Request&, Responder r) {
        r.start_stream(200, {});
        r.write("first");  // then nothing: the stream stays open
    });
    ASSERT_TRUE(server.start().ok());
    Client client;
    ClientRequest req = get(server, "/");
    req.timeout_ms = 200;
    std::promise<base::Result<void>> done;
    std::string body;
    StreamCallbacks cb;
    cb.on_body = [&](std::string_view d, std::chrono::steady_clock::time_point) { body += d; };
    cb.on_done = [&](base::Result<void> r) { done.set_value(std::move(r)); };
    client.request(req, std::move(cb));
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(kDeadline), std::future_status::ready);
    const auto r = f.get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::io);
    EXPECT_NE(r.error().message.find("read response body: timed out after 200 ms"),
              std::string::npos)
        << r.error().message;
    EXPECT_EQ(body, "first");
}

TEST(Http, ConnectRefusedIsAnError) {
    std::uint16_t port = 0;
    {
        Server server({}, echo);
        ASSERT_TRUE(server.start().ok());
        port = server.port();
    }
    Client client;
    ClientRequest req;
    req.port = port;
    auto r = client.fetch(req);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("connect"), std::string::npos) << r.error().message;
}

TEST(Http, GracefulStopFinishesStreamsInFlight) {
    Server server({}, [](const Request&, Responder r) {
        r.start_stream(200, {});
        r.after(50, [r] {
            r.write("tail");
            r.end();
        });
    });
    ASSERT_TRUE(server.start().ok());
    Client client;
    std::promise<void> headers;
    std::promise<base::Result<void>> done;
    std::string body;
    StreamCallbacks cb;
    cb.on_headers = [&](int, const Headers&) { headers.set_value(); };
    cb.on_body = [&](std::string_view d, std::chrono::steady_clock::time_point) { body += d; };
    cb.on_done = [&](base::Result<void> r) { done.set_value(std::move(r)); };
    client.request(get(server, "/"), std::move(cb));
    ASSERT_EQ(headers.get_future().wait_for(kDeadline), std::future_status::ready);
    server.stop(20'000);  // returns once the stream has ended, long before the grace period
    auto fut = done.get_future();
    ASSERT_EQ(fut.wait_for(kDeadline), std::future_status::ready);
    auto result = fut.get();
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(body, "tail");
    EXPECT_EQ(server.connection_count(), 0u);
    EXPECT_FALSE(client.fetch(get(server, "/")).ok());  // no longer accepting
}

TEST(Http, StopAfterGraceClosesEndlessStreams) {
    Server server({}, [](const Request&, Responder r) { r.start_stream(200, {}); });
    ASSERT_TRUE(server.start().ok());
    Client client;
    std::promise<void> headers;
    std::promise<base::Result<void>> done;
    StreamCallbacks cb;
    cb.on_headers = [&](int, const Headers&) { headers.set_value(); };
    cb.on_done = [&](base::Result<void> r) { done.set_value(std::move(r)); };
    client.request(get(server, "/"), std::move(cb));
    ASSERT_EQ(headers.get_future().wait_for(kDeadline), std::future_status::ready);
    server.stop(50);
    auto fut = done.get_future();
    ASSERT_EQ(fut.wait_for(kDeadline), std::future_status::ready);
    EXPECT_FALSE(fut.get().ok());  // cut off mid-body
}

TEST(Http, BindFailureIsAnError) {
    Server first({}, echo);
    ASSERT_TRUE(first.start().ok());
    ServerOptions options;
    options.port = first.port();
    Server second(options, echo);
    auto r = second.start();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::io);
    EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(first.port())),
              std::string::npos);
}

TEST(Http, AnEndedExchangeDropsItsDisconnectCallback) {
    // A callback that owns the exchange's Responder (as a gateway relay does) is a cycle while
    // the exchange runs; once its response is on the wire the server must break it.
    auto token = std::make_shared<int>(0);
    const std::weak_ptr<int> watch = token;
    Server server({}, [&token](const Request&, Responder r) {
        r.on_disconnect([r, t = std::move(token)] {});
        r.respond(Response{200, {}, "ok"});
    });
    ASSERT_TRUE(server.start().ok());
    Client client;
    auto got = client.fetch(get(server, "/"));
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(server.connection_count(), 1u);  // kept alive: not freed by a close
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!watch.expired() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_TRUE(watch.expired());
}

// Answers after 20 ms, so the request's exchange is still running (and the server watching the
// socket for a disconnect) when the client's next bytes arrive.
void later(const Request& req, Responder r) {
    r.after(20, [r, body = req.target] { r.respond(Response{200, {}, body}); });
}

TEST(Http, APipelinedRequestIsAnsweredAfterTheOneInFlight) {
    Server server({}, later);
    ASSERT_TRUE(server.start().ok());
    RawSocket s(server.port());
    ASSERT_TRUE(s.connected());
    s.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    s.send("GET /second HTTP/1.1\r\nHost: x\r\n\r\n");  // read by the disconnect watch
    const std::string got = s.read_until("/second");
    const auto first = got.find("/first");
    const auto second = got.find("/second");
    ASSERT_NE(first, std::string::npos) << got;
    ASSERT_NE(second, std::string::npos) << got;
    EXPECT_LT(first, second);
    // The next request after both, on the same connection: the watch's read waits for it.
    s.send("GET /third HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(s.read_until("/third").find("200 OK"), std::string::npos);
    EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST(Http, TheIdleTimeOutRestartsWithEachRequest) {
    ServerOptions options;
    options.idle_timeout_ms = 200;
    Server server(options, later);
    ASSERT_TRUE(server.start().ok());
    RawSocket s(server.port());
    ASSERT_TRUE(s.connected());
    // Six requests 80 ms apart keep one connection for longer than two idle time-outs.
    for (int i = 0; i < 6; ++i) {
        const std::string target = "/r" + std::to_string(i);
        s.send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_NE(s.read_until(target).find("200 OK"), std::string::npos) << i;
        std::this_thread::sleep_for(80ms);  // the client's pace, not a wait for state
    }
    EXPECT_EQ(server.connections_accepted(), 1u);
    // Then silence, and a header that never ends: the connection is closed.
    s.send("GET /slow HTTP/1.1\r\n");
    EXPECT_EQ(s.read_until("never"), "");
    EXPECT_TRUE(s.eof());
}

TEST(Http, ChunksAreFramedWithTheirSizeInHex) {
    Server server({}, [](const Request&, Responder r) {
        r.start_stream(200, {});
        for (int n : {1, 16, 300}) r.write(std::string(static_cast<std::size_t>(n), 'a'));
        r.end();
    });
    ASSERT_TRUE(server.start().ok());
    RawSocket s(server.port());
    ASSERT_TRUE(s.connected());
    s.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string got = s.read_until("\r\n0\r\n\r\n");
    const std::string body = got.substr(got.find("\r\n\r\n") + 4);
    EXPECT_EQ(body, "1\r\na\r\n10\r\n" + std::string(16, 'a') + "\r\n12c\r\n" +
                        std::string(300, 'a') + "\r\n0\r\n\r\n");
}

}  // namespace
}  // namespace sparkctl::net
