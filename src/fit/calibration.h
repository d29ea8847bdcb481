// Calibration of the performance model (fit/performance.h): published measurements
// (data/perf-measurements.tsv), the fitted constants file (data/perf-constants.toml), the fit
// itself and the validation of predictions against measurements, split into fit and holdout
// rows by a fixed rule. `sparkctl dev calibrate` and `sparkctl dev validate` are thin wrappers.
// Pure functions (no I/O), thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engines/engine.h"
#include "fit/performance.h"
#include "hw/profile.h"

namespace sparkctl::fit {

// One published measurement. `metric` is "decode" (aggregate tokens/s of `concurrency`
// sequences generating `gen_tokens` tokens after `depth` cached tokens) or "prefill" (aggregate
// tokens/s of `concurrency` prompts of `prompt_tokens` tokens after `depth` cached tokens).
struct Measurement {
    std::string source;
    std::string source_url;
    std::string hardware;  // a built-in profile name
    engines::Engine engine = engines::Engine::llama_cpp;
    std::string engine_version;
    std::string model;          // catalog id of the model measured
    std::string catalog_model;  // catalog id whose architecture prices it ("" = model); for a
                                // model the catalog lacks facts of, one with identical shapes
    std::string quant;          // as the engine's --quant takes it
    std::string kv_cache_dtype = "auto";
    std::string test;  // as the source names it ("pp2048 @ d4096", "B=8 PP=512")
    std::uint64_t prompt_tokens = 0;
    std::uint64_t gen_tokens = 0;
    std::uint64_t depth = 0;
    std::uint32_t concurrency = 1;
    std::uint32_t nodes = 1;
    std::uint32_t ubatch = 0;  // 0: the engine's default as sparkctl launches it
    // What the measured build stores narrow (column weight_layout: "" = the engine's stock
    // layout, "mxfp4-layers=moe,qkv,o,lm_head" = community vLLM builds); the row is priced, and
    // its ceiling computed, with that layout.
    WeightLayout weight_layout = WeightLayout::stock;
    std::string metric;  // "decode" or "prefill"
    double value = 0;    // tokens/s
    std::string split;   // "fit" or "holdout"
    std::string notes;
    std::size_t line = 0;  // in the file, for messages
};

// Parses the TSV (header row, '#' comments). Errors (bad_input, "origin:LINE: ..."): a missing
// column, an unknown engine, metric, split or weight layout, a non-numeric or non-positive
// value.
base::Result<std::vector<Measurement>> parse_measurements(std::string_view text,
                                                          std::string_view origin);

// The split rule, fixed before any fit: FNV-1a 64 of
// "model|engine|quant|test|depth|concurrency|nodes|metric"; holdout when it is 0 mod 3.
std::string split_rule(const Measurement& m);

// The constants file (TOML). Errors: bad_input naming the key.
base::Result<ConstantsTable> parse_constants_toml(std::string_view text, std::string_view origin);
std::string constants_to_toml(const ConstantsTable& table);

// A row predicted with `table`.
struct RowResult {
    const Measurement* row = nullptr;
    std::string skipped;  // why the row could not be priced (the catalog lacks facts); "" = priced
    double predicted = 0;
    double error = 0;  // (predicted - measured) / measured
    std::string constants_source;
    std::string family;  // quant_family() of the row
    // The row's physical bound (decode: decode_ceiling_tokens_per_s with the row's weight
    // layout; prefill: the compute bound at the reference peak); no measurement may exceed it.
    double ceiling = 0;
};

// Predicts every row (models from the catalog). A row whose architecture the catalog does not
// describe fully is skipped (RowResult::skipped) and counts nowhere. Errors: an unknown model,
// quantization or hardware (naming the line).
base::Result<std::vector<RowResult>> evaluate(const std::vector<Measurement>& rows,
                                              const ConstantsTable& table);

// Median absolute percentage error (0.1 = 10%) of the priced rows with `split` and `metric`; `n`
// receives their count. 0 when there are none.
double mdape(const std::vector<RowResult>& results, std::string_view split, std::string_view metric,
             std::size_t* n = nullptr);

// The median absolute percentage error of each engine x quantization family x split x metric
// that has priced rows, in engine, family, split, metric order.
struct ErrorCell {
    engines::Engine engine = engines::Engine::llama_cpp;
    std::string family;
    std::string split;
    std::string metric;
    std::size_t rows = 0;
    double mdape = 0;
};
std::vector<ErrorCell> errors_by_family(const std::vector<RowResult>& results);

// Fits the constants on the rows with split "fit" (the others are never looked at): per
// engine, least squares of log(predicted / measured) by Nelder-Mead; constants without data are
// borrowed (llama.cpp for vLLM/SGLang, vLLM for the all-reduce latency) and listed as such.
// With `base_table` (`sparkctl calibrate`: the built-in table), a constant the rows cannot
// determine is the base's for the same engine and family instead ("name <- builtin"), and the
// base's families and engines no row covers are kept. `generated_by` is recorded in the table.
// Errors: those of evaluate, or no fit rows at all.
base::Result<ConstantsTable> calibrate(const std::vector<Measurement>& rows,
                                       const std::string& generated_by,
                                       const ConstantsTable* base_table = nullptr);

}  // namespace sparkctl::fit
