// sparkctl plan MODEL --for USE: engine, quantization, flags and launch commands by the rules,
// each decision citing the rule it applied. Schema: docs/dev/plan.md.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/exit_status.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/deployment.h"
#include "cli/fit_json.h"
#include "cli/plan_flags.h"
#include "engines/installed.h"
#include "hw/detect.h"
#include "hw/profile.h"
#include "model/catalog.h"
#include "model/load.h"
#include "plan/plan.h"
#include "plan/render.h"
#include "plan/rules.h"
#include "sim/report.h"
#include "sim/simulator.h"
#include "sim/workload.h"

namespace sparkctl::cli {

namespace {

using nlohmann::json;

struct PlanArgs {
    PlanFlags flags;
    bool explain = false;
    std::string format = "text";
};

json memory_json(const plan::Plan& p, std::uint64_t memory_total) {
    const fit::MemoryBreakdown& m = p.fit.estimate.memory;
    return {{"per_node", p.nodes > 1},
            {"weights_bytes", m.weights_bytes},
            {"kv_cache_bytes", m.kv_cache_bytes},
            {"kv_bytes_per_token", m.kv_bytes_per_token},
            {"compute_bytes", m.compute_bytes},
            {"overhead_bytes", m.overhead_bytes},
            {"host_prompt_cache_bytes", m.host_prompt_cache_bytes},
            {"ctx_checkpoints_bytes", m.ctx_checkpoints_bytes},
            {"total_bytes", m.total_bytes},
            {"peak_bytes", m.peak_bytes},
            {"budget_bytes", m.budget_bytes},
            {"memory_total_bytes", memory_total},
            {"fits", p.fit.supported && p.fit.estimate.fits},
            {"max_context", p.fit.max_context},
            {"max_parallel", p.fit.max_parallel}};
}

json plan_json(const plan::Plan& p, const plan::PlanRequest& req) {
    json j;
    j["model"] = p.model;
    j["hf_id"] = p.hf_id;
    j["use"] = plan::to_string(p.use);
    j["hardware"] = req.hardware.name;
    j["status"] = p.status == plan::Status::ok        ? "ok"
                  : p.status == plan::Status::refused ? "refused"
                                                      : "does_not_fit";
    j["refusal"] = p.refusal.empty() ? json(nullptr) : json(p.refusal);
    j["engine"] = engines::to_string(p.engine);
    j["engine_version"] = p.engine_version.name;
    j["engine_version_info"] = {
        {"description", p.engine_version.description},
        {"source", p.engine_version.source},
        {"image", p.engine_version.image.empty() ? json(nullptr) : json(p.engine_version.image)},
        {"flags_origin", p.engine_version.flags_origin},
        {"flags_commit", p.engine_version.flags_commit}};
    j["quant"] = p.quant;
    j["variant"] = {{"repo", p.variant_repo.empty() ? json(nullptr) : json(p.variant_repo)},
                    {"file", p.variant_file.empty() ? json(nullptr) : json(p.variant_file)},
                    {"format", p.variant_format}};
    j["context"] = p.context;
    j["context_origin"] = p.context_origin;
    j["parallel"] = p.parallel;
    j["nodes"] = p.nodes;
    j["tensor_parallel"] = p.tensor_parallel;
    j["kv_cache_dtype"] = p.kv_cache_dtype;
    j["served_model_name"] = p.served_model_name;
    j["port"] = p.port;
    j["memory"] = memory_json(p, req.hardware.memory_total_bytes);
    if (p.performance) {
        json perf = performance_json(p.performance->predicted);
        perf["source"] = p.performance->source;
        perf["ceiling_rule"] = p.performance->ceiling_rule;
        perf["speedup_vs_one_node"] = p.performance->speedup_vs_one_node
                                          ? json(*p.performance->speedup_vs_one_node)
                                          : json(nullptr);
        perf["one_node"] =
            p.performance->one_node ? performance_json(*p.performance->one_node) : json(nullptr);
        perf["working_point"] = p.performance->working_point
                                    ? performance_json(*p.performance->working_point)
                                    : json(nullptr);
        perf["notes"] = p.performance->notes;
        j["performance"] = perf;
    } else {
        j["performance"] = nullptr;
    }
    json ds = json::array();
    for (const plan::Decision& d : p.decisions) {
        json facts = json::object();
        for (const auto& [k, v] : d.facts) facts[k] = v;
        json rej = json::array();
        for (const plan::Rejected& r : d.rejected) {
            rej.push_back({{"option", r.option}, {"reason", r.reason}});
        }
        ds.push_back({{"step", d.step},
                      {"rule", d.rule},
                      {"outcome", d.outcome},
                      {"reason", d.reason},
                      {"facts", facts},
                      {"rejected", rej}});
    }
    j["decisions"] = ds;
    json cs = json::array();
    for (const plan::LaunchCommand& c : p.commands) {
        json env = json::object();
        for (const auto& [k, v] : c.env) env[k] = v;
        cs.push_back({{"node", c.node},
                      {"role", c.role},
                      {"kind", c.kind},
                      {"argv", c.argv},
                      {"env", env},
                      {"health_url", c.health_url ? json(*c.health_url) : json(nullptr)},
                      {"note", c.note}});
    }
    j["commands"] = cs;
    j["placeholders"] = p.placeholders;
    j["warnings"] = p.warnings;
    json ss = json::array();
    for (const plan::Suggestion& s : p.suggestions) {
        ss.push_back({{"change", s.change},
                      {"flag", s.flag},
                      {"buys", s.buys},
                      {"fits", s.fits},
                      {"total_bytes", s.total_bytes},
                      {"what_if", s.what_if}});
    }
    j["suggestions"] = ss;
    return j;
}

// SPARKCTL-PLAN-20: the most concurrent users, up to the plan's sequences at once, that meet the
// use's default SLO, found as `simulate --concurrency P --slo SLO --find-max` finds it (same
// deployment, simulate's default workload). nullopt when the rule gives no line: disabled, no SLO
// for the use (batch, long-context), a cluster plan, or a plan that is not launchable.
struct Capacity {
    std::string slo;
    std::uint32_t upper_bound = 0;
    FindMax found;
};

base::Result<std::optional<Capacity>> plan_capacity(const Planned& planned,
                                                    const PlanFlags& flags) {
    const plan::Plan& p = planned.plan;
    const plan::Rule& rule = planned.rules.get(plan::kPlan20);
    const auto it = rule.slo.find(plan::to_string(p.use));
    if (!rule.enabled || it == rule.slo.end() || p.status != plan::Status::ok || p.nodes != 1 ||
        p.tensor_parallel != 1) {
        return std::optional<Capacity>();
    }
    auto slo = sim::parse_slo(it->second);
    if (!slo) {
        return base::with_context(slo.error(), std::string(plan::kPlan20) + " slo." + it->first);
    }
    DeploymentArgs d;
    d.plan = flags;
    auto dep = deployment_from_plan(planned, d);
    if (!dep) return dep.error();
    // simulate's defaults (cmd_simulate.cpp): 512 prompt and 256 output tokens, poisson, seed 0.
    sim::Load load;
    load.kind = sim::Load::Kind::closed;
    load.prompt_tokens = {sim::Distribution::Kind::fixed, 512, 0};
    load.output_tokens = {sim::Distribution::Kind::fixed, 256, 0};
    Capacity cap;
    cap.slo = it->second;
    cap.upper_bound = dep->es.max_seqs;
    auto found = find_max(
        [&](double users) -> base::Result<sim::Summary> {
            sim::Load l = load;
            l.concurrency = static_cast<std::uint32_t>(users);
            auto r = sim::simulate(*dep->cost, dep->es, l);
            if (!r) return r.error();
            return sim::summarize(*r);
        },
        cap.upper_bound, /*integers=*/true, *slo);
    if (!found) return found.error();
    cap.found = std::move(*found);
    return std::optional<Capacity>(std::move(cap));
}

json capacity_json(const Capacity& cap) {
    const auto& at = cap.found.at_best;
    return {{"slo", cap.slo},
            {"max_concurrency",
             cap.found.best ? json(static_cast<std::uint32_t>(*cap.found.best)) : json(nullptr)},
            {"upper_bound", cap.upper_bound},
            {"per_user_output_tokens_per_s",
             at ? json(at->output_tokens_per_s_per_user) : json(nullptr)},
            {"output_tokens_per_s", at ? json(at->output_tokens_per_s) : json(nullptr)},
            {"simulated", true},
            {"rule", std::string(plan::kPlan20)}};
}

std::string capacity_text(const Capacity& cap, const plan::Plan& p) {
    const std::string who = p.use == plan::UseCase::agents ? "agents" : "users";
    const std::string explore = fmt::format(
        "`sparkctl simulate` with these plan flags and --concurrency {} --slo \"{}\" "
        "--find-max to explore",
        cap.upper_bound, cap.slo);
    if (!cap.found.best) {
        return fmt::format(
            "capacity: no concurrency up to {} meets {} (simulated, SLO from {}; {})\n",
            cap.upper_bound, cap.slo, std::string(plan::kPlan20), explore);
    }
    const sim::Summary& s = *cap.found.at_best;
    return fmt::format(
        "capacity: {:g} concurrent {} at {:.1f} tokens/s each, {:.0f} tokens/s in all, meeting "
        "{} (simulated, SLO from {}; {})\n",
        *cap.found.best, who, s.output_tokens_per_s_per_user, s.output_tokens_per_s, cap.slo,
        std::string(plan::kPlan20), explore);
}

}  // namespace

Action setup_plan(CLI::App& app, Context& ctx) {
    auto a = std::make_shared<PlanArgs>();
    add_plan_flags(app, ctx, a->flags, /*use_required=*/true);
    app.get_option("MODEL")->required();
    app.add_flag("--explain", a->explain, "Print the whole decision trace");
    app.add_option("--format", a->format, "text, sh, compose or llama-swap")
        ->check(CLI::IsMember({"text", "sh", "compose", "llama-swap"}));
    return [a](Context& c) -> int {
        auto planned = plan_from_flags(c, a->flags);
        if (!planned) return c.out.fail(planned.error());
        const plan::PlanRequest& req = planned->request;
        const plan::Plan* p = &planned->plan;

        if (p->status == plan::Status::refused) {
            // Exit 2 per the contract; the document still says why, with the trace.
            if (c.out.json) {
                json doc = plan_json(*p, req);
                doc["error"] = {{"code", base::kExitBadInput}, {"message", p->refusal}};
                c.out.emit_json(doc);
                std::fprintf(stderr, "sparkctl: plan refused: %s\n", p->refusal.c_str());
            } else {
                std::fprintf(stderr, "sparkctl: plan refused: %s\n", p->refusal.c_str());
                if (a->explain) c.out.emit_text(plan::render_text(*p, true));
            }
            return base::kExitBadInput;
        }
        auto capacity = plan_capacity(*planned, a->flags);
        if (!capacity) return c.out.fail(capacity.error());
        if (c.out.json) {
            json doc = plan_json(*p, req);
            if (*capacity) doc["capacity"] = capacity_json(**capacity);
            c.out.emit_json(doc);
        } else if (a->format == "sh" && p->status == plan::Status::ok) {
            c.out.emit_text(plan::render_sh(*p, req.cluster ? req.cluster->ssh_user : ""));
        } else if (a->format == "compose" && p->status == plan::Status::ok) {
            c.out.emit_text(plan::render_compose(*p));
        } else if (a->format == "llama-swap" && p->status == plan::Status::ok) {
            c.out.emit_text(plan::render_llama_swap(*p));
        } else {
            std::string text = plan::render_text(
                *p, a->explain,
                plan::colour_wanted(isatty(fileno(stdout)) == 1, std::getenv("NO_COLOR")));
            if (*capacity) text += capacity_text(**capacity, *p);
            c.out.emit_text(text);
        }
        return p->exit_status();
    };
}

}  // namespace sparkctl::cli
