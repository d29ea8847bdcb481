#include "cli/fit_json.h"

#include <optional>

namespace sparkctl::cli {

namespace {

using nlohmann::json;

json opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

nlohmann::json performance_json(const fit::Performance& p) {
    return {{"parallel", p.parallel},
            {"depth", p.depth},
            {"prompt", p.prompt},
            {"nodes", p.nodes},
            {"ubatch", p.ubatch},
            {"decode_tokens_per_s", p.decode_tokens_per_s},
            {"decode_tokens_per_s_total", p.decode_tokens_per_s_total},
            {"decode_ceiling_tokens_per_s", p.decode_ceiling_tokens_per_s},
            {"decode_ceiling_tokens_per_s_total", p.decode_ceiling_tokens_per_s_total},
            {"decode_ceiling_fraction", p.decode_ceiling_fraction},
            {"decode_bytes_per_step", p.decode_bytes_per_step},
            {"prefill_tokens_per_s", opt(p.prefill_tokens_per_s)},
            {"prefill_tokens_per_s_single", opt(p.prefill_tokens_per_s_single)},
            {"prefill_ceiling_tokens_per_s", opt(p.prefill_ceiling_tokens_per_s)},
            {"prefill_ceiling_fraction", opt(p.prefill_ceiling_fraction)},
            {"prefill_flops_per_token", p.prefill_flops_per_token},
            {"ttft_ms", opt(p.ttft_ms)},
            {"itl_ms", p.itl_ms},
            {"tp_speedup", opt(p.tp_speedup)},
            {"constants", p.constants_source},
            {"calibrated", p.calibrated}};
}

}  // namespace sparkctl::cli
