// The performance model: prefill and decode speed of one model on one engine, quantization and
// hardware profile, single stream and batched, at a context depth, on one or more nodes (tensor
// parallel). Physics first (bytes moved, FLOPs, all-reduce traffic), then a few efficiency
// constants per engine x quantization family fitted to published DGX Spark measurements
// (fit/calibration.h, data/perf-constants.toml). Formulas: docs/dev/performance-model.md.
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engines/engine.h"
#include "hw/profile.h"
#include "model/model_spec.h"

namespace sparkctl::fit {

// ---------------------------------------------------------------------------------------------
// Physics of one model in one quantization (no efficiency constants).

struct LayerCosts {
    model::LayerKind kind = model::LayerKind::full_attention;
    double kv_bytes_per_token = 0;        // K + V (or the MLA latent) of one cached token
    double attn_flops_per_ctx_token = 0;  // FLOPs per query token per attended token
    double window = 0;                    // 0: attends the whole context
    double state_bytes = 0;               // recurrent state read per step per sequence
};

struct ModelCosts {
    std::uint32_t n_layers = 0;
    double hidden = 0;
    double dense_weight_bytes = 0;   // read every step: attention, dense FFN, shared experts,
                                     // norms, router, output (lm_head or tied embeddings)
    double expert_weight_bytes = 0;  // routed experts of all layers
    double n_experts = 0;            // 0: dense model
    double n_experts_per_token = 0;
    double dense_flops_per_token = 0;   // 2 x parameters of the dense linear layers
    double expert_flops_per_token = 0;  // 2 x parameters of the experts one token uses
    double output_flops_per_token = 0;  // 2 x vocab x hidden: logits, once per sequence in prefill
    // llama.cpp only: F32 intermediates its FFN graph writes and reads back per token, all
    // layers (activation_bytes_per_token() in performance.cpp); 0 for the fused engines.
    double activation_bytes_per_token = 0;
    std::vector<LayerCosts> layers;
    bool from_params_only = false;  // no tensor inventory: weights from params_total
};

// Which tensors a build stores in the quantization's narrow format. `stock`: the format's own
// rule (mxfp4 on vLLM/SGLang: routed experts only; attention, router and lm_head stay BF16, as
// the checkpoint's quantization_config.modules_to_not_convert lists and V:vllm/model_executor/
// layers/quantization/mxfp4.py keeps them: LinearBase -> UnquantizedLinearMethod).
// `mxfp4_all_linear`: community vLLM builds run with `--mxfp4-layers moe,qkv,o,lm_head`
// (github.com/christopherowen/spark-vllm-mxfp4-docker README; the `vllm-node-mxfp4` image of
// github.com/eugr/spark-vllm-docker) also hold the attention projections and lm_head as MXFP4.
enum class WeightLayout { stock, mxfp4_all_linear };

// A measurement's `weight_layout` cell: "" (stock) or "mxfp4-layers=moe,qkv,o,lm_head".
std::optional<WeightLayout> parse_weight_layout(std::string_view text);
const char* to_string(WeightLayout layout);  // "stock", "mxfp4-layers=moe,qkv,o,lm_head"

// Costs of `spec` quantized as `quant` (canonical name for `engine`), with the KV cache type
// `kv_cache_dtype` ("auto" or a type the engine accepts), stored as `layout`. A file's own
// tensors are used when the quantization is the file's; otherwise the estimator's inventory
// (fit/weights.h). Errors: bad_input for an unknown quantization or KV type, a layout the
// quantization has not (mxfp4_all_linear needs mxfp4 on vLLM or SGLang), or an architecture
// too incomplete to price (the message names the missing fact).
base::Result<ModelCosts> model_costs(const model::ModelSpec& spec, engines::Engine engine,
                                     std::string_view quant, std::string_view kv_cache_dtype,
                                     WeightLayout layout = WeightLayout::stock);

// ---------------------------------------------------------------------------------------------
// Efficiency constants (fitted; never per model).

struct PerfConstants {
    double weights_bw_eff = 1;  // fraction of memory bandwidth reached reading weights
    // Fractions of the reference peak (reference_flops(): on the DGX Spark the sparse FP4
    // 1 PFLOP/s, so these are "of the sparse FP4 peak", not of a dense BF16 peak). In the TOML:
    // gemm_eff_of_sparse_fp4_peak, attn_eff_of_sparse_fp4_peak.
    double gemm_eff = 1;             // linear layers
    double kv_bw_eff = 1;            // fraction of memory bandwidth reached reading the KV cache
    double attn_eff = 1;             // attention FLOPs
    double moe_half_tokens = 0;      // tokens per expert at which expert GEMMs reach half speed
    double layer_overhead_s = 0;     // fixed time per layer per forward pass (launches, syncs)
    double allreduce_latency_s = 0;  // fixed time per all-reduce with tensor parallel
    // Routing overlap rho of the sequences decoding together: B sequences touch the experts
    // B_eff = B / (1 + (B - 1) rho) independent uniformly routed tokens would (rho = 0: uniform
    // routing's expected union, the most any router can touch on average).
    double expert_overlap = 0;
    // Fixed time per sequence per decode step (scheduling, sampling, detokenising): what makes
    // large batches saturate before the bandwidth bound.
    double seq_overhead_s = 0;
};

// The quantization family constants are kept per: llama.cpp "mxfp4", "float" (F16/BF16/F32),
// "ggml" (integer block quants: Q8_0, Q4_K_M, ...); vLLM and SGLang "float" (bf16/fp16),
// "fp8", "int4" (awq, gptq), "mxfp4", "nvfp4" (each its own kernels). A build with another
// weight layout is its own family ("mxfp4-layers": community builds with other kernels), so
// the stock families `sparkctl fit` uses are fitted on stock builds only.
std::string quant_family(engines::Engine engine, std::string_view quant,
                         WeightLayout layout = WeightLayout::stock);

// One engine's constants: the shared ones and one set per quantization family.
// The prompt-processing GEMM efficiency of one quantization type inside a family that spans
// several kernels. llama.cpp's "ggml" family runs each integer type through its own CUDA
// matrix-multiplication tiles (ggml/src/ggml-cuda/mmq.cuh, mmq_get_dp4a_tile_x_sizes: Q8_0's
// weight tile holds twice the quant bytes of Q4_0's; per-type load_tiles_* and vec_dot_*), so
// the published llama-bench pp2048 rows run Q8_0 and Q4_0 at different fractions of the peak.
struct TypeGemmConstants {
    std::string quant;  // lower case canonical quantization name: "q8_0"
    double gemm_eff = 1;
    std::uint32_t n_fit_rows = 0;  // prefill fit rows of this type
};

struct FamilyConstants {
    std::string family;
    double weights_bw_eff = 1;
    double gemm_eff = 1;              // the family's, for its types without their own
    std::vector<std::string> fitted;  // names of the constants fitted from data (else borrowed)
    std::uint32_t n_fit_rows = 0;
    std::vector<TypeGemmConstants> types;  // fitted per-type gemm_eff (see above)
};

struct EngineConstants {
    engines::Engine engine = engines::Engine::llama_cpp;
    PerfConstants shared;  // weights_bw_eff and gemm_eff unused here (see families)
    std::vector<std::string> fitted;
    std::vector<std::string> borrowed;  // "name <- source" for constants without data
    // Fitted constants the fit drove to a bound of their range (an efficiency to 1, a time to
    // ~0): "layer_overhead_s", "fp4.weights_bw_eff". The data wanted more than the physics
    // allows there; the constant is a limit, not a measurement.
    std::vector<std::string> at_bound;
    std::vector<FamilyConstants> families;
};

// Where a table calibrated on this box's benchmark runs came from (`sparkctl calibrate`; the
// TOML's [provenance] table).
struct ConstantsProvenance {
    std::uint32_t runs = 0;  // benchmark runs that gave rows
    std::vector<std::int64_t> run_ids;
    std::uint32_t fit_rows = 0;
    std::uint32_t holdout_rows = 0;
    // Median absolute percentage error (0.05 = 5%) of the holdout rows, both metrics; nullopt
    // when there were none.
    std::optional<double> holdout_error;
    std::string date;  // ISO 8601 UTC
};

struct ConstantsTable {
    std::string generated_by;  // the command that wrote it
    std::optional<ConstantsProvenance> provenance;
    std::vector<EngineConstants> engines;
    // How predictions name this table after their source (resolve_constants): "" for the
    // built-in table, "local: calibrated on 3 local runs, holdout error 2.1%", "file: PATH".
    // Not stored in the file (the loader, fit/constants_file.h, sets it).
    std::string label;
};

// The constants a prediction uses, and where they came from ("llama.cpp/ggml", or a fallback
// such as "vllm/fp8 <- llama.cpp/ggml" when no measurement of that family was fitted), followed
// by the table's label in parentheses when it has one. With
// `quant` (any case) the family's own gemm_eff for that type when it has one
// ("llama.cpp/ggml/q8_0").
struct ResolvedConstants {
    PerfConstants constants;
    std::string source;
    bool calibrated = false;  // the family's own constants were fitted for this engine
    // Of these constants, those fitted at a bound: "vllm/layer_overhead_s",
    // "llama.cpp/mxfp4.weights_bw_eff".
    std::vector<std::string> at_bound;
};
ResolvedConstants resolve_constants(const ConstantsTable& table, engines::Engine engine,
                                    std::string_view family, std::string_view quant = {});

// The table compiled into the binary (data/perf-constants.toml). Never fails: the build checks
// the committed file (calibration_test).
const ConstantsTable& builtin_constants();

// ---------------------------------------------------------------------------------------------
// Hardware and requests.

struct HwCaps {
    double memory_bandwidth_bytes_per_s = 0;
    std::optional<double> reference_flops_per_s;  // see reference_flops()
    std::optional<double> interconnect_bytes_per_s;
    std::uint64_t memory_total_bytes = 0;  // for engine defaults that depend on it
};

// The reference compute peak efficiency constants are relative to: the highest tensor peak the
// profile publishes, sparse or dense, any precision (DGX Spark: sparse FP4, 1 PFLOP/s; its
// dense peaks are unpublished). nullopt when the profile has none.
std::optional<double> reference_flops(const hw::HardwareProfile& profile);
// Errors: bad_input when the profile has no memory bandwidth.
base::Result<HwCaps> hw_caps(const hw::HardwareProfile& profile);

struct PerfRequest {
    std::uint32_t parallel = 1;  // sequences decoding together / prompts prefilled together
    std::uint64_t depth = 0;     // tokens already in each sequence's KV cache
    std::uint64_t prompt = 512;  // prompt tokens per request (llama-bench's default -p 512)
    std::uint32_t nodes = 1;     // tensor parallel across this many machines
    std::uint32_t ubatch = 0;    // tokens per prefill forward pass; 0: default_ubatch
};

// Tokens per prefill forward pass as sparkctl launches the engine (the one owner of the default:
// fit, plan and simulate read it): llama.cpp -ub 2048, what every published DGX Spark llama.cpp
// benchmark runs (LC:benches/dgx-spark.md, llama-bench -ub 2048; docs/dev/fit.md), vLLM
// max_num_batched_tokens (engines/alloc.h), SGLang chunked_prefill_size (engines/alloc.h
// gpu_defaults), both by device memory.
std::uint32_t default_ubatch(engines::Engine engine, std::uint64_t memory_total_bytes);

// Time of one forward pass, by term (seconds, per node).
struct StepTime {
    double weights_s = 0;
    double kv_s = 0;
    double linear_s = 0;
    double attention_s = 0;
    double overhead_s = 0;
    double allreduce_s = 0;
    double total() const {
        return weights_s + kv_s + linear_s + attention_s + overhead_s + allreduce_s;
    }
};

// One decode step of `n_seqs` sequences each attending `ctx` tokens. Pure physics with the
// given constants; `bytes` receives the bytes read per node when non-null.
StepTime decode_step(const ModelCosts& m, const PerfConstants& c, const HwCaps& hw, double n_seqs,
                     double ctx, std::uint32_t nodes, double* bytes = nullptr);

// The decode bandwidth bound: tokens/s of `n_seqs` sequences attending `ctx` tokens if every
// byte that must be read were read at the full memory bandwidth. The weights counted are the
// least any routing reads: the dense part and k of E experts per layer (all sequences agreeing;
// at one sequence exactly what is read), so no measurement can exceed it. `bytes` receives the
// bytes per node when non-null.
double decode_ceiling_tokens_per_s(const ModelCosts& m, const HwCaps& hw, double n_seqs, double ctx,
                                   std::uint32_t nodes, double* bytes = nullptr);

// Prefill of `n_prompts` prompts of `prompt` tokens each at depth `depth`, in passes of at most
// `ubatch` tokens. Returns the total time; `flops` receives the FLOPs per node when non-null.
// Requires reference_flops (callers check).
double prefill_time_s(const ModelCosts& m, const PerfConstants& c, const HwCaps& hw,
                      double n_prompts, double prompt, double depth, double ubatch,
                      std::uint32_t nodes, double* flops = nullptr);

struct Performance {
    std::uint32_t parallel = 1;
    std::uint64_t depth = 0;
    std::uint64_t prompt = 0;
    std::uint32_t nodes = 1;
    std::uint32_t ubatch = 0;
    double decode_tokens_per_s = 0;                // per sequence, `parallel` decoding together
    double decode_tokens_per_s_total = 0;          // all sequences together
    double decode_ceiling_tokens_per_s = 0;        // bandwidth bound, per sequence
    double decode_ceiling_tokens_per_s_total = 0;  // bandwidth bound, all sequences
    double decode_ceiling_fraction = 0;            // prediction / ceiling
    double decode_bytes_per_step = 0;              // per node, all sequences, expected experts read
    // Prefill: nullopt when the hardware profile publishes no compute peak.
    std::optional<double> prefill_tokens_per_s;          // aggregate, `parallel` prompts together
    std::optional<double> prefill_tokens_per_s_single;   // one prompt
    std::optional<double> prefill_ceiling_tokens_per_s;  // compute bound at the reference peak
    std::optional<double> prefill_ceiling_fraction;
    double prefill_flops_per_token = 0;  // per node, one prompt at `depth`
    std::optional<double> ttft_ms;       // one request: its prefill
    double itl_ms = 0;                   // 1 / per-sequence decode rate at `parallel`
    std::optional<double> tp_speedup;    // decode at `nodes` / decode on one node
    std::string constants_source;
    bool calibrated = false;
    std::vector<std::string> notes;
};

// Predicts `request` with `constants`. Errors: bad_input for nodes > 1 without an interconnect
// in the profile, parallel 0 or nodes 0.
base::Result<Performance> predict(const ModelCosts& m, const ResolvedConstants& constants,
                                  const HwCaps& hw, engines::Engine engine,
                                  const PerfRequest& request);

}  // namespace sparkctl::fit
