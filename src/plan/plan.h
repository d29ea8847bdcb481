// `sparkctl plan` as a library: applies the rules (plan/rules.h) in spark-knowledge.md's decision
// order to a model, a use and the hardware, and produces a Plan: engine and version,
// quantization among the published variants, context and parallelism, per-node memory (fit's
// model), every decision with the rule, facts and rejected alternatives, warnings, suggestions
// when it does not fit, and the launch commands (native, container, cluster). Pure (no I/O),
// thread-safe. Rendering: plan/render.h; JSON: cli/cmd_plan.cpp; reference: docs/dev/plan.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "engines/engine.h"
#include "engines/versions.h"
#include "fit/fit.h"
#include "hw/profile.h"
#include "model/catalog.h"
#include "model/model_spec.h"
#include "plan/rules.h"

namespace sparkctl::plan {

enum class UseCase { chat, agents, batch, long_context };

// SPARKCTL-PLAN-16: agents without --context get the trained context capped at this, shrunk until
// context x users fits in full, never below the floor.
inline constexpr std::uint64_t kAgentsContextCap = 131072;
inline constexpr std::uint64_t kAgentsContextFloor = 32768;
// The prompt of the agents' working point (Performance::working_point): system prompt, tools and
// the new turn of a coding agent (10-20k tokens).
inline constexpr std::uint64_t kAgentsWorkingPrompt = 20000;
enum class Prefer { none, speed, fit };

const char* to_string(UseCase use);
// "chat", "agents", "batch", "long-context". Errors: bad_input listing the uses.
base::Result<UseCase> parse_use(std::string_view s);
base::Result<Prefer> parse_prefer(std::string_view s);

// The cluster inventory ([cluster] in the config file): hosts[0] is the head.
struct ClusterInventory {
    std::vector<std::string> hosts;      // SSH names
    std::vector<std::string> addresses;  // IPs on the fabric, parallel to hosts ("" unknown)
    std::string fabric_interface;        // "enp1s0f1np1"
    std::vector<std::string> roce_hcas;  // "rocep1s0f1", "roceP2p1s0f1"
    std::string ssh_user;
    bool has_switch = false;  // more than two Sparks need one
};

// Parses Config::table("cluster") (keys hosts, addresses, fabric_interface, roce_hcas, ssh_user,
// switch); nullopt when the table is empty. Errors: bad_input naming the key.
base::Result<std::optional<ClusterInventory>> parse_cluster(
    const std::map<std::string, std::string>& table, std::string_view origin);

struct Hardware {
    std::string name;
    std::uint64_t memory_total_bytes = 0;
    std::uint64_t os_reserve_bytes = 0;
    std::uint64_t budget_bytes = 0;
    bool budget_override = false;
    std::optional<std::uint64_t> memory_bandwidth_bytes_per_s;
    bool unified_memory = false;
    // fit::hw_caps(profile): bandwidth, compute peak, interconnect. nullopt: no speed prediction.
    std::optional<fit::HwCaps> caps;
};

// The plan's view of a hardware profile: memory, budget (total - OS reserve), bandwidth, and
// fit::hw_caps for the speed prediction (nullopt caps when the profile lacks the figures).
Hardware hardware_of(const hw::HardwareProfile& profile);

struct PlanRequest {
    UseCase use = UseCase::chat;
    std::uint32_t users = 1;
    std::optional<std::uint64_t> context;
    std::optional<std::uint32_t> nodes;  // nullopt: the inventory's hosts, else 1
    bool bench = false;
    Prefer prefer = Prefer::none;
    std::string engine;                 // "" -> the rules
    std::string engine_version;         // "" -> the playbook default
    std::string engine_version_origin;  // why that version ("installed: llama-server ...")
    std::string quant;                  // "" -> the rules
    std::string kv_cache_dtype;         // "" -> the engine's default (--kv-cache-dtype)
    // The checkpoint the user named: a published variant's Hugging Face repository other than
    // the model's own id ("Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8"); "" -> the rules choose.
    std::string variant_repo;
    std::vector<std::string> overrides;  // R-OPS ids
    std::optional<ClusterInventory> cluster;
    // Multi-node vLLM launcher: "" (vLLM's own multiprocessing launcher where the targeted
    // version defines --nnodes/--node-rank/--master-addr/--headless, Ray otherwise), "mp" or
    // "ray" (--launcher).
    std::string launcher;
    Hardware hardware;
    // The performance-model constants (config option `constants`); nullopt: the built-in table.
    std::optional<fit::ConstantsTable> constants;
};

struct Rejected {
    std::string option;
    std::string reason;
};

// One choice of the plan: which rule decided it, the facts it looked at, the outcome, and the
// alternatives it rejected with why.
struct Decision {
    std::string step;     // "budget", "nodes", "format", "architecture", "engine", "quant", ...
    std::string rule;     // "R-ENG-2", "SPARKCTL-PLAN-4"
    std::string outcome;  // "vllm", "awq", "-c 65536 -np 8"
    std::string reason;
    std::vector<std::pair<std::string, std::string>> facts;
    std::vector<Rejected> rejected;
};

struct LaunchCommand {
    std::string node;  // "local", or the host (or placeholder) it runs on
    std::string role;  // "server", "ray-head", "ray-worker", "worker" (headless vLLM rank)
    std::string kind;  // "native" or "container"
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
    std::optional<std::string> health_url;
    std::string note;
};

struct Suggestion {
    // quant: another quantization on the plan's engine, published (a smaller checkpoint when the
    // plan's does not fit) or a what-if of the GGUF ladder the catalog does not list.
    enum class Kind { kv_cache_dtype, context, users, nodes, quant };
    std::string change;  // what to change, for people
    std::string flag;    // the plan flag that applies it ("--context 28672")
    std::string buys;    // what it buys, with numbers
    bool fits = false;
    std::uint64_t total_bytes = 0;  // per node
    Kind kind = Kind::kv_cache_dtype;
    std::string kv_cache_dtype;  // kv_cache_dtype: the smaller type
    std::uint64_t context = 0;   // context: tokens per sequence
    std::uint32_t users = 0;     // users: sequences at once
    std::string quant{};         // quant: the quantization
    bool what_if = false;        // quant: no published checkpoint in the catalog
};

// Speed of the plan (fit's performance model, docs/dev/performance-model.md) at its shape:
// parallel = users, nodes = tensor parallel, depth 0 (long-context: half the context), prompt 512.
struct Performance {
    std::string source;                             // the model and its constants
    std::string ceiling_rule = "SPARKCTL-PLAN-10";  // the decode_ceiling_* fields
    fit::Performance predicted;                     // `sparkctl fit --json`'s performance object
    std::optional<double> speedup_vs_one_node;      // clusters: decode at N nodes / at one node
    std::optional<fit::Performance> one_node;       // the one-node prediction it is computed from
    // agents: the same shape at its working point, depth = half the context and a prompt of
    // kAgentsWorkingPrompt tokens (at most the other half): TTFT of a full prompt and decode per
    // agent deep in a session.
    std::optional<fit::Performance> working_point;
    std::vector<std::string> notes;  // the model's caveats (borrowed constants, ...)
};

enum class Status { ok, refused, does_not_fit };

struct Plan {
    Status status = Status::ok;
    std::string refusal;  // the reason, when refused
    std::string model;
    std::string hf_id;
    UseCase use = UseCase::chat;
    engines::Engine engine = engines::Engine::vllm;
    engines::EngineVersion engine_version;
    std::string quant;
    std::string variant_repo;  // Hugging Face repository, or "" for a file
    std::string variant_file;  // GGUF file (or glob), or the local path
    std::string variant_format;
    std::uint64_t context = 0;
    std::string context_origin;
    std::uint32_t parallel = 1;
    std::uint32_t nodes = 1;
    std::uint32_t tensor_parallel = 1;
    std::string kv_cache_dtype;
    std::string served_model_name;
    std::uint16_t port = 0;
    fit::FitResult fit;                      // one node's view (per node under TP)
    std::vector<std::string> node_names;     // hosts or placeholders, head first
    std::optional<Performance> performance;  // when a model or ceiling is available
    std::vector<Decision> decisions;
    std::vector<LaunchCommand> commands;
    std::vector<std::string> warnings;
    std::vector<Suggestion> suggestions;
    std::vector<std::string> placeholders;  // named variables the commands need (cluster)
    int exit_status() const;                // 0, 2 (refused) or 3 (does not fit)
};

// Plans `spec` (with its published `variants`; empty for files) for `request` under `rules`.
// A refusal by an operational rule or a request that does not fit is a Plan (status refused /
// does_not_fit), not an error. Errors: bad_input for what cannot be planned at all (an unknown
// --quant or --engine-version, --override of a rule that is not R-OPS, a forced engine that
// cannot load any published checkpoint, zero users or nodes).
base::Result<Plan> make_plan(const model::ModelSpec& spec,
                             const std::vector<model::Variant>& variants,
                             const PlanRequest& request, const RuleBook& rules);

}  // namespace sparkctl::plan
