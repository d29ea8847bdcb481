// sparkctl bench run URL: load tests of an OpenAI-compatible endpoint (src/bench/,
// docs/dev/bench.md): the workload vocabulary of simulate, per-SSE-event timing, and the R-OPS-2
// prefix-cache guard checked against the engine's own pages.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/exit_status.h"
#include "base/strings.h"
#include "bench/loadgen.h"
#include "bench/probe.h"
#include "bench/summary.h"
#include "cli/bench_history.h"
#include "cli/bench_predict.h"
#include "cli/command.h"
#include "cli/workload_flags.h"
#include "serve/admin_socket.h"
#include "sim/report.h"
#include "sim/workload.h"

namespace sparkctl::cli {

namespace {

using nlohmann::json;

struct RunArgs {
    std::string url;  // a URL, or a deployment id of `sparkctl serve`
    std::string socket;
    std::string model;
    std::string api_key;
    std::string quant;
    std::string launch_flags;
    WorkloadFlags w;
    std::uint32_t repeats = 1;
    std::uint32_t warmup = 1;
    bool no_stream = false;
    bool allow_prefix_cache = false;
    double request_timeout_s = 300;
    // --depth mode; the defaults are llama-benchy's (src/llama_benchy/config.py: --pp 2048,
    // --tg 32, --runs 3).
    std::string depth;
    std::uint32_t pp = 2048;
    std::uint32_t tg = 32;
    std::optional<std::uint32_t> max_tokens;  // caps the dataset's output lengths
    std::string engine;                       // with --model a catalog id and --quant: predictions
};

// llama-bench's test names (LC:tools/llama-bench/llama-bench.cpp markdown_printer, "pp%d",
// "tg%d", " @ d%d" when the depth is not 0), as llama-benchy prints them too
// (src/llama_benchy/results.py: f"pp{pp}" + f" @ d{depth}"); with `--concurrency` above 1
// anywhere in the list, every test gets llama-benchy's " (c%d)" (results.py at ae09cab lines
// 357-359: when the suite's max_concurrency > 1).
std::string test_name(const char* kind, std::uint32_t n, double depth, std::uint32_t users,
                      bool show_users) {
    return fmt::format("{}{}{}{}", kind, n, depth > 0 ? fmt::format(" @ d{:g}", depth) : "",
                       show_users ? fmt::format(" (c{})", users) : "");
}

// `--depth 0,4096,...`: whole numbers, 0 allowed.
base::Result<std::vector<double>> parse_depths(const std::string& text) {
    std::vector<double> out;
    for (const std::string& part : base::split(text, ',')) {
        const auto v = base::parse_u64(base::trim(part));
        if (!v || *v > (1u << 24)) {
            return base::make_error(base::Errc::bad_input,
                                    "--depth: '" + base::printable(part) +
                                        "' is not a whole number of tokens (0 to 16777216)");
        }
        out.push_back(double(*v));
    }
    if (out.empty()) return base::make_error(base::Errc::bad_input, "--depth: empty list");
    return out;
}

json stats_json(const std::optional<net::Stats>& s) {
    if (!s) return nullptr;
    return {{"mean", s->mean}, {"p50", s->p50}, {"p90", s->p90},
            {"p95", s->p95},   {"p99", s->p99}, {"p99_9", s->p99_9}};
}

json opt(const std::optional<double>& x) { return x ? json(*x) : json(nullptr); }

// One measured load point (its repeats pooled).
struct Point {
    double load = 0;
    bench::Summary summary;
    std::vector<bench::Summary> repeats;  // each repeat alone, when there are several
    std::optional<double> prefix_cache_hits;
    std::optional<bench::DepthSpeeds> depth;  // --depth mode
    std::uint32_t users = 1;                  // --depth mode: requests per batch
    sim::Load sent;                           // as sent (one repeat), for the prediction
    bool slo_met = true;
    std::string slo_failed;
};

// ninja's LinePrinter idea: one rewritten line on a terminal, plain lines otherwise.
class Progress {
  public:
    Progress() : tty_(isatty(fileno(stderr)) == 1) {}
    void update(const std::string& line) {
        if (tty_) {
            std::fprintf(stderr, "\r%s\033[K", line.c_str());
        } else if (++calls_ % 10 == 0) {
            std::fprintf(stderr, "%s\n", line.c_str());
        }
        std::fflush(stderr);
    }
    void line(const std::string& text) {
        std::fprintf(stderr, tty_ ? "\r%s\033[K\n" : "%s\n", text.c_str());
        std::fflush(stderr);
    }

  private:
    bool tty_;
    std::uint64_t calls_ = 0;
};

// The table of a load sweep: one row per point.
std::string points_table(const std::string& load_name, const std::vector<Point>& points) {
    std::string t = fmt::format("{:>12} {:>9} {:>11} {:>9} {:>10} {:>10} {:>10} {:>10} {:>6}\n",
                                load_name, "req/s", "out tok/s", "done", "ttft p50", "ttft p99",
                                "tpot p50", "itl p99", "errors");
    for (const Point& pt : points) {
        const bench::Summary& s = pt.summary;
        t += fmt::format(
            "{:>12g} {:>9.2f} {:>11.1f} {:>9} {:>8.1f}ms {:>8.1f}ms {:>8.2f}ms "
            "{:>8.2f}ms {:>6}\n",
            pt.load, s.s.requests_per_s, s.s.output_tokens_per_s, s.s.requests_completed,
            s.s.ttft_ms ? s.s.ttft_ms->p50 : 0, s.s.ttft_ms ? s.s.ttft_ms->p99 : 0,
            s.s.tpot_ms ? s.s.tpot_ms->p50 : 0, s.s.itl_ms ? s.s.itl_ms->p99 : 0, s.errors);
    }
    return t;
}

// `--depth`: llama-bench's markdown table (LC:tools/llama-bench/llama-bench.cpp
// markdown_printer: "| model | ... | test | t/s |", t/s as "%.2f ± %.2f"), with the engine in
// the backend's place; a test with no measurement (every request failed) shows "-". With
// `--concurrency` above 1, llama-benchy's two columns (src/llama_benchy/results.py at ae09cab
// line 444-445: "t/s (total)" for the batch, "t/s (req)" per request).
std::string depth_table(const RunArgs& a, const std::string& engine,
                        const std::vector<Point>& points, bool show_users) {
    std::string t = show_users ? "| model | engine | test | t/s (total) | t/s (req) |\n"
                                 "| :--- | :--- | ---: | ---: | ---: |\n"
                               : "| model | engine | test | t/s |\n| :--- | :--- | ---: | ---: |\n";
    auto cell = [](const std::optional<bench::Speed>& sp) {
        return sp ? fmt::format("{:.2f} ± {:.2f}", sp->mean, sp->stdev) : std::string("-");
    };
    auto row = [&](const std::string& test, const std::optional<bench::Speed>& total,
                   const std::optional<bench::Speed>& req) {
        t += fmt::format("| {} | {} | {} | {}{} |\n", a.model, engine, test, cell(total),
                         show_users ? " | " + cell(req) : "");
    };
    for (const Point& pt : points) {
        if (!pt.depth) continue;
        row(test_name("pp", a.pp, pt.load, pt.users, show_users), pt.depth->pp_tokens_per_s_total,
            pt.depth->pp_tokens_per_s);
        row(test_name("tg", a.tg, pt.load, pt.users, show_users), pt.depth->tg_tokens_per_s_total,
            pt.depth->tg_tokens_per_s);
    }
    return t;
}

// TARGET as a deployment id: the engine's own address, API key and launch argv from the admin
// API's `engine` op (serve/daemon.cpp; the key is in no other reply), so bench measures and
// scrapes the engine, not the gateway. Errors: the daemon's (a deployment that is not loaded is
// bad input naming it), or io when no daemon answers.
struct ServeTarget {
    std::string url;
    std::string api_key;
    json doc;  // the `deployment` object of the JSON output (the key left out)
    PredictTarget predict;
};
base::Result<ServeTarget> resolve_deployment(const std::string& id, const std::string& socket) {
    using namespace std::chrono_literals;
    const std::filesystem::path path =
        socket.empty() ? serve::default_socket_path() : std::filesystem::path(socket);
    auto text = serve::admin_call(path, json{{"op", "engine"}, {"id", id}}.dump(), 30s);
    if (!text) {
        return base::make_error(base::Errc::io, "bench run: '" + id +
                                                    "' is not a URL, and no sparkctl serve "
                                                    "answered to look it up as a deployment (" +
                                                    text.error().message + ")");
    }
    const json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return base::make_error(base::Errc::io,
                                "bench run: sparkctl serve sent a malformed answer");
    }
    if (doc.contains("error")) {
        const json& e = doc["error"];
        const bool object = e.is_object();
        const bool bad_input = object && e.contains("code") && e["code"] == base::kExitBadInput;
        const std::string message = object && e.contains("message") && e["message"].is_string()
                                        ? e["message"].get<std::string>()
                                        : std::string("error");
        return base::make_error(bad_input ? base::Errc::bad_input : base::Errc::io,
                                "bench run: " + message);
    }
    const json d = doc.contains("deployment") ? doc["deployment"] : json::object();
    if (!d.contains("port") || !d["port"].is_number_unsigned() || d["port"] > 65535) {
        return base::make_error(base::Errc::io,
                                "bench run: sparkctl serve sent no port for '" + id + "'");
    }
    ServeTarget t;
    const auto text_of = [&](const char* k) {
        return d.contains(k) && d[k].is_string() ? d[k].get<std::string>() : std::string();
    };
    t.url = "http://127.0.0.1:" + std::to_string(d["port"].get<unsigned>());
    t.api_key = text_of("api_key");
    // The launch flags as recorded, the key's value masked (they go into the results).
    json flags = json::array();
    const json argv = d.contains("argv") && d["argv"].is_array() ? d["argv"] : json::array();
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const bool secret = i > 0 && argv[i - 1] == "--api-key";
        flags.push_back(secret ? json("***") : argv[i]);
    }
    const bool bench_flags = d.contains("bench") && d["bench"].is_boolean() && d["bench"] == true;
    t.doc = {{"id", id},
             {"model", text_of("model")},
             {"engine", text_of("engine")},
             {"quant", d.contains("quant") && d["quant"].is_string() ? d["quant"] : json(nullptr)},
             {"launch_argv", argv.empty() ? json(nullptr) : flags},
             {"bench", bench_flags}};
    t.predict.model = text_of("model");
    t.predict.engine = text_of("engine");
    t.predict.quant = text_of("quant");
    t.predict.use = text_of("use");
    t.predict.bench = bench_flags;
    if (d.contains("users") && d["users"].is_number_unsigned()) {
        t.predict.users = d["users"].get<std::uint32_t>();
    }
    if (d.contains("context") && d["context"].is_number_unsigned()) {
        t.predict.context = d["context"].get<std::uint64_t>();
    }
    return t;
}

std::string random_nonce() {
    std::random_device rd;
    return fmt::format("{:08x}", rd());
}

// Which flags were given (not defaulted), for the checks of --depth.
struct DepthGiven {
    bool sizes = false;  // --prompt-tokens or --output-tokens
    bool pp_tg = false;  // --pp or --tg
};

int run_bench(Context& c, RunArgs& a, const DepthGiven& given) {
    // ---- The workload (bad input: exit 2), as simulate reads it.
    auto workload = parse_workload(a.w);
    if (!workload) return c.out.fail(workload.error());
    const bool depth_mode = !a.depth.empty();
    // --depth: the batch sizes (--concurrency, else one request at a time).
    std::vector<std::uint32_t> depth_users{1};
    if (depth_mode) {
        // Batches of --concurrency requests (one by default), each a context of D tokens and
        // --pp more (llama-bench, llama-benchy).
        if (!a.w.rate.empty() || !a.w.trace.empty() || !a.w.dataset.empty() || a.w.find_max ||
            given.sizes) {
            return c.out.fail(base::kExitBadInput,
                              "bench run: --depth sends batches of --concurrency requests of --pp "
                              "and --tg tokens: --rate, --trace, --dataset, --find-max, "
                              "--prompt-tokens and --output-tokens do not apply");
        }
        auto depths = parse_depths(a.depth);
        if (!depths) return c.out.fail(depths.error());
        if (!a.w.concurrency.empty()) {
            depth_users.clear();
            for (double n : workload->loads) depth_users.push_back(static_cast<std::uint32_t>(n));
        }
        workload->loads = *depths;
        workload->load_name = "depth";
        workload->load.concurrency = 1;
        workload->load.output_tokens = {sim::Distribution::Kind::fixed, double(a.tg), 0};
    } else if (given.pp_tg) {
        return c.out.fail(base::kExitBadInput, "bench run: --pp and --tg need --depth");
    }
    if (a.max_tokens) {
        if (workload->load.dataset.empty()) {
            return c.out.fail(base::kExitBadInput, "bench run: --max-tokens needs --dataset");
        }
        for (sim::DatasetEntry& e : workload->load.dataset) {
            e.output_tokens = std::min(e.output_tokens, *a.max_tokens);
        }
    }
    // llama-benchy names every test with its batch size when one is above 1.
    const bool show_users = *std::max_element(depth_users.begin(), depth_users.end()) > 1;
    const sim::Load& load = workload->load;
    const std::vector<double>& loads = workload->loads;
    const std::string& load_name = workload->load_name;
    const std::vector<sim::SloTerm>& slo = workload->slo;
    json deployment_doc;
    std::optional<PredictTarget> predict_target;
    if (a.url.find("://") == std::string::npos) {
        if (!a.engine.empty() || !a.quant.empty()) {
            return c.out.fail(base::kExitBadInput,
                              "bench run: --engine and --quant come from the deployment's record "
                              "when TARGET is a deployment");
        }
        auto t = resolve_deployment(a.url, a.socket);
        if (!t) return c.out.fail(t.error());
        a.url = t->url;
        if (a.api_key.empty()) a.api_key = t->api_key;
        deployment_doc = t->doc;
        predict_target = t->predict;
        a.quant = t->predict.quant;  // stored with the run, as serve recorded it
        if (a.launch_flags.empty() && t->doc["launch_argv"].is_array()) {
            for (const json& arg : t->doc["launch_argv"]) {
                a.launch_flags += (a.launch_flags.empty() ? "" : " ") + arg.get<std::string>();
            }
        }
    } else if (!a.model.empty() && (!a.engine.empty() || !a.quant.empty())) {
        PredictTarget pt;
        pt.model = a.model;
        pt.engine = a.engine;
        pt.quant = a.quant;
        pt.users = static_cast<std::uint32_t>(std::max(
            1.0, depth_mode ? double(*std::max_element(depth_users.begin(), depth_users.end()))
                 : workload->load.kind == sim::Load::Kind::closed
                     ? *std::max_element(workload->loads.begin(), workload->loads.end())
                     : 1.0));
        predict_target = pt;
    }
    const Predictor predictor = make_predictor(c, predict_target);
    auto ep = bench::parse_url(a.url);
    if (!ep) return c.out.fail(ep.error());
    // Every run is stored; a store that cannot be opened stops the run before any load.
    auto db = open_bench_store(c);
    if (!db) return c.out.fail(db.error());

    // ---- The target: engine, model, R-OPS-2.
    net::Client client;
    auto info = bench::detect(client, *ep, a.api_key);
    if (!info) return c.out.fail(base::kExitFailure, "bench run: " + info.error().message);
    if (a.model.empty()) {
        if (info->models.empty()) {
            return c.out.fail(base::kExitBadInput, "bench run: --model is required (" + ep->url +
                                                       "/v1/models lists no model)");
        }
        a.model = info->models.front();
    }
    const bench::CacheCheck cache = bench::check_prefix_cache(client, *ep, a.api_key, info->engine);
    std::string invalid_reason;
    if (cache.state == bench::CacheCheck::State::on) {
        invalid_reason = "R-OPS-2: prefix caching is on (" + cache.evidence + ")";
    } else if (cache.state == bench::CacheCheck::State::unverified) {
        invalid_reason = "R-OPS-2: prefix caching " + cache.evidence;
    }

    bench::RunOptions ro;
    ro.endpoint = *ep;
    ro.model = a.model;
    ro.api_key = a.api_key;
    ro.engine = info->engine;
    ro.stream = !a.no_stream;
    ro.cache_prompt_off = cache.per_request_off && !a.allow_prefix_cache;
    ro.request_timeout_ms = static_cast<int>(a.request_timeout_s * 1000);
    Progress progress;

    const std::uint64_t default_requests = 1000;  // vllm bench serve's --num-prompts default
    auto spec_count = [&](double x) -> std::uint64_t {
        if (load.kind == sim::Load::Kind::trace) return load.trace.size();
        if (a.w.requests) return *a.w.requests;
        if (depth_mode) return std::uint64_t{3};  // llama-benchy --runs
        if (!a.w.duration_s) return default_requests;
        // --duration alone: enough for the whole time (a cap bounds memory).
        const double n = load.kind == sim::Load::Kind::open ? x * *a.w.duration_s * 2 + 64 : 1e5;
        return static_cast<std::uint64_t>(std::min(n, 1e5));
    };
    const std::string nonce = random_nonce();
    std::uint64_t point_no = 0;
    std::optional<double> total_hits;
    bool tokenized = true;

    // One load point; in --depth mode `users` is the batch size.
    auto run_point = [&](double x, std::uint32_t users = 1) -> base::Result<Point> {
        Point pt;
        pt.load = x;
        pt.users = users;
        sim::Load l = load;
        // --depth: spec_count(x) runs (llama-benchy's --runs), each a batch of `users`.
        const std::uint64_t measured_count = depth_mode ? spec_count(x) * users : spec_count(x);
        if (depth_mode) {
            l.prompt_tokens = {sim::Distribution::Kind::fixed, x + a.pp, 0};
            l.concurrency = users;
        } else if (l.kind == sim::Load::Kind::closed) {
            l.concurrency = static_cast<std::uint32_t>(x);
        }
        if (l.kind == sim::Load::Kind::open) l.rate_per_s = x;
        const std::string label = load.kind == sim::Load::Kind::trace ? std::string("trace")
                                  : depth_mode && !a.w.concurrency.empty()
                                      ? fmt::format("depth {:g} c{}", x, users)
                                      : fmt::format("{} {:g}", load_name, x);
        bench::PointResult pooled;
        std::vector<bench::PointResult> batches;  // --depth
        for (std::uint32_t r = 0; r < a.repeats; ++r) {
            auto specs = bench::build_specs(client, *ep, a.api_key, info->engine, a.model, l,
                                            measured_count + a.warmup, a.w.seed + r,
                                            nonce + "-" + std::to_string(point_no++));
            if (!specs) return specs.error();
            tokenized = tokenized && specs->tokenized;
            // The warm-up requests are the first specs; the driver takes them in order.
            const std::size_t n = specs->specs.size() - a.warmup;
            auto show = [&progress, label, r, reps = a.repeats](std::size_t total) {
                return [&progress, label, r, reps, total](std::uint64_t done, std::uint64_t errors,
                                                          std::uint64_t sent) {
                    progress.update(fmt::format("bench: {}{}: {}/{} done, {} errors, {} in flight",
                                                label,
                                                reps > 1 ? fmt::format(" (repeat {})", r + 1) : "",
                                                done, total, errors, sent - done));
                };
            };
            const auto first = specs->specs.begin() + a.warmup;
            if (a.warmup > 0) {
                sim::Load one;
                one.kind = sim::Load::Kind::closed;
                one.concurrency = 1;
                bench::RunOptions quiet = ro;
                quiet.progress = nullptr;
                (void)bench::run_point(client, quiet, one, {specs->specs.begin(), first}, 0);
            }
            bench::PointResult res;
            if (depth_mode) {
                // Batch after batch, each its `users` requests at once.
                for (std::size_t b = 0; b + users <= n; b += users) {
                    ro.progress = show(users);
                    bench::PointResult part = bench::run_point(
                        client, ro, l,
                        {first + std::ptrdiff_t(b), first + std::ptrdiff_t(b + users)}, 0);
                    batches.push_back(part);
                    for (bench::RequestRecord& rec : part.records) {
                        rec.sent_s += res.duration_s;
                        rec.done_s += res.duration_s;
                        res.records.push_back(std::move(rec));
                    }
                    res.duration_s += part.duration_s;
                }
            } else {
                ro.progress = show(n);
                res = bench::run_point(client, ro, l, {first, specs->specs.end()}, 0);
            }
            const bench::Summary one = bench::summarize(res, slo);
            progress.line(fmt::format("bench: {}: {} completed, {} errors, {:.1f} output tok/s",
                                      label, one.s.requests_completed, one.errors,
                                      one.s.output_tokens_per_s));
            if (a.repeats > 1) pt.repeats.push_back(one);
            // Pooled: the repeats' requests, their durations added.
            const double offset = pooled.duration_s;
            for (bench::RequestRecord& rec : res.records) {
                rec.sent_s += offset;
                rec.done_s += offset;
                pooled.records.push_back(std::move(rec));
            }
            pooled.duration_s += res.duration_s;
        }
        pt.summary = bench::summarize(pooled, slo);
        pt.sent = l;
        pt.sent.requests = measured_count;
        if (depth_mode) pt.depth = bench::depth_speeds(batches, users);
        pt.prefix_cache_hits = bench::prefix_cache_hits(client, *ep, a.api_key, info->engine, cache,
                                                        pt.summary.cache_n_total);
        if (pt.prefix_cache_hits) total_hits = total_hits.value_or(0) + *pt.prefix_cache_hits;
        if (!slo.empty()) pt.slo_met = sim::slo_met(pt.summary.s, slo, &pt.slo_failed);
        return pt;
    };

    std::vector<Point> points;
    json find_max_doc;
    if (a.w.find_max) {
        // Double from the first load until the SLO breaks, then bisect between the last load
        // that met it and the first that did not (whole users for --concurrency; 1% of the
        // bracket for --rate).
        const bool closed = load.kind == sim::Load::Kind::closed;
        json tried = json::array();
        std::optional<double> best, bad;
        auto check = [&](double x) -> base::Result<bool> {
            auto pt = run_point(x);
            if (!pt) return pt.error();
            const bool ok = pt->slo_met;
            tried.push_back({{load_name, x},
                             {"slo_met", ok},
                             {"output_tokens_per_s", pt->summary.s.output_tokens_per_s}});
            points.push_back(std::move(*pt));
            return ok;
        };
        double x = loads.front();
        for (int doubling = 0; doubling < 12; ++doubling, x *= 2) {
            auto ok = check(x);
            if (!ok) return c.out.fail(ok.error());
            if (!*ok) {
                bad = x;
                break;
            }
            best = x;
        }
        if (bad) {
            double lo = best.value_or(0), hi = *bad;
            const double step = closed ? 1 : std::max(hi * 0.01, 1e-6);
            while (hi - lo > step) {
                const double mid = closed ? std::floor((lo + hi) / 2) : (lo + hi) / 2;
                if (mid <= lo || mid <= 0) break;
                auto ok = check(mid);
                if (!ok) return c.out.fail(ok.error());
                (*ok ? lo : hi) = mid;
                if (*ok) best = mid;
            }
        }
        find_max_doc = {
            {"load", load_name}, {"max", best ? json(*best) : json(nullptr)}, {"tried", tried}};
        std::sort(points.begin(), points.end(),
                  [](const Point& p, const Point& q) { return p.load < q.load; });
    } else {
        for (double x : loads) {
            for (std::uint32_t users : depth_mode ? depth_users : std::vector<std::uint32_t>{1}) {
                auto pt = run_point(x, users);
                if (!pt) return c.out.fail(pt.error());
                points.push_back(std::move(*pt));
            }
        }
    }

    // ---- Validity: the setting, then the counters.
    if (invalid_reason.empty() && total_hits && *total_hits > 0) {
        invalid_reason = fmt::format("R-OPS-2: {:g} prefix-cache hits during the run", *total_hits);
    }
    if (!total_hits && invalid_reason.empty()) {
        invalid_reason = "R-OPS-2: prefix-cache hits unverified (no counter could be read)";
    }
    const bool cache_study = a.allow_prefix_cache && !invalid_reason.empty();
    const bool valid = invalid_reason.empty() || a.allow_prefix_cache;

    auto point_json = [&](const Point& pt) {
        const bench::Summary& s = pt.summary;
        json j = {{"ttft_ms", stats_json(s.s.ttft_ms)},
                  {"tpot_ms", stats_json(s.s.tpot_ms)},
                  {"itl_ms", stats_json(s.s.itl_ms)},
                  {"chunk_gap_ms", stats_json(s.chunk_gap_ms)},
                  {"e2e_ms", stats_json(s.s.e2e_ms)},
                  {"queue_ms", stats_json(s.s.queue_ms)},
                  {"output_tokens_per_s", s.s.output_tokens_per_s},
                  {"output_tokens_per_s_per_user", s.s.output_tokens_per_s_per_user},
                  {"total_tokens_per_s", s.s.total_tokens_per_s},
                  {"requests_per_s", s.s.requests_per_s},
                  {"completed", s.s.requests_completed},
                  {"errors", s.errors},
                  {"error_samples", s.error_samples},
                  {"output_tokens", s.output_tokens},
                  {"prompt_tokens", s.prompt_tokens},
                  {"duration_s", s.duration_s},
                  {"prompt_tokens_deviation_mean", opt(s.prompt_tokens_deviation_mean)},
                  {"prompt_tokens_deviation_max", opt(s.prompt_tokens_deviation_max)},
                  {"prefix_cache_hits", opt(pt.prefix_cache_hits)}};
        put_prediction(predictor, pt.sent, s, j);
        if (load.kind != sim::Load::Kind::trace) j[load_name] = pt.load;
        if (pt.depth) {
            auto speed = [](const std::optional<bench::Speed>& sp) -> json {
                if (!sp) return nullptr;
                return {{"mean", sp->mean}, {"stdev", sp->stdev}, {"n", sp->n}};
            };
            j["pp"] = a.pp;
            j["tg"] = a.tg;
            j["concurrency"] = pt.users;
            j["pp_test"] = test_name("pp", a.pp, pt.load, pt.users, show_users);
            j["tg_test"] = test_name("tg", a.tg, pt.load, pt.users, show_users);
            j["pp_tokens_per_s"] = speed(pt.depth->pp_tokens_per_s);
            j["tg_tokens_per_s"] = speed(pt.depth->tg_tokens_per_s);
            j["pp_tokens_per_s_total"] = speed(pt.depth->pp_tokens_per_s_total);
            j["tg_tokens_per_s_total"] = speed(pt.depth->tg_tokens_per_s_total);
        }
        if (!slo.empty()) {
            j["slo_met"] = pt.slo_met;
            j["goodput_requests_per_s"] = opt(s.goodput_requests_per_s);
        }
        if (s.scheduled_ttft_ms || s.scheduled_itl_ms) {
            j["scheduled"] = {{"ttft_ms", stats_json(s.scheduled_ttft_ms)},
                              {"itl_ms", stats_json(s.scheduled_itl_ms)}};
        }
        if (!pt.repeats.empty()) {
            json reps = json::array();
            std::vector<double> tput;
            for (const bench::Summary& r : pt.repeats) {
                tput.push_back(r.s.output_tokens_per_s);
                reps.push_back({{"output_tokens_per_s", r.s.output_tokens_per_s},
                                {"requests_per_s", r.s.requests_per_s},
                                {"ttft_ms_p50", r.s.ttft_ms ? json(r.s.ttft_ms->p50) : json()},
                                {"completed", r.s.requests_completed},
                                {"errors", r.errors}});
            }
            double mean = 0, var = 0;
            for (double t : tput) mean += t / double(tput.size());
            for (double t : tput) var += (t - mean) * (t - mean) / double(tput.size() - 1);
            j["repeats"] = reps;
            j["output_tokens_per_s_cv"] = mean > 0 ? json(std::sqrt(var) / mean) : json(nullptr);
        }
        return j;
    };

    json doc;
    doc["endpoint"] = ep->url;
    if (!deployment_doc.is_null()) doc["deployment"] = deployment_doc;
    doc["model"] = a.model;
    doc["engine"] = info->engine ? json(engines::to_string(*info->engine)) : json(nullptr);
    doc["engine_version"] =
        info->engine_version.empty() ? json(nullptr) : json(info->engine_version);
    doc["engine_detected_from"] = info->detected_from;
    doc["simulated"] = info->simulated;
    // The stand-in's --speed (its delays are divided by it): calibrate scales times back.
    doc["simulated_speed"] = info->simulated_speed ? json(*info->simulated_speed) : json(nullptr);
    doc["valid"] = valid;
    doc["invalid_reason"] = invalid_reason.empty() ? json(nullptr) : json(invalid_reason);
    doc["prefix_cache_study"] = cache_study;
    doc["prefix_cache_setting"] = {
        {"state", cache.state == bench::CacheCheck::State::off  ? "off"
                  : cache.state == bench::CacheCheck::State::on ? "on"
                                                                : "unverified"},
        {"evidence", cache.evidence}};
    doc["prefix_cache_hits"] = opt(total_hits);
    doc["prompt_tokens_exact"] = tokenized;
    doc["workload"] = workload_json(a.w, *workload);
    doc["workload"]["warmup"] = a.warmup;
    doc["workload"]["repeats"] = a.repeats;
    doc["workload"]["stream"] = !a.no_stream;
    if (a.max_tokens) doc["workload"]["max_tokens"] = *a.max_tokens;
    if (depth_mode) {
        doc["workload"]["prompt_tokens"] = nullptr;
        doc["workload"]["output_tokens"] = nullptr;
        doc["workload"]["depths"] = workload->loads;
        doc["workload"]["concurrency"] = depth_users;
        doc["workload"]["pp"] = a.pp;
        doc["workload"]["tg"] = a.tg;
    }
    std::vector<json> point_docs;
    for (const Point& pt : points) point_docs.push_back(point_json(pt));
    if (depth_mode) {
        doc["depth"] = point_docs;
    } else {
        put_points(doc, point_docs);
    }
    bool slo_ok = true;
    if (!slo.empty()) {
        json terms = json::array();
        for (const sim::SloTerm& t : slo) terms.push_back(t.text);
        doc["slo"] = terms;
        for (const Point& pt : points) slo_ok = slo_ok && pt.slo_met;
    }
    if (a.w.find_max) {
        doc["find_max"] = find_max_doc;
        slo_ok = !find_max_doc["max"].is_null();
    }
    auto run_id = store_bench_run(*db, doc,
                                  {a.url, a.quant, a.launch_flags, a.w.seed,
                                   bench::launch_report(client, *ep, a.api_key, info->engine)});
    if (!run_id) return c.out.fail(run_id.error());

    if (c.out.json) {
        c.out.emit_json(doc);
    } else {
        std::string t =
            fmt::format("{} at {} ({}{}){}\n", a.model, ep->url,
                        info->engine ? engines::to_string(*info->engine) : "unknown engine",
                        info->engine_version.empty() ? "" : " " + info->engine_version,
                        info->simulated ? ", simulated" : "");
        t += fmt::format("run {} (sparkctl bench show {})\n", *run_id, *run_id);
        t += valid ? (cache_study ? "PREFIX-CACHE STUDY: " + invalid_reason + "\n" : "")
                   : "INVALID: " + invalid_reason + "\n";
        if (depth_mode) {
            t += depth_table(a, info->engine ? engines::to_string(*info->engine) : "unknown",
                             points, show_users);
        } else {
            t += points_table(load_name, points);
        }
        if (a.w.find_max) {
            t += find_max_doc["max"].is_null()
                     ? fmt::format("find-max: no {} meets the SLO\n", load_name)
                     : fmt::format("find-max: {} {:g} meets the SLO\n", load_name,
                                   find_max_doc["max"].get<double>());
        }
        c.out.emit_text(t);
    }
    if (!valid) {
        std::fprintf(stderr, "sparkctl: bench run: INVALID: %s\n", invalid_reason.c_str());
        return base::kExitWanting;
    }
    if (!slo_ok) {
        std::fprintf(stderr, "sparkctl: bench run: the SLO is not met\n");
        return base::kExitWanting;
    }
    return base::kExitOk;
}

}  // namespace

Action setup_bench(CLI::App& app, Context& ctx) {
    app.require_subcommand(1);
    auto a = std::make_shared<RunArgs>();
    CLI::App* run =
        ctx.add_subcommand(app, "run", "Load-test an OpenAI-compatible endpoint", {"data_dir"});
    run->add_option("TARGET", a->url,
                    "http://HOST:PORT of the engine (a /v1 suffix is dropped), or the id of a "
                    "loaded `sparkctl serve` deployment (its engine is measured directly)")
        ->required();
    run->add_option("--socket", a->socket, "Admin socket of sparkctl serve (a deployment TARGET)");
    run->add_option("--model", a->model, "The model name to request (default: the first listed)");
    run->add_option("--api-key", a->api_key, "Bearer token for the endpoint");
    run->add_option("--quant", a->quant,
                    "The model's quantization behind a URL, stored with the run (default: what "
                    "the engine says); with --engine and --model a catalog id, the run is "
                    "predicted by the simulator");
    run->add_option("--launch-flags", a->launch_flags,
                    "The engine's launch command line, stored with the run");
    add_workload_flags(
        *run, a->w,
        {.trace = "JSONL: arrival_s, prompt_tokens, output_tokens, prefix_id and prefix_tokens "
                  "(rows of one prefix_id share that prefix: a cache workload, R-OPS-2 applies)",
         .dataset = "ShareGPT JSON (FILE or sharegpt:FILE): each request sends a conversation's "
                    "first turn and asks for as many tokens as its answer has (--max-tokens caps)",
         .duration = "Stop sending after this many seconds",
         .find_max = "Double the load until --slo breaks, then bisect for the most that meets it"});
    run->add_option("--repeats", a->repeats, "Run each point N times (run-to-run noise)")
        ->check(CLI::Range(1u, 100u));
    run->add_option("--warmup", a->warmup, "Requests sent first and left out (default 1)")
        ->check(CLI::Range(0u, 1000u));
    run->add_flag("--no-stream", a->no_stream, "Whole responses instead of SSE");
    run->add_flag("--allow-prefix-cache", a->allow_prefix_cache,
                  "A deliberate prefix-cache study: caching on is labelled, not INVALID");
    run->add_option("--request-timeout", a->request_timeout_s,
                    "Seconds one request may take (default 300)")
        ->check(CLI::Range(0.01, 86400.0));
    run->add_option("--engine", a->engine,
                    "The engine behind a URL (vllm, sglang, llama.cpp): with --model a catalog id "
                    "and --quant, the run is predicted by the simulator");
    run->add_option("--max-tokens", a->max_tokens,
                    "--dataset: at most this many output tokens per request")
        ->check(CLI::Range(1u, 1u << 24));
    run->add_option("--depth", a->depth,
                    "Context depths, e.g. 0,4096,16384: prefill and decode tokens/s at each, as "
                    "llama-bench's pp/tg table (--requests runs per depth, default 3; with "
                    "--concurrency N,... each run is a batch of N requests at once)");
    run->add_option("--pp", a->pp, "--depth: prompt tokens after the context (default 2048)")
        ->check(CLI::Range(1u, 1u << 24));
    run->add_option("--tg", a->tg, "--depth: tokens to generate (default 32)")
        ->check(CLI::Range(2u, 1u << 24));
    Action history = setup_bench_history(app, ctx);
    return [a, run, history](Context& c) -> int {
        if (!run->parsed()) return history(c);
        DepthGiven given;
        given.sizes = run->count("--prompt-tokens") + run->count("--output-tokens") > 0;
        given.pp_tg = run->count("--pp") + run->count("--tg") > 0;
        return run_bench(c, *a, given);
    };
}

}  // namespace sparkctl::cli
