// sparkctl simulate MODEL: the deployment `plan` would launch, serving a workload in a
// discrete-event simulation of the engine's scheduler (src/sim/, docs/dev/sim.md). The CLI
// composes plan and sim: plan picks engine, quantization and sizes; sim gets the settings.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "base/exit_status.h"
#include "base/file.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/deployment.h"
#include "cli/plan_flags.h"
#include "cli/workload_flags.h"
#include "fit/step_cost.h"
#include "hw/detect.h"
#include "model/catalog.h"
#include "model/load.h"
#include "plan/plan.h"
#include "plan/rules.h"
#include "sim/report.h"
#include "sim/simulator.h"
#include "sim/standin.h"
#include "sim/workload.h"

namespace sparkctl::cli {

namespace {

using nlohmann::json;

struct SimulateArgs {
    DeploymentArgs d;
    WorkloadFlags w;
    std::string plot;
};

json stats_json(const std::optional<net::Stats>& s) {
    if (!s) return nullptr;
    return {{"mean", s->mean}, {"p50", s->p50}, {"p90", s->p90},
            {"p95", s->p95},   {"p99", s->p99}, {"p99_9", s->p99_9}};
}

json summary_json(const sim::Summary& s) {
    return {{"requests_completed", s.requests_completed},
            {"requests_clamped_to_context", s.requests_clamped},
            {"ttft_ms", stats_json(s.ttft_ms)},
            {"tpot_ms", stats_json(s.tpot_ms)},
            {"itl_ms", stats_json(s.itl_ms)},
            {"e2e_ms", stats_json(s.e2e_ms)},
            {"queue_ms", stats_json(s.queue_ms)},
            {"output_tokens_per_s", s.output_tokens_per_s},
            {"output_tokens_per_s_per_user", s.output_tokens_per_s_per_user},
            {"total_tokens_per_s", s.total_tokens_per_s},
            {"requests_per_s", s.requests_per_s},
            {"kv_pool_peak_fraction", s.kv_pool_peak_fraction},
            {"preemptions", s.preemptions},
            {"prefix_cache_hit_rate",
             s.prefix_cache_hit_rate ? json(*s.prefix_cache_hit_rate) : json(nullptr)},
            {"steps", s.steps},
            {"simulated_s", s.simulated_s}};
}

const char* scheduler_name(sim::Scheduler s) {
    switch (s) {
        case sim::Scheduler::vllm:
            return "vllm";
        case sim::Scheduler::sglang:
            return "sglang";
        case sim::Scheduler::llama_cpp:
            return "llama.cpp";
    }
    return "?";
}

// One point of the load axis, run and summarized.
struct Point {
    double load = 0;
    sim::Summary summary;
    double wall_s = 0;
};

struct ServeArgs {
    DeploymentArgs d;
    std::string as;                 // --as ENGINE: the rest is the engine's argv
    std::vector<std::string> rest;  // MODEL (shorthand) or the engine's argv
    std::optional<std::uint16_t> port;
    double speed = 1;
    std::string timing;
    std::optional<double> load_gbps;
    sim::standin::Faults faults;
    std::optional<std::uint32_t> eos_after;
    std::uint64_t seed = 0;
};

// Timing from the simulator's step costs: the uncached prompt in chunks of the step budget, each
// at its depth (StepCost::prefill_s), then one decode step of the requests in flight per token.
sim::standin::Timing step_cost_timing(const fit::StepCost& cost, std::uint32_t chunk,
                                      std::uint32_t max_seqs) {
    sim::standin::Timing t;
    // The prompt from `cached` to `prompt` tokens, in chunks of the step budget, in seconds.
    auto prefill_s = [&cost, chunk](std::uint32_t cached, std::uint32_t prompt) {
        double s = 0;
        for (std::uint32_t d = cached; d < prompt; d += chunk) {
            const std::uint32_t n = std::min(chunk, prompt - d);
            s += cost.prefill_s(n, n * (d + n / 2.0));
        }
        return s;
    };
    t.ttft_ms = [&cost, prefill_s, max_seqs](std::uint32_t prompt, std::uint32_t cached,
                                             std::uint32_t in_flight) {
        const std::uint32_t running = std::min(in_flight, max_seqs);
        return 1000 * (prefill_s(cached, prompt) +
                       cost.decode_s(std::max(running, 1u), running * double(prompt)));
    };
    t.prefill_ms = [prefill_s](std::uint32_t prompt) { return 1000 * prefill_s(0, prompt); };
    t.itl_ms = [&cost, max_seqs](std::uint32_t in_flight, std::uint64_t depth) {
        const std::uint32_t n = std::max(1u, std::min(in_flight, max_seqs));
        return 1000 * cost.decode_s(n, n * double(depth));
    };
    return t;
}

int run_serve(Context& c, ServeArgs& a);

// The serve subcommand's action: nullopt when `serve` was not given.
std::function<std::optional<int>(Context&)> setup_serve(CLI::App& parent, Context& ctx) {
    auto a = std::make_shared<ServeArgs>();
    CLI::App* app = ctx.add_subcommand(
        parent, "serve",
        "Serve HTTP as an engine would (a stand-in for load tests): MODEL --engine E, or --as E "
        "-- ENGINE-ARGV",
        {"hardware", "constants"});
    app->add_option("ARGS", a->rest, "MODEL, or after --as E --: the engine's argv");
    app->add_option("--as", a->as, "Read the rest (after --) as this engine's command line")
        ->check(CLI::IsMember({"vllm", "sglang", "llama.cpp"}));
    app->add_option("--engine", a->d.plan.engine, "Shorthand: the engine (as plan)");
    app->add_option("--for", a->d.plan.use, "Shorthand: the plan's use (default chat)");
    app->add_option("--users", a->d.plan.users, "Shorthand: the plan's users")
        ->check(CLI::Range(1u, 1u << 16));
    app->add_option("--context", a->d.plan.context, "Shorthand: the plan's context");
    app->add_option("--port", a->port, "Shorthand: listen on this port (0: any free one)");
    app->add_option("--prefix-caching", a->d.prefix_caching, "Shorthand: on or off")
        ->check(CLI::IsMember({"on", "off"}));
    app->add_option("--speed", a->speed,
                    "Divide every delay by this (0: no delay); advertised in /v1/models")
        ->check(CLI::Range(0.0, 1e6));
    app->add_option("--timing", a->timing, "fixed:TTFT_MS,ITL_MS instead of the step costs");
    app->add_option("--load-gbps", a->load_gbps,
                    "Simulate loading the weights at this many GB/s (default: no load delay)")
        ->check(CLI::Range(1e-3, 1e4));
    app->add_option("--fail-after-tokens", a->faults.fail_after_tokens,
                    "Exit mid-stream after this many tokens");
    app->add_option("--hang-after-tokens", a->faults.hang_after_tokens,
                    "Stop sending after this many tokens, keeping the stream open");
    app->add_option("--slow-start", a->faults.slow_start_s, "Extra seconds before ready")
        ->check(CLI::Range(0.0, 1e5));
    app->add_option("--error-rate", a->faults.error_rate, "Answer this fraction with HTTP 500")
        ->check(CLI::Range(0.0, 1.0));
    app->add_option("--reject-over", a->faults.reject_over,
                    "Answer 429 above this many requests in flight");
    app->add_option("--eos-after", a->eos_after,
                    "The simulated model ends each response after this many tokens (finish_reason "
                    "stop) unless the request sets ignore_eos; not before its min_tokens")
        ->check(CLI::Range(0u, 1u << 24));
    app->add_option("--seed", a->seed, "Random seed for --error-rate (default 0)");
    return [a, app](Context& c) -> std::optional<int> {
        if (!app->parsed()) return std::nullopt;
        return run_serve(c, *a);
    };
}

// Python's f"{n:,}".
std::string with_commas(std::uint64_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

// The load log lines a supervisor parses for measured memory (engines/logs.h), in each engine's
// own format with the plan's figures, so serve --simulate measures what a real engine would
// report. vLLM: V:vllm/v1/worker/gpu_model_runner.py ("Model loading took %.4f GiB and %.6f
// seconds"), V:vllm/v1/worker/gpu_worker.py ("Available KV cache memory: %.2f GiB") and
// V:vllm/v1/core/kv_cache_utils.py ("GPU KV cache size: %s tokens", "Maximum concurrency for %s
// tokens per request: %.2fx", counts with thousands separators), in vLLM's "LEVEL MM-DD
// HH:MM:SS [file.py:line]" prefix (V:vllm/logger.py) without the line number. llama.cpp:
// LC:src/llama-model.cpp "%s: %12s model buffer size = %8.2f MiB", LC:src/llama-kv-cache.cpp
// "%s: %10s KV buffer size = %8.2f MiB", LC:src/llama-context.cpp "%s: %10s compute buffer size
// = %8.2f MiB" (CUDA0: the Spark's GPU). SGLang: S:python/sglang/srt/model_executor/
// model_runner.py "Load weight end. ... avail mem=%.2f GB, mem usage=%.2f GB." and
// S:python/sglang/srt/mem_cache/memory_pool.py "KV Cache is allocated. #tokens: %d, K size: %.2f
// GB, V size: %.2f GB" (GB = 2^30 bytes), in its "[%Y-%m-%d %H:%M:%S] " prefix.
void print_load_lines(engines::Engine engine, const Deployment& dep, double load_s) {
    const std::time_t now = std::time(nullptr);
    const fit::Estimate& est = dep.plan.fit.estimate;
    const fit::MemoryBreakdown& mem = est.memory;
    constexpr double kGiB = double(1ull << 30);
    constexpr double kMiB = double(1ull << 20);
    char stamp[32];
    if (engine == engines::Engine::llama_cpp) {
        // In llama-server's "M.SS.mmm.uuu L " prefix (LC:common/log.cpp), at 0: simulated.
        std::fprintf(stderr, "0.00.000.000 I load_tensors: %12s model buffer size = %8.2f MiB\n",
                     "CUDA0", double(mem.weights_bytes) / kMiB);
        std::fprintf(stderr, "0.00.000.000 I llama_kv_cache: %10s KV buffer size = %8.2f MiB\n",
                     "CUDA0", double(mem.kv_cache_bytes) / kMiB);
        std::fprintf(stderr, "0.00.000.000 I sched_reserve: %10s compute buffer size = %8.2f MiB\n",
                     "CUDA0", double(mem.compute_bytes) / kMiB);
    } else if (engine == engines::Engine::sglang) {
        std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
        const std::uint64_t total = dep.req.hardware.memory_total_bytes;
        std::fprintf(stderr,
                     "[%s] Load weight end. elapsed=%.2f s, type=%s, avail mem=%.2f GB, mem "
                     "usage=%.2f GB.\n",
                     stamp, load_s, dep.plan.model.c_str(),
                     double(total > mem.weights_bytes ? total - mem.weights_bytes : 0) / kGiB,
                     double(mem.weights_bytes) / kGiB);
        std::fprintf(stderr,
                     "[%s] KV Cache is allocated. #tokens: %llu, K size: %.2f GB, V size: %.2f "
                     "GB\n",
                     stamp, static_cast<unsigned long long>(est.kv.full_cells),
                     double(mem.kv_cache_bytes) / 2 / kGiB, double(mem.kv_cache_bytes) / 2 / kGiB);
    } else {
        std::strftime(stamp, sizeof stamp, "%m-%d %H:%M:%S", std::localtime(&now));
        const double cells = double(est.kv.full_cells);
        std::fprintf(stderr,
                     "INFO %s [gpu_model_runner.py] Model loading took %.4f GiB and %.6f "
                     "seconds\n",
                     stamp, double(mem.weights_bytes) / kGiB, load_s);
        std::fprintf(stderr, "INFO %s [gpu_worker.py] Available KV cache memory: %.2f GiB\n", stamp,
                     double(mem.kv_cache_bytes) / kGiB);
        std::fprintf(stderr, "INFO %s [kv_cache_utils.py] GPU KV cache size: %s tokens\n", stamp,
                     with_commas(est.kv.full_cells).c_str());
        std::fprintf(stderr,
                     "INFO %s [kv_cache_utils.py] Maximum concurrency for %s tokens per request: "
                     "%.2fx\n",
                     stamp, with_commas(dep.es.context).c_str(),
                     dep.es.context ? cells / double(dep.es.context) : 0.0);
    }
    std::fflush(stderr);
}

// The line each engine prints once it serves: LC:tools/server/server.cpp SRV_INF "model loaded"
// (LC:tools/server/server-common.h "srv  %12.*s: ", in function llama_server), uvicorn's
// "Application startup complete." under vLLM, S:python/sglang/srt/entrypoints/http_server.py "The
// server is fired up and ready to roll!".
void print_ready_line(engines::Engine engine) {
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
    if (engine == engines::Engine::llama_cpp) {
        std::fprintf(stderr, "0.00.000.000 I srv  %12.*s: model loaded\n", 12, "llama_server");
    } else if (engine == engines::Engine::vllm) {
        std::fprintf(stderr, "INFO:     Application startup complete.\n");
    } else {
        std::fprintf(stderr, "[%s] The server is fired up and ready to roll!\n", stamp);
    }
    std::fflush(stderr);
}

int run_serve(Context& c, ServeArgs& a) {
    sim::standin::Options opt;
    opt.speed = a.speed;
    opt.faults = a.faults;
    opt.eos_after = a.eos_after;
    opt.seed = a.seed;
    engines::Engine engine{};
    std::vector<std::string> argv;
    std::optional<Deployment> dep;
    if (!a.as.empty()) {
        auto e = engines::parse_engine(a.as);
        if (!e) return c.out.fail(e.error());
        engine = *e;
        argv = a.rest;
    } else {
        if (a.rest.size() != 1) {
            return c.out.fail(base::kExitBadInput,
                              "simulate serve: give MODEL, or --as ENGINE -- ENGINE-ARGV");
        }
        a.d.plan.model = a.rest.front();
        auto made = make_deployment(c, a.d);
        if (auto* status = std::get_if<int>(&made)) return *status;
        dep = std::move(std::get<Deployment>(made));
        engine = dep->plan.engine;
        for (const plan::LaunchCommand& cmd : dep->plan.commands) {
            if (cmd.role == "server" && cmd.kind == "native") argv = cmd.argv;
        }
        if (argv.empty()) {
            return c.out.fail(base::kExitFailure,
                              "simulate serve: the plan has no native server command");
        }
        argv.erase(argv.begin());  // the executable
    }
    auto args = sim::standin::parse_engine_argv(engine, argv);
    if (!args) return c.out.fail(args.error());
    opt.args = *args;
    if (a.port) opt.args.port = *a.port;
    if (a.as.empty() && !a.d.prefix_caching.empty()) {
        opt.args.prefix_caching = a.d.prefix_caching == "on";
    }
    if (!a.timing.empty()) {
        auto t = sim::standin::parse_fixed_timing(a.timing);
        if (!t) return c.out.fail(t.error());
        opt.timing = std::move(*t);
    }
    if (!dep && (a.timing.empty() || a.load_gbps)) {
        // The command line names the model: the deployment with its settings, for the costs.
        DeploymentArgs d;
        // The served name (plan sets the catalog's), else the model argument.
        d.plan.model = model::load_model(opt.args.served_model_name) ? opt.args.served_model_name
                                                                     : opt.args.model;
        if (!model::load_model(d.plan.model)) {
            return c.out.fail(base::kExitBadInput,
                              "simulate serve: neither '" +
                                  base::printable(opt.args.served_model_name) + "' nor '" +
                                  base::printable(opt.args.model) +
                                  "' is a model sparkctl knows, so steps cannot be priced: give "
                                  "--timing fixed:TTFT_MS,ITL_MS");
        }
        d.plan.engine = engines::to_string(engine);
        d.plan.context =
            opt.args.context ? std::optional<std::uint64_t>(opt.args.context) : std::nullopt;
        if (opt.args.max_seqs) d.max_num_seqs = opt.args.max_seqs;
        d.prefix_caching = opt.args.prefix_caching ? "on" : "off";
        auto made = make_deployment(c, d);
        if (auto* status = std::get_if<int>(&made)) return *status;
        dep = std::move(std::get<Deployment>(made));
    }
    if (!opt.timing.ttft_ms) {
        opt.timing = step_cost_timing(*dep->cost, dep->es.max_batched_tokens, dep->es.max_seqs);
    }
    if (a.load_gbps) {
        opt.load_s = double(dep->plan.fit.estimate.memory.weights_bytes) / (*a.load_gbps * 1e9);
    }
    // Signals end the server: blocked here (the io threads inherit the mask), taken by sigwait.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    const std::string host = opt.args.host;
    const std::string name = opt.args.served_model_name;
    opt.on_listening = [host, name, engine](std::uint16_t port) {
        std::fprintf(stderr, "sparkctl: simulate serve: %s stand-in for %s listening on %s:%u\n",
                     engines::to_string(engine), name.c_str(), host.c_str(), unsigned(port));
        std::fflush(stderr);
    };
    if (dep) print_load_lines(engine, *dep, opt.load_s);
    sim::standin::Server server(std::move(opt));
    if (auto s = server.start(); !s) return c.out.fail(s.error());
    print_ready_line(engine);
    std::fprintf(stderr, "sparkctl: simulate serve: ready on port %u (simulated)\n",
                 unsigned(server.port()));
    std::fflush(stderr);
    int sig = 0;
    sigwait(&set, &sig);
    server.stop();
    return base::kExitOk;
}
}  // namespace

Action setup_simulate(CLI::App& app, Context& ctx) {
    auto a = std::make_shared<SimulateArgs>();
    add_plan_flags(app, ctx, a->d.plan, /*use_required=*/false);
    auto serve = setup_serve(app, ctx);
    app.add_option("--max-num-seqs", a->d.max_num_seqs,
                   "Sequences the engine runs at once (default: the plan's parallel; -np on "
                   "llama.cpp)")
        ->check(CLI::Range(1u, 1u << 16));
    app.add_option("--max-num-batched-tokens", a->d.max_batched_tokens,
                   "Tokens per engine step (default: the engine's, by device memory)")
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("--prefix-caching", a->d.prefix_caching,
                   "on or off (default: on, the engines' default; off with --bench)")
        ->check(CLI::IsMember({"on", "off"}));
    app.add_option("--weight-layout", a->d.weight_layout,
                   "What the build stores narrow: stock (default) or "
                   "mxfp4-layers=moe,qkv,o,lm_head (community vLLM builds)");
    add_workload_flags(
        app, a->w,
        {.trace = "JSONL: arrival_s, prompt_tokens, output_tokens, optional prefix_id, "
                  "prefix_tokens",
         .dataset = "ShareGPT JSON: request sizes from its conversations (first turn the prompt, "
                    "second the output; tokens estimated as characters / 4), with --concurrency "
                    "or --rate, instead of --prompt-tokens/--output-tokens",
         .duration = "Seconds of arrivals per point",
         .find_max = "Bisect for the most concurrency (or highest rate) that meets --slo, up to "
                     "the largest load given"});
    app.add_option("--plot", a->plot, "Write an SVG of a sweep to this file");
    return [a, serve](Context& c) -> int {
        if (auto status = serve(c)) return *status;
        if (a->d.plan.model.empty())
            return c.out.fail(base::kExitBadInput, "simulate: MODEL is required");
        const auto wall0 = std::chrono::steady_clock::now();
        // ---- The workload.
        auto workload = parse_workload(a->w);
        if (!workload) return c.out.fail(workload.error());
        sim::Load& load = workload->load;
        const std::vector<double>& loads = workload->loads;
        const std::string& load_name = workload->load_name;
        const std::vector<sim::SloTerm>& slo = workload->slo;

        // ---- The deployment, as plan would launch it.
        auto made = make_deployment(c, a->d);
        if (auto* status = std::get_if<int>(&made)) return *status;
        Deployment& dep = std::get<Deployment>(made);
        const plan::PlanRequest& req = dep.req;
        const plan::Plan* p = &dep.plan;
        const sim::EngineSettings& es = dep.es;
        const fit::StepCost* cost = &*dep.cost;

        auto run_point = [&](double x) -> base::Result<Point> {
            const auto t0 = std::chrono::steady_clock::now();
            sim::Load l = load;
            if (l.kind == sim::Load::Kind::closed) l.concurrency = static_cast<std::uint32_t>(x);
            if (l.kind == sim::Load::Kind::open) l.rate_per_s = x;
            auto r = sim::simulate(*cost, es, l);
            if (!r) return r.error();
            Point pt;
            pt.load = x;
            pt.summary = sim::summarize(*r);
            pt.wall_s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            return pt;
        };
        auto point_json = [&](const Point& pt) {
            json j = summary_json(pt.summary);
            if (load.kind != sim::Load::Kind::trace) j[load_name] = pt.load;
            if (!slo.empty()) j["slo_met"] = sim::slo_met(pt.summary, slo, nullptr);
            j["wall_s"] = pt.wall_s;
            return j;
        };

        std::vector<Point> points;
        for (double x : loads) {
            auto pt = run_point(x);
            if (!pt) return c.out.fail(pt.error());
            points.push_back(std::move(*pt));
        }

        json doc;
        doc["model"] = p->model;
        doc["hardware"] = req.hardware.name;
        doc["simulated"] = true;
        doc["deployment"] = {
            {"engine", engines::to_string(p->engine)},
            {"scheduler", scheduler_name(es.scheduler)},
            {"quant", p->quant},
            {"context", es.context},
            {"max_num_seqs", es.max_seqs},
            {"max_num_batched_tokens", es.max_batched_tokens},
            {"kv_pool_tokens",
             es.scheduler == sim::Scheduler::llama_cpp ? json(nullptr) : json(es.kv_pool_tokens)},
            {"block_size", es.block_size},
            {"prefix_caching", es.prefix_caching},
            {"tensor_parallel", p->tensor_parallel},
            {"constants_source", dep.constants_source}};
        doc["workload"] = workload_json(a->w, *workload);
        std::vector<json> point_docs;
        for (const Point& pt : points) point_docs.push_back(point_json(pt));
        put_points(doc, point_docs);
        if (!slo.empty()) {
            json terms = json::array();
            for (const sim::SloTerm& t : slo) terms.push_back(t.text);
            doc["slo"] = terms;
        }

        int status = base::kExitOk;
        std::string text;
        if (a->w.find_max) {
            const double hi0 = *std::max_element(loads.begin(), loads.end());
            auto fm = find_max(
                [&](double x) -> base::Result<sim::Summary> {
                    auto pt = run_point(x);
                    if (!pt) return pt.error();
                    return pt->summary;
                },
                hi0, load.kind == sim::Load::Kind::closed, slo);
            if (!fm) return c.out.fail(fm.error());
            const std::optional<double> best = fm->best;
            json tried = json::array();
            for (const Tried& t : fm->tried) {
                tried.push_back({{load_name, t.load},
                                 {"slo_met", t.slo_met},
                                 {"output_tokens_per_s", t.summary.output_tokens_per_s}});
            }
            doc["find_max"] = {{"load", load_name},
                               {"max", best ? json(*best) : json(nullptr)},
                               {"upper_bound", hi0},
                               {"tried", tried}};
            if (!best) status = base::kExitWanting;
            text += best
                        ? fmt::format("find-max: {} {:g} meets the SLO\n", load_name, *best)
                        : fmt::format("find-max: no {} up to {:g} meets the SLO\n", load_name, hi0);
        }

        if (!a->plot.empty()) {
            std::vector<sim::SweepPoint> sp;
            for (const Point& pt : points) {
                sp.push_back({pt.load, pt.summary.output_tokens_per_s,
                              pt.summary.output_tokens_per_s_per_user});
            }
            const std::string svg = sim::sweep_svg(
                p->model + " on " + engines::to_string(p->engine) + " (simulated)",
                load.kind == sim::Load::Kind::open ? "requests/s" : "concurrency", sp);
            if (auto w = base::write_file_atomic(a->plot, svg); !w) return c.out.fail(w.error());
        }
        doc["wall_s"] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
        if (c.out.json) {
            c.out.emit_json(doc);
        } else {
            std::string t = fmt::format(
                "{} on {} ({} {}), context {}, max {} sequences, {} tokens/step (simulated)\n",
                p->model, req.hardware.name, engines::to_string(p->engine), p->quant, es.context,
                es.max_seqs, es.max_batched_tokens);
            t += fmt::format("{:>12} {:>9} {:>11} {:>10} {:>10} {:>10} {:>10} {:>8}\n", load_name,
                             "req/s", "out tok/s", "tok/s/usr", "ttft p50", "ttft p95", "tpot p50",
                             "preempt");
            for (const Point& pt : points) {
                const sim::Summary& s = pt.summary;
                t += fmt::format(
                    "{:>12g} {:>9.2f} {:>11.1f} {:>10.1f} {:>8.0f}ms {:>8.0f}ms {:>8.1f}ms "
                    "{:>8}\n",
                    pt.load, s.requests_per_s, s.output_tokens_per_s,
                    s.output_tokens_per_s_per_user, s.ttft_ms ? s.ttft_ms->p50 : 0,
                    s.ttft_ms ? s.ttft_ms->p95 : 0, s.tpot_ms ? s.tpot_ms->p50 : 0, s.preemptions);
            }
            c.out.emit_text(t + text);
        }
        if (status == base::kExitWanting && !c.out.json) {
            std::fprintf(stderr, "sparkctl: simulate: no load meets the SLO\n");
        }
        return status;
    };
}

}  // namespace sparkctl::cli
