#include "fit/fit.h"

#include <algorithm>
#include <optional>

#include "base/strings.h"
#include "fit/quant.h"
#include "fit/weights.h"

namespace sparkctl::fit {

namespace {

using engines::Engine;
using engines::WeightFormat;

std::string num(std::uint64_t n) { return std::to_string(n); }

struct Weights {
    std::uint64_t bytes = 0;
    std::string source;
};

base::Result<Weights> weights_for(const model::ModelSpec& spec, const Quant& q, bool from_file) {
    if (from_file && spec.weights_bytes) return Weights{*spec.weights_bytes, "file"};
    auto est = estimate_weights(spec.arch, q);
    if (!est) return est.error();
    return Weights{est->bytes, est->from_params_only ? "params_total" : "estimate"};
}

// The quantization a file declares, canonical for `engine`; nullopt when it is not one the
// engine loads.
std::optional<Quant> file_quant(const model::ModelSpec& spec, Engine engine) {
    if (spec.source == model::SourceKind::catalog || !spec.quant) return std::nullopt;
    const bool gguf = spec.source == model::SourceKind::gguf;
    if (gguf != (engines::weight_format(engine) == WeightFormat::gguf)) return std::nullopt;
    auto q = resolve_quant(engine, spec.quant->method);
    if (!q) {
        if (!gguf) return std::nullopt;
        // A GGUF type sparkctl does not price (IQ2_XXS, ...): the file is exact anyway.
        return Quant{spec.quant->method, WeightFormat::gguf, 0};
    }
    return *q;
}

// One node's share of the architecture under tensor parallel `tp` (SPARKCTL-PLAN-8): attention
// and KV heads / TP, at least one (MLA's latent cache is replicated).
model::Arch per_node(const model::Arch& arch, std::uint32_t tp) {
    model::Arch a = arch;
    if (tp <= 1) return a;
    if (a.n_heads) a.n_heads = std::max<std::uint32_t>(1, *a.n_heads / tp);
    if (a.n_kv_heads && !a.mla) a.n_kv_heads = std::max<std::uint32_t>(1, *a.n_kv_heads / tp);
    for (std::uint32_t& h : a.n_kv_heads_per_layer) h = std::max<std::uint32_t>(1, h / tp);
    return a;
}

// Notes about loading memory (peak above the device, page cache while reading safetensors),
// for one node.
std::vector<std::string> memory_notes(Engine engine, const MemoryBreakdown& m,
                                      std::uint64_t memory_total_bytes) {
    std::vector<std::string> notes;
    if (memory_total_bytes && m.peak_bytes > memory_total_bytes) {
        notes.push_back("peak while loading (" + base::format_bytes(m.peak_bytes) +
                        ") exceeds the device memory (" + base::format_bytes(memory_total_bytes) +
                        ")");
    }
    if (engine != Engine::llama_cpp) {
        notes.push_back(
            "loading reads " + base::format_bytes(m.weights_bytes) +
            " of safetensors through the page cache (reclaimable, but on a unified "
            "pool drop caches first: sync; echo 3 | sudo tee /proc/sys/vm/drop_caches)");
    }
    return notes;
}

// llama-server's host memory (docs/dev/fit.md "Host memory"): what --cache-ram and
// --ctx-checkpoints hold and who chose them.
std::vector<std::string> host_memory_notes(const Estimate& e, const FitOptions& o) {
    const MemoryBreakdown& m = e.memory;
    const EngineSettings& s = e.settings;
    std::vector<std::string> notes;
    std::string cache = "host prompt cache --cache-ram " + std::to_string(s.llamacpp_cache_ram_mib);
    if (o.cache_ram_mib) {
        cache += s.llamacpp_cache_ram_mib < 0
                     ? " (no limit: up to the slots' full context, " +
                           base::format_bytes(m.host_prompt_cache_bytes) + ")"
                     : " MiB (requested)";
    } else {
        cache +=
            " MiB (SPARKCTL-PLAN-19: half of what the budget leaves, at most llama.cpp's "
            "default 8192)";
    }
    notes.push_back(cache + ", counted in total: it lives in the unified pool");
    if (m.ctx_checkpoint_bytes == 0) {
        notes.push_back(
            "no context checkpoints: llama-server makes them only for sliding-window and "
            "recurrent models");
    } else {
        notes.push_back("context checkpoints --ctx-checkpoints " +
                        std::to_string(s.llamacpp_ctx_checkpoints) + " per slot x " +
                        base::format_bytes(m.ctx_checkpoint_bytes) + " (" +
                        (o.ctx_checkpoints ? "requested" : "SPARKCTL-PLAN-19") +
                        "), counted in total: " + base::format_bytes(m.ctx_checkpoints_bytes));
    }
    return notes;
}

}  // namespace

std::string tensor_parallel_problem(const model::Arch& a, std::uint32_t tp) {
    if (tp <= 1) return "";
    if (!a.n_heads) return "the number of attention heads is unknown";
    if (*a.n_heads % tp != 0) {
        return "tensor parallel " + num(tp) + " does not divide the " + num(*a.n_heads) +
               " attention heads";
    }
    if (a.n_kv_heads && !a.mla) {
        const std::uint32_t kv = *a.n_kv_heads;
        if (kv % tp != 0 && tp % kv != 0) {
            return "tensor parallel " + num(tp) + " and the " + num(kv) +
                   " KV heads divide neither way";
        }
    }
    return "";
}

base::Result<FitResult> fit_model(const model::ModelSpec& spec,
                                  const std::vector<model::Variant>& variants, Engine engine,
                                  const FitOptions& o) {
    FitResult res;
    res.engine = engine;
    res.parallel = std::max<std::uint32_t>(1, o.parallel);
    res.tensor_parallel = std::max<std::uint32_t>(1, o.tensor_parallel);
    const std::uint32_t tp = res.tensor_parallel;

    auto kv = engines::resolve_kv_cache_type(engine, o.kv_cache_dtype);
    if (!kv) return kv.error();
    res.kv_cache_dtype = std::string(kv->name);

    const std::string missing = missing_facts(spec.arch);
    if (!missing.empty()) {
        // Answer anyway (a consistent document), saying what is unknown.
        res.supported = false;
        res.unsupported_reason = "cannot size the KV cache: unknown " + missing;
        res.quant = o.quant;
        res.context = o.context.value_or(
            std::min(spec.arch.context_length.value_or(kDefaultContextCap), kDefaultContextCap));
        res.estimate.memory.budget_bytes = o.budget_bytes;
        res.headroom_bytes = static_cast<std::int64_t>(o.budget_bytes);
        return res;
    }

    // Context (docs/dev/fit.md).
    const std::optional<std::uint64_t> trained = spec.arch.context_length;
    if (o.context) {
        res.context = *o.context;
        res.context_origin = "requested";
        if (trained && *o.context > *trained) {
            res.notes.push_back("context " + num(*o.context) + " exceeds the trained context " +
                                num(*trained));
        }
    } else if (trained) {
        res.context = std::min(*trained, kDefaultContextCap);
        res.context_origin = *trained > kDefaultContextCap ? "trained-capped" : "trained";
    } else {
        res.context = kDefaultContextCap;
        res.context_origin = "default";
        res.notes.push_back("trained context unknown: using " + num(kDefaultContextCap));
    }
    if (res.context == 0) {
        return base::make_error(base::Errc::bad_input, "--context: must be at least 1");
    }

    if (tp > 1 && engine == Engine::llama_cpp) {
        res.supported = false;
        res.unsupported_reason =
            "llama.cpp does not run tensor parallel (its RPC layer split loses performance: "
            "R-LIM-2)";
        res.quant = o.quant;
        res.estimate.memory.budget_bytes = o.budget_bytes;
        res.headroom_bytes = static_cast<std::int64_t>(o.budget_bytes);
        return res;
    }
    if (const std::string problem = tensor_parallel_problem(spec.arch, tp); !problem.empty()) {
        return base::make_error(base::Errc::bad_input,
                                "--nodes " + num(tp) + ": " + problem + " of " + spec.name);
    }

    // Quantization and weights: the one given, else the file's own.
    Quant quant;
    Weights w;
    const std::optional<Quant> fq = file_quant(spec, engine);
    if (!o.quant.empty()) {
        auto q = resolve_quant(engine, o.quant);
        if (!q) return q.error();
        quant = *q;
        res.quant_origin = "requested";
        const bool same_as_file = fq && fq->name == quant.name;
        auto wr = weights_for(spec, quant, same_as_file);
        if (!wr) return base::with_context(wr.error(), spec.name);
        w = *wr;
        res.quant_published = same_as_file;
        for (const model::Variant& v : variants)
            res.quant_published |= is_same_quant(quant, v.format);
    } else if (fq) {
        quant = *fq;
        res.quant_origin = "file";
        res.quant_published = true;
        auto wr = weights_for(spec, quant, true);
        if (!wr) return base::with_context(wr.error(), spec.name);
        w = *wr;
    } else if (spec.source != model::SourceKind::catalog &&
               spec.source != model::SourceKind::config_json && spec.quant) {
        res.supported = false;
        res.unsupported_reason =
            engine == Engine::llama_cpp
                ? "llama.cpp loads GGUF files; this is a safetensors checkpoint (convert it "
                  "with convert_hf_to_gguf.py, or pass --quant for a what-if)"
                : std::string(engines::to_string(engine)) +
                      " loads safetensors checkpoints; this is a GGUF file (pass --quant for a "
                      "what-if)";
        res.quant = spec.quant->method;
        res.quant_origin = "file";
        res.weights_source = "file";
        return res;
    } else {
        return base::make_error(base::Errc::bad_input,
                                spec.name + ": no quantization to price (pass --quant)");
    }
    res.quant = quant.name;
    res.weights_source = w.source;
    if (!res.quant_published) {
        res.notes.push_back("no " + quant.name + " checkpoint of this model is published: the " +
                            "weights are estimated for a what-if");
    }
    if (w.source == "params_total") {
        res.notes.push_back(
            "tensor inventory incomplete: weights from params_total x bits per "
            "weight");
    }

    // Memory, per node.
    const model::Arch node = per_node(spec.arch, tp);
    FitRequest req;
    req.engine = engine;
    req.context = res.context;
    req.parallel = res.parallel;
    req.kv_type = *kv;
    req.budget_bytes = o.budget_bytes;
    req.memory_total_bytes = o.memory_total_bytes;
    req.weights_bytes = w.bytes / tp;
    if (engine == Engine::llama_cpp) {
        res.ubatch = o.ubatch ? o.ubatch : default_ubatch(engine, o.memory_total_bytes);
        res.batch = o.batch ? o.batch : std::max(req.n_batch, res.ubatch);
        if (res.ubatch > res.batch) {
            // llama.cpp would silently cut -ub to -b (LC:src/llama-context.cpp): say so instead.
            return base::make_error(base::Errc::bad_input,
                                    "--ubatch " + num(res.ubatch) + " exceeds --batch " +
                                        num(res.batch) + " (llama.cpp caps -ub at -b)");
        }
        req.n_ubatch = res.ubatch;
        req.n_batch = res.batch;
        if (o.cache_ram_mib && *o.cache_ram_mib < -1) {
            return base::make_error(base::Errc::bad_input,
                                    "--cache-ram " + std::to_string(*o.cache_ram_mib) +
                                        ": MiB, or -1 for no limit, 0 to turn it off");
        }
        req.cache_ram_mib = o.cache_ram_mib;
        req.ctx_checkpoints = o.ctx_checkpoints;
    }
    res.estimate = estimate(node, req);
    const std::uint64_t limit = std::max(trained.value_or(1ull << 20), res.context);
    res.max_context = max_context(node, req, limit);  // context x parallel in full
    if (paged_kv(engine)) {
        // KV cache sizing (docs/dev/fit.md): one paged pool, at least one full-context sequence,
        // what the budget leaves up to context x parallel.
        res.max_parallel = max_pool_sequences(node, req, parallel_limit(engine));
        if (!res.estimate.fits) {
            req.pool_sequences = std::clamp<std::uint32_t>(res.max_parallel, 1, res.parallel);
            res.estimate = estimate(node, req);
            if (res.max_parallel > 0) {
                res.notes.push_back(
                    "the paged KV pool holds " + num(res.max_parallel) + " of the " +
                    num(res.parallel) + " sequences at full context (" + num(res.context) +
                    " tokens) at once; " + engines::to_string(engine) +
                    " queues or preempts the rest (more fit when requests are shorter)");
            }
        }
    } else {
        res.max_parallel = max_parallel(node, req, parallel_limit(engine));
    }
    const MemoryBreakdown& m = res.estimate.memory;
    res.headroom_bytes =
        static_cast<std::int64_t>(m.budget_bytes) - static_cast<std::int64_t>(m.total_bytes);
    for (std::string& n : memory_notes(engine, m, o.memory_total_bytes)) {
        res.notes.push_back(tp > 1 ? "per node: " + n : std::move(n));
    }
    if (engine == Engine::llama_cpp) {
        for (std::string& n : host_memory_notes(res.estimate, o)) res.notes.push_back(std::move(n));
    }
    if (engine == Engine::llama_cpp && res.parallel > 1) {
        res.notes.push_back("R-OPS-3: parallel load belongs on vLLM or SGLang, not llama.cpp");
    }
    if (o.performance && o.performance_hw) {
        auto costs = model_costs(spec, engine, quant.name, o.kv_cache_dtype);
        if (!costs) {
            res.notes.push_back("speed not predicted: " + costs.error().message);
        } else {
            PerfRequest pr = *o.performance;
            pr.parallel = res.parallel;
            pr.nodes = tp;
            if (res.ubatch) pr.ubatch = res.ubatch;
            const ResolvedConstants rc =
                resolve_constants(o.constants ? *o.constants : builtin_constants(), engine,
                                  quant_family(engine, quant.name), quant.name);
            auto perf = predict(*costs, rc, *o.performance_hw, engine, pr);
            if (!perf) return perf.error();
            for (const std::string& n : perf->notes) res.notes.push_back(n);
            res.performance = std::move(*perf);
        }
    }
    return res;
}

}  // namespace sparkctl::fit
