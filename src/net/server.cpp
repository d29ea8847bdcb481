#include "net/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "base/log.h"
#include "net/detail/loops.h"
#include "net/detail/wire.h"

namespace sparkctl::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

class Connection;

namespace detail {

// One request and its response. Touched only on the connection's io thread, except the atomics.
class Exchange {
  public:
    Exchange(std::shared_ptr<Connection> c, asio::any_io_executor e)
        : conn(std::move(c)), executor(std::move(e)) {}

    // Runs `fn` on the connection's io thread (inline when already there).
    template <typename Fn>
    void run(Fn&& fn) {
        asio::dispatch(executor, std::forward<Fn>(fn));
    }

    std::shared_ptr<Connection> conn;  // reset when the exchange ends: breaks the cycle
    asio::any_io_executor executor;
    bool ended = false;      // respond() or end() was called, or the peer is gone
    bool streaming = false;  // start_stream() was called
    std::function<void()> on_disconnect;
    std::list<asio::steady_timer> timers;
    std::atomic<std::size_t> queued_bytes{0};
    std::atomic<bool> disconnected{false};
};

}  // namespace detail

using detail::Exchange;

class Server::Impl {
  public:
    Impl(ServerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

    void accept();
    void add(const std::shared_ptr<Connection>& c);
    void remove(Connection* c);

    ServerOptions options;
    Handler handler;
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    std::vector<std::thread> threads;
    std::optional<tcp::acceptor> acceptor;
    std::optional<ssl::context> tls;  // set when options name a certificate and key
    std::size_t next_context = 0;
    std::atomic<std::uint16_t> port{0};
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> accepted{0};
    bool started = false;  // start() was called (once per Server)
    bool running = false;

    mutable std::mutex mutex;
    std::condition_variable all_closed;
    std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;
};

// One accepted socket: reads requests one after another (keep-alive), hands each to the handler
// as an Exchange, and writes what the exchange queues. Lives on one io_context thread.
class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(Server::Impl& server, tcp::socket socket)
        : server_(server), stream_(std::move(socket)), idle_timer_(stream_.get_executor()) {
        if (server_.tls) tls_.emplace(stream_, *server_.tls);
    }

    // HTTPS: the TLS handshake first, within the idle time-out.
    void start() {
        if (!tls_) return read_request();
        stream_.expires_after(std::chrono::milliseconds(server_.options.idle_timeout_ms));
        tls_->async_handshake(ssl::stream_base::server,
                              [self = shared_from_this()](beast::error_code ec) {
                                  if (ec) return self->close();
                                  self->stream_.expires_never();  // idle_timer_ from here on
                                  self->read_request();
                              });
    }
    asio::any_io_executor stream_executor() { return stream_.get_executor(); }

    // Graceful stop: an idle connection closes now; one in an exchange closes after it.
    void stop_when_idle() {
        keep_alive_ = false;
        if (!exchange_) close();
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        idle_timer_.cancel();  // its handler holds this connection
        if (exchange_) peer_gone();
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
        server_.remove(this);
    }

    // --- called by Responder (on this io thread) ---
    void respond(const std::shared_ptr<Exchange>& ex, Response r) {
        if (ex != exchange_ || ex->ended || ex->streaming) return;
        ex->ended = true;
        std::string out = head(r.status, r.headers, head_request_ ? 0 : r.body.size());
        out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n\r\n");
        if (!head_request_) out.append(r.body);  // HEAD: the length, not the body (RFC 9110 9.3.2)
        enqueue(std::move(out), {});
    }

    void start_stream(const std::shared_ptr<Exchange>& ex, int status, const Headers& headers) {
        if (ex != exchange_ || ex->ended || ex->streaming) return;
        ex->streaming = true;
        std::string out = head(status, headers);
        out.append("Transfer-Encoding: chunked\r\n\r\n");
        enqueue(std::move(out), {});
    }

    // `chunk`: one chunk, framed (Responder::write).
    void write(const std::shared_ptr<Exchange>& ex, std::string chunk,
               std::function<void(bool)> done) {
        if (ex != exchange_ || ex->ended || !ex->streaming) {
            if (done) done(false);
            return;
        }
        enqueue(std::move(chunk), std::move(done));
    }

    void end(const std::shared_ptr<Exchange>& ex) {
        if (ex != exchange_ || ex->ended || !ex->streaming) return;
        ex->ended = true;
        enqueue("0\r\n\r\n", {});
    }

  private:
    // Run `fn` with the stream requests and responses go through: TLS over the TCP stream on
    // HTTPS, else the bare socket. (Closing, lingering and draining act on the TCP stream: a
    // closed or failed TLS session gets no close_notify from us.) Reads of a request are timed
    // by idle_timer_, not by the TCP stream's expiry: that one arms and cancels a timer around
    // every read (a timer-queue insert, a cancelled wait whose handler runs, per request).
    template <typename Fn>
    void io(Fn&& fn) {
        if (tls_) {
            fn(*tls_);
        } else {
            fn(stream_.socket());
        }
    }

    struct Pending {
        std::string bytes;
        std::function<void(bool)> done;
    };

    // The status line and headers, with room reserved for `more` bytes after them (one
    // allocation for a whole response).
    std::string head(int status, const Headers& headers, std::size_t more = 0) const {
        std::string out;
        out.reserve(kHeadBytes + detail::headers_bytes(headers) + more);
        out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
        out.append(http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status))));
        out.append("\r\n");
        detail::append_headers(out, headers);
        if (!keep_alive_) out.append("Connection: close\r\n");
        return out;
    }

    void read_request() {
        if (closed_) return;
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
        parser_->body_limit(server_.options.max_body_bytes);
        start_idle_deadline();
        io([&](auto& s) {
            http::async_read_header(s, buffer_, *parser_,
                                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                        self->on_header(ec);
                                    });
        });
    }

    // The header is in: a body still to come is read next (after "100 Continue" when the client
    // waits for one, as curl does before large bodies: RFC 9110 section 10.1.1).
    void on_header(beast::error_code ec) {
        if (closed_) return;
        if (ec || parser_->is_done()) return on_request(ec);
        const auto expect = parser_->get()[http::field::expect];
        if (beast::iequals(expect, "100-continue")) enqueue("HTTP/1.1 100 Continue\r\n\r\n", {});
        io([&](auto& s) {
            http::async_read(s, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code e, std::size_t) {
                                 self->on_request(e);
                             });
        });
    }

    void on_request(beast::error_code ec) {
        if (closed_) return;
        reading_ = false;  // a handler may take its time; idle limits apply between requests
        if (ec) {
            // Limits get an answer (RFC 6585 431, RFC 9110 413); a malformed request gets 400;
            // end of stream, a timeout or a reset just close.
            int status = 0;
            if (ec == http::error::header_limit) {
                status = 431;
            } else if (ec == http::error::body_limit) {
                status = 413;
            } else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
                       ec != http::error::end_of_stream && ec != http::error::partial_message) {
                status = 400;
            }
            if (status == 0) return close();
            keep_alive_ = false;
            std::string out = head(status, {});
            out.append("Content-Length: 0\r\n\r\n");
            enqueue(std::move(out), {});
            closing_after_write_ = true;
            return;
        }
        auto msg = parser_->release();
        parser_.reset();
        keep_alive_ = msg.keep_alive() && !server_.stopping.load();
        head_request_ = msg.method() == http::verb::head;
        Request req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        req.headers.reserve(static_cast<std::size_t>(std::distance(msg.begin(), msg.end())));
        for (const auto& field : msg) {
            req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        req.body = std::move(msg.body());
        exchange_ = std::make_shared<Exchange>(shared_from_this(), stream_.get_executor());
        auto ex = exchange_;
        try {
            server_.handler(req, Responder(ex));
        } catch (const std::exception& e) {
            base::log_error(std::string("net: handler for ") + req.target + " threw: " + e.what());
            respond(ex, Response{500, {}, "internal error\n"});
        } catch (...) {
            base::log_error("net: handler for " + req.target + " threw");
            respond(ex, Response{500, {}, "internal error\n"});
        }
        // Watch for a disconnect while the handler works or streams; a whole response already
        // queued needs no watch.
        if (exchange_ == ex && !ex->ended) watch();
    }

    // The idle time-out of a request read (no whole request within idle_timeout_ms): one timer
    // per connection, moved lazily. A new read only moves the deadline; the timer, when it fires
    // early, waits again for the deadline it finds, and does nothing between requests' reads.
    void start_idle_deadline() {
        reading_ = true;
        idle_deadline_ = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(server_.options.idle_timeout_ms);
        if (!idle_timer_armed_) arm_idle_timer();
    }

    void arm_idle_timer() {
        idle_timer_armed_ = true;
        idle_timer_.expires_at(idle_deadline_);
        idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
            self->idle_timer_armed_ = false;
            if (ec || self->closed_ || !self->reading_) return;
            if (std::chrono::steady_clock::now() >= self->idle_deadline_) return self->close();
            self->arm_idle_timer();
        });
    }

    // A read while the exchange runs: EOF or an error means the peer is gone. Early bytes of a
    // pipelined next request stay in buffer_ for read_request(). Still pending when the
    // exchange ends, it is the wait for the next request (after_flush()).
    void watch() {
        if (watching_ || closed_) return;
        if (buffer_.size() >= server_.options.max_header_bytes) return;  // enough buffered
        watching_ = true;
        io([&](auto& s) { watch_read(s); });
    }

    template <typename Stream>
    void watch_read(Stream& s) {
        s.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->watching_ = false;
                              self->buffer_.commit(n);
                              if (self->closed_) return;
                              if (ec == asio::error::operation_aborted && self->next_after_watch_) {
                                  self->next_after_watch_ = false;
                                  return self->read_request();
                              }
                              if (ec) return self->close();
                              if (self->next_after_watch_) {
                                  self->next_after_watch_ = false;
                                  return self->read_request();
                              }
                              self->watch();
                          });
    }

    // After an error response: stop sending, then read and drop what the client is still
    // sending (for up to a second), so closing does not reset the connection before the client
    // has read the response (nginx's lingering close).
    void linger() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.expires_after(std::chrono::seconds(1));
        drain();
    }

    void drain() {
        buffer_.clear();
        stream_.async_read_some(buffer_.prepare(16 * 1024),
                                [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                    if (ec) return self->close();
                                    self->drain();
                                });
    }

    void peer_gone() {
        auto ex = std::move(exchange_);
        ex->ended = true;
        ex->disconnected = true;
        ex->timers.clear();  // cancels them (the timer destructor cancels)
        auto cb = std::move(ex->on_disconnect);
        ex->conn.reset();
        if (cb) cb();
    }

    void enqueue(std::string bytes, std::function<void(bool)> done) {
        if (exchange_) exchange_->queued_bytes += bytes.size();
        queue_.push_back(Pending{std::move(bytes), std::move(done)});
        if (!writing_) write_next();
    }

    void write_next() {
        if (queue_.empty()) {
            writing_ = false;
            return after_flush();
        }
        writing_ = true;
        // One gathered write (writev) for what is queued, without copying: deque::push_back
        // keeps the queued strings in place while the write runs.
        const std::size_t count = std::min<std::size_t>(queue_.size(), kMaxGather);
        gather_.clear();
        for (std::size_t i = 0; i < count; ++i) gather_.push_back(asio::buffer(queue_[i].bytes));
        io([&](auto& s) {
            asio::async_write(
                s, gather_,
                [self = shared_from_this(), count](beast::error_code ec, std::size_t n) {
                    self->on_written(ec, n, count);
                });
        });
    }

    void on_written(beast::error_code ec, std::size_t n, std::size_t count) {
        std::vector<std::function<void(bool)>> done;
        for (std::size_t i = 0; i < count; ++i) {
            if (queue_.front().done) done.push_back(std::move(queue_.front().done));
            queue_.pop_front();
        }
        if (exchange_) exchange_->queued_bytes -= std::min<std::size_t>(n, exchange_->queued_bytes);
        for (auto& d : done) d(!ec);
        if (ec) {
            for (auto& p : queue_) {
                if (p.done) p.done(false);
            }
            queue_.clear();
            writing_ = false;
            return close();
        }
        write_next();
    }

    // Everything queued is on the wire: an ended exchange is over; read the next request.
    void after_flush() {
        if (closed_) return;
        if (closing_after_write_) return linger();
        if (!exchange_ || !exchange_->ended) return;
        exchange_->timers.clear();
        // The callback may own what owns a Responder of this exchange (a gateway's relay): kept,
        // that cycle would leak both with everything they hold, per request.
        exchange_->on_disconnect = nullptr;
        exchange_->conn.reset();
        exchange_.reset();
        if (!keep_alive_) return close();
        if (watching_) {
            next_after_watch_ = true;
            // Bytes of the next request already here: parse them now. Else the watch's read,
            // still pending, waits for them (a new read would first try the socket once more,
            // a recv that finds nothing: a system call per request, perf).
            if (buffer_.size() > 0) return stream_.socket().cancel();
            return start_idle_deadline();
        }
        read_request();
    }

    Server::Impl& server_;
    beast::tcp_stream stream_;
    std::optional<ssl::stream<beast::tcp_stream&>> tls_;  // over stream_ on HTTPS
    asio::steady_timer idle_timer_;                       // see start_idle_deadline()
    std::chrono::steady_clock::time_point idle_deadline_{};
    bool reading_ = false;  // a request is being read: idle_deadline_ applies
    bool idle_timer_armed_ = false;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::shared_ptr<Exchange> exchange_;
    static constexpr std::size_t kMaxGather = 64;  // well under IOV_MAX (1024 on Linux)
    // A status line, "Connection: close", "Content-Length: N" or "Transfer-Encoding: chunked",
    // and the blank line fit in this.
    static constexpr std::size_t kHeadBytes = 128;
    std::deque<Pending> queue_;
    std::vector<asio::const_buffer> gather_;
    bool keep_alive_ = true;
    bool head_request_ = false;
    bool writing_ = false;
    bool watching_ = false;
    bool next_after_watch_ = false;
    bool closing_after_write_ = false;
    bool closed_ = false;
};

// --- Responder ---

Responder::Responder(std::shared_ptr<detail::Exchange> exchange) : ex_(std::move(exchange)) {}

void Responder::respond(Response response) const {
    ex_->run([ex = ex_, r = std::move(response)]() mutable {
        if (ex->conn) ex->conn->respond(ex, std::move(r));
    });
}

void Responder::start_stream(int status, Headers headers) const {
    ex_->run([ex = ex_, status, h = std::move(headers)] {
        if (ex->conn) ex->conn->start_stream(ex, status, h);
    });
}

void Responder::write(std::string_view data, std::function<void(bool)> done) const {
    // Framed here, so the data is copied once (the hex size line and CRLFs fit in 24 bytes).
    std::string chunk;
    chunk.reserve(data.size() + 24);
    detail::append_chunk(chunk, data);
    ex_->run([ex = ex_, c = std::move(chunk), cb = std::move(done)]() mutable {
        if (ex->conn) {
            ex->conn->write(ex, std::move(c), std::move(cb));
        } else if (cb) {
            cb(false);
        }
    });
}

void Responder::end() const {
    ex_->run([ex = ex_] {
        if (ex->conn) ex->conn->end(ex);
    });
}

std::size_t Responder::queued_bytes() const { return ex_->queued_bytes.load(); }

bool Responder::disconnected() const { return ex_->disconnected.load(); }

void Responder::on_disconnect(std::function<void()> cb) const {
    ex_->run([ex = ex_, cb = std::move(cb)]() mutable {
        if (ex->disconnected) {
            cb();
        } else if (!ex->ended) {
            ex->on_disconnect = std::move(cb);
        }
    });
}

void Responder::after(int delay_ms, std::function<void()> cb) const {
    ex_->run([ex = ex_, delay_ms, cb = std::move(cb)]() mutable {
        if (ex->ended || !ex->conn) return;
        auto& timer = ex->timers.emplace_back(ex->executor);
        timer.expires_after(std::chrono::milliseconds(delay_ms));
        auto it = std::prev(ex->timers.end());
        timer.async_wait([ex, it, cb = std::move(cb)](beast::error_code ec) {
            // Cancelled, or expired just as the exchange ended (its timers are gone then).
            if (ec || !ex->conn) return;
            ex->timers.erase(it);
            cb();
        });
    });
}

// --- Server ---

std::vector<asio::io_context*> detail::ServerAccess::loops(Server& server) {
    std::vector<asio::io_context*> loops;
    for (auto& ctx : server.impl_->contexts) loops.push_back(ctx.get());
    return loops;
}

void Server::Impl::add(const std::shared_ptr<Connection>& c) {
    std::lock_guard lock(mutex);
    connections.emplace(c.get(), c);
}

void Server::Impl::remove(Connection* c) {
    std::lock_guard lock(mutex);
    connections.erase(c);
    if (connections.empty()) all_closed.notify_all();
}

void Server::Impl::accept() {
    asio::io_context& target = *contexts[next_context];
    next_context = (next_context + 1) % contexts.size();
    acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || stopping) return;
        if (!ec) {
            bool full = false;
            {
                std::lock_guard lock(mutex);
                full = connections.size() >= options.max_connections;
            }
            if (full) {
                beast::error_code ignored;
                socket.close(ignored);
            } else {
                socket.set_option(tcp::no_delay(true), ec);
                ++accepted;
                auto conn = std::make_shared<Connection>(*this, std::move(socket));
                add(conn);
                asio::dispatch(conn->stream_executor(), [conn] { conn->start(); });
            }
        }
        accept();
    });
}

namespace {

// HTTPS: a TLS server context from the PEM files (TLS 1.2 and up). Errors name the file.
base::Result<void> load_tls(Server::Impl& s) {
    const std::string& cert = s.options.tls_cert_file;
    const std::string& key = s.options.tls_key_file;
    if (cert.empty() && key.empty()) return {};
    if (cert.empty() || key.empty()) {
        return base::make_error(base::Errc::bad_input,
                                std::string("HTTPS needs both a TLS certificate and its key; only "
                                            "the ") +
                                    (cert.empty() ? "key" : "certificate") + " is set");
    }
    for (const auto& [what, file] : {std::pair{"TLS certificate", cert}, {"TLS key", key}}) {
        std::error_code fs_ec;
        if (!std::filesystem::is_regular_file(file, fs_ec)) {
            return base::make_error(base::Errc::not_found,
                                    std::string(what) + " '" + file + "': no such file");
        }
    }
    auto& tls = s.tls.emplace(ssl::context::tls_server);
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    tls.use_certificate_chain_file(cert, ec);
    if (ec) {
        s.tls.reset();
        return base::make_error(
            base::Errc::bad_input,
            "TLS certificate '" + cert + "': not a usable PEM certificate (" + ec.message() + ")");
    }
    // OpenSSL checks here that the key is the certificate's (SSL_CTX_use_PrivateKey).
    tls.use_private_key_file(key, ssl::context::pem, ec);
    if (ec) {
        s.tls.reset();
        return base::make_error(base::Errc::bad_input, "TLS key '" + key +
                                                           "': not a usable PEM private key for '" +
                                                           cert + "' (" + ec.message() + ")");
    }
    return {};
}

}  // namespace

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {
    // The loops exist from here on (a shared-loop Client may be made before start()); start()
    // runs them.
    const int n = std::max(1, impl_->options.io_threads);
    for (int i = 0; i < n; ++i) {
        impl_->contexts.push_back(std::make_unique<asio::io_context>(1));
    }
}

Server::~Server() { stop(0); }

base::Result<void> Server::start() {
    Impl& s = *impl_;
    SPARKCTL_ASSERT(!s.started);  // one start() per Server
    s.started = true;
    if (auto tls = load_tls(s); !tls.ok()) return tls.error();
    for (auto& ctx : s.contexts) s.guards.push_back(asio::make_work_guard(*ctx));
    const std::string where = s.options.host + ":" + std::to_string(s.options.port);
    beast::error_code ec;
    const auto address = asio::ip::make_address(s.options.host, ec);
    if (ec) {
        return base::make_error(base::Errc::bad_input,
                                "listen address '" + s.options.host + "': " + ec.message());
    }
    const tcp::endpoint endpoint(address, s.options.port);
    s.acceptor.emplace(*s.contexts[0]);
    s.acceptor->open(endpoint.protocol(), ec);
    if (!ec) s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) s.acceptor->bind(endpoint, ec);
    if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) s.port = s.acceptor->local_endpoint(ec).port();
    if (ec) {
        s.acceptor.reset();
        s.guards.clear();
        return base::make_error(base::Errc::io, "listen on " + where + ": " + ec.message());
    }
    s.running = true;
    s.accept();
    for (auto& ctx : s.contexts) {
        s.threads.emplace_back([ctx = ctx.get()] {
            // The thread entry's catch-all (style.md): handlers catch their own exceptions.
            try {
                ctx->run();
            } catch (const std::exception& e) {
                base::log_error(std::string("net: server io thread: ") + e.what());
            }
        });
    }
    return {};
}

std::uint16_t Server::port() const { return impl_->port.load(); }

std::size_t Server::connection_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->connections.size();
}

std::uint64_t Server::connections_accepted() const { return impl_->accepted.load(); }

void Server::stop(int grace_ms) {
    Impl& s = *impl_;
    if (!s.running) return;
    s.running = false;
    s.stopping = true;
    asio::post(*s.contexts[0], [&s] {
        beast::error_code ignored;
        s.acceptor->close(ignored);
    });
    const auto each_connection = [&s](auto fn) {
        std::vector<std::shared_ptr<Connection>> live;
        {
            std::lock_guard lock(s.mutex);
            for (auto& [raw, weak] : s.connections) {
                if (auto c = weak.lock()) live.push_back(std::move(c));
            }
        }
        for (auto& c : live) asio::dispatch(c->stream_executor(), [c, fn] { fn(*c); });
    };
    each_connection([](Connection& c) { c.stop_when_idle(); });
    {
        std::unique_lock lock(s.mutex);
        s.all_closed.wait_for(lock, std::chrono::milliseconds(std::max(0, grace_ms)),
                              [&s] { return s.connections.empty(); });
    }
    each_connection([](Connection& c) { c.close(); });
    {
        // Closing is quick (each io thread runs it next); bounded so a wedged handler cannot
        // hang stop().
        std::unique_lock lock(s.mutex);
        s.all_closed.wait_for(lock, std::chrono::seconds(5),
                              [&s] { return s.connections.empty(); });
    }
    s.guards.clear();
    for (auto& ctx : s.contexts) ctx->stop();
    for (auto& t : s.threads) t.join();
    s.threads.clear();
    s.acceptor.reset();
}

}  // namespace sparkctl::net
