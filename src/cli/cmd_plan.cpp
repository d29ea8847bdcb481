// sparkctl plan MODEL --for USE: engine, quantization, flags and launch commands by the rules,
// each decision citing the rule it applied. Schema: docs/dev/plan.md.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/exit_status.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/fit_json.h"
#include "engines/installed.h"
#include "hw/detect.h"
#include "hw/profile.h"
#include "model/catalog.h"
#include "model/load.h"
#include "plan/plan.h"
#include "plan/render.h"
#include "plan/rules.h"

namespace sparkctl::cli {

namespace {

using nlohmann::json;

struct PlanArgs {
    std::string model;
    std::string use;
    std::uint32_t users = 1;
    std::optional<std::uint64_t> context;
    std::optional<std::uint32_t> nodes;
    bool bench = false;
    std::string prefer;
    std::string engine;
    std::string engine_version;
    std::string quant;
    std::string kv_cache_dtype;
    std::vector<std::string> overrides;
    bool explain = false;
    std::string format = "text";
    std::string budget;
    std::string launcher;
};

json memory_json(const plan::Plan& p, std::uint64_t memory_total) {
    const fit::MemoryBreakdown& m = p.fit.estimate.memory;
    return {{"per_node", p.nodes > 1},
            {"weights_bytes", m.weights_bytes},
            {"kv_cache_bytes", m.kv_cache_bytes},
            {"kv_bytes_per_token", m.kv_bytes_per_token},
            {"compute_bytes", m.compute_bytes},
            {"overhead_bytes", m.overhead_bytes},
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

}  // namespace

Action setup_plan(CLI::App& app, Context& ctx) {
    auto a = std::make_shared<PlanArgs>();
    app.add_option("MODEL", a->model,
                   "Catalog name or HF id, a .gguf/.safetensors/config.json file, or a model "
                   "directory")
        ->required();
    app.add_option("--for", a->use, "chat, agents, batch or long-context")->required();
    app.add_option("--users", a->users, "Sequences served at once (default 1)")
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("--context", a->context,
                   "Tokens per sequence (default by use: chat and batch the trained context "
                   "capped at 32768; agents capped at 131072 and shrunk until every user fits; "
                   "long-context the trained context)");
    app.add_option("--nodes", a->nodes,
                   "Sparks to run on (default: the [cluster] inventory's hosts, else 1)")
        ->check(CLI::Range(1u, 64u));
    app.add_flag("--bench", a->bench, "Plan for benchmarking: prefix caching off, metrics on");
    app.add_option("--prefer", a->prefer, "speed or fit");
    app.add_option("--engine", a->engine, "Force llama.cpp, vllm or sglang (against the rules)");
    app.add_option("--engine-version", a->engine_version,
                   "Engine version: a table's name (b6845, ngc-26.05, ...), a llama.cpp build "
                   "(b6918: the nearest table at or below), or installed (default: the one "
                   "NVIDIA's DGX Spark playbooks use)");
    app.add_option("--quant", a->quant,
                   "Force a published quantization (awq, fp8, Q4_K_M, ...; a GGUF ladder step "
                   "the catalog lacks is a what-if); picks an engine that runs it");
    app.add_option("--kv-cache-dtype", a->kv_cache_dtype,
                   "KV cache type the engine accepts (fp8, q8_0, ...; default: the engine's)");
    app.add_option("--override", a->overrides,
                   "Turn an operational rule's refusal into a warning (R-OPS-n); repeatable");
    app.add_flag("--explain", a->explain, "Print the whole decision trace");
    app.add_option("--format", a->format, "text, sh, compose or llama-swap")
        ->check(CLI::IsMember({"text", "sh", "compose", "llama-swap"}));
    app.add_option("--launcher", a->launcher,
                   "Multi-node vLLM launcher: mp (vLLM's own; the default where the version has "
                   "--nnodes/--headless) or ray")
        ->check(CLI::IsMember({"mp", "ray"}));
    app.add_option("--budget", a->budget,
                   "Memory budget in bytes (suffixes GiB, GB, ...) instead of the profile's");
    ctx.add_config_flag(app, "hardware");
    return [a](Context& c) -> int {
        auto cfg = c.config();
        if (!cfg) return c.out.fail(cfg.error());
        const std::string cfg_origin =
            (*cfg)->file() ? (*cfg)->file()->string() : std::string("config");

        plan::PlanRequest req;
        auto use = plan::parse_use(a->use);
        if (!use) return c.out.fail(use.error());
        req.use = *use;
        auto prefer = plan::parse_prefer(a->prefer);
        if (!prefer) return c.out.fail(prefer.error());
        req.prefer = *prefer;
        if (a->context && *a->context == 0) {
            return c.out.fail(base::kExitBadInput, "--context: must be at least 1");
        }
        req.users = a->users;
        req.context = a->context;
        req.nodes = a->nodes;
        req.bench = a->bench;
        req.engine = a->engine;
        req.engine_version = a->engine_version;
        req.quant = a->quant;
        req.kv_cache_dtype = a->kv_cache_dtype;
        req.overrides = a->overrides;
        req.launcher = a->launcher;
        auto cluster = plan::parse_cluster((*cfg)->table("cluster"), cfg_origin);
        if (!cluster) return c.out.fail(cluster.error());
        req.cluster = *cluster;

        auto rules = plan::RuleBook::configured((*cfg)->table("rules"), cfg_origin);
        if (!rules) return c.out.fail(rules.error());

        std::unique_ptr<hw::System> system = hw::make_real_system();
        auto hwp = hw::resolve_hardware((*cfg)->value("hardware"), *system);
        if (!hwp) return c.out.fail(hwp.error());
        req.hardware = plan::hardware_of(*hwp);
        if (!a->budget.empty()) {
            auto parsed = base::parse_bytes(a->budget);
            if (!parsed) {
                return c.out.fail(base::kExitBadInput,
                                  "--budget: '" + base::printable(a->budget) +
                                      "' is not a byte count (e.g. 100GiB, 107374182400)");
            }
            req.hardware.budget_bytes = *parsed;
            req.hardware.budget_override = true;
        }

        auto spec = model::load_model(a->model);
        if (!spec) return c.out.fail(spec.error());
        const std::vector<model::Variant> variants = model::published_variants(*spec);
        req.variant_repo = model::named_checkpoint(a->model, *spec);
        if (base::iequals(req.engine_version, "installed")) {
            // The engine the rules (or --engine) pick, then the version installed of it.
            plan::PlanRequest probe = req;
            probe.engine_version.clear();
            auto first = plan::make_plan(*spec, variants, probe, *rules);
            if (!first) return c.out.fail(first.error());
            auto found = engines::detect_installed(first->engine);
            if (!found) return c.out.fail(found.error());
            req.engine_version = found->version->name;
            req.engine_version_origin = "--engine-version installed: " + found->found +
                                        " -> the nearest flag table at or below it";
        }
        auto p = plan::make_plan(*spec, variants, req, *rules);
        if (!p) return c.out.fail(p.error());

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
        if (c.out.json) {
            c.out.emit_json(plan_json(*p, req));
        } else if (a->format == "sh" && p->status == plan::Status::ok) {
            c.out.emit_text(plan::render_sh(*p, req.cluster ? req.cluster->ssh_user : ""));
        } else if (a->format == "compose" && p->status == plan::Status::ok) {
            c.out.emit_text(plan::render_compose(*p));
        } else if (a->format == "llama-swap" && p->status == plan::Status::ok) {
            c.out.emit_text(plan::render_llama_swap(*p));
        } else {
            c.out.emit_text(plan::render_text(
                *p, a->explain,
                plan::colour_wanted(isatty(fileno(stdout)) == 1, std::getenv("NO_COLOR"))));
        }
        return p->exit_status();
    };
}

}  // namespace sparkctl::cli
