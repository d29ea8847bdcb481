#include "net/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <array>
#include <atomic>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/log.h"
#include "net/detail/loops.h"
#include "net/detail/wire.h"

namespace sparkctl::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace detail {
class ClientOp;
}

namespace {

std::string pool_key(const ClientRequest& r) { return r.host + ":" + std::to_string(r.port); }

// One TCP connection to one host:port, reused across requests while the server keeps it alive.
struct ClientConn {
    ClientConn(asio::any_io_executor ex, std::size_t p) : stream(std::move(ex)), pool(p) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    std::size_t pool;  // the idle pool it goes back to (a shared-loop client: its loop's)
    // Where response bodies are read, kept with the connection: a request on a pooled connection
    // allocates no read buffer (a 16 KiB one per request, allocated on one thread and freed on
    // another, made malloc grow and trim its heap: a fifth of the gateway's CPU, perf). Not
    // zeroed: the parser writes into it before anything is read from it.
    std::array<char, 16 * 1024> chunk;
};

}  // namespace

namespace detail {

// What a client and its requests in flight share: the options, the idle connections and the
// paused requests. Requests hold it, so one that ends after its client is gone (a shared-loop
// client's requests run on loops the client does not stop) finds it still there.
struct ClientShared {
    ClientShared(ClientOptions o, std::size_t pools) : options(std::move(o)), idle(pools) {}

    // A paused request has no operation pending to own it: the client does meanwhile (once
    // the client is gone, nothing does: the request is dropped).
    void hold(std::shared_ptr<ClientOp> op) {
        std::lock_guard lock(mutex);
        if (!closed) paused.emplace(op.get(), std::move(op));
    }

    void release(ClientOp* op) {
        std::shared_ptr<ClientOp> keep;  // destroyed outside the lock
        std::lock_guard lock(mutex);
        auto it = paused.find(op);
        if (it == paused.end()) return;
        keep = std::move(it->second);
        paused.erase(it);
    }

    // An idle keep-alive connection to `key` from pool `pool`, or null.
    std::unique_ptr<ClientConn> take_idle(std::size_t pool, const std::string& key) {
        std::lock_guard lock(mutex);
        auto& pools = idle[pool];
        auto it = pools.find(key);
        if (it == pools.end() || it->second.empty()) return nullptr;
        auto conn = std::move(it->second.back());
        it->second.pop_back();
        return conn;
    }

    void give_back(const std::string& key, std::unique_ptr<ClientConn> conn) {
        std::lock_guard lock(mutex);
        if (closed) return;  // the client is gone: the connection closes here
        auto& list = idle[conn->pool][key];
        if (list.size() < options.max_idle_per_host) list.push_back(std::move(conn));
    }

    // The client is going: drop the idle connections and the paused requests.
    void close() {
        std::vector<std::map<std::string, std::vector<std::unique_ptr<ClientConn>>>> conns;
        std::map<ClientOp*, std::shared_ptr<ClientOp>> ops;
        {
            std::lock_guard lock(mutex);
            closed = true;
            conns.swap(idle);
            ops.swap(paused);
        }
    }

    const ClientOptions options;
    std::mutex mutex;
    // One pool per loop for a shared-loop client (a request stays on its loop), one otherwise.
    std::vector<std::map<std::string, std::vector<std::unique_ptr<ClientConn>>>> idle;
    std::map<ClientOp*, std::shared_ptr<ClientOp>> paused;
    bool closed = false;
};

}  // namespace detail

class Client::Impl {
  public:
    // A standalone client: its own loops and threads.
    explicit Impl(ClientOptions o) {
        const int n = std::max(1, o.io_threads);
        shared = std::make_shared<detail::ClientShared>(std::move(o), 1);
        for (int i = 0; i < n; ++i) {
            owned.push_back(std::make_unique<asio::io_context>(1));
            guards.push_back(asio::make_work_guard(*owned.back()));
            loops.push_back(owned.back().get());
        }
        for (auto* ctx : loops) {
            threads.emplace_back([ctx] {
                try {
                    ctx->run();
                } catch (const std::exception& e) {
                    base::log_error(std::string("net: client io thread: ") + e.what());
                }
            });
        }
    }

    // A shared-loop client: a server's loops, run by the server.
    Impl(ClientOptions o, std::vector<asio::io_context*> server_loops)
        : loops(std::move(server_loops)) {
        shared = std::make_shared<detail::ClientShared>(std::move(o), loops.size());
    }

    ~Impl() {
        guards.clear();
        for (auto& ctx : owned) ctx->stop();
        for (auto& t : threads) t.join();
        shared->close();  // before the io_contexts the idle connections were made on
    }

    bool shares_loops() const { return owned.empty(); }

    // The loop a new request runs on: a shared-loop client keeps a request started on one of
    // its loops there; otherwise round robin.
    std::size_t pick_loop() {
        if (shares_loops()) {
            for (std::size_t i = 0; i < loops.size(); ++i) {
                if (loops[i]->get_executor().running_in_this_thread()) return i;
            }
        }
        return next.fetch_add(1, std::memory_order_relaxed) % loops.size();
    }

    std::shared_ptr<detail::ClientShared> shared;
    std::vector<std::unique_ptr<asio::io_context>> owned;  // a standalone client's loops
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    std::vector<std::thread> threads;
    std::vector<asio::io_context*> loops;  // owned or the server's
    std::atomic<std::size_t> next{0};
};

namespace detail {

// One request in flight; owned by its pending asynchronous operations.
class ClientOp : public std::enable_shared_from_this<ClientOp> {
  public:
    ClientOp(std::shared_ptr<ClientShared> client, ClientRequest request, StreamCallbacks callbacks,
             std::string key)
        : client_(std::move(client)),
          request_(std::move(request)),
          callbacks_(std::move(callbacks)),
          key_(std::move(key)),
          deadline_(std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(request_.timeout_ms)) {}

    asio::any_io_executor executor() const { return executor_; }

    // Runs the request on `conn` (a pooled connection), or else on a new connection on `loop`
    // that returns to idle pool `pool`.
    void begin(std::unique_ptr<ClientConn> conn, asio::io_context& loop, std::size_t pool) {
        reused_ = conn != nullptr;
        conn_ = conn ? std::move(conn) : std::make_unique<ClientConn>(loop.get_executor(), pool);
        executor_ = conn_->stream.get_executor();
        asio::dispatch(executor(), [self = shared_from_this()] {
            self->arm_deadline();
            if (self->reused_) {
                self->send();
            } else {
                self->connect();
            }
        });
    }

    void cancel() {
        asio::dispatch(executor(), [self = shared_from_this()] {
            if (self->finished_) return;
            self->cancelled_ = true;
            if (self->waiting_resume_) {  // paused: no operation pending to cancel
                self->waiting_resume_ = false;
                self->client_->release(self.get());
                return self->fail(asio::error::operation_aborted, "read response body");
            }
            // Closed, not just cancelled: an operation started after this (a write completion
            // already queued goes on to read the response) then fails at once too.
            self->conn_->stream.close();
        });
    }

    void pause() {
        asio::dispatch(executor(), [self = shared_from_this()] { self->paused_ = true; });
    }

    void resume() {
        asio::dispatch(executor(), [self = shared_from_this()] {
            self->paused_ = false;
            if (self->waiting_resume_ && !self->finished_) {
                self->waiting_resume_ = false;
                self->client_->release(self.get());
                self->read_body();
            }
        });
    }

  private:
    // One timer per request keeps its deadline (connect, send, response): when it passes, the
    // pending operation is cancelled and reported as the timeout; a paused request fails on
    // resume. The operations run on the bare socket, not through the beast stream, which arms
    // and cancels a timer around every read and write (an insert into the timer queue, a
    // cancelled wait whose handler runs: more than the parsing per SSE event, perf 2026-12-07).
    void arm_deadline() {
        deadline_timer_.emplace(executor_, deadline_);
        deadline_timer_->async_wait([weak = weak_from_this()](beast::error_code ec) {
            const auto self = weak.lock();
            if (ec || !self || self->finished_) return;
            self->timed_out_ = true;
            if (self->waiting_resume_) return;
            beast::error_code ignored;
            if (self->resolver_) self->resolver_->cancel();
            if (self->conn_) self->conn_->stream.socket().cancel(ignored);
        });
    }

    // An operation cancelled by the deadline reports the time-out.
    beast::error_code timed(beast::error_code ec) const {
        if (ec == asio::error::operation_aborted && timed_out_ && !cancelled_) {
            return beast::error::timeout;
        }
        return ec;
    }

    void connect() {
        if (timed_out_) return fail(beast::error::timeout, "connect");
        beast::error_code ec;
        const auto address = asio::ip::make_address(request_.host, ec);
        if (!ec) return connect_to(tcp::endpoint(address, request_.port));
        resolver_.emplace(executor());
        resolver_->async_resolve(
            request_.host, std::to_string(request_.port),
            [self = shared_from_this()](beast::error_code e, tcp::resolver::results_type r) {
                if (e) return self->fail(self->timed(e), "resolve");
                self->conn_->stream.async_connect(
                    r,
                    [self](beast::error_code e2, const tcp::endpoint&) { self->on_connect(e2); });
            });
    }

    void connect_to(const tcp::endpoint& endpoint) {
        conn_->stream.async_connect(
            endpoint, [self = shared_from_this()](beast::error_code e) { self->on_connect(e); });
    }

    void on_connect(beast::error_code ec) {
        if (ec) return fail(timed(ec), "connect");
        beast::error_code ignored;
        conn_->stream.socket().set_option(tcp::no_delay(true), ignored);
        send();
    }

    void send() {
        if (timed_out_) return fail(beast::error::timeout, "send");
        out_.clear();
        out_.reserve(request_.method.size() + request_.target.size() + key_.size() +
                     detail::headers_bytes(request_.headers) + request_.body.size() +
                     kFramingBytes);
        out_.append(request_.method).append(" ").append(request_.target).append(" HTTP/1.1\r\n");
        if (header_value(request_.headers, "host").empty()) {
            detail::append_header(out_, "Host", key_);
        }
        detail::append_headers(out_, request_.headers);
        if (!request_.body.empty() || (request_.method != "GET" && request_.method != "HEAD")) {
            out_.append("Content-Length: ").append(std::to_string(request_.body.size()));
            out_.append("\r\n");
        }
        out_.append("\r\n").append(request_.body);
        conn_->stream.socket().async_write_some(
            asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                self->on_write_some(ec, n);
            });
    }

    void on_write_some(beast::error_code ec, std::size_t n) {
        if (ec) return fail(timed(ec), "send");
        out_.erase(0, n);
        if (!out_.empty()) {
            conn_->stream.socket().async_write_some(
                asio::buffer(out_),
                [self = shared_from_this()](beast::error_code e, std::size_t m) {
                    self->on_write_some(e, m);
                });
            return;
        }
        if (timed_out_) return fail(beast::error::timeout, "read response header");
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(client_->options.max_header_bytes));
        parser_->body_limit(boost::none);
        if (request_.method == "HEAD") parser_->skip(true);
        http::async_read_header(
            conn_->stream.socket(), conn_->buffer, *parser_,
            [self = shared_from_this()](beast::error_code e, std::size_t) { self->on_header(e); });
    }

    void on_header(beast::error_code ec) {
        if (ec) return fail(timed(ec), "read response header");
        got_response_ = true;
        const auto& msg = parser_->get();
        if (callbacks_.on_headers) {
            Headers headers;
            headers.reserve(static_cast<std::size_t>(std::distance(msg.begin(), msg.end())));
            for (const auto& f : msg) {
                headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
            }
            callbacks_.on_headers(static_cast<int>(msg.result_int()), std::move(headers));
        }
        read_body();
    }

    void read_body() {
        if (parser_->is_done()) return succeed();
        if (timed_out_) return fail(beast::error::timeout, "read response body");
        // Beast reads max(512, free capacity) bytes a time: a small buffer took two or three SSE
        // events per recv. Room for a body chunk's worth takes what the socket has.
        if (conn_->buffer.capacity() < conn_->chunk.size())
            conn_->buffer.reserve(conn_->chunk.size());
        auto& body = parser_->get().body();
        body.data = conn_->chunk.data();
        body.size = conn_->chunk.size();
        http::async_read_some(
            conn_->stream.socket(), conn_->buffer, *parser_,
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
    }

    void on_body(beast::error_code ec) {
        if (ec == http::error::need_buffer) ec = {};
        ec = timed(ec);
        const auto at = std::chrono::steady_clock::now();
        const std::size_t n = conn_->chunk.size() - parser_->get().body().size;
        if (n > 0 && callbacks_.on_body) {
            callbacks_.on_body(std::string_view(conn_->chunk.data(), n), at);
        }
        if (ec) return fail(ec, "read response body");
        if (cancelled_) return fail(asio::error::operation_aborted, "read response body");
        if (paused_ && !parser_->is_done()) {
            // No operation is pending now, so the client holds this request until resume().
            waiting_resume_ = true;
            client_->hold(shared_from_this());
            return;
        }
        read_body();
    }

    void succeed() {
        if (cancelled_) return fail(asio::error::operation_aborted, "read response body");
        finished_ = true;
        // Reuse the connection when the server allows it and sent nothing extra.
        if (parser_->keep_alive() && conn_->buffer.size() == 0) {
            client_->give_back(key_, std::move(conn_));
        }
        done({});
    }

    void fail(beast::error_code ec, const char* stage) {
        // A reused connection the server closed while idle: retry once on a fresh one.
        const bool stale = ec == http::error::end_of_stream || ec == asio::error::eof ||
                           ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
        if (reused_ && !got_response_ && stale && !cancelled_) {
            reused_ = false;
            conn_ = std::make_unique<ClientConn>(executor_, conn_->pool);
            return connect();
        }
        finished_ = true;
        std::string why;
        if (cancelled_) {
            why = "cancelled";
        } else if (ec == beast::error::timeout) {
            why = "timed out after " + std::to_string(request_.timeout_ms) + " ms";
        } else {
            why = ec.message();
        }
        const bool malformed =
            ec.category() == http::make_error_code(http::error::bad_version).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message;
        done(base::make_error(
            malformed ? base::Errc::bad_input : base::Errc::io,
            request_.method + " http://" + key_ + request_.target + ": " + stage + ": " + why));
    }

    void done(base::Result<void> result) {
        if (deadline_timer_) deadline_timer_->cancel();
        if (callbacks_.on_done) callbacks_.on_done(std::move(result));
        callbacks_ = {};  // drop what the caller captured as soon as the request is over
    }

    // " HTTP/1.1", "Host: ", "Content-Length: N" and the line ends fit in this.
    static constexpr std::size_t kFramingBytes = 64;

    const std::shared_ptr<ClientShared> client_;
    ClientRequest request_;
    StreamCallbacks callbacks_;
    std::string key_;
    std::chrono::steady_clock::time_point deadline_;
    std::unique_ptr<ClientConn> conn_;  // null once given back to the pool
    asio::any_io_executor executor_;    // conn_'s: every step of this request runs there
    std::optional<tcp::resolver> resolver_;
    std::optional<http::response_parser<http::buffer_body>> parser_;
    std::string out_;
    std::optional<asio::steady_timer> deadline_timer_;  // armed by begin()
    bool timed_out_ = false;                            // deadline_timer_ passed
    bool reused_ = false;
    bool got_response_ = false;
    bool cancelled_ = false;
    bool finished_ = false;
    bool paused_ = false;
    bool waiting_resume_ = false;  // paused with no read pending
};

}  // namespace detail

using detail::ClientOp;

void RequestHandle::cancel() const {
    if (auto op = op_.lock()) op->cancel();
}

void RequestHandle::pause() const {
    if (auto op = op_.lock()) op->pause();
}

void RequestHandle::resume() const {
    if (auto op = op_.lock()) op->resume();
}

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::Client(ClientOptions options, Server& server)
    : impl_(std::make_unique<Impl>(std::move(options), detail::ServerAccess::loops(server))) {}

Client::~Client() = default;

RequestHandle Client::request(ClientRequest request, StreamCallbacks callbacks) {
    const std::size_t loop = impl_->pick_loop();
    const std::size_t pool = impl_->shares_loops() ? loop : 0;
    std::string key = pool_key(request);
    auto conn = impl_->shared->take_idle(pool, key);
    auto op = std::make_shared<ClientOp>(impl_->shared, std::move(request), std::move(callbacks),
                                         std::move(key));
    op->begin(std::move(conn), *impl_->loops[loop], pool);
    return RequestHandle(op);
}

base::Result<Response> Client::fetch(ClientRequest request) {
    auto response = std::make_shared<Response>();
    std::promise<base::Result<void>> promise;
    auto future = promise.get_future();
    StreamCallbacks cb;
    cb.on_headers = [response](int status, const Headers& headers) {
        response->status = status;
        response->headers = headers;
    };
    cb.on_body = [response](std::string_view data, std::chrono::steady_clock::time_point) {
        response->body.append(data);
    };
    cb.on_done = [&promise](base::Result<void> r) { promise.set_value(std::move(r)); };
    (void)this->request(std::move(request), std::move(cb));
    auto result = future.get();
    if (!result.ok()) return result.error();
    return std::move(*response);
}

}  // namespace sparkctl::net
