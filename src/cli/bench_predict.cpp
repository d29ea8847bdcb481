#include "cli/bench_predict.h"

#include <utility>

#include "sim/report.h"

namespace sparkctl::cli {

namespace {

using nlohmann::json;

json stats_json(const std::optional<net::Stats>& s) {
    if (!s) return nullptr;
    return {{"mean", s->mean}, {"p50", s->p50}, {"p90", s->p90},
            {"p95", s->p95},   {"p99", s->p99}, {"p99_9", s->p99_9}};
}

json ratio(double measured, std::optional<double> predicted) {
    if (!predicted || !(*predicted > 0)) return nullptr;
    return measured / *predicted;
}

}  // namespace

Predictor make_predictor(Context& c, const std::optional<PredictTarget>& t) {
    Predictor p;
    if (!t) {
        p.reason =
            "the deployment is unknown: give a serve deployment as TARGET, or --model as a "
            "catalog id with --engine and --quant";
        return p;
    }
    if (t->engine.empty() || t->quant.empty()) {
        p.reason = "the engine and quantization are not both known (--engine, --quant)";
        return p;
    }
    DeploymentArgs d;
    d.plan.model = t->model;
    d.plan.engine = t->engine;
    d.plan.quant = t->quant;
    d.plan.use = t->use;
    d.plan.users = t->users;
    d.plan.context = t->context;
    d.plan.bench = t->bench;
    d.plan.nodes = 1;
    auto planned = plan_from_flags(c, d.plan);
    if (!planned) {
        p.reason = "plan: " + planned.error().message;
        return p;
    }
    if (planned->plan.status != plan::Status::ok) {
        p.reason = "plan: not launchable: " + (planned->plan.refusal.empty()
                                                   ? std::string("it does not fit")
                                                   : planned->plan.refusal);
        return p;
    }
    auto dep = deployment_from_plan(*planned, d);
    if (!dep) {
        p.reason = dep.error().message;
        return p;
    }
    if (!dep->cost) {
        p.reason = "no step cost for this deployment";
        return p;
    }
    p.dep = std::move(*dep);
    return p;
}

void put_prediction(const Predictor& p, const sim::Load& load, const bench::Summary& measured,
                    json& point) {
    auto none = [&](const std::string& why) {
        point["predicted"] = nullptr;
        point["error_ratio"] = nullptr;
        point["predicted_reason"] = why;
    };
    if (!p.dep) return none(p.reason);
    auto r = sim::simulate(*p.dep->cost, p.dep->es, load);
    if (!r) return none("simulate: " + r.error().message);
    const sim::Summary s = sim::summarize(*r);
    point["predicted"] = {{"ttft_ms", stats_json(s.ttft_ms)},
                          {"tpot_ms", stats_json(s.tpot_ms)},
                          {"itl_ms", stats_json(s.itl_ms)},
                          {"e2e_ms", stats_json(s.e2e_ms)},
                          {"queue_ms", stats_json(s.queue_ms)},
                          {"output_tokens_per_s", s.output_tokens_per_s},
                          {"output_tokens_per_s_per_user", s.output_tokens_per_s_per_user},
                          {"total_tokens_per_s", s.total_tokens_per_s},
                          {"requests_per_s", s.requests_per_s},
                          {"completed", s.requests_completed},
                          {"constants_source", p.dep->constants_source}};
    const sim::Summary& m = measured.s;
    auto stat = [](const std::optional<net::Stats>& x, double net::Stats::*f) {
        return x ? std::optional<double>((*x).*f) : std::nullopt;
    };
    json er = {{"ttft_ms", {{"p50", nullptr}, {"p99", nullptr}}},
               {"tpot_ms", {{"p50", nullptr}}},
               {"output_tokens_per_s", ratio(m.output_tokens_per_s, s.output_tokens_per_s)},
               {"requests_per_s", ratio(m.requests_per_s, s.requests_per_s)}};
    if (m.ttft_ms) {
        er["ttft_ms"]["p50"] = ratio(m.ttft_ms->p50, stat(s.ttft_ms, &net::Stats::p50));
        er["ttft_ms"]["p99"] = ratio(m.ttft_ms->p99, stat(s.ttft_ms, &net::Stats::p99));
    }
    if (m.tpot_ms) er["tpot_ms"]["p50"] = ratio(m.tpot_ms->p50, stat(s.tpot_ms, &net::Stats::p50));
    point["error_ratio"] = er;
}

}  // namespace sparkctl::cli
