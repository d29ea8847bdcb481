#include "fit/step_cost.h"

#include <algorithm>
#include <set>

namespace sparkctl::fit {

double StepCost::Piecewise::operator()(double ctx) const {
    // x is short (0 and the distinct windows: one or two in practice).
    std::size_t i = 0;
    while (i + 1 < x.size() && x[i + 1] <= ctx) ++i;
    if (i + 1 < x.size()) {
        const double f = (ctx - x[i]) / (x[i + 1] - x[i]);
        return y[i] + f * (y[i + 1] - y[i]);
    }
    return y[i] + (ctx - x[i]) * tail_slope;
}

base::Result<StepCost> StepCost::make(const ModelCosts& m, const PerfConstants& c, const HwCaps& hw,
                                      std::uint32_t nodes, std::uint32_t max_seqs,
                                      std::uint32_t max_chunk_tokens) {
    if (!hw.reference_flops_per_s) {
        return base::make_error(base::Errc::bad_input,
                                "step cost: the hardware profile publishes no compute peak, so "
                                "prefill time is unknown");
    }
    if (max_seqs == 0 || max_chunk_tokens == 0 || nodes == 0) {
        return base::make_error(base::Errc::bad_input,
                                "step cost: sequences, chunk tokens and nodes must be at least 1");
    }
    StepCost s;
    s.decode_base_s_.resize(max_seqs + 1u, 0.0);
    s.decode_shared_s_.resize(max_seqs + 1u, 0.0);
    const double layer_s = m.n_layers * c.layer_overhead_s;
    for (std::uint32_t n = 1; n <= max_seqs; ++n) {
        const StepTime t = decode_step(m, c, hw, n, 0, nodes);
        s.decode_base_s_[n] = t.total();
        s.decode_shared_s_[n] = t.weights_s + layer_s;
    }
    // Breakpoints of min(ctx, window): 0 and every distinct window.
    std::set<double> xs{0.0};
    for (const LayerCosts& l : m.layers) {
        if (l.window > 0) xs.insert(l.window);
    }
    const StepTime at0 = decode_step(m, c, hw, 1, 0, nodes);
    auto per_seq = [&](double ctx) {
        const StepTime t = decode_step(m, c, hw, 1, ctx, nodes);
        return (t.kv_s + t.attention_s) - (at0.kv_s + at0.attention_s);
    };
    auto attn = [&](double ctx) { return decode_step(m, c, hw, 1, ctx, nodes).attention_s; };
    for (double x : xs) {
        s.per_seq_ctx_s_.x.push_back(x);
        s.per_seq_ctx_s_.y.push_back(per_seq(x));
        s.attn_per_token_s_.x.push_back(x);
        s.attn_per_token_s_.y.push_back(attn(x));
    }
    const double last = *xs.rbegin();
    s.per_seq_ctx_s_.tail_slope = per_seq(last + 1) - per_seq(last);
    s.attn_per_token_s_.tail_slope = attn(last + 1) - attn(last);
    // Prefill less its attention, which is the only term that depends on depth.
    s.prefill_base_s_.resize(max_chunk_tokens + 1u, 0.0);
    for (std::uint32_t p = 1; p <= max_chunk_tokens; ++p) {
        const double t = prefill_time_s(m, c, hw, 1, p, 0, p, nodes);
        s.prefill_base_s_[p] = t - p * s.attn_per_token_s_(p / 2.0);
    }
    return s;
}

double StepCost::decode_s(std::uint32_t n_seqs, double depth_sum) const {
    if (n_seqs == 0) return 0;
    const std::uint32_t n = std::min(n_seqs, max_seqs());
    const double base = n == n_seqs ? decode_base_s_[n] : decode_base_s_[n] * n_seqs / n;
    return base + n_seqs * per_seq_ctx_s_(depth_sum / n_seqs);
}

double StepCost::prefill_s(std::uint32_t tokens, double ctx_sum) const {
    if (tokens == 0) return 0;
    const std::uint32_t cap = max_chunk_tokens();
    // Beyond the tabulated chunk: passes of the largest chunk (as prefill_time_s splits).
    const double passes = tokens <= cap ? 1.0 : static_cast<double>((tokens + cap - 1) / cap);
    const double per_pass = tokens / passes;
    const auto p = static_cast<std::uint32_t>(std::max(1.0, per_pass));
    return passes * prefill_base_s_[std::min(p, cap)] +
           tokens * attn_per_token_s_(ctx_sum / tokens);
}

double StepCost::step_s(std::uint32_t n_seqs, double depth_sum, std::uint32_t prefill_tokens,
                        double prefill_ctx_sum) const {
    const double d = decode_s(n_seqs, depth_sum);
    const double p = prefill_s(prefill_tokens, prefill_ctx_sum);
    if (n_seqs == 0 || prefill_tokens == 0) return d + p;
    const double shared = decode_shared_s_[std::min(n_seqs, max_seqs())];
    return std::max(std::max(d, p), d + p - shared);
}

}  // namespace sparkctl::fit
