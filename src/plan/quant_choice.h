// The quantization decision (the decision order's step 6; docs/dev/plan.md, "One owner for
// each decision"): the one owner of which quantization a model runs at on an engine. `sparkctl
// plan` and `sparkctl fit` (without --quant) both call choose_quant; fit::fit_model only prices
// the quantization it is given. Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engines/engine.h"
#include "fit/fit.h"
#include "model/catalog.h"
#include "model/model_spec.h"
#include "plan/plan.h"
#include "plan/rules.h"

namespace sparkctl::plan {

// The GGUF ladder of the decision order (docs/dev/plan.md "Quantization"), largest first: what
// llama.cpp plans walk, the what-ifs when no GGUF of the model is published, and the unpublished
// steps a plan suggests ("check that a repository publishes it").
inline constexpr const char* kGgufLadder[] = {"Q8_0",   "Q6_K",   "Q5_K_M", "Q4_K_M",
                                              "IQ4_XS", "Q3_K_M", "Q2_K"};

// True when `quant` (canonical) is a step of kGgufLadder.
inline bool on_gguf_ladder(std::string_view quant) {
    for (const char* q : kGgufLadder) {
        if (quant == q) return true;
    }
    return false;
}

struct QuantChoice {
    fit::FitResult fit;                       // the chosen quantization, priced
    const model::Variant* variant = nullptr;  // its published checkpoint; nullptr: file, what-if
    std::string rule;                         // the rule that picked it
    std::string reason;
    std::vector<Rejected> rejected;  // the other candidates, with why
    std::string set_aside;           // --prefer speed: the rule whose pick it set aside, or ""
    bool fits() const { return fit.supported && fit.estimate.fits; }
};

// The published checkpoint of `variants` that is `quant` on `engine`, or nullptr.
const model::Variant* variant_of(const std::vector<model::Variant>& variants,
                                 engines::Engine engine, const std::string& quant);

// Chooses and prices the quantization of `spec` on `engine` at `options` (context, users,
// KV cache type, tensor parallel, budget; options.quant is --quant). Order: --quant as given
// (R-QNT-3); a file's own quantization (SPARKCTL-PLAN-11); else among the published `variants`
// by the decision order (vLLM/SGLang: AWQ > the native low-bit checkpoint > FP8 > the native one
// > smaller ones, largest first > NVFP4), the first preferred that fits (llama.cpp: the largest
// GGUF that fits), or the smallest when none does; an engine with no published checkpoint gets a
// what-if (the GGUF ladder, or bf16). `prefer` speed with options.performance set picks the
// fastest predicted candidate that fits instead, naming the rule it set aside. Errors:
// fit_model's.
base::Result<QuantChoice> choose_quant(const model::ModelSpec& spec,
                                       const std::vector<model::Variant>& variants,
                                       engines::Engine engine, const fit::FitOptions& options,
                                       Prefer prefer, const RuleBook& rules);

}  // namespace sparkctl::plan
