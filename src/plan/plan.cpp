#include "plan/plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/strings.h"
#include "engines/alloc.h"
#include "fit/memory.h"
#include "fit/quant.h"
#include "plan/detail/commands.h"
#include "plan/quant_choice.h"

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

// Applies the decision order (docs/dev/plan.md), one member per step, in its order: run()
// calls them and stops at a refusal.
class Planner {
  public:
    Planner(const model::ModelSpec& spec, const std::vector<model::Variant>& variants,
            const PlanRequest& req, const RuleBook& rules, Plan& plan)
        : spec_(spec),
          variants_(variants),
          req_(req),
          rules_(rules),
          plan_(plan),
          kv_(req.kv_cache_dtype.empty() ? "auto" : req.kv_cache_dtype) {}

    base::Result<void> run();

  private:
    // The steps. Each records its decisions; a refusal sets plan_.status and ends the plan.
    void budget();                        // 1. R-OPS-1
    base::Result<void> nodes();           // 2. R-ENG-3, R-OPS-4, R-LIM-2
    void format();                        // 3. SPARKCTL-PLAN-11
    void architecture();                  // 4. R-ENG-4
    base::Result<void> engine_for_use();  // 5. R-ENG-1/2/5/6, R-OPS-3, --engine
    base::Result<void> engine_version();  // R-QNT-4: plans record engine versions
    base::Result<void> quantization();    // 6. R-QNT-1..4, SPARKCTL-PLAN-13
    base::Result<void> fit_or_suggest();  // 7. R-OPS-1, SPARKCTL-PLAN-7, 17
    void sizing_and_flags();              // 8. SPARKCTL-PLAN-1..6, 8, 9, 14, R-OPS-2
    bool refused() const { return plan_.status == Status::refused; }

    bool overridden(RuleId id) const {
        for (const std::string& o : req_.overrides) {
            if (base::iequals(o, id.id)) return true;
        }
        return false;
    }
    // An operational rule is broken: refuse, or warn when --override names it. True: refused.
    bool refuse(RuleId id, const std::string& reason) {
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
    // --kv-cache-dtype where `e` accepts it, else its default (another engine's suggestion).
    std::string kv_for(Engine e) const {
        return engines::resolve_kv_cache_type(e, kv_) ? kv_ : "auto";
    }
    bool gguf_file() const { return spec_.source == model::SourceKind::gguf; }
    bool can_load(Engine e) const;
    bool mxfp4_model() const;
    // A safetensors checkpoint of this model (a file's: of its catalog entry), the model's own
    // repository first; nullptr when none is known.
    const model::Variant* safetensors_checkpoint() const;

    // fit's options for one shape of this plan (context 0: fit's default).
    fit::FitOptions options(const std::string& quant, const std::string& kv, std::uint64_t context,
                            std::uint32_t users, std::uint32_t tp) const;
    // One engine, quantization and shape, priced by fit (per node under TP).
    base::Result<QuantChoice> size(Engine e, const std::string& quant, const std::string& kv,
                                   std::uint64_t context, std::uint32_t users, std::uint32_t tp);
    // The quantization on `e` (plan/quant_choice.h owns the decision order); records the
    // decision when `record`. The result fits when anything does.
    base::Result<QuantChoice> choose(Engine e, std::uint32_t tp, const std::string& kv,
                                     std::uint64_t context, std::uint32_t users, bool record);
    base::Result<void> suggest(const QuantChoice& current);
    // Another quantization on the plan's engine (step 6): the published one the decision order
    // picks when --quant's does not fit; on llama.cpp, the largest unpublished step of the GGUF
    // ladder that fits, when nothing published fits or only a smaller step does (a what-if).
    void suggest_quant(const QuantChoice& current);
    // Speed of the plan's shape on `e` with `quant` over `nodes` (fit's performance model);
    // nullopt without the hardware's caps or when the model cannot price it.
    // `at`: the depth and prompt (default: depth 0, long-context half the context; prompt 512).
    base::Result<std::optional<fit::Performance>> predict(
        Engine e, const std::string& quant, const std::string& kv, std::uint32_t nodes,
        std::optional<fit::PerfRequest> at = std::nullopt) const;
    void performance();

    const model::ModelSpec& spec_;
    const std::vector<model::Variant>& variants_;
    const PlanRequest& req_;
    const RuleBook& rules_;
    Plan& plan_;
    const std::string kv_;          // --kv-cache-dtype, "auto" when not given
    std::optional<Engine> forced_;  // --engine
    std::optional<Engine> engine_;  // picked so far
    RuleId engine_rule_{};          // the rule that picked the engine
    bool lc_arch_ = false;          // llama.cpp supports the architecture
    bool quant_moved_ = false;      // --quant moved the engine off the rule's pick
    QuantChoice chosen_;            // step 6's choice, resized by step 7
};

bool Planner::can_load(Engine e) const {
    if (gguf_file()) return e == Engine::llama_cpp;
    if (is_file()) return e != Engine::llama_cpp;
    return e == Engine::llama_cpp ? has_gguf_variant() : has_safetensors_variant();
}

const model::Variant* Planner::safetensors_checkpoint() const {
    const std::vector<model::Variant>* vs = &variants_;
    std::string hf_id = spec_.hf_id;
    // A file or a named checkpoint: the catalog entry of the same model, by the file's repository
    // or name (a named checkpoint's variants_ hold only its own repository).
    if (is_file() || !req_.variant_repo.empty()) {
        const model::CatalogEntry* e =
            spec_.hf_id.empty() ? nullptr : model::find_model(spec_.hf_id);
        if (e == nullptr) e = model::find_model(spec_.name);
        if (e == nullptr) return nullptr;
        vs = &e->variants;
        hf_id = e->spec.hf_id;
    }
    const model::Variant* any = nullptr;
    for (const model::Variant& v : *vs) {
        if (is_gguf_format(v.format)) continue;
        if (base::iequals(v.repo, hf_id)) return &v;  // the model's own repository first
        if (any == nullptr) any = &v;
    }
    return any;
}

bool Planner::mxfp4_model() const {
    if (spec_.quant && base::iequals(spec_.quant->method, "mxfp4")) return true;
    return std::any_of(variants_.begin(), variants_.end(),
                       [](const model::Variant& v) { return v.format == "mxfp4"; });
}

fit::FitOptions Planner::options(const std::string& quant, const std::string& kv,
                                 std::uint64_t context, std::uint32_t users,
                                 std::uint32_t tp) const {
    fit::FitOptions o;
    o.quant = quant;
    if (context) o.context = context;
    o.parallel = users;
    o.tensor_parallel = tp;
    o.kv_cache_dtype = kv;
    o.budget_bytes = req_.hardware.budget_bytes;
    o.memory_total_bytes = req_.hardware.memory_total_bytes;
    if (req_.constants) o.constants = &*req_.constants;
    if (req_.bench) {
        o.cache_ram_mib = 0;  // R-OPS-2: no prompt cache in a benchmark
    } else if (!rules_.enabled(kPlan19)) {
        // SPARKCTL-PLAN-19 switched off: the flags are left out, so llama-server's defaults.
        o.cache_ram_mib = engines::llamacpp::kDefaultCacheRamMib;
        o.ctx_checkpoints = engines::llamacpp::kDefaultCtxCheckpoints;
    }
    return o;
}

base::Result<QuantChoice> Planner::size(Engine e, const std::string& quant, const std::string& kv,
                                        std::uint64_t context, std::uint32_t users,
                                        std::uint32_t tp) {
    auto r = fit::fit_model(spec_, variants_, e, options(quant, kv, context, users, tp));
    if (!r) return r.error();
    QuantChoice s;
    s.variant = is_file() ? nullptr : variant_of(variants_, e, r->quant);
    s.fit = std::move(*r);
    return s;
}

base::Result<QuantChoice> Planner::choose(Engine e, std::uint32_t tp, const std::string& kv,
                                          std::uint64_t context, std::uint32_t users, bool record) {
    fit::FitOptions o = options(req_.quant, kv, context, users, tp);
    if (req_.prefer == Prefer::speed && req_.hardware.caps) {
        // --prefer speed ranks the candidates by the performance model at the plan's shape.
        o.performance = fit::PerfRequest{};
        o.performance_hw = *req_.hardware.caps;
    }
    auto c = choose_quant(spec_, variants_, e, o, req_.prefer, rules_);
    if (!c) return c.error();
    if (!is_file() && c->fit.supported && !c->fit.quant_published) {
        if (req_.quant.empty()) {
            return base::make_error(
                base::Errc::bad_input,
                spec_.name + ": no published checkpoint " + engines::to_string(e) + " can load");
        }
        // A step of the GGUF ladder the catalog does not list: planned as a what-if (the
        // suggestions offer these), with the repository left to the user.
        if (e == Engine::llama_cpp && on_gguf_ladder(c->fit.quant) && req_.variant_repo.empty()) {
            if (record) {
                plan_.warnings.push_back("--quant " + c->fit.quant +
                                         " is a what-if: check that a repository publishes it "
                                         "and set GGUF_REPO to it");
            }
            return c;
        }
        std::string published;
        for (const model::Variant& v : variants_) {
            if (is_gguf_format(v.format) == (e == Engine::llama_cpp)) {
                published += (published.empty() ? "" : ", ") + v.format;
            }
        }
        return base::make_error(base::Errc::bad_input,
                                "--quant: no " + c->fit.quant + " checkpoint of " + spec_.name +
                                    " is published for " + engines::to_string(e) + " (published: " +
                                    (published.empty() ? "none" : published) + ")");
    }
    if (!record) return c;
    Decision d;
    d.step = "quant";
    d.rule = c->rule;
    d.outcome = c->fit.quant;
    d.reason = c->reason;
    d.facts = {{"engine", engines::to_string(e)},
               {"budget", b(req_.hardware.budget_bytes)},
               {"context", context ? num(context) : "default"},
               {"users", num(users)}};
    if (tp > 1) d.facts.emplace_back("tensor_parallel", num(tp));
    d.facts.emplace_back("weights", b(c->fit.estimate.memory.weights_bytes));
    d.facts.emplace_back("total", b(c->fit.estimate.memory.total_bytes));
    if (!c->set_aside.empty()) d.facts.emplace_back("set_aside", c->set_aside);
    d.rejected = c->rejected;
    if (c->fit.quant == "nvfp4" || base::iequals(c->fit.quant, "mxfp4")) {
        d.reason += "; " + kQnt4 + ": FP4 support depends on the engine version (" +
                    plan_.engine_version.name + ")";
    }
    decide(std::move(d));
    return c;
}

base::Result<void> Planner::suggest(const QuantChoice& current) {
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
            plan_.suggestions.push_back({"a " + kv_small + " KV cache (half the KV bytes)",
                                         "--kv-cache-dtype " + kv_small, buys(s->fit), s->fits(),
                                         s->fit.estimate.memory.total_bytes,
                                         Suggestion::Kind::kv_cache_dtype, kv_small});
        }
    }
    // 2. A shorter context: llama.cpp's fixed slots need context x users in full, the paged
    // pool one full-context sequence (SPARKCTL-PLAN-17).
    std::uint64_t longest = current.fit.max_context;
    if (fit::paged_kv(e) && users > 1) {
        auto one = size(e, current.fit.quant, current.fit.kv_cache_dtype, ctx, 1, tp);
        if (one) longest = one->fit.max_context;
    }
    if (longest > 0 && longest < ctx) {
        std::uint64_t c = longest / 1024 * 1024;
        if (c == 0) c = longest;
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
    if (plan_.nodes == 1 && !gguf_file() && can_load(Engine::vllm) &&
        fit::tensor_parallel_problem(spec_.arch, 2).empty()) {
        auto s = choose(Engine::vllm, 2, kv_for(Engine::vllm), ctx, users, false);
        // Another engine forced by --engine would be refused on two nodes (R-OPS-4).
        const bool other = forced_ && *forced_ != Engine::vllm;
        if (s) {
            plan_.suggestions.push_back({"two nodes: vLLM tensor parallel 2 (R-ENG-3)",
                                         other ? "--nodes 2 --engine vllm" : "--nodes 2",
                                         buys(s->fit) + ", " + s->fit.quant, s->fits(),
                                         s->fit.estimate.memory.total_bytes,
                                         Suggestion::Kind::nodes, ""});
        }
    }
    // 5. Another quantization.
    suggest_quant(current);
    return {};
}

void Planner::suggest_quant(const QuantChoice& current) {
    if (is_file() || !current.fit.supported) return;
    const Engine e = plan_.engine;
    const std::uint64_t ctx = current.fit.context;
    const std::uint32_t users = current.fit.parallel;
    const std::uint32_t tp = plan_.tensor_parallel;
    const std::string& kv = current.fit.kv_cache_dtype;
    auto add = [&](const fit::FitResult& f, bool what_if, const std::string& change) {
        Suggestion x;
        x.change = change;
        x.flag = "--quant " + f.quant;
        x.buys = "weights " + b(f.estimate.memory.weights_bytes) + ", total " +
                 b(f.estimate.memory.total_bytes) + " per node (fits the budget " +
                 b(req_.hardware.budget_bytes) + ")";
        x.fits = true;
        x.total_bytes = f.estimate.memory.total_bytes;
        x.kind = Suggestion::Kind::quant;
        x.quant = f.quant;
        x.what_if = what_if;
        plan_.suggestions.push_back(std::move(x));
    };
    if (!current.fits() && !req_.quant.empty()) {
        auto pick =
            choose_quant(spec_, variants_, e, options("", kv, ctx, users, tp), req_.prefer, rules_);
        if (pick && pick->fits() && pick->variant && pick->fit.quant != current.fit.quant) {
            add(pick->fit, false,
                "the published " + pick->fit.quant + " checkpoint (" + pick->variant->repo +
                    ") the decision order picks");
        }
    }
    if (e != Engine::llama_cpp || !req_.variant_repo.empty()) return;
    for (const char* q : kGgufLadder) {
        if (variant_of(variants_, e, q) != nullptr) continue;  // published: step 6 weighed it
        auto s = size(e, q, kv, ctx, users, tp);
        if (!s || !s->fits()) continue;
        // Larger than what fits only above a published ladder step: a model published in
        // another type (gpt-oss's MXFP4, a QAT Q4_0) gains nothing from requantizing it.
        const bool larger =
            s->fit.estimate.memory.weights_bytes > current.fit.estimate.memory.weights_bytes;
        if (!current.fits() || (on_gguf_ladder(current.fit.quant) && larger)) {
            add(s->fit, true,
                std::string("a ") + q +
                    " GGUF, not in the catalog (a what-if): check that a "
                    "repository publishes it");
        }
        return;  // the largest step that fits
    }
}

base::Result<std::optional<fit::Performance>> Planner::predict(
    Engine e, const std::string& quant, const std::string& kv, std::uint32_t nodes,
    std::optional<fit::PerfRequest> at) const {
    if (!req_.hardware.caps) return std::optional<fit::Performance>();
    fit::FitOptions o = options(quant, kv, plan_.context, plan_.parallel, nodes);
    fit::PerfRequest pr;
    pr.depth = plan_.use == UseCase::long_context ? plan_.context / 2 : 0;
    o.performance = at.value_or(pr);
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
    const std::string quant = is_file() && spec_.quant ? req_.quant : plan_.quant;
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

    // Agents work deep in long sessions: also predict at their working point (depth half the
    // context, a prompt of kAgentsWorkingPrompt tokens, at most the other half).
    if (plan_.use == UseCase::agents) {
        fit::PerfRequest wp;
        wp.depth = plan_.context / 2;
        wp.prompt = std::max<std::uint64_t>(
            1, std::min<std::uint64_t>(kAgentsWorkingPrompt, plan_.context - wp.depth));
        auto deep = predict(e, quant, plan_.kv_cache_dtype, plan_.tensor_parallel, wp);
        if (deep && *deep) perf.working_point = std::move(**deep);
    }

    // R-ENG-3: the speed-up of N nodes is two predictions, not the rule's constant.
    if (plan_.tensor_parallel > 1) {
        auto one = predict(e, quant, plan_.kv_cache_dtype, 1);
        if (one && *one && (*one)->decode_tokens_per_s_total > 0) {
            perf.one_node = std::move(**one);
            perf.speedup_vs_one_node =
                p.decode_tokens_per_s_total / perf.one_node->decode_tokens_per_s_total;
            const double n = plan_.tensor_parallel;
            const double s = *perf.speedup_vs_one_node;
            if (rules_.enabled(kEng3) && std::abs(s - n) / n > 0.10) {
                plan_.warnings.push_back(
                    "performance model disagrees with R-ENG-3 (\"" + rules_.get(kEng3).text +
                    "\"): it predicts " + f2(s) + "x on " + num(plan_.tensor_parallel) +
                    " nodes for this plan (decode " + f1(perf.one_node->decode_tokens_per_s) +
                    " -> " + f1(p.decode_tokens_per_s) + " tokens/s per sequence at " +
                    num(plan_.parallel) + " users; the per-layer overhead does not shrink and " +
                    "each layer adds two all-reduces over the interconnect)");
            }
        }
    }

    // R-ENG-1: llama.cpp for one user, against vLLM/SGLang's predicted single-stream decode.
    if (engine_rule_ == kEng1 && e == Engine::llama_cpp && plan_.parallel == 1 &&
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
            auto s = choose(alt, 1, kv_for(alt), plan_.context, 1, false);
            if (!s || !s->fits()) continue;
            auto ap = predict(alt, s->fit.quant, kv_for(alt), 1);
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
                "performance model disagrees with R-ENG-1 (\"" + rules_.get(kEng1).text +
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
        published("awq") && published("nvfp4") && rules_.enabled(kQnt2)) {
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
                    "performance model disagrees with R-QNT-2 (\"" + rules_.get(kQnt2).text +
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

void Planner::budget() {
    const Hardware& h = req_.hardware;
    decide({"budget",
            kOps1,
            b(h.budget_bytes),
            h.budget_override ? "--budget" : "memory total - OS reserve: plans never exceed it",
            {{"hardware", h.name},
             {"memory_total", b(h.memory_total_bytes)},
             {"os_reserve", b(h.os_reserve_bytes)}},
            {}});
}

base::Result<void> Planner::nodes() {
    const PlanRequest& r = req_;
    std::uint32_t nodes = r.nodes.value_or(r.cluster && !r.cluster->hosts.empty()
                                               ? static_cast<std::uint32_t>(r.cluster->hosts.size())
                                               : 1);
    if (nodes == 0) return base::make_error(base::Errc::bad_input, "--nodes: must be at least 1");
    if (!r.engine.empty()) {
        auto e = engines::parse_engine(r.engine);
        if (!e) return e.error();
        forced_ = *e;
    }
    if (nodes > 1) {
        Decision d{"nodes",
                   kEng3,
                   "vllm tensor parallel " + num(nodes),
                   "more than one node: vLLM tensor parallel (R-ENG-3, R-OPS-4)",
                   {{"nodes", num(nodes)},
                    {"inventory", r.cluster ? "config [cluster]" : "none: named placeholders"}},
                   {{"llama.cpp",
                     "R-LIM-2: layer-split RPC clustering loses performance; "
                     "R-OPS-4: refused"},
                    {"sglang", "R-OPS-4: cluster plans are vLLM tensor parallel only"}}};
        if (forced_ && *forced_ != Engine::vllm) {
            const std::string why = *forced_ == Engine::llama_cpp
                                        ? "llama.cpp RPC clustering is refused (R-LIM-2: "
                                          "layer split loses performance)"
                                        : "cluster plans are vLLM tensor parallel only";
            d.outcome = "refused";
            decide(d);
            if (refuse(kOps4, why)) return {};
            nodes = 1;  // overridden: the forced engine on the head node only
            plan_.warnings.push_back(
                "the forced engine runs on one node; sparkctl renders no "
                "multi-node commands for it");
        } else if (gguf_file()) {
            d.outcome = "refused";
            decide(d);
            if (refuse(kOps4,
                       "a GGUF file runs on llama.cpp, which does not cluster "
                       "(R-LIM-2); use the safetensors checkpoint")) {
                return {};
            }
            nodes = 1;
        } else {
            const std::string problem = fit::tensor_parallel_problem(spec_.arch, nodes);
            if (!problem.empty()) {
                d.outcome = "refused";
                d.reason = problem;
                decide(d);
                plan_.status = Status::refused;
                plan_.refusal = kOps4 + ": " + problem + " (TP must divide the heads)";
                return {};
            }
            d.facts.emplace_back("attention_heads", num(spec_.arch.n_heads.value_or(0)));
            d.facts.emplace_back("kv_heads", num(spec_.arch.n_kv_heads.value_or(0)));
            decide(d);
            engine_ = Engine::vllm;
            engine_rule_ = kEng3;
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
    return {};
}

void Planner::format() {
    Decision d{"format", kPlan11, "", "", {}, {}};
    if (gguf_file()) {
        d.outcome = "gguf file: llama.cpp";
    } else if (is_file()) {
        d.outcome = "safetensors: vllm or sglang";
        d.rejected.push_back({"llama.cpp", "loads GGUF only"});
    } else {
        d.outcome = std::string(has_gguf_variant() ? "gguf" : "") +
                    (has_gguf_variant() && has_safetensors_variant() ? " and " : "") +
                    (has_safetensors_variant() ? "safetensors" : "") + " published";
        const std::string named = req_.variant_repo.empty() ? "" : " (the checkpoint named)";
        if (!has_gguf_variant()) d.rejected.push_back({"llama.cpp", "no GGUF published" + named});
        if (!has_safetensors_variant()) {
            d.rejected.push_back({"vllm, sglang", "no safetensors checkpoint published" + named});
        }
    }
    d.reason = "what can run is decided by the checkpoints that exist";
    std::string vs;
    for (const model::Variant& v : variants_) vs += (vs.empty() ? "" : ", ") + v.format;
    d.facts.emplace_back("variants", vs.empty() ? spec_.name : vs);
    if (!req_.variant_repo.empty()) {
        d.outcome += " (the checkpoint named: " + req_.variant_repo + ")";
        d.reason =
            "the checkpoint named on the command line is the one planned, never replaced "
            "by another variant of " +
            spec_.name + "; its format decides the engine";
        d.facts.emplace_back("named", req_.variant_repo);
    }
    decide(d);
}

void Planner::architecture() {
    lc_arch_ = engines::llamacpp_supports(spec_.arch.architecture) ||
               engines::llamacpp_supports(spec_.arch.family);
    Decision d{"architecture",
               kEng4,
               lc_arch_ ? "supported by llama.cpp" : "new: vllm",
               lc_arch_ ? "llama.cpp converts and loads this architecture"
                        : "llama.cpp does not support this architecture: vLLM (day-1 support)",
               {{"architecture", spec_.arch.architecture},
                {"family", spec_.arch.family},
                {"llama.cpp", std::string(engines::default_version(Engine::llama_cpp).name) +
                                  " (data/engines/llama.cpp-2026.archs.tsv)"}},
               {}};
    if (!lc_arch_) d.rejected.push_back({"llama.cpp", "architecture not supported (R-ENG-4)"});
    decide(d);
    if (!lc_arch_ && !gguf_file() && rules_.enabled(kEng4) && !engine_) {
        engine_ = engine_of(rules_.get(kEng4));
        engine_rule_ = kEng4;
    }
}

base::Result<void> Planner::engine_for_use() {
    const PlanRequest& r = req_;
    const bool parallel = r.users > 1;
    if (!engine_) {
        RuleId rule = kPlan11;
        std::vector<Rejected> rejected;
        if (gguf_file()) {
            rule = kPlan11;
        } else if (r.prefer == Prefer::speed && mxfp4_model() && rules_.enabled(kEng5)) {
            rule = kEng5;
            plan_.warnings.push_back(
                "R-LIM-4: SGLang needs specialized Spark builds for Triton "
                "MXFP4 (" +
                rules_.get(kLim4).source + ")");
        } else if (parallel || r.use == UseCase::agents || r.use == UseCase::batch) {
            rule = kEng2;
        } else if (r.use == UseCase::chat) {
            rule = kEng1;
            rejected.push_back({"vllm", "R-LIM-3: higher baseline latency for a single user"});
        } else {
            rule = kEng6;
        }
        if (!(rule == kPlan11) && !rules_.enabled(rule)) {
            rejected.push_back({rule, "switched off in the config file"});
            rule = kPlan12;
        }
        Engine pick = Engine::llama_cpp;
        if (!(rule == kPlan11)) pick = engine_of(rules_.get(rule));
        // The variants decide what can run.
        if (!can_load(pick)) {
            const Engine alt = pick == Engine::llama_cpp ? Engine::vllm : Engine::llama_cpp;
            // A named GGUF goes to llama.cpp even for parallel use (R-OPS-3 then says no).
            if (can_load(alt) &&
                !(alt == Engine::llama_cpp && parallel && req_.variant_repo.empty())) {
                rejected.push_back({engines::to_string(pick), pick == Engine::llama_cpp
                                                                  ? "no GGUF published"
                                                                  : "no safetensors checkpoint"});
                pick = alt;
            }
        }
        if (pick == Engine::llama_cpp && !lc_arch_ && !gguf_file()) pick = Engine::vllm;
        // An explicit --quant chooses an engine that runs it: vLLM for a safetensors format,
        // llama.cpp for a GGUF type; the rule it sets aside is named.
        if (!r.quant.empty() && !is_file() && !fit::resolve_quant(pick, r.quant)) {
            const Engine alt = pick == Engine::llama_cpp ? Engine::vllm : Engine::llama_cpp;
            if (fit::resolve_quant(alt, r.quant) && (alt != Engine::llama_cpp || lc_arch_)) {
                const std::string why = "--quant " + base::printable(r.quant) + " is not a " +
                                        "quantization " + engines::to_string(pick) + " runs";
                rejected.push_back({engines::to_string(pick), why});
                plan_.warnings.push_back(why + ": planned on " + engines::to_string(alt) +
                                         ", against " + rule + " (" + rules_.get(rule).text + ")");
                quant_moved_ = true;
                pick = alt;
            }
        }
        engine_ = pick;
        engine_rule_ = rule;
        if (parallel && !(rule == kPlan11)) {
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
    if (forced_ && *forced_ != *engine_) {
        if (!can_load(*forced_)) {
            return base::make_error(
                base::Errc::bad_input,
                std::string("--engine ") + engines::to_string(*forced_) + ": no checkpoint of " +
                    spec_.name + " it can load (" +
                    (*forced_ == Engine::llama_cpp ? "no GGUF published"
                                                   : "no safetensors checkpoint") +
                    ")");
        }
        if (*forced_ == Engine::llama_cpp && !lc_arch_ && !gguf_file()) {
            plan_.warnings.push_back(
                "--engine llama.cpp goes against R-ENG-4: llama.cpp does not "
                "support " +
                spec_.arch.architecture);
        }
        plan_.warnings.push_back(std::string("--engine ") + engines::to_string(*forced_) +
                                 " goes against " + engine_rule_ + " (" +
                                 rules_.get(engine_rule_).text + "), which picks " +
                                 engines::to_string(*engine_));
        decide({"engine-forced",
                engine_rule_,
                engines::to_string(*forced_),
                "forced by --engine, against the rule",
                {{"rule_pick", engines::to_string(*engine_)}},
                {{engines::to_string(*engine_), "--engine chose another"}}});
        engine_ = forced_;
    }
    plan_.engine = *engine_;
    if (*engine_ == Engine::llama_cpp && parallel) {
        // The ways out: the safetensors checkpoint on vLLM/SGLang, or the override.
        const model::Variant* st = safetensors_checkpoint();
        std::string out;
        if (gguf_file() || !req_.variant_repo.empty()) {
            out = st ? "plan the safetensors checkpoint of the same model for vLLM or SGLang "
                       "instead (sparkctl plan " +
                           st->repo + " --for " + to_string(r.use) + " --users " + num(r.users) +
                           ")"
                     : "no safetensors checkpoint of this model is known to sparkctl: plan one "
                       "for vLLM or SGLang";
        } else {
            const std::string drop = forced_ ? "drop --engine llama.cpp: "
                                     : quant_moved_
                                         ? "drop --quant " + base::printable(req_.quant) + ": "
                                         : "";
            out = drop + "vLLM or SGLang run " +
                  (st ? st->repo : std::string("the safetensors checkpoint"));
        }
        refuse(kOps3, "parallel use (" + num(r.users) + " users) never lands on llama.cpp; " + out +
                          "; or pass --override " + kOps3 + " to run it anyway");
    }
    return {};
}

base::Result<void> Planner::engine_version() {
    const Engine e = plan_.engine;
    if (req_.engine_version.empty()) {
        plan_.engine_version = engines::default_version(e);
    } else {
        auto v = engines::find_version(e, req_.engine_version);
        if (!v) return v.error();
        plan_.engine_version = **v;
    }
    decide({"engine-version",
            kQnt4,
            plan_.engine_version.name,
            req_.engine_version.empty()
                ? std::string("the version NVIDIA's DGX Spark playbooks use")
            : !req_.engine_version_origin.empty() ? req_.engine_version_origin
            : base::iequals(req_.engine_version, plan_.engine_version.name)
                ? std::string("--engine-version")
                : "--engine-version " + req_.engine_version +
                      ": no table of its own; the nearest one at or below it",
            {{"source", plan_.engine_version.source},
             {"flags",
              plan_.engine_version.flags_origin + " at " + plan_.engine_version.flags_commit}},
            {}});
    return {};
}

base::Result<void> Planner::quantization() {
    // A model whose facts are too incomplete to size cannot be planned (fit's missing_facts).
    if (const std::string missing = fit::missing_facts(spec_.arch); !missing.empty()) {
        plan_.status = Status::refused;
        plan_.refusal = kOps1 + ": cannot check the budget: unknown " + missing + " of " +
                        spec_.name + " (pass the model's config.json, a checkpoint or a GGUF file)";
        return {};
    }
    const Engine e = plan_.engine;
    auto chosen = choose(e, plan_.tensor_parallel, kv_, req_.context.value_or(0), req_.users, true);
    if (!chosen) return chosen.error();
    chosen_ = std::move(*chosen);
    const std::string& q = chosen_.fit.quant;
    if (!req_.quant.empty() && !is_file() && e != Engine::llama_cpp) {
        const bool awq_published =
            std::any_of(variants_.begin(), variants_.end(),
                        [&](const model::Variant& v) { return v.format == "awq"; });
        if (awq_published && q != "awq" && rules_.enabled(kQnt1)) {
            plan_.warnings.push_back("--quant " + q +
                                     " goes against R-QNT-1/R-QNT-3 (AWQ is published and is the "
                                     "default)");
        }
        if (q == "nvfp4" && rules_.enabled(kQnt2)) {
            plan_.warnings.push_back(
                "--quant nvfp4: R-QNT-2 says NVFP4 costs 18-32% throughput; "
                "use it only when fitting matters more than speed");
        }
    }
    if (e == Engine::llama_cpp && base::iequals(q, "MXFP4")) {
        plan_.warnings.push_back(
            "R-LIM-1: MXFP4 Blackwell kernels were not ready in llama.cpp's "
            "main branch; check the installed build (dated: the 2026 tree "
            "has MXFP4 paths)");
    }
    return {};
}

base::Result<void> Planner::fit_or_suggest() {
    const PlanRequest& r = req_;
    QuantChoice& s = chosen_;
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
            // Another quantization is --quant's to choose (or a what-if without a checkpoint).
            if (x.fits && x.kind != Suggestion::Kind::quant) {
                apply = &x;
                break;
            }
        }
        if (r.prefer == Prefer::fit && apply != nullptr) {
            Decision d{"prefer-fit",
                       kPlan7,
                       apply->flag,
                       "--prefer fit: applied the cheapest suggestion that fits: " + apply->change,
                       {{"before", b(s.fit.estimate.memory.total_bytes)}},
                       {}};
            const Engine e = plan_.engine;
            auto applied = [&]() -> base::Result<QuantChoice> {
                const std::uint64_t ctx = r.context.value_or(0);
                const std::uint32_t tp = plan_.tensor_parallel;
                switch (apply->kind) {
                    case Suggestion::Kind::kv_cache_dtype:
                        return size(e, s.fit.quant, apply->kv_cache_dtype, ctx, r.users, tp);
                    case Suggestion::Kind::context:
                        return size(e, s.fit.quant, kv_, apply->context, r.users, tp);
                    case Suggestion::Kind::users:
                        plan_.parallel = apply->users;
                        return size(e, s.fit.quant, kv_, ctx, apply->users, tp);
                    case Suggestion::Kind::nodes:
                    case Suggestion::Kind::quant:  // never applied (see `apply` above)
                        break;
                }
                plan_.nodes = plan_.tensor_parallel = 2;
                plan_.engine = Engine::vllm;
                plan_.engine_version = engines::default_version(Engine::vllm);
                return choose(Engine::vllm, 2, kv_for(Engine::vllm), ctx, r.users, true);
            }();
            if (!applied) return applied.error();
            s = std::move(*applied);
            d.facts.emplace_back("after", b(s.fit.estimate.memory.total_bytes));
            decide(d);
            plan_.suggestions.clear();
        } else if (overridden(kOps1)) {
            plan_.warnings.push_back("R-OPS-1 overridden (--override R-OPS-1): total " +
                                     b(s.fit.estimate.memory.total_bytes) + " exceeds the budget " +
                                     b(r.hardware.budget_bytes) +
                                     "; the engine may fail to start or swap");
        } else {
            plan_.status = Status::does_not_fit;
        }
    }
    if (s.fits() && plan_.suggestions.empty()) suggest_quant(s);
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
    } else if (!s.fit.quant_published) {  // a what-if (--quant of an unpublished ladder step)
        plan_.variant_repo = "${GGUF_REPO}";
        plan_.placeholders.push_back("GGUF_REPO");
    }
    for (const std::string& n : s.fit.notes) {
        if (n.rfind(kOps3.id, 0) != 0) plan_.warnings.push_back(n);
    }
    if (fit::paged_kv(plan_.engine) && s.fits()) {
        // SPARKCTL-PLAN-17: the paged pool gets what the budget leaves, up to context x users.
        const bool all = s.fit.max_parallel >= s.fit.parallel;
        decide({"kv-pool",
                kPlan17,
                all ? "all " + num(s.fit.parallel) + " sequences at full context"
                    : num(s.fit.max_parallel) + " of " + num(s.fit.parallel) +
                          " sequences at full context at once",
                all ? "context x users fits in the paged KV pool"
                    : "context x users does not fit: the pool gets what the budget leaves (at "
                      "least one full-context sequence); the engine queues or preempts the rest",
                {{"context", num(s.fit.context)},
                 {"users", num(s.fit.parallel)},
                 {"max_parallel", num(s.fit.max_parallel)},
                 {"kv_cache", b(s.fit.estimate.memory.kv_cache_bytes)}},
                {}});
    }
    return {};
}

void Planner::sizing_and_flags() {
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
}

base::Result<void> Planner::run() {
    if (req_.users == 0) {
        return base::make_error(base::Errc::bad_input, "--users: must be at least 1");
    }
    for (const std::string& o : req_.overrides) {
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
    plan_.use = req_.use;
    plan_.parallel = req_.users;

    budget();
    if (auto r = nodes(); !r || refused()) return r;
    format();
    architecture();
    if (auto r = engine_for_use(); !r || refused()) return r;
    if (auto r = engine_version(); !r) return r;
    if (auto kv = engines::resolve_kv_cache_type(plan_.engine, kv_); !kv) return kv.error();
    if (auto r = quantization(); !r || refused()) return r;
    if (auto r = fit_or_suggest(); !r || refused()) return r;
    if (plan_.status == Status::does_not_fit) return {};
    sizing_and_flags();
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
    // A named checkpoint is the one planned: only its repository's variants are candidates.
    std::vector<model::Variant> named;
    if (!request.variant_repo.empty()) {
        for (const model::Variant& v : variants) {
            if (base::iequals(v.repo, request.variant_repo)) named.push_back(v);
        }
        if (named.empty()) {
            return base::make_error(base::Errc::bad_input,
                                    "'" + base::printable(request.variant_repo) +
                                        "' is not a published checkpoint of " + spec.name);
        }
    }
    Planner p(spec, named.empty() ? variants : named, request, rules, plan);
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

namespace {

// The context decision goes after the budget's.
void insert_context_decision(Plan& p, Decision d) {
    const auto at = std::min<std::size_t>(1, p.decisions.size());
    p.decisions.insert(p.decisions.begin() + static_cast<std::ptrdiff_t>(at), std::move(d));
}

// SPARKCTL-PLAN-15: long-context without --context asks for the model's trained context, not
// the 32,768 cap of the other uses; where that does not fit, the largest context that does.
base::Result<Plan> long_context_plan(const model::ModelSpec& spec,
                                     const std::vector<model::Variant>& variants,
                                     const PlanRequest& request, const RuleBook& rules,
                                     std::uint64_t trained) {
    PlanRequest full = request;
    full.context = trained;
    auto p = plan_once(spec, variants, full, rules);
    if (!p) return p.error();
    Decision d{"context",
               kPlan15,
               num(trained),
               "long-context without --context: the model's trained context",
               {{"trained", num(trained)}, {"users", num(request.users)}},
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
                d.rejected.push_back({num(trained), "does not fit the budget at " +
                                                        num(request.users) + " user(s)"});
                p = std::move(q);
                p->context_origin = "long-context-max-fit";
            }
        }
    }
    if (p->context_origin == "requested") p->context_origin = "long-context-trained";
    insert_context_decision(*p, std::move(d));
    return p;
}

// SPARKCTL-PLAN-16: agents without --context get the trained context capped at 131,072, shrunk
// until context x users fits in full, never below 32,768 (below that the paged pool of
// SPARKCTL-PLAN-17 says how many agents fit at full context at once).
base::Result<Plan> agents_plan(const model::ModelSpec& spec,
                               const std::vector<model::Variant>& variants,
                               const PlanRequest& request, const RuleBook& rules,
                               std::uint64_t trained) {
    const std::uint64_t cap = std::min(trained, kAgentsContextCap);
    const std::uint64_t floor = std::min(kAgentsContextFloor, cap);
    // Probe at the cap without --prefer fit (which would change the shape it measures).
    PlanRequest at = request;
    at.context = cap;
    if (at.prefer == Prefer::fit) at.prefer = Prefer::none;
    auto p = plan_once(spec, variants, at, rules);
    if (!p) return p.error();
    const std::string users = num(request.users) + " user(s)";
    Decision d{"context",
               kPlan16,
               num(cap),
               "agents without --context: the trained context" +
                   std::string(trained > cap ? " capped at 131,072" : "") +
                   " (coding agents' sessions grow to 60-128k tokens); context x " + users +
                   " fits in full",
               {{"trained", num(trained)},
                {"users", num(request.users)},
                {"cap", num(kAgentsContextCap)},
                {"floor", num(kAgentsContextFloor)}},
               {}};
    std::string origin = trained > cap ? "agents-capped" : "agents-trained";
    if (p->status != Status::refused && p->fit.supported && p->fit.max_context < cap) {
        at.context = std::max(floor, p->fit.max_context / 1024 * 1024);
        d.rejected.push_back({num(cap), "context x " + users + " does not fit in full (" +
                                            num(p->fit.max_context) + " tokens per sequence do)"});
        d.outcome = num(*at.context);
        auto q = plan_once(spec, variants, at, rules);
        if (!q) return q.error();
        p = std::move(q);
        if (*at.context == floor && p->fit.max_context < floor) {
            origin = "agents-floor";
            d.reason = "agents without --context: context x " + users +
                       " does not fit in full even at the floor of 32,768; ";
            d.reason += p->status == Status::does_not_fit
                            ? "not even one sequence of 32,768 tokens fits"
                            : num(p->fit.max_parallel) +
                                  " agents fit at full context at once (the paged pool, "
                                  "SPARKCTL-PLAN-17)";
        } else {
            origin = "agents-fitted";
            d.reason =
                "agents without --context: the largest context (in steps of 1,024) at which "
                "context x " +
                users + " fits in full, down from " + num(cap);
        }
    }
    if (request.prefer == Prefer::fit) {
        at.prefer = Prefer::fit;
        auto q = plan_once(spec, variants, at, rules);
        if (!q) return q.error();
        p = std::move(q);
    }
    // --prefer fit may have shortened it further (its own decision says so).
    if (p->context == *at.context) p->context_origin = origin;
    insert_context_decision(*p, std::move(d));
    return p;
}

}  // namespace

base::Result<Plan> make_plan(const model::ModelSpec& spec,
                             const std::vector<model::Variant>& variants,
                             const PlanRequest& request, const RuleBook& rules) {
    const std::optional<std::uint64_t> trained = spec.arch.context_length;
    if (request.context || !trained) return plan_once(spec, variants, request, rules);
    switch (request.use) {
        case UseCase::agents:
            return agents_plan(spec, variants, request, rules, *trained);
        case UseCase::long_context:
            if (*trained > fit::kDefaultContextCap) {
                return long_context_plan(spec, variants, request, rules, *trained);
            }
            break;
        case UseCase::chat:
        case UseCase::batch:
            break;
    }
    auto p = plan_once(spec, variants, request, rules);
    if (!p || p->context == 0) return p;
    insert_context_decision(
        *p, {"context",
             kPlan16,
             num(p->context),
             std::string(to_string(request.use)) + " without --context: the trained context" +
                 (*trained > fit::kDefaultContextCap ? ", capped at 32,768" : ""),
             {{"trained", num(*trained)}, {"cap", num(fit::kDefaultContextCap)}},
             {}});
    return p;
}

}  // namespace sparkctl::plan
