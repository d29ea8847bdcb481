// `sparkctl fit` as a library: prices one quantization (the one it is given, or a file's own),
// the weights (exact from a file, else estimated), the context (docs/dev/fit.md), and runs the
// memory model and both solvers for one engine, per node under tensor parallelism. It does not
// choose a quantization: plan::choose_quant (plan/quant_choice.h) owns the decision order, and
// both `sparkctl fit` and `sparkctl plan` call it. Pure (no I/O), thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "engines/engine.h"
#include "fit/memory.h"
#include "fit/performance.h"
#include "model/catalog.h"
#include "model/model_spec.h"

namespace sparkctl::fit {

// Context used when none is given: the trained context, capped (spark-knowledge.md "Words").
inline constexpr std::uint64_t kDefaultContextCap = 32768;

struct FitOptions {
    std::string quant;                     // "" -> the file's own (an error for a catalog model)
    std::optional<std::uint64_t> context;  // per sequence; nullopt -> default
    std::uint32_t parallel = 1;
    // Machines in tensor parallel (SPARKCTL-PLAN-8): memory is per node (weights / TP, KV heads
    // / TP, at least one), and the speed prediction runs at this many nodes.
    std::uint32_t tensor_parallel = 1;
    std::string kv_cache_dtype = "auto";
    std::uint64_t budget_bytes = 0;
    std::uint64_t memory_total_bytes = 0;
    // llama.cpp's -ub and -b (other engines ignore them); 0: default_ubatch (fit/performance.h)
    // and a logical batch of at least llama.cpp's default 2048 (LC:common/common.h n_batch).
    std::uint32_t ubatch = 0;
    std::uint32_t batch = 0;
    // llama-server's --cache-ram (MiB; -1 no limit, 0 off) and --ctx-checkpoints (per slot);
    // nullopt: what `plan` sets (SPARKCTL-PLAN-19, FitRequest). Other engines ignore them.
    std::optional<std::int64_t> cache_ram_mib;
    std::optional<std::uint32_t> ctx_checkpoints;
    // Speed prediction (fit/performance.h): set both to get FitResult::performance (its nodes
    // field is replaced by tensor_parallel).
    std::optional<PerfRequest> performance;
    std::optional<HwCaps> performance_hw;
    // The constants it uses (config option `constants`, fit/constants_file.h); nullptr: the
    // built-in table.
    const ConstantsTable* constants = nullptr;
};

struct FitResult {
    engines::Engine engine = engines::Engine::llama_cpp;
    bool supported = true;  // false: the engine cannot load this model as given
    std::string unsupported_reason;
    std::string quant;             // canonical
    bool quant_published = false;  // a checkpoint in this format exists (or is the file)
    std::string quant_origin;      // "file", "requested", "default"
    std::string weights_source;    // "file", "estimate", "params_total"
    std::uint64_t context = 0;
    std::string context_origin;  // "requested", "trained", "trained-capped", "default"
    std::uint32_t parallel = 1;
    std::uint32_t tensor_parallel = 1;  // > 1: estimate, max_* and headroom are per node
    std::string kv_cache_dtype;         // canonical for the engine
    std::uint32_t ubatch = 0;           // llama.cpp -ub as sized (0 for other engines)
    std::uint32_t batch = 0;            // llama.cpp -b as sized (0 for other engines)
    // Where MemoryBreakdown::compute_bytes comes from: "modelled" (every engine on CUDA today:
    // SPARKCTL-FIT-1 is calibrated on CPU-backend llama-server runs, no CUDA run is recorded;
    // docs/dev/fit.md "Compute buffers on CUDA").
    std::string compute_basis = "modelled";
    Estimate estimate;
    std::uint64_t max_context = 0;
    std::uint32_t max_parallel = 0;
    std::int64_t headroom_bytes = 0;  // budget - total
    std::vector<std::string> notes;   // warnings and assumptions, for people
    // Speed at FitOptions::performance; nullopt when not asked for or not predictable (a note
    // says why).
    std::optional<Performance> performance;
};

// Why `arch` cannot be split over `tp` machines in tensor parallel (the heads must divide), or
// "" when it can.
std::string tensor_parallel_problem(const model::Arch& arch, std::uint32_t tp);

// Fits `spec` on `engine` at FitOptions::quant (or the file's own quantization). `variants` are
// the model's published checkpoints (empty for files), for quant_published. An architecture too
// incomplete to size, a file the engine cannot load, or tensor parallel on llama.cpp gives a
// result with supported = false and the reason (and zero memory). Errors: bad_input for an
// unknown quant or --kv-cache-dtype for this engine, no quant for a model that has none of its
// own, a tensor parallel the heads do not divide, or a speed request predict() rejects.
base::Result<FitResult> fit_model(const model::ModelSpec& spec,
                                  const std::vector<model::Variant>& variants,
                                  engines::Engine engine, const FitOptions& options);

}  // namespace sparkctl::fit
