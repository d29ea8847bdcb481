// `sparkctl fit` as a library: resolves the quantization (the file's, an explicit what-if, or the
// one spark-knowledge.md's decision order picks among published variants), the weights (exact
// from a file, else estimated), the context (spark-knowledge.md "Words"), and runs the memory
// model and both solvers for one engine. Pure (no I/O), thread-safe.
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
    std::string quant;                     // "" -> the decision order's pick
    std::optional<std::uint64_t> context;  // per sequence; nullopt -> default
    std::uint32_t parallel = 1;
    std::string kv_cache_dtype = "auto";
    std::uint64_t budget_bytes = 0;
    std::uint64_t memory_total_bytes = 0;
    // Speed prediction (fit/performance.h): set both to get FitResult::performance.
    std::optional<PerfRequest> performance;
    std::optional<HwCaps> performance_hw;
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
    std::string kv_cache_dtype;  // canonical for the engine
    Estimate estimate;
    std::uint64_t max_context = 0;
    std::uint32_t max_parallel = 0;
    std::int64_t headroom_bytes = 0;  // budget - total
    std::vector<std::string> notes;   // warnings and assumptions, for people
    // Speed at FitOptions::performance; nullopt when not asked for or not predictable (a note
    // says why).
    std::optional<Performance> performance;
};

// Notes about loading memory for one node's MemoryBreakdown (peak above the device, page cache
// while reading safetensors). fit_model adds them; plan restates them per node for clusters.
std::vector<std::string> memory_notes(engines::Engine engine, const MemoryBreakdown& memory,
                                      std::uint64_t memory_total_bytes);

// Fits `spec` on `engine`. `variants` are the model's published checkpoints (empty for files).
// An architecture too incomplete to size, or a file the engine cannot load, gives a result with
// supported = false and the reason (and zero memory). Errors: bad_input for an unknown --quant
// or --kv-cache-dtype for this engine, or a speed request predict() rejects.
base::Result<FitResult> fit_model(const model::ModelSpec& spec,
                                  const std::vector<model::Variant>& variants,
                                  engines::Engine engine, const FitOptions& options);

}  // namespace sparkctl::fit
