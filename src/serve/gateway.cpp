#include "serve/gateway.h"

#include <openssl/crypto.h>
#include <string.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "net/client.h"
#include "net/prometheus.h"
#include "net/server.h"
#include "net/sse.h"
#include "serve/router.h"
#include "serve/status_page.h"

namespace sparkctl::serve {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace prom = net::prometheus;

namespace {

// OpenAI's error object: {"error": {"message", "type", "param", "code"}}
// (platform.openai.com/docs/guides/error-codes; the openai clients read error.message/type/code).
json error_object(const std::string& message, const std::string& type, const json& code) {
    return {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
}

net::Response error_response(int status, const std::string& message, const std::string& type,
                             const json& code, net::Headers extra = {}) {
    net::Response r;
    r.status = status;
    r.headers = std::move(extra);
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = error_object(message, type, code).dump();
    return r;
}

// Hop-by-hop headers (RFC 9110 7.6.1) and the ones the relay sets itself.
bool hop_by_hop(std::string_view name) {
    static constexpr std::string_view kNames[] = {"connection",
                                                  "keep-alive",
                                                  "transfer-encoding",
                                                  "content-length",
                                                  "te",
                                                  "trailer",
                                                  "upgrade",
                                                  "proxy-connection",
                                                  "proxy-authorization",
                                                  "proxy-authenticate",
                                                  "host",
                                                  "expect"};
    for (std::string_view h : kNames) {
        if (name.size() == h.size() && base::iequals(name, h)) return true;
    }
    return false;
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// Histogram bounds (seconds), ours: sub-millisecond to minutes for TTFT, 1 ms to 10 s for gaps.
std::vector<double> ttft_bounds() {
    return {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
}
std::vector<double> gap_bounds() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

struct ModelMetrics {
    std::map<int, std::uint64_t> requests_by_status;
    std::uint64_t prompt_tokens = 0;
    std::uint64_t completion_tokens = 0;
    std::uint64_t stream_chunks = 0;
    std::uint64_t rops3_parallel_on_llamacpp = 0;
    prom::Histogram ttft{ttft_bounds()};
    prom::Histogram chunk_gap{gap_bounds()};
};

// What a finished relay reports for the metrics.
struct RelayOutcome {
    std::optional<double> ttft_s;
    std::vector<double> chunk_gaps_s;
    std::uint64_t chunks = 0;
    std::uint64_t prompt_tokens = 0;
    std::uint64_t completion_tokens = 0;
};

// What the recent-requests ring keeps of a request from its arrival on.
struct Arrival {
    std::string path;
    bool stream = false;
    Clock::time_point at = Clock::now();
    std::int64_t unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
};
Arrival arrival_of(const net::Request& rq, const RelayRequest& parsed) {
    return {rq.target.substr(0, rq.target.find('?')), parsed.stream};
}

// A request waiting for its deployment to load.
struct Pending {
    std::uint64_t seq = 0;
    net::Request request;
    net::Responder responder;
    RelayRequest parsed;
    Arrival arrival;
};

}  // namespace

class Relay;

class Gateway::Impl {
  public:
    Impl(GatewayOptions options, Registry& registry, std::vector<std::string> key_hashes)
        : opt_(std::move(options)), registry_(registry), key_hashes_(std::move(key_hashes)) {}

    base::Result<void> start() {
        raise_nofile_limit();
        net::ServerOptions so;
        so.host = opt_.host;
        so.port = opt_.port;
        so.io_threads = opt_.io_threads;
        so.max_header_bytes = opt_.max_header_bytes;
        so.max_body_bytes = opt_.max_body_bytes;
        so.idle_timeout_ms = opt_.idle_timeout_ms;
        so.max_connections = opt_.max_connections;
        if (opt_.tls_cert) so.tls_cert_file = opt_.tls_cert->string();
        if (opt_.tls_key) so.tls_key_file = opt_.tls_key->string();
        server_ = std::make_unique<net::Server>(
            so, [this](net::Request& rq, net::Responder rs) { handle(rq, std::move(rs)); });
        // Upstream requests run on the server's loops: a relay started by a handler stays on
        // the thread that read its request (no thread hop per request and per callback).
        client_ = std::make_unique<net::Client>(net::ClientOptions{}, *server_);
        return server_->start();
    }
    std::uint16_t port() const { return server_ ? server_->port() : 0; }
    void stop(int grace_ms) {
        if (server_) server_->stop(grace_ms);
    }

    std::string metrics_text();

    std::size_t queued(const std::string& id) {
        std::lock_guard lock(mu_);
        auto it = queues_.find(id);
        return it == queues_.end() ? 0 : it->second.size();
    }

    bool withdraw_if_unwanted(const std::string& id) {
        std::lock_guard lock(mu_);
        auto it = loading_.find(id);
        if (it == loading_.end() || it->second == 0 || !queues_[id].empty()) return false;
        it->second = 0;  // the next request asks again; this load's answer is dropped
        return true;
    }

    // Called by a Relay when it ends (exactly once per relay).
    void relay_finished(const std::string& id, int status, const RelayOutcome& outcome,
                        const Arrival& arrival);

    const GatewayOptions& options() const { return opt_; }
    net::Client& client() { return *client_; }

  private:
    friend class Relay;

    // The request's headers and body are moved on to the engine (relay_v1, dispatch).
    void handle(net::Request& rq, net::Responder rs);
    bool authorized(const net::Request& rq) const;
    void models(net::Responder rs);
    void relay_v1(net::Request& rq, net::Responder rs);
    // from_queue: sent on by load_done (a refusal by the daemon is then answered 503, not
    // queued again).
    void dispatch(const std::string& id, const Upstream& up, int max_in_flight, net::Request& rq,
                  const RelayRequest& parsed, net::Responder rs, bool parallel_on_llamacpp,
                  const Arrival& arrival, bool from_queue = false);
    void enqueue(const std::string& id, const net::Request& rq, const RelayRequest& parsed,
                 net::Responder rs);
    void load_done(const std::string& id, std::uint64_t load, base::Result<Upstream> result);
    void answer(const std::string& id, net::Responder& rs, net::Response r, const Arrival& arrival);
    void record(const std::string& id, int status, const Arrival& arrival,
                const RelayOutcome& outcome = {});
    net::Response status_response();
    net::Response logs_response(const std::string& target);
    void raise_nofile_limit();

    GatewayOptions opt_;
    Registry& registry_;
    std::vector<std::string> key_hashes_;
    std::unique_ptr<net::Server> server_;
    std::unique_ptr<net::Client> client_;  // on server_'s loops; destroyed before it

    std::mutex mu_;  // guards everything below
    std::map<std::string, ModelMetrics> metrics_;
    std::map<std::string, int> in_flight_;
    std::map<std::string, std::deque<Pending>> queues_;
    // The load in progress per deployment (a number per ensure_ready; 0: none). A withdrawn
    // load's late answer carries a number no longer here, and is dropped.
    std::map<std::string, std::uint64_t> loading_;
    std::uint64_t next_load_ = 0;
    std::map<std::string, bool> rops3_burst_;  // a warned burst lasts until in flight drops to 0
    std::size_t streams_ = 0;
    std::uint64_t next_seq_ = 0;
    std::atomic<int> paused_relays_{0};  // relays whose upstream read is paused (flow control)
    RecentRequests recent_;              // for /status (its own lock)
};

// One request relayed to one upstream. Shared (a reason for shared_ptr): the client's callbacks
// and the responder's timers and write callbacks all hold it. They run on one thread when the
// relay starts on a server io thread (the client shares the server's loops), on two when it
// starts elsewhere (a queued request sent on by a load that ended on another thread); a mutex
// guards its state either way, and no net call that may call back runs under it.
class Relay : public std::enable_shared_from_this<Relay> {
  public:
    Relay(Gateway::Impl& gw, std::string id, Upstream up, net::Responder rs, Arrival arrival)
        : gw_(gw),
          id_(std::move(id)),
          up_(std::move(up)),
          rs_(std::move(rs)),
          arrival_(std::move(arrival)),
          started_at_(Clock::now()),
          usage_parent_(usage_parent(arrival_.path)) {}

    // `model`: the request's `model` as parse_relay_request read it. The request's headers and
    // body are moved into the upstream request.
    void start(net::Request& rq, const std::string& model, int first_byte_ms) {
        net::ClientRequest cr;
        cr.host = up_.host;
        cr.port = static_cast<std::uint16_t>(up_.port);
        cr.method = rq.method;
        cr.target = rq.target;
        // The engine knows its served name only; the body is parsed again and rewritten only
        // when the request named the deployment otherwise (an alias, the deployment id).
        if (!up_.served_model.empty() && model != up_.served_model) {
            json body = json::parse(rq.body, nullptr, false);
            if (body.is_object() && body.value("model", json()) != up_.served_model) {
                body["model"] = up_.served_model;
                rq.body = body.dump();
            }
        }
        cr.body = std::move(rq.body);
        // The whole-exchange deadline is a backstop; first-byte and idle time-outs act sooner.
        cr.timeout_ms = 24 * 3600 * 1000;
        cr.headers.reserve(rq.headers.size() + 1);
        for (auto& [k, v] : rq.headers) {
            if (hop_by_hop(k) || base::iequals(k, "authorization") ||
                base::iequals(k, "x-api-key")) {
                continue;  // the client's key is for the gateway, never forwarded
            }
            cr.headers.emplace_back(std::move(k), std::move(v));
        }
        if (!up_.api_key.empty()) cr.headers.emplace_back("Authorization", "Bearer " + up_.api_key);

        auto self = shared_from_this();
        rs_.on_disconnect([self] { self->client_gone(); });
        rs_.after(first_byte_ms, [self] { self->first_byte_deadline(); });
        net::StreamCallbacks cb;
        cb.on_headers = [self](int status, net::Headers h) {
            self->on_headers(status, std::move(h));
        };
        cb.on_body = [self](std::string_view d, Clock::time_point at) { self->on_body(d, at); };
        cb.on_done = [self](base::Result<void> r) { self->on_done(std::move(r)); };
        net::RequestHandle h = gw_.client().request(std::move(cr), std::move(cb));
        bool gone = false;
        {
            std::lock_guard lock(mu_);
            handle_ = h;
            gone = phase_ == Phase::finished;  // the client left already (on_disconnect ran)
        }
        if (gone) h.cancel();
    }

  private:
    enum class Phase { waiting, streaming, buffering, not_served, finished };

    void on_headers(int status, net::Headers headers) {
        std::unique_lock lock(mu_);
        if (phase_ != Phase::waiting) return;
        status_ = status;
        last_byte_at_ = Clock::now();
        if (status == 404) {  // the engine does not serve this path
            phase_ = Phase::not_served;
            return;
        }
        constexpr std::string_view kSse = "text/event-stream";
        const std::string_view type = net::header_value(headers, "content-type");
        const bool sse =
            type.size() >= kSse.size() && base::iequals(type.substr(0, kSse.size()), kSse);
        net::Headers out = std::move(headers);
        std::erase_if(out, [](const auto& h) { return hop_by_hop(h.first); });
        if (!sse) {
            got_first_byte_ = true;  // a whole answer: its head comes with its body
            phase_ = Phase::buffering;
            headers_ = std::move(out);
            return;
        }
        phase_ = Phase::streaming;
        lock.unlock();
        rs_.start_stream(status, std::move(out));
    }

    void on_body(std::string_view data, Clock::time_point at) {
        std::unique_lock lock(mu_);
        last_byte_at_ = at;
        if (phase_ == Phase::buffering || phase_ == Phase::not_served) {
            if (body_.size() + data.size() > gw_.options().max_body_bytes) {
                lock.unlock();
                fail(502, "the engine's response is over " +
                              std::to_string(gw_.options().max_body_bytes) + " bytes");
                return;
            }
            body_.append(data);
            return;
        }
        if (phase_ != Phase::streaming) return;
        const bool first = !got_first_byte_;
        got_first_byte_ = true;
        auto r = parser_.feed(data, [&](const net::SseEvent& e) { observe_event(e, at); });
        (void)r;  // a malformed stream is still relayed as the engine sent it
        // Flow control counts the bytes this relay handed to write() whose callback has not run
        // yet, under mu_. (Responder::queued_bytes() lags: write() is carried to the server's io
        // thread, so read here, right after it, it may not include the last chunks yet; a stream
        // whose last reads fell in that lag was never paused, the flaky test's cause.)
        unwritten_bytes_ += data.size();
        const std::size_t size = data.size();
        if (!paused_ && unwritten_bytes_ > gw_.options().high_watermark_bytes) {
            paused_ = true;
            ++gw_.paused_relays_;
            handle_.pause();  // inside on_body: at once (sets a flag, calls nothing back)
        }
        lock.unlock();
        auto self = shared_from_this();
        rs_.write(data, [self, size](bool ok) { self->written(ok, size); });
        if (first) arm_idle_timer();
    }

    // Per SSE event (under mu_): usage if sent; TTFT at the first event carrying output, gaps
    // between the next ones (sse_event_carries_output: not the lifecycle events of Responses
    // and Messages streams, which come before generation or in one write with a token).
    void observe_event(const net::SseEvent& e, Clock::time_point at) {
        if (e.data == "[DONE]") return;
        ++outcome_.chunks;
        // memmem (glibc's two-way search): string::find looks for the key's first character,
        // '"', with a memchr at each of an event's many quotes.
        constexpr std::string_view kKey = "\"usage\"";
        if (::memmem(e.data.data(), e.data.size(), kKey.data(), kKey.size()) != nullptr) {
            read_usage(e.data);
        }
        if (!sse_event_carries_output(e.type)) return;
        if (!first_event_at_) {
            first_event_at_ = at;
            outcome_.ttft_s = seconds_between(started_at_, at);
        } else {
            outcome_.chunk_gaps_s.push_back(seconds_between(last_event_at_, at));
        }
        last_event_at_ = at;
    }

    // Where the path's stream carries its usage when not at the top level of an event.
    static std::string_view usage_parent(std::string_view path) {
        if (path == "/v1/responses") return "response";
        if (path == "/v1/messages") return "message";
        return {};
    }

    void read_usage(std::string_view text) {
        UsageCounts u = serve::read_usage(text);
        if (!u.prompt_tokens && !u.completion_tokens && !usage_parent_.empty())
            u = serve::read_nested_usage(text, usage_parent_);
        if (u.prompt_tokens) outcome_.prompt_tokens = *u.prompt_tokens;
        if (u.completion_tokens) outcome_.completion_tokens = *u.completion_tokens;
    }

    void written(bool ok, std::size_t size) {
        if (!ok) return;  // client gone: on_disconnect cancels
        net::RequestHandle resume;
        {
            std::lock_guard lock(mu_);
            unwritten_bytes_ -= std::min(size, unwritten_bytes_);
            if (paused_ && unwritten_bytes_ <= gw_.options().low_watermark_bytes) {
                paused_ = false;
                --gw_.paused_relays_;
                resume = handle_;
            }
        }
        resume.resume();  // unlocked: on the request's own loop it reads at once
    }

    void on_done(base::Result<void> result) {
        std::unique_lock lock(mu_);
        const Phase phase = phase_;
        if (phase == Phase::finished) return;
        if (!result.ok()) {
            lock.unlock();
            fail(502, "the engine failed: " + result.error().message);
            return;
        }
        phase_ = Phase::finished;
        if (phase == Phase::buffering || phase == Phase::not_served) {
            if (phase == Phase::buffering) read_usage(body_);
            net::Response r;
            if (phase == Phase::not_served) {
                r = error_response(501, "this deployment's engine does not serve this path",
                                   "not_implemented_error", "not_implemented");
            } else {
                r.status = status_;
                r.headers = std::move(headers_);
                r.body = std::move(body_);
            }
            const int status = r.status;
            lock.unlock();
            finish(status);  // metrics first: a client that saw the end sees them counted
            rs_.respond(std::move(r));
            return;
        }
        const int status = status_;
        lock.unlock();
        finish(status);
        rs_.end();
    }

    // Ends the exchange with an error: an SSE error event when streaming, else a whole answer.
    void fail(int status, const std::string& message) {
        std::unique_lock lock(mu_);
        const Phase phase = phase_;
        if (phase == Phase::finished) return;
        phase_ = Phase::finished;
        net::RequestHandle h = handle_;
        lock.unlock();
        h.cancel();
        base::log_warn("gateway: " + id_ + ": " + message);
        finish(status);
        const std::string type = status == 504 ? "timeout_error" : "upstream_error";
        if (phase == Phase::streaming) {
            rs_.write(net::sse_event(error_object(message, type, status).dump()));
            rs_.end();
        } else {
            rs_.respond(error_response(status, message, type, status));
        }
    }

    void client_gone() {
        std::unique_lock lock(mu_);
        if (phase_ == Phase::finished) return;
        phase_ = Phase::finished;
        net::RequestHandle h = handle_;
        lock.unlock();
        h.cancel();
        finish(499);  // nginx's "client closed request"
    }

    void first_byte_deadline() {
        {
            std::lock_guard lock(mu_);
            if (got_first_byte_ || phase_ == Phase::finished) return;
        }
        fail(504, "no answer from the engine within the first-byte time-out");
    }

    void arm_idle_timer() {
        const int idle_ms = gw_.options().idle_chunk_timeout_ms;
        auto self = shared_from_this();
        rs_.after(idle_ms, [self, idle_ms] {
            std::unique_lock lock(self->mu_);
            if (self->phase_ != Phase::streaming) return;
            // A paused upstream is idle by our choice, not the engine's.
            const bool idle = !self->paused_ && Clock::now() - self->last_byte_at_ >=
                                                    std::chrono::milliseconds(idle_ms);
            lock.unlock();
            if (idle) {
                self->fail(504, "the engine sent nothing for " + std::to_string(idle_ms) +
                                    " ms mid-stream");
            } else {
                self->arm_idle_timer();
            }
        });
    }

    void finish(int status) {
        RelayOutcome outcome;
        {
            std::lock_guard lock(mu_);
            outcome = std::move(outcome_);
            if (paused_) {
                paused_ = false;
                --gw_.paused_relays_;
            }
        }
        gw_.relay_finished(id_, status, outcome, arrival_);
    }

    Gateway::Impl& gw_;
    const std::string id_;
    const Upstream up_;
    net::Responder rs_;
    const Arrival arrival_;
    const Clock::time_point started_at_;
    const std::string_view usage_parent_;  // "response", "message" or empty (usage_parent)

    std::mutex mu_;
    Phase phase_ = Phase::waiting;
    net::RequestHandle handle_;
    int status_ = 0;
    net::Headers headers_;
    std::string body_;
    bool got_first_byte_ = false;
    bool paused_ = false;
    std::size_t unwritten_bytes_ = 0;  // given to rs_.write(), its callback not run yet
    Clock::time_point last_byte_at_{};
    std::optional<Clock::time_point> first_event_at_;
    Clock::time_point last_event_at_{};
    net::SseParser parser_;
    RelayOutcome outcome_;
};

// ---- Gateway::Impl ----

void Gateway::Impl::raise_nofile_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
            base::log_warn("gateway: could not raise the open-files limit");
        }
    }
}

bool Gateway::Impl::authorized(const net::Request& rq) const {
    if (key_hashes_.empty()) return true;
    const std::string_view auth = net::header_value(rq.headers, "authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() || !base::iequals(auth.substr(0, kBearer.size()), kBearer)) {
        return false;
    }
    const std::string digest = sha256_hex(auth.substr(kBearer.size()));
    bool match = false;
    for (const std::string& h : key_hashes_) {  // every hash compared, in constant time
        match |= CRYPTO_memcmp(h.data(), digest.data(), digest.size()) == 0;
    }
    return match;
}

void Gateway::Impl::handle(net::Request& rq, net::Responder rs) {
    const std::string path = rq.target.substr(0, rq.target.find('?'));
    if (path == "/health") {
        net::Response r;
        r.headers.emplace_back("Content-Type", "application/json");
        r.body = R"({"status":"ok"})";
        return rs.respond(std::move(r));
    }
    // The status page's files are public (constant, no data in them; a browser cannot add
    // Authorization to a page load): the page asks for the key when /status answers 401.
    if (rq.method == "GET") {
        if (auto page = page_asset(path)) return rs.respond(std::move(*page));
    }
    if (!authorized(rq)) {
        return rs.respond(error_response(401, "a valid API key is required (Authorization: Bearer)",
                                         "authentication_error", "invalid_api_key",
                                         {{"WWW-Authenticate", "Bearer"}}));
    }
    if (path == "/metrics" && rq.method == "GET") {
        net::Response r;
        r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        r.body = metrics_text();
        return rs.respond(std::move(r));
    }
    if (path == "/v1/models" && rq.method == "GET") return models(std::move(rs));
    if (path == "/status" && rq.method == "GET") return rs.respond(status_response());
    if (path.rfind("/status/logs/", 0) == 0 && rq.method == "GET") {
        return rs.respond(logs_response(rq.target));
    }
    if (path.rfind("/v1/", 0) == 0) return relay_v1(rq, std::move(rs));
    rs.respond(error_response(404, "no such endpoint: " + base::printable(path),
                              "invalid_request_error", "not_found"));
}

net::Response Gateway::Impl::status_response() {
    json doc = registry_.status();
    std::map<std::string, GatewayCounts> counts;
    {
        std::lock_guard lock(mu_);
        for (const auto& [id, n] : in_flight_) counts[id].in_flight = n;
        for (const auto& [id, q] : queues_) counts[id].queued = q.size();
    }
    net::Response r;
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("Cache-Control", "no-store");
    // Engine-provided text may not be UTF-8: replaced, never thrown on.
    r.body = status_document(std::move(doc), counts, recent_)
                 .dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

net::Response Gateway::Impl::logs_response(const std::string& target) {
    auto doc = log_tail_document(registry_, target);
    if (!doc) {
        const bool missing = doc.error().code == base::Errc::not_found;
        return error_response(missing ? 404 : 400, doc.error().message, "invalid_request_error",
                              missing ? "not_found" : "invalid_value");
    }
    net::Response r;
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("Cache-Control", "no-store");
    r.body = doc->dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

void Gateway::Impl::models(net::Responder rs) {
    json data = json::array();
    for (const DeploymentView& d : registry_.deployments()) {
        data.push_back({{"id", d.id},
                        {"object", "model"},
                        {"owned_by", "sparkctl"},
                        {"created", 0},
                        {"meta",
                         {{"model", d.model},
                          {"aliases", d.aliases},
                          {"engine", d.engine},
                          {"state", d.state}}}});
    }
    net::Response r;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = json{{"object", "list"}, {"data", data}}.dump();
    rs.respond(std::move(r));
}

void Gateway::Impl::answer(const std::string& id, net::Responder& rs, net::Response r,
                           const Arrival& arrival) {
    {
        std::lock_guard lock(mu_);
        ++metrics_[id].requests_by_status[r.status];
    }
    record(id, r.status, arrival);
    rs.respond(std::move(r));
}

void Gateway::Impl::record(const std::string& id, int status, const Arrival& arrival,
                           const RelayOutcome& o) {
    RequestRecord r;
    r.time_ms = arrival.unix_ms;
    r.model = id;
    r.path = arrival.path;
    r.status = status;
    r.stream = arrival.stream;
    if (o.ttft_s) r.ttft_ms = *o.ttft_s * 1e3;
    r.e2e_ms = seconds_between(arrival.at, Clock::now()) * 1e3;
    r.prompt_tokens = o.prompt_tokens;
    r.completion_tokens = o.completion_tokens;
    recent_.add(std::move(r));
}

void Gateway::Impl::relay_v1(net::Request& rq, net::Responder rs) {
    auto parsed = parse_relay_request(rq);
    if (!parsed) {
        return rs.respond(
            error_response(400, parsed.error().message, "invalid_request_error", nullptr));
    }
    const std::vector<DeploymentView> views = registry_.deployments();
    std::unique_lock lock(mu_);
    std::vector<RouteCandidate> candidates;
    candidates.reserve(views.size());
    for (const DeploymentView& v : views) {
        candidates.push_back({v.id, v.aliases, v.engine, v.upstream.has_value(), in_flight_[v.id]});
    }
    const RouteDecision d = route(parsed->model, candidates);
    if (d.kind == RouteDecision::Kind::unknown) {
        lock.unlock();
        return rs.respond(
            error_response(404, "The model `" + base::printable(parsed->model) + "` does not exist",
                           "invalid_request_error", "model_not_found"));
    }
    const DeploymentView& view =
        *std::find_if(views.begin(), views.end(), [&](const auto& v) { return v.id == d.id; });
    if (d.kind == RouteDecision::Kind::not_loaded) {
        lock.unlock();
        return enqueue(d.id, rq, *parsed, std::move(rs));
    }
    lock.unlock();
    dispatch(d.id, *view.upstream, view.max_in_flight, rq, *parsed, std::move(rs),
             d.parallel_on_llamacpp, arrival_of(rq, *parsed));
}

// Starts a relay to a ready upstream, or answers 429/503 when over a limit.
void Gateway::Impl::dispatch(const std::string& id, const Upstream& up, int max_in_flight,
                             net::Request& rq, const RelayRequest& parsed, net::Responder rs,
                             bool parallel_on_llamacpp, const Arrival& arrival, bool from_queue) {
    {
        std::unique_lock lock(mu_);
        int& n = in_flight_[id];
        if (max_in_flight > 0 && n >= max_in_flight) {
            lock.unlock();
            return answer(id, rs,
                          error_response(429,
                                         "deployment " + id + " has " + std::to_string(n) +
                                             " requests in flight (its limit)",
                                         "rate_limit_error", "concurrency_limit",
                                         {{"Retry-After", std::to_string(opt_.retry_after_s)}}),
                          arrival);
        }
        if (streams_ >= opt_.max_streams) {
            lock.unlock();
            return answer(id, rs,
                          error_response(503, "the gateway has its maximum of streams open",
                                         "overloaded_error", "max_streams",
                                         {{"Retry-After", std::to_string(opt_.retry_after_s)}}),
                          arrival);
        }
        const bool llamacpp_busy = up.engine == "llama.cpp" && n > 0;
        ++n;
        ++streams_;
        if (parallel_on_llamacpp || llamacpp_busy) {
            ++metrics_[id].rops3_parallel_on_llamacpp;
            if (!rops3_burst_[id]) {
                rops3_burst_[id] = true;
                base::log_warn("gateway: " + id +
                               ": parallel requests on a llama.cpp deployment (R-OPS-3: route "
                               "parallel or agentic load to vLLM or SGLang)");
            }
        }
    }
    if (!registry_.request_started(id)) {
        {
            std::lock_guard lock(mu_);  // not relayed: undo the counts taken above
            int& n = in_flight_[id];
            if (n > 0) --n;
            if (n == 0) rops3_burst_[id] = false;
            if (streams_ > 0) --streams_;
        }
        // It read the view just before the daemon began stopping the deployment (an eviction
        // for a swap, or its ttl_s): it waits for the next load like any request for a
        // deployment that is not resident. Refused again after that load: 503.
        if (!from_queue) return enqueue(id, rq, parsed, std::move(rs));
        return answer(
            id, rs,
            error_response(503, "deployment " + id + " is being unloaded", "overloaded_error",
                           "unloading", {{"Retry-After", std::to_string(opt_.retry_after_s)}}),
            arrival);
    }
    double predicted_ms = 0;
    if (opt_.predicted_ttft_ms) {
        if (auto p = opt_.predicted_ttft_ms(id, parsed.prompt_bytes)) predicted_ms = *p;
    }
    const int first_byte_ms = static_cast<int>(
        std::max<double>(opt_.first_byte_floor_ms, opt_.first_byte_factor * predicted_ms));
    auto relay = std::make_shared<Relay>(*this, id, up, std::move(rs), arrival);
    relay->start(rq, parsed.model, first_byte_ms);
}

void Gateway::Impl::relay_finished(const std::string& id, int status, const RelayOutcome& o,
                                   const Arrival& arrival) {
    {
        std::lock_guard lock(mu_);
        ModelMetrics& m = metrics_[id];
        ++m.requests_by_status[status];
        m.prompt_tokens += o.prompt_tokens;
        m.completion_tokens += o.completion_tokens;
        m.stream_chunks += o.chunks;
        if (o.ttft_s) m.ttft.observe(*o.ttft_s);
        for (double g : o.chunk_gaps_s) m.chunk_gap.observe(g);
        int& n = in_flight_[id];
        if (n > 0) --n;
        if (n == 0) rops3_burst_[id] = false;
        if (streams_ > 0) --streams_;
    }
    record(id, status, arrival, o);
    registry_.request_finished(id);
}

void Gateway::Impl::enqueue(const std::string& id, const net::Request& rq,
                            const RelayRequest& parsed, net::Responder rs) {
    std::uint64_t load = 0;  // set when this request starts the deployment's load
    std::uint64_t seq = 0;
    {
        std::unique_lock lock(mu_);
        std::deque<Pending>& q = queues_[id];
        if (q.size() >= opt_.queue_max_per_model) {
            ++metrics_[id].requests_by_status[503];
            lock.unlock();
            record(id, 503, arrival_of(rq, parsed));
            return rs.respond(
                error_response(503,
                               "deployment " + id + " is loading and its queue is full (" +
                                   std::to_string(opt_.queue_max_per_model) + " requests)",
                               "overloaded_error", "queue_full",
                               {{"Retry-After", std::to_string(opt_.retry_after_s)}}));
        }
        seq = ++next_seq_;
        q.push_back({seq, rq, rs, parsed, arrival_of(rq, parsed)});
        if (loading_[id] == 0) load = loading_[id] = ++next_load_;
    }
    // A queued request leaves the queue on time-out or when its client goes away.
    auto remove = [this, id, seq]() -> std::optional<Pending> {
        std::lock_guard lock(mu_);
        std::deque<Pending>& q = queues_[id];
        auto it = std::find_if(q.begin(), q.end(), [&](const Pending& p) { return p.seq == seq; });
        if (it == q.end()) return std::nullopt;
        Pending p = std::move(*it);
        q.erase(it);
        return p;
    };
    rs.on_disconnect([remove] { (void)remove(); });
    rs.after(opt_.queue_timeout_ms, [this, id, remove] {
        if (auto p = remove()) {
            answer(id, p->responder,
                   error_response(503,
                                  "deployment " + id + " did not become ready within " +
                                      std::to_string(opt_.queue_timeout_ms) + " ms",
                                  "overloaded_error", "queue_timeout",
                                  {{"Retry-After", std::to_string(opt_.retry_after_s)}}),
                   p->arrival);
        }
    });
    if (load != 0) {
        base::log_info("gateway: " + id + ": not loaded; asking the daemon to load it");
        registry_.ensure_ready(
            id, [this, id, load](base::Result<Upstream> r) { load_done(id, load, std::move(r)); });
    }
}

// The deployment's load ended: every request queued for it goes now (collated: one load serves
// them all), or all get 503 with the reason. The answer of a withdrawn load is dropped.
void Gateway::Impl::load_done(const std::string& id, std::uint64_t load,
                              base::Result<Upstream> result) {
    std::deque<Pending> waiting;
    {
        std::lock_guard lock(mu_);
        if (loading_[id] != load) return;
        loading_[id] = 0;
        waiting.swap(queues_[id]);
    }
    int max_in_flight = 0;
    if (result.ok() && !waiting.empty()) {
        for (const DeploymentView& v : registry_.deployments()) {
            if (v.id == id) max_in_flight = v.max_in_flight;
        }
    }
    for (Pending& p : waiting) {
        if (result.ok()) {
            dispatch(id, *result, max_in_flight, p.request, p.parsed, std::move(p.responder), false,
                     p.arrival, true);
        } else {
            answer(id, p.responder,
                   error_response(
                       503, "deployment " + id + " could not be loaded: " + result.error().message,
                       "overloaded_error", "load_failed",
                       {{"Retry-After", std::to_string(opt_.retry_after_s)}}),
                   p.arrival);
        }
    }
}

std::string Gateway::Impl::metrics_text() {
    const std::vector<DeploymentView> views = registry_.deployments();
    const MemoryView mem = registry_.memory();
    prom::TextWriter w;
    std::lock_guard lock(mu_);
    std::vector<std::string> ids;
    for (const DeploymentView& v : views) ids.push_back(v.id);
    for (const auto& [id, m] : metrics_) {
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
    auto per_model = [&](const char* name, prom::MetricType type, const char* help, auto value) {
        w.family(name, type, help);
        for (const std::string& id : ids) w.sample(name, {{"model", id}}, value(id));
    };
    w.family("sparkctl_gateway_requests_total", prom::MetricType::counter,
             "Requests answered, by deployment and HTTP status (499: client went away).");
    for (const auto& [id, m] : metrics_) {
        for (const auto& [status, n] : m.requests_by_status) {
            w.sample("sparkctl_gateway_requests_total",
                     {{"model", id}, {"status", std::to_string(status)}}, static_cast<double>(n));
        }
    }
    auto counter = [&](auto field) {
        return [&, field](const std::string& id) {
            auto it = metrics_.find(id);
            return it == metrics_.end() ? 0.0 : static_cast<double>(it->second.*field);
        };
    };
    per_model("sparkctl_gateway_prompt_tokens_total", prom::MetricType::counter,
              "Prompt tokens, from the engines' usage.", counter(&ModelMetrics::prompt_tokens));
    per_model("sparkctl_gateway_completion_tokens_total", prom::MetricType::counter,
              "Completion tokens, from the engines' usage.",
              counter(&ModelMetrics::completion_tokens));
    per_model("sparkctl_gateway_stream_chunks_total", prom::MetricType::counter,
              "SSE events relayed (not counting [DONE]).", counter(&ModelMetrics::stream_chunks));
    per_model("sparkctl_rops3_parallel_on_llamacpp_total", prom::MetricType::counter,
              "Requests that reached a llama.cpp deployment with another in flight (R-OPS-3).",
              counter(&ModelMetrics::rops3_parallel_on_llamacpp));
    w.family("sparkctl_gateway_ttft_seconds", prom::MetricType::histogram,
             "Time from request to the first SSE event carrying output (chat and completions: "
             "the first event; Responses: the first *.delta; Messages: the first "
             "content_block_delta), through the gateway.");
    for (const auto& [id, m] : metrics_)
        w.histogram("sparkctl_gateway_ttft_seconds", {{"model", id}}, m.ttft);
    w.family("sparkctl_gateway_inter_chunk_seconds", prom::MetricType::histogram,
             "Gap between consecutive SSE events carrying output, as timed for TTFT "
             "(inter-token latency at one token per event).");
    for (const auto& [id, m] : metrics_) {
        w.histogram("sparkctl_gateway_inter_chunk_seconds", {{"model", id}}, m.chunk_gap);
    }
    per_model("sparkctl_gateway_in_flight", prom::MetricType::gauge, "Requests being relayed.",
              [&](const std::string& id) {
                  auto it = in_flight_.find(id);
                  return it == in_flight_.end() ? 0.0 : static_cast<double>(it->second);
              });
    per_model("sparkctl_gateway_queued", prom::MetricType::gauge,
              "Requests waiting for their deployment to load.", [&](const std::string& id) {
                  auto it = queues_.find(id);
                  return it == queues_.end() ? 0.0 : static_cast<double>(it->second.size());
              });
    w.family("sparkctl_gateway_upstream_paused", prom::MetricType::gauge,
             "Relays whose engine read is paused because their client is slow (flow control).");
    w.sample("sparkctl_gateway_upstream_paused", {}, paused_relays_.load());
    auto from_view = [&](const char* name, prom::MetricType type, const char* help, auto value) {
        w.family(name, type, help);
        for (const DeploymentView& v : views) w.sample(name, {{"model", v.id}}, value(v));
    };
    from_view("sparkctl_loads_total", prom::MetricType::counter, "Loads started by the daemon.",
              [](const DeploymentView& v) { return static_cast<double>(v.loads_total); });
    from_view("sparkctl_load_seconds_total", prom::MetricType::counter, "Seconds spent loading.",
              [](const DeploymentView& v) { return v.load_seconds_total; });
    from_view("sparkctl_evictions_total", prom::MetricType::counter, "Evictions.",
              [](const DeploymentView& v) { return static_cast<double>(v.evictions_total); });
    from_view("sparkctl_restarts_total", prom::MetricType::counter, "Restarts after a crash.",
              [](const DeploymentView& v) { return static_cast<double>(v.restarts_total); });
    from_view("sparkctl_reserved_bytes", prom::MetricType::gauge,
              "Admission ledger reservation (the plan's upper bound).",
              [](const DeploymentView& v) { return static_cast<double>(v.reserved_bytes); });
    w.family("sparkctl_measured_bytes", prom::MetricType::gauge,
             "Memory the engine reported in its load log.");
    for (const DeploymentView& v : views) {
        if (v.measured_bytes) {
            w.sample("sparkctl_measured_bytes", {{"model", v.id}},
                     static_cast<double>(*v.measured_bytes));
        }
    }
    w.family("sparkctl_budget_bytes", prom::MetricType::gauge, "The memory budget for models.");
    w.sample("sparkctl_budget_bytes", {}, static_cast<double>(mem.budget_bytes));
    if (mem.mem_available_bytes) {
        w.family("sparkctl_mem_available_bytes", prom::MetricType::gauge,
                 "MemAvailable from /proc/meminfo.");
        w.sample("sparkctl_mem_available_bytes", {}, static_cast<double>(*mem.mem_available_bytes));
    }
    return w.text();
}

// ---- Gateway ----

base::Result<std::unique_ptr<Gateway>> Gateway::create(GatewayOptions options, Registry& registry) {
    std::vector<std::string> hashes;
    if (options.api_keys_file) {
        auto h = read_api_key_hashes(*options.api_keys_file);
        if (!h) return h.error();
        hashes = std::move(*h);
    } else if (!is_loopback_host(options.host)) {
        return base::make_error(base::Errc::bad_input,
                                "listen address " + options.host +
                                    " is not loopback: set api_keys_file (SHA-256 hashes of the "
                                    "accepted keys) to serve off this machine");
    }
    if (options.tls_cert.has_value() != options.tls_key.has_value()) {
        return base::make_error(base::Errc::bad_input,
                                std::string("gateway: tls_cert and tls_key go together; only ") +
                                    (options.tls_cert ? "tls_cert" : "tls_key") + " is set");
    }
    if (options.low_watermark_bytes > options.high_watermark_bytes) {
        return base::make_error(base::Errc::bad_input,
                                "gateway: low watermark above the high watermark");
    }
    return std::unique_ptr<Gateway>(
        new Gateway(std::make_unique<Impl>(std::move(options), registry, std::move(hashes))));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() { impl_->stop(0); }
base::Result<void> Gateway::start() { return impl_->start(); }
std::uint16_t Gateway::port() const { return impl_->port(); }
void Gateway::stop(int grace_ms) { impl_->stop(grace_ms); }
std::string Gateway::metrics_text() { return impl_->metrics_text(); }
std::size_t Gateway::queued(const std::string& id) { return impl_->queued(id); }

bool Gateway::withdraw_if_unwanted(const std::string& id) {
    return impl_->withdraw_if_unwanted(id);
}

}  // namespace sparkctl::serve
