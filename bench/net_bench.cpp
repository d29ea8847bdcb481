// net_bench: net::Client against net::Server on loopback, one io thread each. Prints requests/s
// (small whole responses, keep-alive) and SSE events/s (streams parsed with SseParser, each
// piece timestamped as bench does). Numbers only; nothing is asserted.
// Run: build/release/bench/net_bench
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>

#include "net/client.h"
#include "net/server.h"
#include "net/sse.h"

namespace {

using namespace sparkctl::net;

constexpr int kEventsPerStream = 1000;
constexpr int kEventsPerWrite = 50;

void serve(const Request& req, Responder r) {
    if (req.target != "/stream") {
        r.respond(Response{200, {{"Content-Type", "application/json"}}, "{\"ok\":true}"});
        return;
    }
    r.start_stream(200, {{"Content-Type", "text/event-stream"}});
    // Writes kEventsPerWrite events at a time, the next batch when the last one is on the wire.
    auto batch = std::make_shared<std::function<void(int)>>();
    *batch = [r, batch](int sent) {
        if (sent >= kEventsPerStream) {
            r.end();
            *batch = nullptr;
            return;
        }
        std::string out;
        for (int i = 0; i < kEventsPerWrite; ++i) {
            out += sse_event("{\"choices\":[{\"delta\":{\"content\":\"tok\"}}]}");
        }
        r.write(std::move(out), [batch, sent](bool ok) {
            if (ok && *batch) (*batch)(sent + kEventsPerWrite);
        });
    };
    (*batch)(0);
}

// Keeps `concurrency` requests in flight until `total` have finished; returns events parsed.
std::int64_t drive(Client& client, std::uint16_t port, const std::string& target, int total,
                   int concurrency) {
    struct Shared {
        std::atomic<int> started{0};
        std::atomic<int> finished{0};
        std::atomic<std::int64_t> events{0};
        std::promise<void> all_done;
    };
    auto shared = std::make_shared<Shared>();
    auto issue = std::make_shared<std::function<void()>>();
    *issue = [&client, port, target, total, shared, weak = std::weak_ptr(issue)] {
        if (shared->started.fetch_add(1) >= total) return;
        ClientRequest req;
        req.port = port;
        req.target = target;
        auto parser = std::make_shared<SseParser>();
        StreamCallbacks cb;
        cb.on_body = [parser, shared](std::string_view data,
                                      std::chrono::steady_clock::time_point) {
            std::int64_t n = 0;
            (void)parser->feed(data, [&n](const SseEvent&) { ++n; });
            shared->events += n;
        };
        cb.on_done = [shared, total, weak](sparkctl::base::Result<void> r) {
            if (!r.ok()) std::abort();
            if (shared->finished.fetch_add(1) + 1 == total) return shared->all_done.set_value();
            if (auto next = weak.lock()) (*next)();
        };
        client.request(std::move(req), std::move(cb));
    };
    for (int i = 0; i < concurrency; ++i) (*issue)();
    shared->all_done.get_future().wait();
    return shared->events.load();
}

void BM_Requests(benchmark::State& state) {
    Server server({}, serve);
    if (!server.start().ok()) std::abort();
    Client client;
    const int total = 20'000;
    const int concurrency = static_cast<int>(state.range(0));
    for (auto _ : state) drive(client, server.port(), "/small", total, concurrency);
    state.counters["requests_per_s"] =
        benchmark::Counter(static_cast<double>(total) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Requests)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SseEvents(benchmark::State& state) {
    Server server({}, serve);
    if (!server.start().ok()) std::abort();
    Client client;
    const int streams = 200;
    const int concurrency = static_cast<int>(state.range(0));
    std::int64_t events = 0;
    for (auto _ : state) events += drive(client, server.port(), "/stream", streams, concurrency);
    if (events != static_cast<std::int64_t>(streams) * kEventsPerStream *
                      static_cast<std::int64_t>(state.iterations())) {
        std::abort();  // a lost event would make the rate meaningless
    }
    state.counters["events_per_s"] =
        benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SseEvents)->Arg(1)->Arg(100)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
