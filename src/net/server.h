// net::Server: an asynchronous HTTP/1.1 server (Boost.Beast behind a pimpl). A handler answers a
// request whole, or streams it (chunked transfer encoding: headers, chunks, end) driven by
// completion callbacks and timers, so no stream needs a thread. See docs/dev/net.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "net/http.h"

namespace sparkctl::net {

namespace detail {
class Exchange;
struct ServerAccess;
}  // namespace detail

struct ServerOptions {
    std::string host = "127.0.0.1";                // safe default (style.md)
    std::uint16_t port = 0;                        // 0: an ephemeral port, see Server::port()
    int io_threads = 1;                            // one event loop per thread
    std::size_t max_header_bytes = 16 * 1024;      // larger: 431, connection closed
    std::size_t max_body_bytes = 8 * 1024 * 1024;  // larger: 413, connection closed
    int idle_timeout_ms = 30'000;  // no request byte (or no whole request) in this time: close
    std::size_t max_connections = 16'384;  // further connections are accepted and closed at once
    // HTTPS (OpenSSL, TLS 1.2 and up) when both are set: a PEM certificate chain and its PEM
    // private key (unencrypted). Read by start(); errors name the file. Empty: plain HTTP.
    std::string tls_cert_file;
    std::string tls_key_file;
};

// The handler's handle on one request/response exchange. Copies share the exchange (a handler
// keeps one in its timer callbacks). Every method may be called from any thread: calls are
// carried to the connection's io thread; callbacks (write done, timer, disconnect) run there.
// Once the exchange has ended (response sent, stream ended, or the peer gone), further calls
// are ignored and write callbacks get false. A Responder must not outlive its Server.
class Responder {
  public:
    // A whole response; Content-Length is set. The connection is kept alive when the request
    // allows it.
    void respond(Response response) const;

    // Starts a streamed response: status and headers now, then write() chunks, then end().
    void start_stream(int status, Headers headers) const;
    // Queues `data` as one chunk (copied once, framed, on the calling thread). `done(true)` runs
    // once it is written to the socket, `done(false)` if the peer went away first. Never
    // blocks; see queued_bytes().
    void write(std::string_view data, std::function<void(bool ok)> done = {}) const;
    // Ends the stream (the last chunk); the connection then serves its next request.
    void end() const;

    // Bytes queued but not yet written to the socket: the backpressure signal (a gateway stops
    // reading upstream above its high watermark and resumes from a write callback).
    std::size_t queued_bytes() const;

    // Runs `cb` once if the peer disconnects before the exchange ends.
    void on_disconnect(std::function<void()> cb) const;

    // Runs `cb` on the connection's io thread after `delay_ms`, unless the exchange has ended
    // first (then it never runs).
    void after(int delay_ms, std::function<void()> cb) const;

    // True once the peer is gone.
    bool disconnected() const;

    explicit Responder(std::shared_ptr<detail::Exchange> exchange);

  private:
    // Shared: the exchange lives while the connection or any handler copy still refers to it.
    std::shared_ptr<detail::Exchange> ex_;
};

// Called on an io thread for each request; must not block, and must be thread-safe when
// io_threads > 1 (it then runs on several threads at once). The request is the handler's: it
// may move its headers and body away (a proxy passes them on without copying). An exception
// thrown by the handler is caught and answered with 500 (the catch-all at the boundary,
// style.md).
using Handler = std::function<void(Request& request, Responder)>;

class Server {
  public:
    Server(ServerOptions options, Handler handler);
    ~Server();  // stop(0) if still running
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds, listens and starts the io threads; once per Server. Fails (io) when the address
    // cannot be bound, (bad_input) when the host is not an IP address or a TLS file is not a
    // usable PEM certificate or key (or only one is given), (not_found) when a TLS file is
    // missing.
    base::Result<void> start();
    // The bound port (the ephemeral one when options.port was 0); 0 before start().
    std::uint16_t port() const;

    // Graceful stop: stops accepting, closes idle connections, lets exchanges in progress run
    // for up to `grace_ms`, then closes what is left and joins the io threads. Blocks; call it
    // from outside the io threads. Idempotent.
    void stop(int grace_ms);

    // Connections open now (for tests and /metrics).
    std::size_t connection_count() const;
    // Connections accepted since start() (refused ones over max_connections not counted).
    std::uint64_t connections_accepted() const;

    class Impl;  // defined in server.cpp (named there by the connections)

  private:
    friend struct detail::ServerAccess;  // a shared-loop Client's way to the loops
    std::unique_ptr<Impl> impl_;
};

}  // namespace sparkctl::net
