// The step-cost API: the time of one engine forward pass with an arbitrary batch (sequences
// decoding at their depths plus prefill chunks), priced by the same performance model as
// decode_step() and prefill_time_s(), in O(1) after a per-deployment setup. The simulator
// (src/sim/) calls it once per engine step. Thread-safe after construction (const methods).
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "fit/performance.h"

namespace sparkctl::fit {

class StepCost {
  public:
    // Tabulates the model for up to `max_seqs` sequences decoding together and prefill chunks of
    // up to `max_chunk_tokens` tokens per pass. Errors: bad_input when the hardware has no compute
    // peak (prefill unknown), max_seqs or max_chunk_tokens is 0, or nodes is 0.
    static base::Result<StepCost> make(const ModelCosts& m, const PerfConstants& c,
                                       const HwCaps& hw, std::uint32_t nodes,
                                       std::uint32_t max_seqs, std::uint32_t max_chunk_tokens);

    // One decode step of `n_seqs` sequences whose depths (tokens in their KV cache) sum to
    // `depth_sum`: decode_step(n, depth_sum / n).total(), exactly (sequences are priced at their
    // mean depth; the model is linear in depth except below a sliding window).
    double decode_s(std::uint32_t n_seqs, double depth_sum) const;

    // One prefill pass of `tokens` tokens whose attended contexts sum to `ctx_sum` (a chunk of p
    // tokens starting at depth d attends p * (d + p / 2): the causal half). For one chunk this is
    // prefill_time_s(1 prompt of `tokens` at depth d, ubatch = tokens), exactly.
    double prefill_s(std::uint32_t tokens, double ctx_sum) const;

    // A mixed pass (vLLM chunked prefill: decode tokens and a prefill chunk in one forward): both
    // parts, with the weights read and the per-layer fixed time counted once. Either part may be
    // empty. At least the larger part alone.
    double step_s(std::uint32_t n_seqs, double depth_sum, std::uint32_t prefill_tokens,
                  double prefill_ctx_sum) const;

    std::uint32_t max_seqs() const { return static_cast<std::uint32_t>(decode_base_s_.size() - 1); }
    std::uint32_t max_chunk_tokens() const {
        return static_cast<std::uint32_t>(prefill_base_s_.size() - 1);
    }

  private:
    // A piecewise-linear function of context depth, sampled at its breakpoints (0 and each
    // distinct sliding window), with the slope past the last one.
    struct Piecewise {
        std::vector<double> x;
        std::vector<double> y;
        double tail_slope = 0;
        double operator()(double ctx) const;
    };

    std::vector<double> decode_base_s_;    // [n]: decode_step(n, 0).total()
    std::vector<double> decode_shared_s_;  // [n]: weights + per-layer time of that step
    std::vector<double> prefill_base_s_;   // [p]: prefill of p tokens less its attention
    Piecewise per_seq_ctx_s_;     // decode time one sequence adds per depth (KV + attention)
    Piecewise attn_per_token_s_;  // attention time of one query token at a context
};

}  // namespace sparkctl::fit
