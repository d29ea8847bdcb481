#include "plan/plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "base/strings.h"
#include "fit/memory.h"
#include "fit/quant.h"
#include "plan/detail/commands.h"

namespace sparkctl::plan {

namespace {

using engines::Engine;

std::string b(std::uint64_t bytes) { return base::format_bytes(bytes); }
std::string num(std::uint64_t n) { return std::to_string(n); }

Engine engine_of(const Rule& rule) {
    auto e = engines::parse_engine(rule.engine);
    return e ? *e : Engine::vllm;  // rules.cpp validated edits; the data is ours
}

bool is_gguf_format(std::string_view f) { return !f.empty() && f[0] >= 'A' && f[0] <= 'Z'; }

// A sized candidate: one engine, quantization and shape, per node.
struct Sized {
    fit::FitResult fit;
    const model::Variant* variant = nullptr;
    bool fits() const { return fit.supported && fit.estimate.fits; }
};

class Planner {
  public:
    Planner(const model::ModelSpec& spec, const std::vector<model::Variant>& variants,
            const PlanRequest& req, const RuleBook& rules, Plan& plan)
        : spec_(spec), variants_(variants), req_(req), rules_(rules), plan_(plan) {}

    base::Result<void> run();

  private:
    bool overridden(std::string_view id) const {
        for (const std::string& o : req_.overrides) {
            if (base::iequals(o, id)) return true;
        }
        return false;
    }
    // An operational rule is broken: refuse, or warn when --override names it. True: refused.
    bool refuse(const std::string& id, const std::string& reason) {
        if (overridden(id)) {
            plan_.warnings.push_back(id + " overridden (--override " + id + "): " + reason);
            return false;
        }
        plan_.status = Status::refused;
        plan_.refusal = id + ": " + reason;
        return true;
    }
    void decide(Decision d) { plan_.decisions.push_back(std::move(d)); }

    bool has_gguf_variant() const {
        return std::any_of(variants_.begin(), variants_.end(),
                           [](const model::Variant& v) { return is_gguf_format(v.format); });
    }
    bool has_safetensors_variant() const {
        return std::any_of(variants_.begin(), variants_.end(),
                           [](const model::Variant& v) { return !is_gguf_format(v.format); });
    }
    bool is_file() const { return spec_.source != model::SourceKind::catalog; }
    bool gguf_file() const { return spec_.source == model::SourceKind::gguf; }
    bool can_load(Engine e) const;
    bool mxfp4_model() const;

    base::Result<Sized> size(Engine e, const std::string& quant, const std::string& kv,
                             std::uint64_t context_or_0, std::uint32_t users, std::uint32_t tp);
    std::string tp_problem(std::uint32_t tp) const;
    // Chooses the quantization by the decision order (step 6); records the decision when
    // `record`. The result fits when anything does.
    base::Result<Sized> choose_quant(Engine e, std::uint32_t tp, const std::string& kv,
                                     std::uint64_t context, std::uint32_t users, bool record);
    base::Result<void> suggest(const Sized& current);
    // Speed of the plan's shape on `e` with `quant` over `nodes` (fit's performance model);
    // nullopt without the hardware's caps or when the model cannot price it.
    base::Result<std::optional<fit::Performance>> predict(Engine e, const std::string& quant,
                                                          const std::string& kv,
                                                          std::uint32_t nodes) const;
    void performance();

    const model::ModelSpec& spec_;
    const std::vector<model::Variant>& variants_;
    const PlanRequest& req_;
    const RuleBook& rules_;
    Plan& plan_;
    std::string engine_rule_;  // the rule that picked the engine
};

bool Planner::can_load(Engine e) const {
    if (gguf_file()) return e == Engine::llama_cpp;
    if (is_file()) return e != Engine::llama_cpp;
    return e == Engine::llama_cpp ? has_gguf_variant() : has_safetensors_variant();
}

bool Planner::mxfp4_model() const {
    if (spec_.quant && base::iequals(spec_.quant->method, "mxfp4")) return true;
    return std::any_of(variants_.begin(), variants_.end(),
                       [](const model::Variant& v) { return v.format == "mxfp4"; });
}

std::string Planner::tp_problem(std::uint32_t tp) const {
    const model::Arch& a = spec_.arch;
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

base::Result<Sized> Planner::size(Engine e, const std::string& quant, const std::string& kv,
                                  std::uint64_t context, std::uint32_t users, std::uint32_t tp) {
    fit::FitOptions o;
    o.quant = quant;
    if (context) o.context = context;
    o.parallel = users;
    o.kv_cache_dtype = kv;
    o.budget_bytes = req_.hardware.budget_bytes;
    o.memory_total_bytes = req_.hardware.memory_total_bytes;
    auto r = fit::fit_model(spec_, variants_, e, o);
    if (!r) return r.error();
    Sized s{std::move(*r), nullptr};
    if (tp > 1 && s.fit.supported) {
        // SPARKCTL-PLAN-8: per node, weights / TP and KV heads / TP (at least one).
        model::Arch a = spec_.arch;
        if (a.n_heads) a.n_heads = std::max<std::uint32_t>(1, *a.n_heads / tp);
        if (a.n_kv_heads && !a.mla) a.n_kv_heads = std::max<std::uint32_t>(1, *a.n_kv_heads / tp);
        for (std::uint32_t& h : a.n_kv_heads_per_layer) h = std::max<std::uint32_t>(1, h / tp);
        auto kvt = engines::resolve_kv_cache_type(e, kv);
        if (!kvt) return kvt.error();
        fit::FitRequest fr;
        fr.engine = e;
        fr.context = s.fit.context;
        fr.parallel = s.fit.parallel;
        fr.kv_type = *kvt;
        fr.weights_bytes = s.fit.estimate.memory.weights_bytes / tp;
        fr.memory_total_bytes = req_.hardware.memory_total_bytes;
        fr.budget_bytes = req_.hardware.budget_bytes;
        const fit::MemoryBreakdown whole_model_memory = s.fit.estimate.memory;
        s.fit.estimate = fit::estimate(a, fr);
        const std::uint64_t limit =
            std::max<std::uint64_t>(spec_.arch.context_length.value_or(1ull << 20), fr.context);
        s.fit.max_context = fit::max_context(a, fr, limit);
        s.fit.max_parallel = fit::max_parallel(a, fr, fit::parallel_limit(e));
        // The whole-model loading notes no longer hold: restate them for one node.
        for (const std::string& n :
             fit::memory_notes(e, whole_model_memory, req_.hardware.memory_total_bytes)) {
            std::erase(s.fit.notes, n);
        }
        const fit::MemoryBreakdown& m = s.fit.estimate.memory;
        for (std::string& n : fit::memory_notes(e, m, req_.hardware.memory_total_bytes)) {
            s.fit.notes.push_back("per node: " + std::move(n));
        }
        s.fit.headroom_bytes =
            static_cast<std::int64_t>(m.budget_bytes) - static_cast<std::int64_t>(m.total_bytes);
    }
    for (const model::Variant& v : variants_) {
        if (fit::is_same_quant(fit::Quant{s.fit.quant, engines::weight_format(e), 0}, v.format) ||
            v.format == s.fit.quant) {
            if (is_gguf_format(v.format) == (e == Engine::llama_cpp)) {
                s.variant = &v;
                break;
            }
        }
    }
    return s;
}

base::Result<Sized> Planner::choose_quant(Engine e, std::uint32_t tp, const std::string& kv,
                                          std::uint64_t context, std::uint32_t users, bool record) {
    Decision d;
    d.step = "quant";
    d.facts = {{"engine", engines::to_string(e)},
               {"budget", b(req_.hardware.budget_bytes)},
               {"context", context ? num(context) : "default"},
               {"users", num(users)}};
    if (tp > 1) d.facts.emplace_back("tensor_parallel", num(tp));

    // A file is what it is; --quant is the user's choice (checked against the rules below).
    if (is_file() || !req_.quant.empty()) {
        auto s = size(e, req_.quant, kv, context, users, tp);
        if (!s) return s.error();
        if (!req_.quant.empty() && !is_file() && !s->fit.quant_published) {
            std::string published;
            for (const model::Variant& v : variants_) {
                if (is_gguf_format(v.format) == (e == Engine::llama_cpp)) {
                    published += (published.empty() ? "" : ", ") + v.format;
                }
            }
            return base::make_error(base::Errc::bad_input,
                                    "--quant: no " + s->fit.quant + " checkpoint of " + spec_.name +
                                        " is published for " + engines::to_string(e) +
                                        " (published: " + (published.empty() ? "none" : published) +
                                        ")");
        }
        if (record) {
            d.rule = is_file() ? "SPARKCTL-PLAN-11" : "R-QNT-3";
            d.outcome = s->fit.quant;
            d.reason = is_file() ? "the file's own quantization" : "forced by --quant";
            d.facts.emplace_back("weights", b(s->fit.estimate.memory.weights_bytes));
            decide(d);
        }
        return s;
    }

    // Candidates in the order of preference of the decision order (step 6).
    struct Cand {
        std::string quant;
        std::string rule;
        std::string why;
    };
    std::vector<Cand> cands;
    std::set<std::string> seen;
    auto add = [&](const std::string& q, const std::string& rule, const std::string& why) {
        if (seen.insert(q).second) cands.push_back({q, rule, why});
    };
    if (e == Engine::llama_cpp) {
        for (const model::Variant& v : variants_) {
            if (is_gguf_format(v.format)) add(v.format, "SPARKCTL-PLAN-13", "published GGUF");
        }
    } else {
        std::vector<std::string> formats;
        for (const model::Variant& v : variants_) {
            if (!is_gguf_format(v.format)) formats.push_back(v.format);
        }
        auto has = [&](std::string_view f) {
            return std::find(formats.begin(), formats.end(), f) != formats.end();
        };
        const Rule& q1 = rules_.get("R-QNT-1");
        if (e == Engine::sglang && req_.prefer == Prefer::speed && has("mxfp4") &&
            rules_.enabled("R-ENG-5")) {
            add("mxfp4", "R-ENG-5", "MXFP4 with --prefer speed on SGLang");
        }
        if (q1.enabled && has(q1.quant)) {
            add(q1.quant, "R-QNT-1", "AWQ is the production default (R-QNT-1, R-QNT-3)");
        }
        for (const model::Variant& v : variants_) {
            if (!is_gguf_format(v.format) && base::iequals(v.repo, spec_.hf_id)) {
                add(v.format, "R-QNT-3", "the native checkpoint, no AWQ published");
            }
        }
        // The rest, largest first: memory-constrained (R-QNT-3); NVFP4 last (R-QNT-2).
        std::vector<std::pair<std::uint64_t, std::string>> rest;
        for (const std::string& f : formats) {
            if (seen.count(f) || f == rules_.get("R-QNT-2").quant) continue;
            auto s = size(e, f, kv, context, users, tp);
            if (s) rest.emplace_back(s->fit.estimate.memory.weights_bytes, f);
        }
        std::sort(rest.rbegin(), rest.rend());
        for (const auto& [bytes, f] : rest) {
            add(f, "R-QNT-3", "a smaller published checkpoint (memory-constrained)");
        }
        if (has("nvfp4") && rules_.enabled("R-QNT-2")) {
            add("nvfp4", "R-QNT-2", "NVFP4 only when fitting matters more than speed");
        }
        for (const std::string& f : formats) add(f, "R-QNT-3", "published");
    }
    if (cands.empty()) {
        return base::make_error(base::Errc::bad_input, spec_.name + ": no published checkpoint " +
                                                           engines::to_string(e) + " can load");
    }
    std::vector<Sized> sized;
    for (const Cand& c : cands) {
        auto s = size(e, c.quant, kv, context, users, tp);
        if (!s) return s.error();
        sized.push_back(std::move(*s));
    }
    // llama.cpp: the largest that fits. vLLM/SGLang: the first preferred that fits.
    std::vector<std::size_t> order(cands.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (e == Engine::llama_cpp) {
        std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
            return sized[x].fit.estimate.memory.weights_bytes >
                   sized[y].fit.estimate.memory.weights_bytes;
        });
    }
    std::optional<std::size_t> pick;
    for (std::size_t i : order) {
        if (sized[i].fits()) {
            pick = i;
            break;
        }
    }
    bool fits = pick.has_value();
    if (!pick) {  // nothing fits: the smallest, for the suggestions
        pick = order.front();
        for (std::size_t i : order) {
            if (sized[i].fit.estimate.memory.weights_bytes <
                sized[*pick].fit.estimate.memory.weights_bytes) {
                pick = i;
            }
        }
    }
    if (record) {
        const Cand& c = cands[*pick];
        const Sized& s = sized[*pick];
        d.rule = c.rule;
        d.outcome = s.fit.quant;
        d.reason =
            c.why + (s.variant ? " (" + s.variant->repo + ")" : "") +
            (fits ? "" : "; nothing published fits: the smallest is kept for the suggestions");
        d.facts.emplace_back("weights", b(s.fit.estimate.memory.weights_bytes));
        d.facts.emplace_back("total", b(s.fit.estimate.memory.total_bytes));
        for (std::size_t i = 0; i < cands.size(); ++i) {
            if (i == *pick) continue;
            const Sized& o = sized[i];
            std::string why;
            if (!o.fits()) {
                why = "does not fit: total " + b(o.fit.estimate.memory.total_bytes) + " > budget " +
                      b(req_.hardware.budget_bytes);
            } else if (e == Engine::llama_cpp) {
                why = "smaller than " + s.fit.quant + ", which fits (keeps the largest)";
            } else {
                why = "less preferred (" + cands[i].rule + ")";
            }
            d.rejected.push_back({o.fit.quant, why});
        }
        if (s.fit.quant == "nvfp4" || base::iequals(s.fit.quant, "mxfp4")) {
            d.reason += "; R-QNT-4: FP4 support depends on the engine version (" +
                        plan_.engine_version.name + ")";
        }
        decide(d);
    }
    return sized[*pick];
}

base::Result<void> Planner::suggest(const Sized& current) {
    const Engine e = plan_.engine;
    const std::uint64_t budget = req_.hardware.budget_bytes;
    const std::uint64_t ctx = current.fit.context;
    const std::uint32_t users = current.fit.parallel;
    const std::uint32_t tp = plan_.tensor_parallel;
    auto buys = [&](const fit::FitResult& f) {
        return "total " + b(f.estimate.memory.total_bytes) + " per node (" +
               (f.estimate.fits ? "fits" : "still over") + " the budget " + b(budget) + ")";
    };
    // 1. A smaller KV cache type.
    const std::string kv_small = e == Engine::llama_cpp ? "q8_0" : "fp8";
    if (current.fit.kv_cache_dtype != kv_small &&
        !(e == Engine::vllm && current.fit.kv_cache_dtype.rfind("fp8", 0) == 0) &&
        !(e == Engine::sglang && current.fit.kv_cache_dtype.rfind("fp8", 0) == 0)) {
        auto s = size(e, current.fit.quant, kv_small, ctx, users, tp);
        if (s && s->fit.supported) {
            plan_.suggestions.push_back({"an " + kv_small + " KV cache (half the KV bytes)",
                                         "--kv-cache-dtype " + kv_small, buys(s->fit), s->fits(),
                                         s->fit.estimate.memory.total_bytes,
                                         Suggestion::Kind::kv_cache_dtype, kv_small});
        }
    }
    // 2. A shorter context.
    if (current.fit.max_context > 0 && current.fit.max_context < ctx) {
        std::uint64_t c = current.fit.max_context / 1024 * 1024;
        if (c == 0) c = current.fit.max_context;
        auto s = size(e, current.fit.quant, current.fit.kv_cache_dtype, c, users, tp);
        if (s) {
            plan_.suggestions.push_back({"a shorter context: " + num(c) + " tokens per sequence",
                                         "--context " + num(c), buys(s->fit), s->fits(),
                                         s->fit.estimate.memory.total_bytes,
                                         Suggestion::Kind::context, "", c});
        }
    }
    // 3. Fewer users.
    if (users > 1 && current.fit.max_parallel > 0 && current.fit.max_parallel < users) {
        auto s = size(e, current.fit.quant, current.fit.kv_cache_dtype, ctx,
                      current.fit.max_parallel, tp);
        if (s) {
            plan_.suggestions.push_back(
                {"fewer users: " + num(current.fit.max_parallel) + " at once",
                 "--users " + num(current.fit.max_parallel), buys(s->fit), s->fits(),
                 s->fit.estimate.memory.total_bytes, Suggestion::Kind::users, "", 0,
                 current.fit.max_parallel});
        }
    }
    // 4. Two nodes (vLLM tensor parallel), when not clustered already.
    if (plan_.nodes == 1 && !gguf_file() && can_load(Engine::vllm) && tp_problem(2).empty()) {
        auto s = choose_quant(Engine::vllm, 2, "auto", ctx, users, false);
        if (s) {
            plan_.suggestions.push_back({"two nodes: vLLM tensor parallel 2 over Ray (R-ENG-3)",
                                         "--nodes 2", buys(s->fit) + ", " + s->fit.quant, s->fits(),
                                         s->fit.estimate.memory.total_bytes,
                                         Suggestion::Kind::nodes, ""});
        }
    }
    return {};
}

base::Result<std::optional<fit::Performance>> Planner::predict(Engine e, const std::string& quant,
                                                               const std::string& kv,
                                                               std::uint32_t nodes) const {
    if (!req_.hardware.caps) return std::optional<fit::Performance>();
    fit::FitOptions o;
    o.quant = quant;
    o.context = plan_.context;
    o.parallel = plan_.parallel;
    o.kv_cache_dtype = kv;
    o.budget_bytes = req_.hardware.budget_bytes;
    o.memory_total_bytes = req_.hardware.memory_total_bytes;
    fit::PerfRequest pr;
    pr.parallel = plan_.parallel;
    pr.depth = plan_.use == UseCase::long_context ? plan_.context / 2 : 0;
    pr.nodes = nodes;
    o.performance = pr;
    o.performance_hw = *req_.hardware.caps;
    auto r = fit::fit_model(spec_, variants_, e, o);
    if (!r) return r.error();
    if (!r->supported) return std::optional<fit::Performance>();
    return r->performance;
}

namespace {

std::string f1(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string f2(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

// "vllm awq 12.3 tokens/s per sequence (ITL 81.3 ms)", with the constants' status.
std::string speed_of(Engine e, const std::string& quant, const fit::Performance& p) {
    return std::string(engines::to_string(e)) + " " + quant + " " + f1(p.decode_tokens_per_s) +
           " tokens/s per sequence (ITL " + f1(p.itl_ms) + " ms" +
           (p.calibrated ? "" : "; constants borrowed") + ")";
}

}  // namespace

void Planner::performance() {
    if (!req_.hardware.caps || !plan_.fit.supported) return;
    const Engine e = plan_.engine;
    // A file is priced with its own tensors (fit's quant "" = the file's).
    const std::string quant = is_file() ? req_.quant : plan_.quant;
    auto here = predict(e, quant, plan_.kv_cache_dtype, plan_.tensor_parallel);
    if (!here || !*here) {
        plan_.warnings.push_back(
            "speed not predicted: " +
            (here ? std::string("the performance model cannot price it") : here.error().message));
        return;
    }
    Performance perf;
    perf.predicted = std::move(**here);
    perf.source = "performance model (docs/dev/performance-model.md), constants " +
                  perf.predicted.constants_source +
                  (perf.predicted.calibrated ? " (fitted)" : " (borrowed)");
    perf.notes = perf.predicted.notes;
    const fit::Performance& p = perf.predicted;

    // R-ENG-3: the speed-up of N nodes is two predictions, not the rule's constant.
    if (plan_.tensor_parallel > 1) {
        auto one = predict(e, quant, plan_.kv_cache_dtype, 1);
        if (one && *one && (*one)->decode_tokens_per_s_total > 0) {
            perf.one_node = std::move(**one);
            perf.speedup_vs_one_node =
                p.decode_tokens_per_s_total / perf.one_node->decode_tokens_per_s_total;
            const double n = plan_.tensor_parallel;
            const double s = *perf.speedup_vs_one_node;
            if (rules_.enabled("R-ENG-3") && std::abs(s - n) / n > 0.10) {
                plan_.warnings.push_back(
                    "performance model disagrees with R-ENG-3 (\"" + rules_.get("R-ENG-3").text +
                    "\"): it predicts " + f2(s) + "x on " + num(plan_.tensor_parallel) +
                    " nodes for this plan (decode " + f1(perf.one_node->decode_tokens_per_s) +
                    " -> " + f1(p.decode_tokens_per_s) + " tokens/s per sequence at " +
                    num(plan_.parallel) + " users; the per-layer overhead does not shrink and " +
                    "each layer adds two all-reduces over the interconnect)");
            }
        }
    }

    // R-ENG-1: llama.cpp for one user, against vLLM/SGLang's predicted single-stream decode.
    if (engine_rule_ == "R-ENG-1" && e == Engine::llama_cpp && plan_.parallel == 1 &&
        plan_.tensor_parallel == 1) {
        std::optional<std::pair<std::string, double>> best;
        std::string others;
        Decision* eng = nullptr;
        for (Decision& d : plan_.decisions) {
            if (d.step == "engine") eng = &d;
        }
        if (eng) eng->facts.emplace_back("predicted_llama.cpp", f1(p.decode_tokens_per_s));
        for (Engine alt : {Engine::vllm, Engine::sglang}) {
            if (!can_load(alt)) continue;
            auto s = choose_quant(alt, 1, "auto", plan_.context, 1, false);
            if (!s || !s->fits()) continue;
            auto ap = predict(alt, s->fit.quant, "auto", 1);
            if (!ap || !*ap) continue;
            const std::string what = speed_of(alt, s->fit.quant, **ap);
            if (eng) {
                eng->facts.emplace_back(std::string("predicted_") + engines::to_string(alt),
                                        f1((*ap)->decode_tokens_per_s) + " " + s->fit.quant);
            }
            others += (others.empty() ? "" : ", ") + what;
            if (!best || (*ap)->decode_tokens_per_s > best->second) {
                best = {what, (*ap)->decode_tokens_per_s};
            }
        }
        if (best && best->second > 1.10 * p.decode_tokens_per_s) {
            plan_.warnings.push_back(
                "performance model disagrees with R-ENG-1 (\"" + rules_.get("R-ENG-1").text +
                "\"): it predicts " + speed_of(e, plan_.quant, p) + " against " + others +
                " for one user at depth " + num(p.depth) + " (R-LIM-3's vLLM baseline latency " +
                "is not modelled); --engine picks another");
        }
    }

    // R-QNT-2: NVFP4 18-32% slower than AWQ, against the two predictions.
    const auto published = [&](std::string_view f) {
        return std::any_of(variants_.begin(), variants_.end(),
                           [&](const model::Variant& v) { return v.format == f; });
    };
    if (e != Engine::llama_cpp && !is_file() && (plan_.quant == "awq" || plan_.quant == "nvfp4") &&
        published("awq") && published("nvfp4") && rules_.enabled("R-QNT-2")) {
        const bool is_awq = plan_.quant == "awq";
        auto other =
            predict(e, is_awq ? "nvfp4" : "awq", plan_.kv_cache_dtype, plan_.tensor_parallel);
        if (other && *other) {
            const fit::Performance& awq = is_awq ? p : **other;
            const fit::Performance& fp4 = is_awq ? **other : p;
            const double cost = 1.0 - fp4.decode_tokens_per_s_total / awq.decode_tokens_per_s_total;
            if (cost < 0.18 || cost > 0.32) {
                const double pct = std::abs(cost) * 100.0;
                plan_.warnings.push_back(
                    "performance model disagrees with R-QNT-2 (\"" + rules_.get("R-QNT-2").text +
                    "\"): it predicts NVFP4 " + f1(fp4.decode_tokens_per_s_total) +
                    " tokens/s (ITL " + f1(fp4.itl_ms) + " ms) against AWQ " +
                    f1(awq.decode_tokens_per_s_total) + " tokens/s (ITL " + f1(awq.itl_ms) +
                    " ms) on " + engines::to_string(e) + " at " + num(plan_.parallel) +
                    " users: NVFP4 " + f1(pct) + "% " + (cost < 0 ? "faster" : "slower") +
                    " (constants " + fp4.constants_source + ", " + awq.constants_source + ")");
            }
        }
    }
    plan_.performance = std::move(perf);
}

base::Result<void> Planner::run() {
    const PlanRequest& r = req_;
    if (r.users == 0) return base::make_error(base::Errc::bad_input, "--users: must be at least 1");
    for (const std::string& o : r.overrides) {
        const Rule* rule = rules_.find(o);
        if (rule == nullptr || rule->kind != RuleKind::ops) {
            return base::make_error(base::Errc::bad_input,
                                    "--override: '" + base::printable(o) +
                                        "' is not an operational rule (R-OPS-1..4); engine and "
                                        "quantization rules are overridden by --engine/--quant");
        }
    }
    plan_.model = spec_.name;
    plan_.hf_id = spec_.hf_id;
    plan_.use = r.use;
    plan_.parallel = r.users;

    // 1. Budget and hardware (R-OPS-1).
    {
        Decision d{"budget",
                   "R-OPS-1",
                   b(r.hardware.budget_bytes),
                   r.hardware.budget_override ? "--budget"
                                              : "memory total - OS reserve: plans never exceed it",
                   {{"hardware", r.hardware.name},
                    {"memory_total", b(r.hardware.memory_total_bytes)},
                    {"os_reserve", b(r.hardware.os_reserve_bytes)}},
                   {}};
        decide(d);
    }

    // 2. Nodes (R-ENG-3, R-OPS-4, R-LIM-2).
    std::uint32_t nodes = r.nodes.value_or(r.cluster && !r.cluster->hosts.empty()
                                               ? static_cast<std::uint32_t>(r.cluster->hosts.size())
                                               : 1);
    if (nodes == 0) return base::make_error(base::Errc::bad_input, "--nodes: must be at least 1");
    std::optional<Engine> forced;
    if (!r.engine.empty()) {
        auto e = engines::parse_engine(r.engine);
        if (!e) return e.error();
        forced = *e;
    }
    std::optional<Engine> engine;
    if (nodes > 1) {
        Decision d{"nodes",
                   "R-ENG-3",
                   "vllm tensor parallel " + num(nodes) + " over Ray",
                   "more than one node: vLLM tensor parallel (R-ENG-3, R-OPS-4)",
                   {{"nodes", num(nodes)},
                    {"inventory", r.cluster ? "config [cluster]" : "none: named placeholders"}},
                   {{"llama.cpp",
                     "R-LIM-2: layer-split RPC clustering loses performance; "
                     "R-OPS-4: refused"},
                    {"sglang", "R-OPS-4: cluster plans are vLLM tensor parallel only"}}};
        if (forced && *forced != Engine::vllm) {
            const std::string why = *forced == Engine::llama_cpp
                                        ? "llama.cpp RPC clustering is refused (R-LIM-2: "
                                          "layer split loses performance)"
                                        : "cluster plans are vLLM tensor parallel only";
            d.outcome = "refused";
            decide(d);
            if (refuse("R-OPS-4", why)) return {};
            nodes = 1;  // overridden: the forced engine on the head node only
            plan_.warnings.push_back(
                "the forced engine runs on one node; sparkctl renders no "
                "multi-node commands for it");
        } else if (gguf_file()) {
            d.outcome = "refused";
            decide(d);
            if (refuse("R-OPS-4",
                       "a GGUF file runs on llama.cpp, which does not cluster "
                       "(R-LIM-2); use the safetensors checkpoint")) {
                return {};
            }
            nodes = 1;
        } else {
            const std::string problem = tp_problem(nodes);
            if (!problem.empty()) {
                d.outcome = "refused";
                d.reason = problem;
                decide(d);
                plan_.status = Status::refused;
                plan_.refusal = "R-OPS-4: " + problem + " (TP must divide the heads)";
                return {};
            }
            d.facts.emplace_back("attention_heads", num(spec_.arch.n_heads.value_or(0)));
            d.facts.emplace_back("kv_heads", num(spec_.arch.n_kv_heads.value_or(0)));
            decide(d);
            engine = Engine::vllm;
            engine_rule_ = "R-ENG-3";
            if (nodes > 2 && !(r.cluster && r.cluster->has_switch)) {
                plan_.warnings.push_back(
                    "more than two Sparks need a switch; the cluster "
                    "inventory does not declare one ([cluster] switch = "
                    "true)");
            }
        }
    }
    plan_.nodes = nodes;
    plan_.tensor_parallel = nodes;

    // 3. Format (SPARKCTL-PLAN-11).
    {
        Decision d{"format", "SPARKCTL-PLAN-11", "", "", {}, {}};
        if (gguf_file()) {
            d.outcome = "gguf file: llama.cpp";
        } else if (is_file()) {
            d.outcome = "safetensors: vllm or sglang";
            d.rejected.push_back({"llama.cpp", "loads GGUF only"});
        } else {
            d.outcome = std::string(has_gguf_variant() ? "gguf" : "") +
                        (has_gguf_variant() && has_safetensors_variant() ? " and " : "") +
                        (has_safetensors_variant() ? "safetensors" : "") + " published";
            if (!has_gguf_variant()) d.rejected.push_back({"llama.cpp", "no GGUF published"});
            if (!has_safetensors_variant()) {
                d.rejected.push_back({"vllm, sglang", "no safetensors checkpoint published"});
            }
        }
        d.reason = "what can run is decided by the checkpoints that exist";
        std::string vs;
        for (const model::Variant& v : variants_) vs += (vs.empty() ? "" : ", ") + v.format;
        d.facts.emplace_back("variants", vs.empty() ? spec_.name : vs);
        decide(d);
    }

    // 4. Architecture (R-ENG-4).
    const bool lc_arch = engines::llamacpp_supports(spec_.arch.architecture) ||
                         engines::llamacpp_supports(spec_.arch.family);
    {
        Decision d{"architecture",
                   "R-ENG-4",
                   lc_arch ? "supported by llama.cpp" : "new: vllm",
                   lc_arch ? "llama.cpp converts and loads this architecture"
                           : "llama.cpp does not support this architecture: vLLM (day-1 support)",
                   {{"architecture", spec_.arch.architecture},
                    {"family", spec_.arch.family},
                    {"llama.cpp", std::string(engines::default_version(Engine::llama_cpp).name) +
                                      " (data/engines/llama.cpp-2026.archs.tsv)"}},
                   {}};
        if (!lc_arch) d.rejected.push_back({"llama.cpp", "architecture not supported (R-ENG-4)"});
        decide(d);
        if (!lc_arch && !gguf_file() && rules_.enabled("R-ENG-4") && !engine) {
            engine = engine_of(rules_.get("R-ENG-4"));
            engine_rule_ = "R-ENG-4";
        }
    }

    // 5. Use and concurrency.
    const bool parallel = r.users > 1;
    if (!engine) {
        std::string rule;
        std::vector<Rejected> rejected;
        if (gguf_file()) {
            rule = "SPARKCTL-PLAN-11";
        } else if (r.prefer == Prefer::speed && mxfp4_model() && rules_.enabled("R-ENG-5")) {
            rule = "R-ENG-5";
            plan_.warnings.push_back(
                "R-LIM-4: SGLang needs specialized Spark builds for Triton "
                "MXFP4 (" +
                rules_.get("R-LIM-4").source + ")");
        } else if (parallel || r.use == UseCase::agents || r.use == UseCase::batch) {
            rule = "R-ENG-2";
        } else if (r.use == UseCase::chat) {
            rule = "R-ENG-1";
            rejected.push_back({"vllm", "R-LIM-3: higher baseline latency for a single user"});
        } else {
            rule = "R-ENG-6";
        }
        if (rule != "SPARKCTL-PLAN-11" && !rules_.enabled(rule)) {
            rejected.push_back({rule, "switched off in the config file"});
            rule = "SPARKCTL-PLAN-12";
        }
        Engine pick = Engine::llama_cpp;
        if (rule != "SPARKCTL-PLAN-11") {
            pick = engine_of(rules_.get(rule));
        }
        // The variants decide what can run.
        if (!can_load(pick)) {
            const Engine alt = pick == Engine::llama_cpp ? Engine::vllm : Engine::llama_cpp;
            if (can_load(alt) && !(alt == Engine::llama_cpp && parallel)) {
                rejected.push_back({engines::to_string(pick), pick == Engine::llama_cpp
                                                                  ? "no GGUF published"
                                                                  : "no safetensors checkpoint"});
                pick = alt;
            }
        }
        if (pick == Engine::llama_cpp && !lc_arch && !gguf_file()) pick = Engine::vllm;
        engine = pick;
        engine_rule_ = rule;
        if (parallel && rule != "SPARKCTL-PLAN-11") {
            rejected.push_back({"llama.cpp", "R-OPS-3: parallel load never lands on llama.cpp"});
        }
        decide({"engine",
                rule,
                engines::to_string(pick),
                rules_.get(rule).text,
                {{"use", to_string(r.use)},
                 {"users", num(r.users)},
                 {"prefer", r.prefer == Prefer::speed ? "speed"
                            : r.prefer == Prefer::fit ? "fit"
                                                      : "none"},
                 {"mxfp4", mxfp4_model() ? "yes" : "no"}},
                rejected});
    }
    if (forced && *forced != *engine) {
        if (!can_load(*forced)) {
            return base::make_error(
                base::Errc::bad_input,
                std::string("--engine ") + engines::to_string(*forced) + ": no checkpoint of " +
                    spec_.name + " it can load (" +
                    (*forced == Engine::llama_cpp ? "no GGUF published"
                                                  : "no safetensors checkpoint") +
                    ")");
        }
        if (*forced == Engine::llama_cpp && !lc_arch && !gguf_file()) {
            plan_.warnings.push_back(
                "--engine llama.cpp goes against R-ENG-4: llama.cpp does not "
                "support " +
                spec_.arch.architecture);
        }
        plan_.warnings.push_back(std::string("--engine ") + engines::to_string(*forced) +
                                 " goes against " + engine_rule_ + " (" +
                                 rules_.get(engine_rule_).text + "), which picks " +
                                 engines::to_string(*engine));
        decide({"engine-forced",
                engine_rule_,
                engines::to_string(*forced),
                "forced by --engine, against the rule",
                {{"rule_pick", engines::to_string(*engine)}},
                {{engines::to_string(*engine), "--engine chose another"}}});
        engine = forced;
    }
    if (*engine == Engine::llama_cpp && parallel) {
        if (refuse("R-OPS-3", "parallel use (" + num(r.users) +
                                  " users) never lands on llama.cpp; use vLLM or SGLang")) {
            plan_.engine = *engine;
            return {};
        }
    }
    plan_.engine = *engine;

    // Engine version (R-QNT-4: plans record engine versions).
    if (r.engine_version.empty()) {
        plan_.engine_version = engines::default_version(*engine);
    } else {
        auto v = engines::find_version(*engine, r.engine_version);
        if (!v) return v.error();
        plan_.engine_version = **v;
    }
    decide({"engine-version",
            "R-QNT-4",
            plan_.engine_version.name,
            r.engine_version.empty() ? std::string("the version NVIDIA's DGX Spark playbooks use")
            : !r.engine_version_origin.empty() ? r.engine_version_origin
            : base::iequals(r.engine_version, plan_.engine_version.name)
                ? std::string("--engine-version")
                : "--engine-version " + r.engine_version +
                      ": no table of its own; the nearest one at or below it",
            {{"source", plan_.engine_version.source},
             {"flags",
              plan_.engine_version.flags_origin + " at " + plan_.engine_version.flags_commit}},
            {}});

    // A model whose facts are too incomplete to size cannot be planned (fit's missing_facts).
    if (const std::string missing = fit::missing_facts(spec_.arch); !missing.empty()) {
        plan_.status = Status::refused;
        plan_.refusal = "R-OPS-1: cannot check the budget: unknown " + missing + " of " +
                        spec_.name + " (pass the model's config.json, a checkpoint or a GGUF file)";
        return {};
    }

    // 6. Quantization.
    auto chosen =
        choose_quant(*engine, plan_.tensor_parallel, "auto", r.context.value_or(0), r.users, true);
    if (!chosen) return chosen.error();
    Sized s = std::move(*chosen);
    if (!r.quant.empty() && !is_file() && *engine != Engine::llama_cpp) {
        const bool awq_published =
            std::any_of(variants_.begin(), variants_.end(),
                        [&](const model::Variant& v) { return v.format == "awq"; });
        if (awq_published && s.fit.quant != "awq" && rules_.enabled("R-QNT-1")) {
            plan_.warnings.push_back("--quant " + s.fit.quant +
                                     " goes against R-QNT-1/R-QNT-3 (AWQ is published and is the "
                                     "default)");
        }
        if (s.fit.quant == "nvfp4" && rules_.enabled("R-QNT-2")) {
            plan_.warnings.push_back(
                "--quant nvfp4: R-QNT-2 says NVFP4 costs 18-32% throughput; "
                "use it only when fitting matters more than speed");
        }
    }
    if (*engine == Engine::llama_cpp && base::iequals(s.fit.quant, "MXFP4")) {
        plan_.warnings.push_back(
            "R-LIM-1: MXFP4 Blackwell kernels were not ready in llama.cpp's "
            "main branch; check the installed build (dated: the 2026 tree "
            "has MXFP4 paths)");
    }

    // 7. Does it fit? Suggestions, and --prefer fit applies the cheapest that fits.
    if (!s.fit.supported) {
        plan_.status = Status::refused;
        plan_.refusal = s.fit.unsupported_reason;
        plan_.fit = s.fit;
        return {};
    }
    if (!s.fits()) {
        auto sg = suggest(s);
        if (!sg) return sg.error();
        const Suggestion* apply = nullptr;
        for (const Suggestion& x : plan_.suggestions) {
            if (x.fits) {
                apply = &x;
                break;
            }
        }
        if (r.prefer == Prefer::fit && apply != nullptr) {
            Decision d{"prefer-fit",
                       "SPARKCTL-PLAN-7",
                       apply->flag,
                       "--prefer fit: applied the cheapest suggestion that fits: " + apply->change,
                       {{"before", b(s.fit.estimate.memory.total_bytes)}},
                       {}};
            auto applied = [&]() -> base::Result<Sized> {
                const std::uint64_t ctx = r.context.value_or(0);
                const std::uint32_t tp = plan_.tensor_parallel;
                switch (apply->kind) {
                    case Suggestion::Kind::kv_cache_dtype:
                        return size(*engine, s.fit.quant, apply->kv_cache_dtype, ctx, r.users, tp);
                    case Suggestion::Kind::context:
                        return size(*engine, s.fit.quant, "auto", apply->context, r.users, tp);
                    case Suggestion::Kind::users:
                        plan_.parallel = apply->users;
                        return size(*engine, s.fit.quant, "auto", ctx, apply->users, tp);
                    case Suggestion::Kind::nodes:
                        break;
                }
                plan_.nodes = plan_.tensor_parallel = 2;
                plan_.engine = Engine::vllm;
                plan_.engine_version = engines::default_version(Engine::vllm);
                return choose_quant(Engine::vllm, 2, "auto", ctx, r.users, true);
            }();
            if (!applied) return applied.error();
            s = std::move(*applied);
            d.facts.emplace_back("after", b(s.fit.estimate.memory.total_bytes));
            decide(d);
            plan_.suggestions.clear();
        } else if (overridden("R-OPS-1")) {
            plan_.warnings.push_back("R-OPS-1 overridden (--override R-OPS-1): total " +
                                     b(s.fit.estimate.memory.total_bytes) + " exceeds the budget " +
                                     b(r.hardware.budget_bytes) +
                                     "; the engine may fail to start or swap");
        } else {
            plan_.status = Status::does_not_fit;
        }
    }
    plan_.fit = s.fit;
    plan_.quant = s.fit.quant;
    plan_.context = s.fit.context;
    plan_.context_origin = s.fit.context_origin;
    plan_.parallel = s.fit.parallel;
    plan_.kv_cache_dtype = s.fit.kv_cache_dtype;
    plan_.variant_format = s.variant ? s.variant->format : s.fit.quant;
    if (is_file()) {
        plan_.variant_file = spec_.files.empty() ? spec_.name : spec_.files.front().string();
        if (spec_.source != model::SourceKind::gguf && !spec_.files.empty()) {
            plan_.variant_file = spec_.files.front().parent_path().string();
        }
    } else if (s.variant) {
        plan_.variant_repo = s.variant->repo;
        plan_.variant_file = s.variant->file;
    }
    for (const std::string& n : s.fit.notes) {
        if (n.rfind("R-OPS-3", 0) != 0) plan_.warnings.push_back(n);
    }
    if (plan_.status == Status::does_not_fit) return {};

    // 8. Sizing, flags and commands.
    performance();
    detail::render_commands(spec_, req_, rules_, plan_);
    for (const LaunchCommand& c : plan_.commands) {
        if (c.role != "server") continue;
        const std::size_t skip = detail::flags_start(c);
        for (const std::string& f : engines::unknown_flags(plan_.engine_version, c.argv, skip)) {
            plan_.warnings.push_back("flag " + f + " is not in " +
                                     engines::to_string(plan_.engine) + " " +
                                     plan_.engine_version.name + "'s flag table");
        }
        for (const std::string& v : engines::unknown_values(plan_.engine_version, c.argv, skip)) {
            plan_.warnings.push_back(v + " is not registered in " +
                                     engines::to_string(plan_.engine) + " " +
                                     plan_.engine_version.name + " (its values table)");
        }
    }
    return {};
}

}  // namespace

const char* to_string(UseCase use) {
    switch (use) {
        case UseCase::chat:
            return "chat";
        case UseCase::agents:
            return "agents";
        case UseCase::batch:
            return "batch";
        case UseCase::long_context:
            return "long-context";
    }
    return "chat";
}

base::Result<UseCase> parse_use(std::string_view s) {
    const std::string v = base::to_lower(base::trim(s));
    if (v == "chat") return UseCase::chat;
    if (v == "agents") return UseCase::agents;
    if (v == "batch") return UseCase::batch;
    if (v == "long-context" || v == "long_context") return UseCase::long_context;
    return base::make_error(
        base::Errc::bad_input,
        "--for: '" + base::printable(s) + "' is not a use (chat, agents, batch, long-context)");
}

base::Result<Prefer> parse_prefer(std::string_view s) {
    const std::string v = base::to_lower(base::trim(s));
    if (v.empty()) return Prefer::none;
    if (v == "speed") return Prefer::speed;
    if (v == "fit") return Prefer::fit;
    return base::make_error(base::Errc::bad_input,
                            "--prefer: '" + base::printable(s) + "' is not speed or fit");
}

base::Result<std::optional<ClusterInventory>> parse_cluster(
    const std::map<std::string, std::string>& table, std::string_view origin) {
    if (table.empty()) return std::optional<ClusterInventory>();
    ClusterInventory inv;
    auto list = [](const std::string& v) {
        std::vector<std::string> out;
        for (const std::string& x : base::split(v, ',')) {
            std::string t(base::trim(x));
            if (!t.empty()) out.push_back(t);
        }
        return out;
    };
    for (const auto& [key, value] : table) {
        if (key == "hosts") {
            inv.hosts = list(value);
        } else if (key == "addresses") {
            inv.addresses = list(value);
        } else if (key == "fabric_interface") {
            inv.fabric_interface = value;
        } else if (key == "roce_hcas") {
            inv.roce_hcas = list(value);
        } else if (key == "ssh_user") {
            inv.ssh_user = value;
        } else if (key == "switch") {
            if (value != "true" && value != "false") {
                return base::make_error(
                    base::Errc::bad_input,
                    std::string(origin) + ": cluster.switch: expected true or false");
            }
            inv.has_switch = value == "true";
        } else {
            return base::make_error(base::Errc::bad_input,
                                    std::string(origin) + ": cluster." + key +
                                        ": unknown key (hosts, addresses, fabric_interface, "
                                        "roce_hcas, ssh_user, switch)");
        }
    }
    if (inv.hosts.empty()) {
        return base::make_error(base::Errc::bad_input,
                                std::string(origin) + ": cluster.hosts: at least one host");
    }
    if (!inv.addresses.empty() && inv.addresses.size() != inv.hosts.size()) {
        return base::make_error(base::Errc::bad_input,
                                std::string(origin) + ": cluster.addresses: one address per host");
    }
    return std::optional<ClusterInventory>(inv);
}

int Plan::exit_status() const {
    switch (status) {
        case Status::ok:
            return 0;
        case Status::refused:
            return 2;
        case Status::does_not_fit:
            return 3;
    }
    return 1;
}

namespace {

base::Result<Plan> plan_once(const model::ModelSpec& spec,
                             const std::vector<model::Variant>& variants,
                             const PlanRequest& request, const RuleBook& rules) {
    Plan plan;
    Planner p(spec, variants, request, rules, plan);
    auto r = p.run();
    if (!r) return r.error();
    return plan;
}

}  // namespace

Hardware hardware_of(const hw::HardwareProfile& profile) {
    Hardware h;
    h.name = profile.name;
    h.memory_total_bytes = profile.memory_total_bytes;
    h.os_reserve_bytes = profile.os_reserve_bytes;
    h.budget_bytes = profile.budget_bytes();
    h.memory_bandwidth_bytes_per_s = profile.memory_bandwidth_bytes_per_s;
    h.unified_memory = profile.unified_memory;
    if (auto caps = fit::hw_caps(profile)) h.caps = *caps;
    return h;
}

base::Result<Plan> make_plan(const model::ModelSpec& spec,
                             const std::vector<model::Variant>& variants,
                             const PlanRequest& request, const RuleBook& rules) {
    const std::optional<std::uint64_t> trained = spec.arch.context_length;
    if (request.use != UseCase::long_context || request.context || !trained ||
        *trained <= fit::kDefaultContextCap) {
        return plan_once(spec, variants, request, rules);
    }
    // SPARKCTL-PLAN-15: long-context without --context asks for the model's trained context, not
    // the 32,768 cap of the other uses; where that does not fit, the largest context that does.
    PlanRequest full = request;
    full.context = *trained;
    auto p = plan_once(spec, variants, full, rules);
    if (!p) return p.error();
    Decision d{"context",
               "SPARKCTL-PLAN-15",
               num(*trained),
               "long-context without --context: the model's trained context",
               {{"trained", num(*trained)}, {"users", num(request.users)}},
               {}};
    if (p->status == Status::does_not_fit) {
        const auto shorter = std::find_if(
            p->suggestions.begin(), p->suggestions.end(),
            [](const Suggestion& x) { return x.fits && x.kind == Suggestion::Kind::context; });
        if (shorter != p->suggestions.end()) {
            PlanRequest fitted = request;
            fitted.context = shorter->context;
            auto q = plan_once(spec, variants, fitted, rules);
            if (!q) return q.error();
            if (q->status != Status::does_not_fit) {
                d.outcome = num(*fitted.context);
                d.reason =
                    "long-context without --context: the largest context that fits (the "
                    "trained context does not)";
                d.rejected.push_back({num(*trained), "does not fit the budget at " +
                                                         num(request.users) + " user(s)"});
                p = std::move(q);
                p->context_origin = "long-context-max-fit";
            }
        }
    }
    if (p->context_origin == "requested") p->context_origin = "long-context-trained";
    const auto at = std::min<std::size_t>(1, p->decisions.size());  // after the budget
    p->decisions.insert(p->decisions.begin() + static_cast<std::ptrdiff_t>(at), std::move(d));
    return p;
}

}  // namespace sparkctl::plan
