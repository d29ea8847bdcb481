#include "engines/alloc.h"

#include <algorithm>
#include <cmath>

namespace sparkctl::engines {

namespace llamacpp {

Cells cells(std::uint64_t n_ctx_flag, std::uint32_t n_seq, bool kv_unified, std::uint32_t window,
            std::uint32_t n_ubatch, bool swa_full) {
    Cells c;
    const std::uint32_t np = std::max<std::uint32_t>(1, n_seq);
    c.n_ctx = pad(std::max<std::uint64_t>(1, n_ctx_flag), kCtxPad);
    if (kv_unified) {
        c.n_stream = 1;
        c.n_ctx_seq = c.n_ctx;
    } else {
        c.n_stream = np;
        c.n_ctx_seq = pad(c.n_ctx / np, kCtxPad);
        if (c.n_ctx_seq == 0) c.n_ctx_seq = kCtxPad;
        c.n_ctx = c.n_ctx_seq * np;
    }
    if (window == 0) {
        c.swa = 0;
    } else if (swa_full) {
        c.swa = c.n_ctx;
    } else {
        const std::uint64_t want =
            static_cast<std::uint64_t>(window) * (kv_unified ? np : 1) + n_ubatch;
        c.swa = c.n_stream * pad(std::min(c.n_ctx_seq, want), kCtxPad);
    }
    return c;
}

}  // namespace llamacpp

namespace sglang {

GpuDefaults gpu_defaults(std::uint64_t gpu_mem_mib, std::uint32_t tp) {
    const std::uint64_t gib = 1024;
    if (gpu_mem_mib < 20 * gib) return {2048, 8};
    if (gpu_mem_mib < 35 * gib) return {2048, tp < 4 ? 24u : 80u};
    if (gpu_mem_mib < 60 * gib) return {4096, tp < 4 ? 32u : 160u};
    if (gpu_mem_mib < 90 * gib) return {8192, tp < 4 ? 256u : 512u};
    if (gpu_mem_mib < 160 * gib) return {8192, tp < 4 ? 256u : 512u};
    return {16384, 512};
}

Reserved reserved_mib(std::uint64_t gpu_mem_mib, std::uint32_t tp, std::uint32_t pp) {
    const GpuDefaults d = gpu_defaults(gpu_mem_mib, tp);
    Reserved r;
    r.activation_mib = std::max<double>(d.chunked_prefill_size, 2048) * 1.5;
    r.other_mib = 512.0 + d.cuda_graph_max_bs * 2.0 + tp * pp / 8.0 * 1024.0;
    if (gpu_mem_mib > 60 * 1024 && r.total_mib() < 10240.0) {
        r.other_mib += 10240.0 - r.total_mib();
    }
    return r;
}

double mem_fraction_static(std::uint64_t gpu_mem_mib, std::uint32_t tp, std::uint32_t pp) {
    if (gpu_mem_mib == 0) return 0.88;
    const double reserved = reserved_mib(gpu_mem_mib, tp, pp).total_mib();
    const double f = (static_cast<double>(gpu_mem_mib) - reserved) / gpu_mem_mib;
    return std::round(f * 1000.0) / 1000.0;
}

}  // namespace sglang

}  // namespace sparkctl::engines
