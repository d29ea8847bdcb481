#include "plan/quant_choice.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>

#include "base/strings.h"
#include "fit/quant.h"

namespace sparkctl::plan {

namespace {

using engines::Engine;

bool is_gguf_format(std::string_view f) { return !f.empty() && f[0] >= 'A' && f[0] <= 'Z'; }

std::string b(std::uint64_t bytes) { return base::format_bytes(bytes); }

std::string f1(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

struct Candidate {
    std::string quant;
    std::string rule;
    std::string why;
};

// Candidates in the order of preference of the decision order (step 6).
std::vector<Candidate> candidates(const model::ModelSpec& spec,
                                  const std::vector<model::Variant>& variants, Engine e,
                                  const fit::FitOptions& o, Prefer prefer, const RuleBook& rules) {
    std::vector<Candidate> cands;
    std::set<std::string> seen;
    auto add = [&](const std::string& q, RuleId rule, const std::string& why) {
        if (seen.insert(q).second) cands.push_back({q, rule, why});
    };
    if (e == Engine::llama_cpp) {
        for (const model::Variant& v : variants) {
            if (is_gguf_format(v.format)) add(v.format, kPlan13, "published GGUF");
        }
        if (cands.empty()) {
            for (const char* q : kGgufLadder) {
                add(q, kPlan13, "no GGUF published: the GGUF ladder as a what-if");
            }
        }
        return cands;
    }
    std::vector<std::string> formats;
    for (const model::Variant& v : variants) {
        if (!is_gguf_format(v.format)) formats.push_back(v.format);
    }
    auto has = [&](std::string_view f) {
        return std::find(formats.begin(), formats.end(), f) != formats.end();
    };
    const Rule& q1 = rules.get(kQnt1);
    if (e == Engine::sglang && prefer == Prefer::speed && has("mxfp4") && rules.enabled(kEng5)) {
        add("mxfp4", kEng5, "MXFP4 with --prefer speed on SGLang");
    }
    if (q1.enabled && has(q1.quant)) {
        add(q1.quant, kQnt1, "AWQ is the production default (R-QNT-1, R-QNT-3)");
    }
    // No AWQ: the native low-bit checkpoint (MXFP4 for gpt-oss, FP8 for DeepSeek), then FP8
    // before BF16 (half the bytes read per token on a bandwidth-bound box), then the native one.
    auto native = [&](const model::Variant& v) {
        return !is_gguf_format(v.format) && base::iequals(v.repo, spec.hf_id);
    };
    for (const model::Variant& v : variants) {
        if (native(v) && (v.format == "mxfp4" || v.format == "fp8")) {
            add(v.format, kQnt3, "the native low-bit checkpoint, no AWQ published");
        }
    }
    if (has("fp8")) {
        add("fp8", kQnt3,
            "FP8 before BF16 where no AWQ is published (half the bytes read per token)");
    }
    for (const model::Variant& v : variants) {
        if (native(v)) add(v.format, kQnt3, "the native checkpoint, no AWQ published");
    }
    // The rest, largest first: memory-constrained (R-QNT-3); NVFP4 last (R-QNT-2).
    std::vector<std::pair<std::uint64_t, std::string>> rest;
    for (const std::string& f : formats) {
        if (seen.count(f) || f == rules.get(kQnt2).quant) continue;
        fit::FitOptions fo = o;
        fo.quant = f;
        fo.performance.reset();
        auto s = fit::fit_model(spec, variants, e, fo);
        if (s) rest.emplace_back(s->estimate.memory.weights_bytes, f);
    }
    std::sort(rest.rbegin(), rest.rend());
    for (const auto& [bytes, f] : rest) {
        add(f, kQnt3, "a smaller published checkpoint (memory-constrained)");
    }
    if (has("nvfp4") && rules.enabled(kQnt2)) {
        add("nvfp4", kQnt2, "NVFP4 only when fitting matters more than speed");
    }
    for (const std::string& f : formats) add(f, kQnt3, "published");
    if (cands.empty()) add("bf16", kQnt3, "no safetensors checkpoint published: bf16 as a what-if");
    return cands;
}

}  // namespace

const model::Variant* variant_of(const std::vector<model::Variant>& variants, Engine e,
                                 const std::string& quant) {
    for (const model::Variant& v : variants) {
        if (is_gguf_format(v.format) != (e == Engine::llama_cpp)) continue;
        if (v.format == quant ||
            fit::is_same_quant(fit::Quant{quant, engines::weight_format(e), 0}, v.format)) {
            return &v;
        }
    }
    return nullptr;
}

base::Result<QuantChoice> choose_quant(const model::ModelSpec& spec,
                                       const std::vector<model::Variant>& variants, Engine e,
                                       const fit::FitOptions& o, Prefer prefer,
                                       const RuleBook& rules) {
    // --quant is the user's choice; a file is what it is.
    const bool is_file = spec.source != model::SourceKind::catalog;
    if (!o.quant.empty() || (is_file && spec.quant)) {
        auto f = fit::fit_model(spec, variants, e, o);
        if (!f) return f.error();
        QuantChoice c;
        c.rule = o.quant.empty() ? std::string(kPlan11) : std::string(kQnt3);
        c.reason = o.quant.empty() ? "the file's own quantization" : "forced by --quant";
        c.variant = is_file ? nullptr : variant_of(variants, e, f->quant);
        c.fit = std::move(*f);
        return c;
    }

    const std::vector<Candidate> cands = candidates(spec, variants, e, o, prefer, rules);
    std::vector<fit::FitResult> sized;
    for (const Candidate& c : cands) {
        fit::FitOptions fo = o;
        fo.quant = c.quant;
        auto f = fit::fit_model(spec, variants, e, fo);
        if (!f) return f.error();
        f->quant_origin = "default";
        if (!f->supported) {  // the model, not the quantization: nothing to choose
            return QuantChoice{std::move(*f), nullptr, c.rule, f->unsupported_reason, {}, ""};
        }
        sized.push_back(std::move(*f));
    }
    auto weights = [&](std::size_t i) { return sized[i].estimate.memory.weights_bytes; };
    // llama.cpp: the largest that fits. vLLM/SGLang: the first preferred that fits.
    std::vector<std::size_t> order(cands.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (e == Engine::llama_cpp) {
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t x, std::size_t y) { return weights(x) > weights(y); });
    }
    std::optional<std::size_t> pick;
    for (std::size_t i : order) {
        if (sized[i].estimate.fits) {
            pick = i;
            break;
        }
    }
    const bool fits = pick.has_value();
    // --prefer speed: the fastest predicted candidate that fits, setting the order aside.
    auto speed = [&](std::size_t i) {
        return sized[i].performance ? sized[i].performance->decode_tokens_per_s_total : 0.0;
    };
    std::optional<std::size_t> by_order;
    if (prefer == Prefer::speed && fits && sized[*pick].performance) {
        by_order = pick;
        for (std::size_t i : order) {
            if (sized[i].estimate.fits && speed(i) > speed(*pick)) pick = i;
        }
        if (*pick == *by_order) by_order.reset();
    }
    if (!pick) {  // nothing fits: the smallest, for the suggestions
        pick = order.front();
        for (std::size_t i : order) {
            if (weights(i) < weights(*pick)) pick = i;
        }
    }
    QuantChoice c;
    c.variant = variant_of(variants, e, sized[*pick].quant);
    c.rule = cands[*pick].rule;
    c.reason = cands[*pick].why + (c.variant ? " (" + c.variant->repo + ")" : "") +
               (fits ? "" : "; nothing published fits: the smallest is kept for the suggestions");
    if (by_order) {
        c.rule = kPlan18;
        c.set_aside = cands[*by_order].rule;
        c.reason = "--prefer speed: the fastest predicted variant that fits (" + f1(speed(*pick)) +
                   " tokens/s" + (c.variant ? ", " + c.variant->repo : std::string()) +
                   "); sets aside " + c.set_aside + ", which picks " + sized[*by_order].quant +
                   " (" + f1(speed(*by_order)) + " tokens/s)";
    }
    for (std::size_t i = 0; i < cands.size(); ++i) {
        if (i == *pick) continue;
        const fit::FitResult& other = sized[i];
        std::string why;
        if (!other.estimate.fits) {
            why = "does not fit: total " + b(other.estimate.memory.total_bytes) + " > budget " +
                  b(o.budget_bytes);
        } else if (prefer == Prefer::speed && other.performance && sized[*pick].performance) {
            why = "predicted slower: " + f1(speed(i)) + " tokens/s";
        } else if (e == Engine::llama_cpp) {
            why = "smaller than " + sized[*pick].quant + ", which fits (keeps the largest)";
        } else {
            why = "less preferred (" + cands[i].rule + ")";
        }
        c.rejected.push_back({other.quant, why});
    }
    c.fit = std::move(sized[*pick]);
    return c;
}

}  // namespace sparkctl::plan
