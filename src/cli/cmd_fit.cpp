// sparkctl fit MODEL: memory per engine against the budget, fits or not, and the largest
// context and parallelism that fit. Schema: docs/dev/fit.md.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/exit_status.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/fit_json.h"
#include "engines/engine.h"
#include "fit/constants_file.h"
#include "fit/fit.h"
#include "fit/performance.h"
#include "hw/detect.h"
#include "hw/profile.h"
#include "model/catalog.h"
#include "model/load.h"
#include "plan/quant_choice.h"
#include "plan/rules.h"

namespace sparkctl::cli {

namespace {

using nlohmann::json;

struct FitArgs {
    std::string model;
    std::string engine;
    std::string quant;
    std::optional<std::uint64_t> context;
    std::uint32_t parallel = 1;
    std::string kv_cache_dtype = "auto";
    std::string budget;
    std::uint64_t depth = 0;
    std::uint64_t prompt = 512;
    std::uint32_t nodes = 1;
    std::uint32_t ubatch = 0;  // 0: fit::default_ubatch, the value `plan` emits
    std::uint32_t batch = 0;
    std::optional<std::int64_t> cache_ram_mib;     // nullopt: what `plan` sets
    std::optional<std::uint32_t> ctx_checkpoints;  // nullopt: what `plan` sets
};

json result_json(const fit::FitResult& r, const std::string& quant_rule,
                 const model::ModelSpec& spec, const hw::HardwareProfile& hwp) {
    const fit::MemoryBreakdown& m = r.estimate.memory;
    const fit::KvBreakdown& kv = r.estimate.kv;
    const fit::EngineSettings& s = r.estimate.settings;
    json j;
    j["model"] = spec.name;
    j["hardware"] = hwp.name;
    j["engine"] = engines::to_string(r.engine);
    j["engine_version"] = std::string(engines::target_version(r.engine));
    j["supported"] = r.supported;
    if (!r.supported) j["reason"] = r.unsupported_reason;
    j["quant"] = r.quant;
    j["quant_published"] = r.quant_published;
    j["quant_origin"] = r.quant_origin;
    j["quant_rule"] = quant_rule;
    j["weights_source"] = r.weights_source;
    j["context"] = r.context;
    j["context_origin"] = r.context_origin;
    j["parallel"] = r.parallel;
    j["tensor_parallel"] = r.tensor_parallel;
    j["kv_cache_dtype"] = r.kv_cache_dtype;
    j["fits"] = r.supported && r.estimate.fits;
    j["max_context"] = r.max_context;
    j["max_parallel"] = r.max_parallel;
    j["headroom_bytes"] = r.headroom_bytes;
    j["memory"] = {{"weights_bytes", m.weights_bytes},
                   {"kv_cache_bytes", m.kv_cache_bytes},
                   {"kv_bytes_per_token", m.kv_bytes_per_token},
                   {"compute_bytes", m.compute_bytes},
                   {"compute_basis", r.compute_basis},
                   {"overhead_bytes", m.overhead_bytes},
                   {"host_prompt_cache_bytes", m.host_prompt_cache_bytes},
                   {"ctx_checkpoints_bytes", m.ctx_checkpoints_bytes},
                   {"total_bytes", m.total_bytes},
                   {"peak_bytes", m.peak_bytes},
                   {"budget_bytes", m.budget_bytes},
                   {"memory_total_bytes", hwp.memory_total_bytes}};
    j["kv_cache"] = {{"full_bytes", kv.full_bytes},
                     {"swa_bytes", kv.swa_bytes},
                     {"recurrent_bytes", kv.recurrent_bytes},
                     {"full_cells", kv.full_cells},
                     {"swa_cells", kv.swa_cells},
                     {"n_full_layers", kv.n_full_layers},
                     {"n_swa_layers", kv.n_swa_layers},
                     {"n_recurrent_layers", kv.n_recurrent_layers}};
    json settings = json::object();
    switch (r.engine) {
        case engines::Engine::llama_cpp:
            settings = {{"ctx_size", s.llamacpp_n_ctx},
                        {"ctx_size_per_slot", s.llamacpp_n_ctx_seq},
                        {"parallel", r.parallel},
                        {"ubatch_size", r.ubatch},
                        {"batch_size", r.batch},
                        {"flash_attn", "on"},
                        {"load_mode", "none"},
                        {"cache_ram_mib", s.llamacpp_cache_ram_mib},
                        {"ctx_checkpoints", s.llamacpp_ctx_checkpoints},
                        {"ctx_checkpoint_bytes", m.ctx_checkpoint_bytes}};
            break;
        case engines::Engine::vllm:
            settings = {{"max_model_len", r.context},
                        {"max_num_seqs", s.vllm_max_num_seqs},
                        {"max_num_batched_tokens", s.vllm_max_num_batched_tokens},
                        {"kv_cache_memory_bytes", s.vllm_kv_cache_memory_bytes},
                        {"gpu_memory_utilization", s.vllm_gpu_memory_utilization}};
            break;
        case engines::Engine::sglang:
            settings = {{"context_length", r.context},
                        {"max_running_requests", r.parallel},
                        {"max_total_tokens", s.sglang_max_total_tokens},
                        {"mem_fraction_static", s.sglang_mem_fraction_static}};
            break;
    }
    j["engine_settings"] = settings;
    j["notes"] = r.notes;
    j["performance"] = r.performance ? performance_json(*r.performance) : json(nullptr);
    return j;
}

std::string b(std::uint64_t bytes) { return base::format_bytes(bytes); }

std::string table(const std::vector<fit::FitResult>& rs, const model::ModelSpec& spec,
                  const hw::HardwareProfile& hwp, std::uint64_t budget, bool budget_override) {
    std::string out;
    if (budget_override) {
        out += fmt::format("{} on {}: budget {} (--budget)\n", spec.name, hwp.name, b(budget));
    } else {
        out += fmt::format("{} on {}: budget {} = {} - {} OS reserve\n", spec.name, hwp.name,
                           b(budget), b(hwp.memory_total_bytes), b(hwp.os_reserve_bytes));
    }
    const fit::FitResult& f0 = rs.front();
    out += fmt::format("context {} per sequence ({}), parallel {}", f0.context, f0.context_origin,
                       f0.parallel);
    for (const fit::FitResult& r : rs) {
        if (!r.performance) continue;
        const fit::Performance& p = *r.performance;
        out += fmt::format(
            "; speed at depth {}, prompt {}, nodes {} (ceiling: decode {}, "
            "prefill {})",
            p.depth, p.prompt, p.nodes, "bandwidth bound",
            p.prefill_ceiling_tokens_per_s ? "compute bound at the published peak" : "unknown");
        break;
    }
    out += "\n\n";

    std::vector<std::pair<std::string, std::vector<std::string>>> rows;
    auto row = [&](const std::string& label, auto&& cell) {
        std::vector<std::string> cells;
        for (const fit::FitResult& r : rs) cells.push_back(cell(r));
        rows.emplace_back(label, std::move(cells));
    };
    auto mem = [](auto field) {
        return [field](const fit::FitResult& r) {
            return r.supported ? b(field(r.estimate.memory)) : std::string("-");
        };
    };
    row("", [](const fit::FitResult& r) { return std::string(engines::to_string(r.engine)); });
    row("quant", [](const fit::FitResult& r) {
        return r.quant + (r.quant_published ? "" : " (not published)");
    });
    row("kv cache type", [](const fit::FitResult& r) { return r.kv_cache_dtype; });
    row("weights", mem([](const fit::MemoryBreakdown& m) { return m.weights_bytes; }));
    row("kv cache", mem([](const fit::MemoryBreakdown& m) { return m.kv_cache_bytes; }));
    row("  per token", mem([](const fit::MemoryBreakdown& m) { return m.kv_bytes_per_token; }));
    row("compute", mem([](const fit::MemoryBreakdown& m) { return m.compute_bytes; }));
    row("overhead", mem([](const fit::MemoryBreakdown& m) { return m.overhead_bytes; }));
    row("host prompt cache",
        mem([](const fit::MemoryBreakdown& m) { return m.host_prompt_cache_bytes; }));
    row("ctx checkpoints",
        mem([](const fit::MemoryBreakdown& m) { return m.ctx_checkpoints_bytes; }));
    row("total", mem([](const fit::MemoryBreakdown& m) { return m.total_bytes; }));
    row("peak (loading)", mem([](const fit::MemoryBreakdown& m) { return m.peak_bytes; }));
    row("budget", [&](const fit::FitResult&) { return b(budget); });
    row("headroom", [](const fit::FitResult& r) {
        if (!r.supported) return std::string("-");
        const std::int64_t h = r.headroom_bytes;
        return h >= 0 ? b(static_cast<std::uint64_t>(h)) : "-" + b(static_cast<std::uint64_t>(-h));
    });
    row("fits", [](const fit::FitResult& r) {
        if (!r.supported) return std::string("no (unsupported)");
        return std::string(r.estimate.fits ? "yes" : "NO");
    });
    row("max context", [](const fit::FitResult& r) {
        return r.supported ? std::to_string(r.max_context) : std::string("-");
    });
    row("max parallel", [](const fit::FitResult& r) {
        return r.supported ? std::to_string(r.max_parallel) : std::string("-");
    });
    // Speed (docs/dev/performance-model.md): prediction, and the physical ceiling beside it.
    auto perf = [](auto cell) {
        return [cell](const fit::FitResult& r) {
            return r.supported && r.performance ? cell(*r.performance) : std::string("-");
        };
    };
    auto num = [](double v) { return fmt::format("{:.1f}", v); };
    auto of = [num](double v, double ceiling) {
        return fmt::format("{} of {} ({:.0f}%)", num(v), num(ceiling), 100.0 * v / ceiling);
    };
    const bool any_perf =
        std::any_of(rs.begin(), rs.end(), [](const fit::FitResult& r) { return r.performance; });
    if (any_perf) {
        row("speed", [](const fit::FitResult&) { return std::string(""); });
        row("  decode t/s per seq", perf([of](const fit::Performance& p) {
                return of(p.decode_tokens_per_s, p.decode_ceiling_tokens_per_s);
            }));
        if (f0.parallel > 1) {
            row("  decode t/s total", perf([of](const fit::Performance& p) {
                    return of(p.decode_tokens_per_s_total, p.decode_ceiling_tokens_per_s_total);
                }));
        }
        row("  prefill t/s", perf([of](const fit::Performance& p) {
                if (!p.prefill_tokens_per_s) return std::string("unknown");
                return of(*p.prefill_tokens_per_s, *p.prefill_ceiling_tokens_per_s);
            }));
        row("  ttft ms", perf([num](const fit::Performance& p) {
                return p.ttft_ms ? num(*p.ttft_ms) : std::string("unknown");
            }));
        row("  itl ms", perf([num](const fit::Performance& p) { return num(p.itl_ms); }));
        if (rs.front().performance && rs.front().performance->nodes > 1) {
            row("  tp speed-up", perf([](const fit::Performance& p) {
                    return p.tp_speedup ? fmt::format("{:.2f}x", *p.tp_speedup) : std::string("-");
                }));
        }
        row("  constants", perf([](const fit::Performance& p) {
                return p.calibrated ? std::string("fitted") : std::string("borrowed");
            }));
    }

    std::size_t label_w = 0;
    std::vector<std::size_t> col_w(rs.size(), 0);
    for (const auto& [label, cells] : rows) {
        label_w = std::max(label_w, label.size());
        for (std::size_t i = 0; i < cells.size(); ++i)
            col_w[i] = std::max(col_w[i], cells[i].size());
    }
    for (const auto& [label, cells] : rows) {
        std::string line = fmt::format("{:<{}}", label, label_w);
        for (std::size_t i = 0; i < cells.size(); ++i) {
            line += fmt::format("  {:>{}}", cells[i], col_w[i]);
        }
        out += line + "\n";
    }
    for (const fit::FitResult& r : rs) {
        if (!r.supported) {
            out += fmt::format("\n{}: {}", engines::to_string(r.engine), r.unsupported_reason);
        }
        for (const std::string& n : r.notes) {
            out += fmt::format("\n{}: {}", engines::to_string(r.engine), n);
        }
    }
    if (out.back() != '\n') out += "\n";
    return out;
}

}  // namespace

Action setup_fit(CLI::App& app, Context& ctx) {
    auto a = std::make_shared<FitArgs>();
    app.add_option("MODEL", a->model,
                   "Catalog name or HF id, a .gguf/.safetensors/config.json file, or a model "
                   "directory")
        ->required();
    app.add_option("--engine", a->engine, "llama.cpp, vllm or sglang (default: compare all three)");
    app.add_option("--quant", a->quant,
                   "Quantization (bf16, fp8, awq, gptq, nvfp4, mxfp4, or a GGUF type such as "
                   "Q4_K_M); default: what `sparkctl plan` picks among published variants");
    app.add_option("--context", a->context,
                   "Tokens per sequence (default: the trained context, capped at 32768)");
    app.add_option("--parallel", a->parallel, "Sequences served at once (default 1)")
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("--kv-cache-dtype", a->kv_cache_dtype,
                   "auto, f16, bf16, q8_0, q4_0 (llama.cpp), fp8 (vLLM, SGLang)");
    app.add_option("--budget", a->budget,
                   "Memory budget in bytes (suffixes GiB, GB, ...) instead of the profile's");
    app.add_option("--depth", a->depth,
                   "Tokens already in each sequence's KV cache, for the speed prediction "
                   "(default 0)");
    app.add_option("--prompt", a->prompt,
                   "Prompt tokens per request, for prefill speed and time to first token "
                   "(default 512)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
    app.add_option("--nodes", a->nodes,
                   "Machines in tensor parallel: memory per node and the speed prediction "
                   "(default 1)")
        ->check(CLI::Range(1u, 64u));
    app.add_option("--ubatch", a->ubatch,
                   "llama.cpp micro-batch -ub: tokens per prefill pass, sizing its compute buffer "
                   "(default: what `sparkctl plan` sets, 2048)")
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("--batch", a->batch,
                   "llama.cpp logical batch -b (default: the larger of 2048 and --ubatch)")
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("--cache-ram", a->cache_ram_mib,
                   "llama-server host prompt cache in MiB (-1 no limit, 0 off; default: what "
                   "`sparkctl plan` sets, half of what the budget leaves, at most 8192)")
        ->check(CLI::Range(std::int64_t{-1}, std::int64_t{1} << 40));
    app.add_option("--ctx-checkpoints", a->ctx_checkpoints,
                   "llama-server context checkpoints per slot (default: what `sparkctl plan` "
                   "sets; only sliding-window and recurrent models make them)")
        ->check(CLI::Range(0u, 1u << 20));
    ctx.add_config_flag(app, "hardware");
    ctx.add_config_flag(app, "constants");
    return [a](Context& c) -> int {
        auto cfg = c.config();
        if (!cfg) return c.out.fail(cfg.error());
        auto rules = plan::RuleBook::configured(
            (*cfg)->table("rules"), (*cfg)->file() ? (*cfg)->file()->string() : "config");
        if (!rules) return c.out.fail(rules.error());
        std::unique_ptr<hw::System> system = hw::make_real_system();
        auto hwp = hw::resolve_hardware((*cfg)->value("hardware"), *system);
        if (!hwp) return c.out.fail(hwp.error());
        auto constants = fit::load_constants((*cfg)->value("constants"), (*cfg)->value("data_dir"));
        if (!constants) return c.out.fail(constants.error());

        std::uint64_t budget = hwp->budget_bytes();
        if (!a->budget.empty()) {
            auto parsed = base::parse_bytes(a->budget);
            if (!parsed) {
                return c.out.fail(base::kExitBadInput,
                                  "--budget: '" + base::printable(a->budget) +
                                      "' is not a byte count (e.g. 100GiB, 107374182400)");
            }
            budget = *parsed;
        }
        std::vector<engines::Engine> engs;
        if (a->engine.empty()) {
            engs.assign(std::begin(engines::kAllEngines), std::end(engines::kAllEngines));
        } else {
            auto e = engines::parse_engine(a->engine);
            if (!e) return c.out.fail(e.error());
            engs.push_back(*e);
            if ((a->ubatch || a->batch) && *e != engines::Engine::llama_cpp) {
                return c.out.fail(base::kExitBadInput,
                                  "--ubatch/--batch: llama.cpp settings; --engine is " +
                                      std::string(engines::to_string(*e)));
            }
            if ((a->cache_ram_mib || a->ctx_checkpoints) && *e != engines::Engine::llama_cpp) {
                return c.out.fail(base::kExitBadInput,
                                  "--cache-ram/--ctx-checkpoints: llama-server settings; "
                                  "--engine is " +
                                      std::string(engines::to_string(*e)));
            }
        }
        if (a->context && *a->context == 0) {
            return c.out.fail(base::kExitBadInput, "--context: must be at least 1");
        }

        auto spec = model::load_model(a->model);
        if (!spec) return c.out.fail(spec.error());
        // A named checkpoint (a variant's repository) is fitted as named, as `plan` plans it.
        std::vector<model::Variant> variants = model::published_variants(*spec);
        if (const std::string named = model::named_checkpoint(a->model, *spec); !named.empty()) {
            std::erase_if(variants,
                          [&](const model::Variant& v) { return !base::iequals(v.repo, named); });
        }

        fit::FitOptions o;
        o.quant = a->quant;
        o.context = a->context;
        o.parallel = a->parallel;
        o.tensor_parallel = a->nodes;
        o.kv_cache_dtype = a->kv_cache_dtype;
        o.budget_bytes = budget;
        o.memory_total_bytes = hwp->memory_total_bytes;
        o.ubatch = a->ubatch;
        o.batch = a->batch;
        o.cache_ram_mib = a->cache_ram_mib;
        o.ctx_checkpoints = a->ctx_checkpoints;
        o.constants = &*constants;
        if (auto caps = fit::hw_caps(*hwp)) {
            fit::PerfRequest pr;
            pr.parallel = a->parallel;
            pr.depth = a->depth;
            pr.prompt = a->prompt;
            o.performance = pr;
            o.performance_hw = *caps;
        } else if (a->nodes > 1 || a->depth > 0) {
            return c.out.fail(caps.error());
        }

        // The quantization (without --quant) is the one `sparkctl plan` picks: one owner.
        std::vector<fit::FitResult> results;
        std::vector<std::string> quant_rules;
        for (engines::Engine e : engs) {
            auto r = plan::choose_quant(*spec, variants, e, o, plan::Prefer::none, *rules);
            if (!r) {
                // Comparing engines: a what-if one engine cannot run is a row, not a failure.
                if (engs.size() > 1) {
                    fit::FitResult row;
                    row.engine = e;
                    row.supported = false;
                    row.unsupported_reason = r.error().message;
                    row.quant = a->quant;
                    row.parallel = a->parallel;
                    row.kv_cache_dtype = a->kv_cache_dtype;
                    row.estimate.memory.budget_bytes = budget;
                    results.push_back(row);
                    quant_rules.emplace_back();
                    continue;
                }
                return c.out.fail(r.error());
            }
            results.push_back(std::move(r->fit));
            quant_rules.push_back(std::move(r->rule));
        }
        for (const fit::FitResult& r : results) {
            if (r.supported && a->depth + a->prompt > r.context) {
                return c.out.fail(base::kExitBadInput,
                                  fmt::format("--depth {} + --prompt {} exceeds the context of {} "
                                              "tokens per sequence (--context)",
                                              a->depth, a->prompt, r.context));
            }
        }
        bool any_fits = false;
        bool all_unsupported = true;
        for (const fit::FitResult& r : results) {
            any_fits |= r.supported && r.estimate.fits;
            all_unsupported &= !r.supported;
        }
        if (all_unsupported && engs.size() > 1 && !a->quant.empty()) {
            return c.out.fail(base::kExitBadInput, "--quant: '" + base::printable(a->quant) +
                                                       "' is not a quantization any engine runs");
        }
        if (c.out.json) {
            if (engs.size() == 1) {
                c.out.emit_json(result_json(results.front(), quant_rules.front(), *spec, *hwp));
            } else {
                json arr = json::array();
                for (std::size_t i = 0; i < results.size(); ++i) {
                    arr.push_back(result_json(results[i], quant_rules[i], *spec, *hwp));
                }
                c.out.emit_json({{"comparisons", arr}});
            }
        } else {
            std::string text = table(results, *spec, *hwp, budget, !a->budget.empty());
            // Which constants table the speeds come from, unless the built-in one.
            if (!constants->label.empty()) text += "constants: " + constants->label + "\n";
            c.out.emit_text(text);
        }
        return any_fits ? base::kExitOk : base::kExitDoesNotFit;
    };
}

}  // namespace sparkctl::cli
