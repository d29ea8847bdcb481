#include "cli/workload_flags.h"

#include <utility>

namespace sparkctl::cli {

void add_workload_flags(CLI::App& app, WorkloadFlags& w, const WorkloadHelp& help) {
    app.add_option("--concurrency", w.concurrency,
                   "Closed loop: users each with one request in flight; a list is a sweep "
                   "(default 1)");
    app.add_option("--rate", w.rate, "Open loop: requests per second; a list is a sweep");
    app.add_option("--arrivals", w.arrivals, "poisson (default), gamma:CV or constant");
    app.add_option("--think-s", w.think_s, "Closed loop: seconds between answer and next request")
        ->check(CLI::Range(0.0, 1e6));
    app.add_option("--prompt-tokens", w.prompt_tokens,
                   "A number, uniform:A:B, normal:MEAN:SD or lognormal:MEDIAN:SIGMA (default 512)");
    app.add_option("--output-tokens", w.output_tokens, "As --prompt-tokens (default 256)");
    app.add_option("--trace", w.trace, help.trace);
    if (!help.dataset.empty()) app.add_option("--dataset", w.dataset, help.dataset);
    app.add_option("--requests", w.requests,
                   "Requests per point (default 1000, vllm bench serve's --num-prompts)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 24));
    app.add_option("--duration", w.duration_s, help.duration)->check(CLI::Range(1e-3, 1e7));
    app.add_option("--seed", w.seed, "Random seed of the sizes and arrivals (default 0)");
    app.add_option("--slo", w.slo, "Service levels, e.g. \"ttft_p95<=2s,tpot_p50<=50ms\"");
    app.add_flag("--find-max", w.find_max, help.find_max);
}

base::Result<Workload> parse_workload(const WorkloadFlags& w) {
    Workload out;
    sim::Load& load = out.load;
    load.seed = w.seed;
    load.think_s = w.think_s;
    load.requests = w.requests;
    load.duration_s = w.duration_s;
    auto pd = sim::parse_distribution("--prompt-tokens", w.prompt_tokens);
    if (!pd) return pd.error();
    auto od = sim::parse_distribution("--output-tokens", w.output_tokens);
    if (!od) return od.error();
    load.prompt_tokens = *pd;
    load.output_tokens = *od;
    auto arr = sim::parse_arrivals(w.arrivals);
    if (!arr) return arr.error();
    load.arrivals = *arr;
    if (!w.concurrency.empty() + !w.rate.empty() + !w.trace.empty() > 1) {
        return base::make_error(base::Errc::bad_input,
                                "--concurrency, --rate and --trace are exclusive: give one");
    }
    load.kind = sim::Load::Kind::closed;
    if (!w.rate.empty()) {
        auto l = sim::parse_load_list("--rate", w.rate, false);
        if (!l) return l.error();
        out.loads = *l;
        out.load_name = "rate_per_s";
        load.kind = sim::Load::Kind::open;
    } else if (!w.trace.empty()) {
        auto t = sim::load_trace(w.trace);
        if (!t) return t.error();
        load.trace = std::move(*t);
        out.load_name = "trace";
        load.kind = sim::Load::Kind::trace;
    } else if (!w.concurrency.empty()) {
        auto l = sim::parse_load_list("--concurrency", w.concurrency, true);
        if (!l) return l.error();
        out.loads = *l;
    }
    if (!w.dataset.empty()) {
        if (load.kind == sim::Load::Kind::trace) {
            return base::make_error(base::Errc::bad_input,
                                    "--dataset and --trace are exclusive: a trace sets the sizes");
        }
        // "sharegpt:FILE" names the format; the only one read is ShareGPT, so FILE alone works.
        const std::string_view kFormat = "sharegpt:";
        const std::string file =
            w.dataset.rfind(kFormat, 0) == 0 ? w.dataset.substr(kFormat.size()) : w.dataset;
        auto ds = sim::load_sharegpt(file);
        if (!ds) return ds.error();
        load.dataset = std::move(*ds);
        sim::Sampler(w.seed).shuffle(load.dataset);
    }
    if (!w.slo.empty()) {
        auto s = sim::parse_slo(w.slo);
        if (!s) return s.error();
        out.slo = *s;
    }
    if (w.find_max && (out.slo.empty() || load.kind == sim::Load::Kind::trace)) {
        return base::make_error(base::Errc::bad_input,
                                "--find-max needs --slo and --concurrency or --rate");
    }
    return out;
}

nlohmann::json workload_json(const WorkloadFlags& w, const Workload& parsed) {
    using nlohmann::json;
    const sim::Load& load = parsed.load;
    json j = {{"mode", load.kind == sim::Load::Kind::closed ? "closed"
                       : load.kind == sim::Load::Kind::open ? "open"
                                                            : "trace"},
              {"prompt_tokens", w.prompt_tokens},
              {"output_tokens", w.output_tokens},
              {"arrivals", w.arrivals},
              {"think_s", w.think_s},
              {"requests", w.requests ? json(*w.requests) : json(nullptr)},
              {"duration_s", w.duration_s ? json(*w.duration_s) : json(nullptr)},
              {"seed", w.seed}};
    if (!load.dataset.empty()) {
        // The sizes come from the dataset, not the distributions.
        j["dataset"] = {{"file", w.dataset},
                        {"entries", load.dataset.size()},
                        {"token_estimate", "characters/4"}};
        j["prompt_tokens"] = nullptr;
        j["output_tokens"] = nullptr;
    }
    return j;
}

void put_points(nlohmann::json& doc, const std::vector<nlohmann::json>& points) {
    if (points.size() == 1) {
        for (const auto& [k, v] : points[0].items()) doc[k] = v;
    } else {
        doc["sweep"] = points;
    }
}

}  // namespace sparkctl::cli
