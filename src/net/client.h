// net::Client: an asynchronous HTTP/1.1 client (Boost.Beast behind a pimpl) with keep-alive
// connection reuse and a streaming body callback that timestamps each piece as it arrives
// (steady clock), plus a synchronous fetch() for tests and the CLI. A client runs on its own
// io threads, or on a Server's (a shared-loop client: a proxy's upstream request then runs on
// the thread that read the client's request, with no thread hop). See docs/dev/net.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "net/http.h"

namespace sparkctl::net {

class Server;

struct ClientOptions {
    int io_threads = 1;  // a standalone client's; a shared-loop client has the server's
    std::size_t max_idle_per_host = 1024;  // idle keep-alive connections kept per host:port
    std::size_t max_header_bytes = 64 * 1024;
};

struct ClientRequest {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string method = "GET";
    std::string target = "/";
    Headers headers;
    std::string body;
    int timeout_ms = 30'000;  // the whole exchange: connect, send, and the last body byte
};

// Callbacks run on an io thread of the client (a shared-loop client: the request's loop of the
// server) and must not block.
struct StreamCallbacks {
    // The headers are the callback's (a proxy moves them on).
    std::function<void(int status, Headers headers)> on_headers;
    // Body bytes as they arrive (chunked framing removed); `at` is when they were read.
    std::function<void(std::string_view data, std::chrono::steady_clock::time_point at)> on_body;
    // Exactly once, last: ok, or the error (io: connection, timeout, cancelled; bad_input: a
    // malformed response).
    std::function<void(base::Result<void> result)> on_done;
};

namespace detail {
class ClientOp;
}

// Controls a request in flight. Every method is thread-safe and does nothing once the request
// has finished; a default-constructed handle controls nothing.
class RequestHandle {
  public:
    RequestHandle() = default;
    explicit RequestHandle(std::weak_ptr<detail::ClientOp> op) : op_(std::move(op)) {}

    // Closes the connection; on_done then reports "cancelled" (the gateway cancels upstream on
    // a client disconnect).
    void cancel() const;
    // Stops reading the body after the current on_body (flow control: a gateway pauses the
    // upstream above its high watermark). Called inside on_body it takes effect at once; from
    // another thread, before the next read. The deadline keeps running.
    void pause() const;
    void resume() const;

  private:
    std::weak_ptr<detail::ClientOp> op_;  // the request owns itself while in flight
};

class Client {
  public:
    // A standalone client: `options.io_threads` loops of its own.
    explicit Client(ClientOptions options = {});
    // A shared-loop client: requests run on `server`'s loops (they make progress while the
    // server runs, between its start() and stop()). A request started on one of the server's io
    // threads (from a handler or a callback) runs on that thread's loop, so its callbacks run
    // there and a Responder called from them acts inline; from any other thread requests go
    // round robin over the loops. Idle connections are pooled per loop. The client must be
    // destroyed before `server` (its idle sockets belong to the server's loops).
    Client(ClientOptions options, Server& server);
    // Standalone: stops and joins the io threads; requests in flight are dropped, no on_done.
    // Shared-loop: closes the idle connections and drops paused requests (no on_done); requests
    // reading or writing run to their end on the server's loops (on_done runs).
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Starts a request; thread-safe. A reused keep-alive connection found closed by the server
    // before any response byte is retried once on a fresh connection.
    RequestHandle request(ClientRequest request, StreamCallbacks callbacks);

    // Synchronous convenience: the whole response, or the error. Must not be called from one of
    // this client's io threads (a shared-loop client: the server's), as it waits for them.
    base::Result<Response> fetch(ClientRequest request);

    class Impl;  // defined in client.cpp (named there by the per-request state)

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace sparkctl::net
