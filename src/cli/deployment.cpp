// One owner of the simulated deployment and the find-max bisection (deployment.h).
#include "cli/deployment.h"

#include <cmath>
#include <utility>

#include "base/exit_status.h"
#include "base/strings.h"
#include "engines/alloc.h"
#include "hw/profile.h"

namespace sparkctl::cli {

base::Result<Deployment> deployment_from_plan(const Planned& planned, const DeploymentArgs& d) {
    Deployment dep;
    dep.req = planned.request;
    const model::ModelSpec* spec = &planned.spec;
    const hw::HardwareProfile* hwp = &planned.hardware;
    const plan::Plan* p = &planned.plan;
    auto caps = fit::hw_caps(*hwp);
    if (!caps) return caps.error();
    const auto layout = d.weight_layout.empty() || d.weight_layout == "stock"
                            ? std::optional<fit::WeightLayout>(fit::WeightLayout::stock)
                            : fit::parse_weight_layout(d.weight_layout);
    if (!layout) {
        return base::make_error(base::Errc::bad_input,
                                "--weight-layout: '" + base::printable(d.weight_layout) +
                                    "': expected stock or mxfp4-layers=moe,qkv,o,lm_head");
    }
    auto costs = fit::model_costs(*spec, p->engine, p->quant, p->kv_cache_dtype, *layout);
    if (!costs) return costs.error();
    const fit::ResolvedConstants rc = fit::resolve_constants(
        planned.request.constants ? *planned.request.constants : fit::builtin_constants(),
        p->engine, fit::quant_family(p->engine, p->quant, *layout), p->quant);
    dep.constants_source = rc.source;

    const fit::Estimate& est = p->fit.estimate;
    sim::EngineSettings& es = dep.es;
    es.context = p->context;
    es.max_seqs = d.max_num_seqs.value_or(p->parallel);
    es.max_batched_tokens =
        d.max_batched_tokens.value_or(fit::default_ubatch(p->engine, hwp->memory_total_bytes));
    es.prefix_caching = d.prefix_caching.empty() ? !d.plan.bench : d.prefix_caching == "on";
    switch (p->engine) {
        case engines::Engine::vllm:
            es.scheduler = sim::Scheduler::vllm;
            es.block_size = engines::vllm::kBlockSize;
            es.kv_pool_tokens = est.kv.full_cells;
            break;
        case engines::Engine::sglang:
            es.scheduler = sim::Scheduler::sglang;
            es.block_size = engines::sglang::kPageSize;
            es.kv_pool_tokens = est.settings.sglang_max_total_tokens
                                    ? est.settings.sglang_max_total_tokens
                                    : est.kv.full_cells;
            break;
        case engines::Engine::llama_cpp:
            es.scheduler = sim::Scheduler::llama_cpp;
            es.block_size = 1;
            break;
    }
    // --max-num-seqs above the plan's parallel keeps the plan's pool: more sequences share it.
    if (es.kv_pool_tokens == 0) es.kv_pool_tokens = es.context * es.max_seqs;
    auto cost = fit::StepCost::make(*costs, rc.constants, *caps, p->tensor_parallel, es.max_seqs,
                                    es.max_batched_tokens);
    if (!cost) return cost.error();
    dep.cost = std::move(*cost);
    dep.plan = planned.plan;
    return dep;
}

std::variant<Deployment, int> make_deployment(Context& c, const DeploymentArgs& d) {
    if (d.plan.context && *d.plan.context < 2) {
        return c.out.fail(base::kExitBadInput, "--context: must be at least 2");
    }
    if (d.plan.nodes && *d.plan.nodes > 1) {
        return c.out.fail(base::kExitBadInput,
                          "--nodes: simulate runs one node (tensor parallel is not simulated)");
    }
    PlanFlags flags = d.plan;
    flags.nodes = 1;  // not the [cluster] inventory's hosts
    auto planned = plan_from_flags(c, flags);
    if (!planned) return c.out.fail(planned.error());
    const plan::Plan& p = planned->plan;
    if (p.status != plan::Status::ok) {
        return c.out.fail(p.exit_status(),
                          "simulate: the plan is not launchable: " +
                              (p.refusal.empty() ? std::string("it does not fit") : p.refusal));
    }
    auto dep = deployment_from_plan(*planned, d);
    if (!dep) return c.out.fail(dep.error());
    return std::move(*dep);
}

base::Result<FindMax> find_max(const std::function<base::Result<sim::Summary>(double)>& run,
                               double upper_bound, bool integers,
                               const std::vector<sim::SloTerm>& slo) {
    FindMax fm;
    fm.upper_bound = upper_bound;
    auto check = [&](double x) -> base::Result<bool> {
        auto s = run(x);
        if (!s) return s.error();
        const bool ok = sim::slo_met(*s, slo, nullptr);
        if (ok) {
            fm.best = x;
            fm.at_best = *s;
        }
        fm.tried.push_back({x, ok, std::move(*s)});
        return ok;
    };
    auto top = check(upper_bound);
    if (!top) return top.error();
    if (*top) return fm;
    // Integers for users, 1% of the range for rates.
    const double step = integers ? 1 : upper_bound / 100;
    double lo = 0, hi = upper_bound;
    while (hi - lo > step) {
        const double mid = integers ? std::floor((lo + hi) / 2) : (lo + hi) / 2;
        if (mid <= lo) break;
        auto ok = check(mid);
        if (!ok) return ok.error();
        (*ok ? lo : hi) = mid;
    }
    return fm;
}

}  // namespace sparkctl::cli
