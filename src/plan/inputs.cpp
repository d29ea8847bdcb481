#include "plan/inputs.h"

#include <memory>

#include "base/strings.h"
#include "engines/installed.h"
#include "fit/constants_file.h"
#include "hw/detect.h"
#include "model/load.h"
#include "plan/rules.h"

namespace sparkctl::plan {

engines::Programs engine_programs(const config::Config& cfg) {
    engines::Programs p;
    p.llama_server = cfg.value("llama_server");
    p.vllm = cfg.value("vllm");
    p.sglang_python = cfg.value("sglang_python");
    p.docker = cfg.value("docker");
    p.images = cfg.table("images");
    return p;
}

base::Result<Planned> plan_from_inputs(const config::Config& cfg, const PlanInputs& f) {
    if (f.model.empty()) return base::make_error(base::Errc::bad_input, "MODEL is required");
    const std::string cfg_origin = cfg.file() ? cfg.file()->string() : std::string("config");

    Planned out;
    PlanRequest& req = out.request;
    auto use = parse_use(f.use.empty() ? "chat" : f.use);
    if (!use) return use.error();
    req.use = *use;
    auto prefer = parse_prefer(f.prefer);
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
    auto cluster = parse_cluster(cfg.table("cluster"), cfg_origin);
    if (!cluster) return cluster.error();
    req.cluster = *cluster;

    auto rules = RuleBook::configured(cfg.table("rules"), cfg_origin);
    if (!rules) return rules.error();

    std::unique_ptr<hw::System> system = hw::make_real_system();
    auto hwp = hw::resolve_hardware(cfg.value("hardware"), *system);
    if (!hwp) return hwp.error();
    out.hardware = *hwp;
    req.hardware = hardware_of(*hwp);
    auto constants = fit::load_constants(cfg.value("constants"), cfg.value("data_dir"));
    if (!constants) return constants.error();
    req.constants = std::move(*constants);
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
        PlanRequest probe = req;
        probe.engine_version.clear();
        auto first = make_plan(out.spec, out.variants, probe, *rules);
        if (!first) return first.error();
        auto found = engines::detect_installed(first->engine, engine_programs(cfg));
        if (!found) return found.error();
        req.engine_version = found->version->name;
        req.engine_version_origin = "--engine-version installed: " + found->found +
                                    " -> the nearest flag table at or below it";
    }
    auto p = make_plan(out.spec, out.variants, req, *rules);
    if (!p) return p.error();
    out.plan = std::move(*p);
    out.rules = std::move(*rules);
    return out;
}

}  // namespace sparkctl::plan
