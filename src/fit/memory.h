// The memory model: what one deployment of a model on one engine needs, laid out by the engine's
// own allocation rules (engines/alloc.h), against the budget of spark-knowledge.md; and the
// solvers for the largest context and parallelism that fit. Formulas and constants:
// docs/dev/fit.md. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engines/engine.h"
#include "model/model_spec.h"

namespace sparkctl::fit {

struct FitRequest {
    engines::Engine engine = engines::Engine::llama_cpp;
    std::uint64_t context = 4096;  // tokens per sequence (prompt + output)
    std::uint32_t parallel = 1;    // sequences served at once
    // vLLM/SGLang: full-context sequences the shared paged KV pool holds (0: parallel). Fewer than
    // parallel: the engine admits `parallel` requests and queues or preempts beyond the pool.
    std::uint32_t pool_sequences = 0;
    engines::KvCacheType kv_type;  // resolved for `engine`
    std::uint64_t weights_bytes = 0;
    std::uint64_t memory_total_bytes = 0;  // the device pool (engine defaults, peak warning)
    std::uint64_t budget_bytes = 0;
    // llama.cpp launch settings sparkctl plans (LC:common/common.h defaults, -fa on, -no-kvu).
    std::uint32_t n_ubatch = 512;
    std::uint32_t n_batch = 2048;
    bool flash_attn = true;
    bool kv_unified = false;
    bool swa_full = false;
    bool mmap = false;  // sparkctl launches llama.cpp with --no-mmap (spark-knowledge.md)
    // llama-server's host memory, in the same unified pool (docs/dev/fit.md "Host memory"):
    // --cache-ram in MiB (-1: no limit, 0: off) and --ctx-checkpoints per slot; nullopt: what
    // `plan` sets (SPARKCTL-PLAN-19: default_ctx_checkpoints, and a prompt cache of half what
    // the budget leaves, at most llama.cpp's default).
    std::optional<std::int64_t> cache_ram_mib;
    std::optional<std::uint32_t> ctx_checkpoints;
};

struct KvBreakdown {
    std::uint64_t full_bytes = 0;       // full-attention (and MLA) layers
    std::uint64_t swa_bytes = 0;        // sliding-window and chunked layers
    std::uint64_t recurrent_bytes = 0;  // SSM conv + state, per sequence
    std::uint64_t full_cells = 0;       // tokens held per full layer, all sequences together
    std::uint64_t swa_cells = 0;        // tokens held per sliding layer, all sequences together
    std::uint32_t n_full_layers = 0;
    std::uint32_t n_swa_layers = 0;
    std::uint32_t n_recurrent_layers = 0;
};

struct MemoryBreakdown {
    std::uint64_t weights_bytes = 0;
    std::uint64_t kv_cache_bytes = 0;
    std::uint64_t kv_bytes_per_token = 0;  // per token of one sequence, full-attention layers
    std::uint64_t compute_bytes = 0;       // compute/activation (and llama.cpp output) buffers
    std::uint64_t overhead_bytes = 0;      // CUDA context, graphs, framework
    // llama.cpp host memory: the prompt cache's limit (--cache-ram) and the context checkpoints
    // of all slots (--ctx-checkpoints x slots x one checkpoint); 0 for the other engines.
    std::uint64_t host_prompt_cache_bytes = 0;
    std::uint64_t ctx_checkpoints_bytes = 0;
    std::uint64_t ctx_checkpoint_bytes = 0;  // one checkpoint of one slot (0: none are made)
    // weights + KV cache + compute + overhead + host prompt cache + context checkpoints
    std::uint64_t total_bytes = 0;
    std::uint64_t peak_bytes = 0;  // transient high-water mark while loading
    std::uint64_t budget_bytes = 0;
};

// The flags sparkctl would give the engine for this deployment.
struct EngineSettings {
    std::uint64_t llamacpp_n_ctx = 0;            // -c (total cells over all slots)
    std::uint64_t llamacpp_n_ctx_seq = 0;        // cells per slot
    std::int64_t llamacpp_cache_ram_mib = 0;     // --cache-ram
    std::uint32_t llamacpp_ctx_checkpoints = 0;  // --ctx-checkpoints
    std::uint64_t vllm_kv_cache_memory_bytes = 0;
    double vllm_gpu_memory_utilization = 0;  // total_bytes / memory_total (what it would claim)
    std::uint32_t vllm_max_num_batched_tokens = 0;
    std::uint32_t vllm_max_num_seqs = 0;
    double sglang_mem_fraction_static = 0;
    std::uint64_t sglang_max_total_tokens = 0;
};

struct Estimate {
    MemoryBreakdown memory;
    KvBreakdown kv;
    EngineSettings settings;
    bool fits = false;
};

// KV bytes per token of one sequence in full-attention layers (the marginal cost of context).
std::uint64_t kv_bytes_per_token(const model::Arch& arch, engines::Engine engine,
                                 const engines::KvCacheType& kv_type, bool flash_attn = true);

// SPARKCTL-PLAN-19: the context checkpoints per slot sparkctl sets for `context` tokens per
// sequence: none for a model llama-server makes none for (`makes_checkpoints` false: neither
// sliding-window nor recurrent layers), else one per --checkpoint-min-step of context plus the
// three made at the last user message and near each prompt's end, at most llama.cpp's default.
std::uint32_t default_ctx_checkpoints(std::uint64_t context, bool makes_checkpoints);

// The memory of one configuration. Unknown architecture facts count as absent (no KV for a
// layer whose heads are unknown), so callers check the spec first (check_arch).
Estimate estimate(const model::Arch& arch, const FitRequest& request);

// What the memory model needs from an architecture; a message naming the missing facts, or "".
std::string missing_facts(const model::Arch& arch);

// The largest context per sequence (at most `limit`) whose total fits the budget at
// request.parallel; 0 when not even one token fits.
std::uint64_t max_context(const model::Arch& arch, const FitRequest& request, std::uint64_t limit);

// The most sequences (at most `limit`) that fit at request.context; 0 when none.
std::uint32_t max_parallel(const model::Arch& arch, const FitRequest& request, std::uint32_t limit);

// vLLM/SGLang: the most full-context sequences (at most `limit`) the paged KV pool can hold at
// request.context while the engine admits request.parallel requests; 0 when not even one fits.
std::uint32_t max_pool_sequences(const model::Arch& arch, const FitRequest& request,
                                 std::uint32_t limit);

// True for the engines whose KV cache is one paged pool shared by all requests (vLLM, SGLang);
// llama.cpp's slots are fixed (-c = context x parallel).
bool paged_kv(engines::Engine engine);

// Upper bounds for the solvers: llama.cpp LLAMA_MAX_SEQ (LC:src/llama-cparams.h); vLLM's default
// max_num_seqs on large devices (V:vllm/engine/arg_utils.py); SGLang: SPARKCTL-FIT-8.
std::uint32_t parallel_limit(engines::Engine engine);

}  // namespace sparkctl::fit
