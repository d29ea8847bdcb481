#include "cli/plan_flags.h"

namespace sparkctl::cli {

void add_plan_choice_flags(CLI::App& app, PlanFlags& f) {
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
    app.add_option("--budget", f.budget,
                   "Memory budget in bytes (suffixes GiB, GB, ...) instead of the profile's");
}

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
    add_plan_choice_flags(app, f);
    app.add_option("--launcher", f.launcher,
                   "Multi-node vLLM launcher: mp (vLLM's own; the default where the version has "
                   "--nnodes/--headless) or ray")
        ->check(CLI::IsMember({"mp", "ray"}));
    ctx.add_config_flag(app, "hardware");
    ctx.add_config_flag(app, "constants");
}

base::Result<Planned> plan_from_flags(Context& c, const PlanFlags& f) {
    auto cfg = c.config();
    if (!cfg) return cfg.error();
    return plan::plan_from_inputs(**cfg, f);
}

}  // namespace sparkctl::cli
