#include "cli/plan_flags.h"

#include <memory>

#include "base/strings.h"
#include "engines/installed.h"
#include "hw/detect.h"
#include "model/load.h"
#include "plan/rules.h"

namespace sparkctl::cli {

void add_plan_flags(CLI::App& app, Context& ctx, PlanFlags& f, bool use_required) {
    app.add_option("MODEL", f.model,
                   "Catalog name or HF id, a .gguf/.safetensors/config.json file, or a model "
                   "directory");
    auto* use = app.add_option("--for", f.use,
                               use_required ? "chat, agents, batch or long-context"
                                            : "chat (default), agents, batch or long-context");
    if (use_required) use->required();
    app.add_option("--users", f.users, "Sequences served at once (default 1)")
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("--context", f.context,
                   "Tokens per sequence (default by use: chat and batch the trained context "
                   "capped at 32768; agents capped at 131072 and shrunk until every user fits; "
                   "long-context the trained context)");
    app.add_option("--nodes", f.nodes,
                   "Sparks to run on (default: the [cluster] inventory's hosts, else 1)")
        ->check(CLI::Range(1u, 64u));
    app.add_flag("--bench", f.bench, "Plan for benchmarking: prefix caching off, metrics on");
    app.add_option("--prefer", f.prefer, "speed or fit");
    app.add_option("--engine", f.engine, "Force llama.cpp, vllm or sglang (against the rules)");
    app.add_option("--engine-version", f.engine_version,
                   "Engine version: a table's name (b6845, ngc-26.05, ...), a llama.cpp build "
                   "(b6918: the nearest table at or below), or installed (default: the one "
                   "NVIDIA's DGX Spark playbooks use)");
    app.add_option("--quant", f.quant,
                   "Force a published quantization (awq, fp8, Q4_K_M, ...; a GGUF ladder step "
                   "the catalog lacks is a what-if); picks an engine that runs it");
    app.add_option("--kv-cache-dtype", f.kv_cache_dtype,
                   "KV cache type the engine accepts (fp8, q8_0, ...; default: the engine's)");
    app.add_option("--override", f.overrides,
                   "Turn an operational rule's refusal into a warning (R-OPS-n); repeatable");
    app.add_option("--launcher", f.launcher,
                   "Multi-node vLLM launcher: mp (vLLM's own; the default where the version has "
                   "--nnodes/--headless) or ray")
        ->check(CLI::IsMember({"mp", "ray"}));
    app.add_option("--budget", f.budget,
                   "Memory budget in bytes (suffixes GiB, GB, ...) instead of the profile's");
    ctx.add_config_flag(app, "hardware");
}

base::Result<Planned> plan_from_flags(Context& c, const PlanFlags& f) {
    if (f.model.empty()) return base::make_error(base::Errc::bad_input, "MODEL is required");
    auto cfg = c.config();
    if (!cfg) return cfg.error();
    const std::string cfg_origin =
        (*cfg)->file() ? (*cfg)->file()->string() : std::string("config");

    Planned out;
    plan::PlanRequest& req = out.request;
    auto use = plan::parse_use(f.use.empty() ? "chat" : f.use);
    if (!use) return use.error();
    req.use = *use;
    auto prefer = plan::parse_prefer(f.prefer);
    if (!prefer) return prefer.error();
    req.prefer = *prefer;
    if (f.context && *f.context == 0) {
        return base::make_error(base::Errc::bad_input, "--context: must be at least 1");
    }
    req.users = f.users;
    req.context = f.context;
    req.nodes = f.nodes;
    req.bench = f.bench;
    req.engine = f.engine;
    req.engine_version = f.engine_version;
    req.quant = f.quant;
    req.kv_cache_dtype = f.kv_cache_dtype;
    req.overrides = f.overrides;
    req.launcher = f.launcher;
    auto cluster = plan::parse_cluster((*cfg)->table("cluster"), cfg_origin);
    if (!cluster) return cluster.error();
    req.cluster = *cluster;

    auto rules = plan::RuleBook::configured((*cfg)->table("rules"), cfg_origin);
    if (!rules) return rules.error();

    std::unique_ptr<hw::System> system = hw::make_real_system();
    auto hwp = hw::resolve_hardware((*cfg)->value("hardware"), *system);
    if (!hwp) return hwp.error();
    out.hardware = *hwp;
    req.hardware = plan::hardware_of(*hwp);
    if (!f.budget.empty()) {
        auto parsed = base::parse_bytes(f.budget);
        if (!parsed) {
            return base::make_error(base::Errc::bad_input,
                                    "--budget: '" + base::printable(f.budget) +
                                        "' is not a byte count (e.g. 100GiB, 107374182400)");
        }
        req.hardware.budget_bytes = *parsed;
        req.hardware.budget_override = true;
    }

    auto spec = model::load_model(f.model);
    if (!spec) return spec.error();
    out.spec = std::move(*spec);
    out.variants = model::published_variants(out.spec);
    req.variant_repo = model::named_checkpoint(f.model, out.spec);
    if (base::iequals(req.engine_version, "installed")) {
        // The engine the rules (or --engine) pick, then the version installed of it.
        plan::PlanRequest probe = req;
        probe.engine_version.clear();
        auto first = plan::make_plan(out.spec, out.variants, probe, *rules);
        if (!first) return first.error();
        auto found = engines::detect_installed(first->engine);
        if (!found) return found.error();
        req.engine_version = found->version->name;
        req.engine_version_origin = "--engine-version installed: " + found->found +
                                    " -> the nearest flag table at or below it";
    }
    auto p = plan::make_plan(out.spec, out.variants, req, *rules);
    if (!p) return p.error();
    out.plan = std::move(*p);
    out.rules = std::move(*rules);
    return out;
}

}  // namespace sparkctl::cli
