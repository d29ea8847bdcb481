#include "bench/loadgen.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>

#include "base/strings.h"
#include "bench/sse_event.h"
#include "engines/metrics.h"
#include "net/sse.h"

namespace sparkctl::bench {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

std::optional<double> header_number(const net::Headers& h, std::string_view name) {
    const std::string v(net::header_value(h, name));
    if (v.empty()) return std::nullopt;
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (end == v.c_str()) return std::nullopt;
    return x;
}

// One request in flight: its record and the parser of its stream. Touched only by the client's
// io thread until on_done, then handed to the driver under its mutex.
struct Flight {
    RequestRecord rec;
    Clock::time_point sent;
    std::optional<Clock::time_point> last_chunk;
    net::SseParser parser;
    std::string body;  // non-streaming, or an error body
    bool saw_error_event = false;
};

// Reads one SSE event's JSON into the record.
// Takes the token counts from an OpenAI `usage` object, when the document carries one.
void read_usage(const json& doc, RequestRecord& rec) {
    const json usage = doc.value("usage", json());
    if (!usage.is_object()) return;
    const json ct = usage.value("completion_tokens", json());
    const json pt = usage.value("prompt_tokens", json());
    if (ct.is_number_unsigned()) rec.output_tokens = ct.get<std::uint64_t>();
    if (pt.is_number_unsigned()) rec.usage_prompt_tokens = pt.get<std::uint64_t>();
}

void on_event(Flight& f, const net::SseEvent& e, Clock::time_point at) {
    if (e.data == "[DONE]") return;
    const std::optional<EventFields> ev = read_event(e.data);
    if (!ev) return;
    if (ev->error) {
        f.saw_error_event = true;
        f.rec.error = "error event: " + base::printable(e.data.substr(0, 200));
        return;
    }
    if (ev->content) {
        if (f.rec.content_chunks == 0) {
            f.rec.ttft_ms = ms_between(f.sent, at);
        } else {
            f.rec.chunk_gap_ms.push_back(ms_between(*f.last_chunk, at));
        }
        f.last_chunk = at;
        ++f.rec.content_chunks;
    }
    if (ev->completion_tokens) f.rec.output_tokens = *ev->completion_tokens;
    if (ev->prompt_tokens) f.rec.usage_prompt_tokens = ev->prompt_tokens;
    if (ev->cache_n) f.rec.cache_n = ev->cache_n;
}

// Reads a whole (non-streaming) response body.
void on_whole(Flight& f) {
    const json doc = json::parse(f.body, nullptr, false);
    if (!doc.is_object()) {
        f.rec.error = "response is not a JSON object";
        return;
    }
    read_usage(doc, f.rec);
    if (auto n = engines::llamacpp_cache_n(f.body)) f.rec.cache_n = n;
    f.rec.content_chunks = 1;
}

}  // namespace

base::Result<Endpoint> parse_url(std::string_view url) {
    auto bad = [&](const std::string& what) {
        return base::make_error(base::Errc::bad_input, "'" + base::printable(url) + "': " + what);
    };
    Endpoint e;
    e.url = std::string(url);
    std::string_view rest = url;
    if (rest.starts_with("https://")) return bad("https is not supported; give an http:// URL");
    if (!rest.starts_with("http://")) return bad("expected http://HOST[:PORT][/PATH]");
    rest.remove_prefix(7);
    const std::size_t slash = rest.find('/');
    std::string_view hostport = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (hostport.empty()) return bad("no host");
    // "[::1]:8000": the port follows the bracket; a bare IPv6 address needs the brackets.
    const std::size_t bracket = hostport.rfind(']');
    const std::size_t colon = hostport.rfind(':');
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
        const std::string p(hostport.substr(colon + 1));
        char* end = nullptr;
        const long port = std::strtol(p.c_str(), &end, 10);
        if (p.empty() || *end != '\0' || port < 1 || port > 65535) {
            return bad("port '" + base::printable(p) + "' is not 1..65535");
        }
        e.port = static_cast<std::uint16_t>(port);
        hostport = hostport.substr(0, colon);
    }
    if (hostport.size() > 2 && hostport.front() == '[' && hostport.back() == ']') {
        hostport = hostport.substr(1, hostport.size() - 2);
    }
    if (hostport.empty()) return bad("no host");
    e.host = std::string(hostport);
    std::string p(path);
    while (!p.empty() && p.back() == '/') p.pop_back();
    if (p.ends_with("/v1")) p.resize(p.size() - 3);
    e.prefix = p;
    return e;
}

std::string request_body(const RunOptions& o, const RequestSpec& spec) {
    json body = {{"model", o.model},
                 {"prompt", (spec.prefix ? *spec.prefix : std::string()) + spec.tag +
                                (spec.body ? *spec.body : std::string())},
                 {"max_tokens", spec.output_tokens},
                 {"temperature", 0},
                 {"stream", o.stream}};
    if (o.stream) body["stream_options"] = {{"include_usage", true}};
    if (o.engine) {
        // Every output token generated: ignore_eos is a sampling parameter of all three
        // (V:vllm/sampling_params.py SamplingParams.ignore_eos and min_tokens;
        // S:python/sglang/srt/sampling/sampling_params.py ignore_eos;
        // LC:tools/server/server-schema.cpp field_bool "ignore_eos").
        body["ignore_eos"] = true;
        if (*o.engine == engines::Engine::vllm) body["min_tokens"] = spec.output_tokens;
    }
    if (o.cache_prompt_off) body["cache_prompt"] = false;
    return body.dump();
}

PointResult run_point(net::Client& client, const RunOptions& o, const sim::Load& load,
                      const std::vector<RequestSpec>& specs, std::uint32_t warmup) {
    std::mutex mu;
    std::condition_variable cv;
    std::uint64_t in_flight = 0, done = 0, errors = 0, sent = 0;
    std::uint64_t ended = 0;  // every on_done, warm-up included: wakes the driver
    std::vector<RequestRecord> records(specs.size());
    std::vector<char> finished(specs.size(), 0);

    const std::string target = o.endpoint.prefix + "/v1/completions";
    auto start_one = [&](std::size_t i, Clock::time_point due, Clock::time_point origin,
                         bool keep) {
        auto f = std::make_shared<Flight>();
        f->sent = Clock::now();
        f->rec.queue_ms = std::max(0.0, ms_between(due, f->sent));
        f->rec.sent_s = ms_between(origin, f->sent) / 1000;
        f->rec.prompt_tokens_built = specs[i].prompt_tokens;
        net::ClientRequest r;
        r.host = o.endpoint.host;
        r.port = o.endpoint.port;
        r.method = "POST";
        r.target = target;
        r.headers = {{"Content-Type", "application/json"}};
        if (!o.api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + o.api_key);
        r.body = request_body(o, specs[i]);
        r.timeout_ms = o.request_timeout_ms;
        net::StreamCallbacks cb;
        cb.on_headers = [f](int status, const net::Headers& h) {
            f->rec.status = status;
            f->rec.simulated = net::header_value(h, "X-Sparkctl-Simulated") == "1";
            f->rec.scheduled_ttft_ms = header_number(h, "X-Sparkctl-Scheduled-Ttft-Ms");
            f->rec.scheduled_itl_ms = header_number(h, "X-Sparkctl-Scheduled-Itl-Ms");
        };
        const bool stream = o.stream;
        cb.on_body = [f, stream](std::string_view data, Clock::time_point at) {
            if (!stream || f->rec.status != 200) {
                if (f->body.size() < (64u << 20)) f->body.append(data);
                return;
            }
            auto fed = f->parser.feed(data, [&](const net::SseEvent& e) { on_event(*f, e, at); });
            if (!fed && f->rec.error.empty()) f->rec.error = "SSE: " + fed.error().message;
        };
        cb.on_done = [&, f, i, origin, keep, stream](base::Result<void> result) {
            const auto end = Clock::now();
            RequestRecord& rec = f->rec;
            rec.e2e_ms = ms_between(f->sent, end);
            rec.done_s = ms_between(origin, end) / 1000;
            if (!result) {
                rec.error = result.error().message + " after " +
                            std::to_string(rec.content_chunks) + " chunks";
            } else if (rec.status != 200) {
                rec.error = "HTTP " + std::to_string(rec.status) + ": " +
                            base::printable(f->body.substr(0, 200));
            } else if (!stream) {
                on_whole(*f);
                rec.ttft_ms = rec.e2e_ms;
            } else if (rec.error.empty() && rec.content_chunks == 0) {
                rec.error = "no content in the stream";
            } else if (rec.error.empty() && f->parser.has_pending_data()) {
                rec.error = "stream ended inside an event";
            }
            rec.ok = rec.error.empty();
            if (rec.ok && rec.output_tokens == 0) rec.output_tokens = rec.content_chunks;
            std::lock_guard lock(mu);
            if (keep) {
                records[i] = std::move(rec);
                finished[i] = 1;
                ++done;
                if (!records[i].ok) ++errors;
            }
            --in_flight;
            ++ended;
            cv.notify_all();
        };
        client.request(std::move(r), std::move(cb));
    };

    // Warm-up: one at a time, waited for, not recorded.
    for (std::uint32_t w = 0; w < warmup && !specs.empty(); ++w) {
        const auto now = Clock::now();
        {
            std::lock_guard lock(mu);
            ++in_flight;
        }
        start_one(w % specs.size(), now, now, false);
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return in_flight == 0; });  // the warm-up request ended
    }

    // The driver: a queue of due times. Closed loop: each user's next request is due think_s
    // after its last finished; open loop and traces: at each spec's arrival.
    const auto origin = Clock::now();
    const bool closed = load.kind == sim::Load::Kind::closed;
    const auto limit = load.duration_s
                           ? std::optional<Clock::time_point>(
                                 origin + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(*load.duration_s)))
                           : std::nullopt;
    std::size_t next = 0;
    std::uint64_t users_free = closed ? std::max<std::uint32_t>(1, load.concurrency) : 0;
    std::deque<Clock::time_point> user_due;  // closed loop: when a free user may send
    for (std::uint64_t u = 0; u < users_free; ++u) user_due.push_back(origin);
    std::uint64_t prev_done = 0, prev_ended = ended;
    auto last_progress = origin;
    std::unique_lock lock(mu);
    while (true) {
        const auto now = Clock::now();
        const bool admitting = next < specs.size() && (!limit || now < *limit);
        if (!admitting && in_flight == 0) break;
        std::optional<Clock::time_point> due;
        if (admitting) {
            if (closed) {
                if (!user_due.empty()) due = user_due.front();
            } else {
                due = origin + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(specs[next].arrival_s));
            }
        }
        if (due && *due <= now) {
            if (closed) user_due.pop_front();
            ++in_flight;
            ++sent;
            const std::size_t i = next++;
            lock.unlock();
            start_one(i, *due, origin, true);
            lock.lock();
            continue;
        }
        if (o.progress && now - last_progress >= std::chrono::seconds(1)) {
            last_progress = now;
            const auto d = done, e = errors, s = sent;
            lock.unlock();
            o.progress(d, e, s);
            lock.lock();
            continue;
        }
        auto wake = last_progress + std::chrono::seconds(1);
        if (due) wake = std::min(wake, *due);
        if (limit && admitting) wake = std::min(wake, *limit);
        cv.wait_until(lock, wake, [&] { return ended != prev_ended; });
        prev_ended = ended;
        if (closed && done != prev_done) {
            // Each finished request frees its user, who thinks before sending again.
            const auto free_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                    std::chrono::duration<double>(load.think_s));
            for (std::uint64_t k = prev_done; k < done; ++k) user_due.push_back(free_at);
        }
        prev_done = done;
    }
    if (o.progress) o.progress(done, errors, sent);

    PointResult out;
    double first = -1, last = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (!finished[i]) continue;
        if (first < 0 || records[i].sent_s < first) first = records[i].sent_s;
        last = std::max(last, records[i].done_s);
        out.records.push_back(std::move(records[i]));
    }
    out.duration_s = first < 0 ? 0 : last - first;
    return out;
}

}  // namespace sparkctl::bench
