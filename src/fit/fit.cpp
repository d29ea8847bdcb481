#include "fit/fit.h"

#include <algorithm>

#include "base/strings.h"
#include "fit/quant.h"
#include "fit/weights.h"

namespace sparkctl::fit {

namespace {

using engines::Engine;
using engines::WeightFormat;

// The GGUF ladder of the decision order (spark-knowledge.md step 6), largest first.
constexpr const char* kGgufLadder[] = {"Q8_0",   "Q6_K",   "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S",
                                       "IQ4_XS", "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q2_K"};

bool is_gguf_format(const std::string& f) { return !f.empty() && f[0] >= 'A' && f[0] <= 'Z'; }

struct Candidate {
    Quant quant;
    bool published = false;
};

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

}  // namespace

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

base::Result<FitResult> fit_model(const model::ModelSpec& spec,
                                  const std::vector<model::Variant>& variants, Engine engine,
                                  const FitOptions& o) {
    FitResult res;
    res.engine = engine;
    res.parallel = std::max<std::uint32_t>(1, o.parallel);

    auto kv = engines::resolve_kv_cache_type(engine, o.kv_cache_dtype);
    if (!kv) return kv.error();
    res.kv_cache_dtype = std::string(kv->name);

    const std::string missing = missing_facts(spec.arch);
    if (!missing.empty()) {
        // Answer anyway (a consistent document), saying what is unknown.
        res.supported = false;
        res.unsupported_reason = "cannot size the KV cache: unknown " + missing;
        res.context = o.context.value_or(
            std::min(spec.arch.context_length.value_or(kDefaultContextCap), kDefaultContextCap));
        res.estimate.memory.budget_bytes = o.budget_bytes;
        res.headroom_bytes = static_cast<std::int64_t>(o.budget_bytes);
        return res;
    }

    // Context (spark-knowledge.md "Words").
    const std::optional<std::uint64_t> trained = spec.arch.context_length;
    if (o.context) {
        res.context = *o.context;
        res.context_origin = "requested";
        if (trained && *o.context > *trained) {
            res.notes.push_back("context " + std::to_string(*o.context) +
                                " exceeds the trained context " + std::to_string(*trained));
        }
    } else if (trained) {
        res.context = std::min(*trained, kDefaultContextCap);
        res.context_origin = *trained > kDefaultContextCap ? "trained-capped" : "trained";
    } else {
        res.context = kDefaultContextCap;
        res.context_origin = "default";
        res.notes.push_back("trained context unknown: using " + std::to_string(kDefaultContextCap));
    }
    if (res.context == 0) {
        return base::make_error(base::Errc::bad_input, "--context: must be at least 1");
    }

    FitRequest req;
    req.engine = engine;
    req.context = res.context;
    req.parallel = res.parallel;
    req.kv_type = *kv;
    req.budget_bytes = o.budget_bytes;
    req.memory_total_bytes = o.memory_total_bytes;

    // Quantization and weights.
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
        res.quant_origin = "default";
        std::vector<Candidate> cands;
        if (engine == Engine::llama_cpp) {
            for (const model::Variant& v : variants) {
                if (!is_gguf_format(v.format)) continue;
                auto q = resolve_quant(engine, v.format);
                if (!q) continue;
                bool dup = false;
                for (const Candidate& c : cands) dup |= c.quant.name == q->name;
                if (!dup) cands.push_back({*q, true});
            }
            if (cands.empty()) {
                for (const char* name : kGgufLadder) {
                    auto q = resolve_quant(engine, name);
                    if (q) cands.push_back({*q, false});
                }
            }
        } else {
            const model::Variant* pick = nullptr;
            for (const model::Variant& v : variants) {
                if (v.format == "awq") {
                    pick = &v;
                    break;
                }
            }
            if (!pick) {  // the native format: the checkpoint in the model's own repository
                for (const model::Variant& v : variants) {
                    if (!is_gguf_format(v.format) && base::iequals(v.repo, spec.hf_id)) {
                        pick = &v;
                        break;
                    }
                }
            }
            if (!pick) {
                for (const model::Variant& v : variants) {
                    if (!is_gguf_format(v.format)) {
                        pick = &v;
                        break;
                    }
                }
            }
            auto q = resolve_quant(engine, pick ? pick->format : "bf16");
            if (!q) return q.error();
            cands.push_back({*q, pick != nullptr});
        }
        // Price every candidate; keep the largest that fits, else the smallest.
        struct Priced {
            Candidate c;
            Weights w;
            bool fits;
        };
        std::vector<Priced> priced;
        for (const Candidate& c : cands) {
            auto wr = weights_for(spec, c.quant, false);
            if (!wr) return base::with_context(wr.error(), spec.name);
            FitRequest r = req;
            r.weights_bytes = wr->bytes;
            priced.push_back({c, *wr, estimate(spec.arch, r).fits});
        }
        std::sort(priced.begin(), priced.end(),
                  [](const Priced& a, const Priced& b) { return a.w.bytes > b.w.bytes; });
        const Priced* chosen = &priced.back();
        for (const Priced& p : priced) {
            if (p.fits) {
                chosen = &p;
                break;
            }
        }
        quant = chosen->c.quant;
        w = chosen->w;
        res.quant_published = chosen->c.published;
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

    req.weights_bytes = w.bytes;
    res.estimate = estimate(spec.arch, req);
    const std::uint64_t limit = std::max(trained.value_or(1ull << 20), res.context);
    res.max_context = max_context(spec.arch, req, limit);
    res.max_parallel = max_parallel(spec.arch, req, parallel_limit(engine));
    const MemoryBreakdown& m = res.estimate.memory;
    res.headroom_bytes =
        static_cast<std::int64_t>(m.budget_bytes) - static_cast<std::int64_t>(m.total_bytes);
    for (std::string& n : memory_notes(engine, m, o.memory_total_bytes)) {
        res.notes.push_back(std::move(n));
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
            const ResolvedConstants rc =
                resolve_constants(builtin_constants(), engine, quant_family(engine, quant.name));
            auto perf = predict(*costs, rc, *o.performance_hw, engine, pr);
            if (!perf) return perf.error();
            for (const std::string& n : perf->notes) res.notes.push_back(n);
            res.performance = std::move(*perf);
        }
    }
    return res;
}

}  // namespace sparkctl::fit
