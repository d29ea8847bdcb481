#include "plan/detail/commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/strings.h"
#include "engines/versions.h"

namespace sparkctl::plan::detail {

namespace {

using engines::Engine;

std::string num(std::uint64_t n) { return std::to_string(n); }

// Rounds up to two decimals ("0.73"), as the engines print fractions.
std::string fraction(double x) {
    const double r = std::ceil(x * 100.0 - 1e-9) / 100.0;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2f", r);
    return buf;
}

const char* kHfCache = "${HF_CACHE}";  // placeholder: the host's Hugging Face cache

void add_placeholder(Plan& p, const std::string& name) {
    for (const std::string& x : p.placeholders) {
        if (x == name) return;
    }
    p.placeholders.push_back(name);
}

struct Server {
    std::vector<std::string> argv;   // program + engine flags, host 127.0.0.1
    std::size_t host_index = 0;      // argv index of the host value
    std::size_t model_index = 0;     // argv index of the model (repository, file or directory)
    std::size_t template_index = 0;  // argv index of the --chat-template value (0: none)
};

const char* kToolChatTemplate = "${TOOL_CHAT_TEMPLATE}";  // placeholder: the parser's template
const char* kTemplateInContainer = "/sparkctl/tool_chat_template.jinja";

// --chat-template ${TOOL_CHAT_TEMPLATE} when the family's tool parser needs a template of its own.
void add_chat_template(const engines::Parsers& ps, Server& s) {
    if (ps.chat_template.empty()) return;
    s.argv.insert(s.argv.end(), {"--chat-template", kToolChatTemplate});
    s.template_index = s.argv.size() - 1;
}

// Hugging Face repositories whose files are behind a licence click-through: downloading them needs
// an accepted licence and a token (https://huggingface.co/docs/hub/models-gated). meta-llama/*:
// "You need to agree to share your contact information to access this model" on every Llama
// card (https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct); google/gemma-*: "To access
// Gemma on Hugging Face, you're required to review and agree to Google's usage license"
// (https://huggingface.co/google/gemma-3-27b-it). Mirrors (unsloth, bartowski, ...) are open.
bool gated_repo(std::string_view repo) {
    const std::string r = base::to_lower(repo);
    return r.starts_with("meta-llama/") || r.starts_with("google/gemma-");
}

// A local checkpoint as a container sees it: the host directory mounted read-only and the path
// served inside. A Hugging Face cache snapshot (models--org--name/snapshots/REV/...) links its
// files to ../../blobs, so the whole models--org--name directory is mounted; a GGUF file mounts
// its directory, a checkpoint directory itself. Host paths are made absolute (docker -v needs
// them); the native command keeps the path as given.
struct Mount {
    std::string host;
    std::string container;
    std::string served;
};

Mount local_mount(const std::string& path, bool is_file) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path abs = fs::absolute(fs::path(path), ec).lexically_normal();
    if (ec) abs = fs::path(path).lexically_normal();
    if (!abs.has_filename()) abs = abs.parent_path();  // a trailing '/'
    fs::path root = is_file ? abs.parent_path() : abs;
    fs::path walked;
    for (auto it = abs.begin(); it != abs.end(); ++it) {
        walked /= *it;
        auto next = std::next(it);
        if (it->string().starts_with("models--") && next != abs.end() && *next == "snapshots") {
            root = walked;
            break;
        }
    }
    const std::string inside = "/models/" + root.filename().string();
    const fs::path rel = abs.lexically_relative(root);
    return {root.string(), inside,
            rel.empty() || rel == "." ? inside : inside + "/" + rel.generic_string()};
}

Server llamacpp_server(const model::ModelSpec& spec, const PlanRequest& req, const RuleBook& rules,
                       const Plan& p) {
    Server s;
    auto& a = s.argv;
    a = {"llama-server"};
    if (spec.source == model::SourceKind::gguf) {
        a.insert(a.end(), {"-m", p.variant_file});
    } else {
        a.insert(a.end(), {"-hf", p.variant_repo + ":" + p.variant_format});
    }
    s.model_index = 2;
    a.insert(a.end(), {"--host", "127.0.0.1"});
    s.host_index = a.size() - 1;
    a.insert(a.end(), {"--port", num(p.port), "-a", p.served_model_name});
    a.insert(a.end(), {"-c", num(p.context * p.parallel), "-np", num(p.parallel), "-ngl",
                       p.engine_version.all_gpu_layers, "-fa", "on"});
    // The micro-batch fit sized the compute buffer for (fit::default_ubatch unless asked).
    a.insert(a.end(), {"-b", num(p.fit.batch), "-ub", num(p.fit.ubatch)});
    if (p.kv_cache_dtype != "f16") {
        a.insert(a.end(), {"-ctk", p.kv_cache_dtype, "-ctv", p.kv_cache_dtype});
    }
    // The build's load-mode flag where it has one (--no-mmap is its deprecated alias).
    if (engines::accepts_flag(p.engine_version, "--load-mode")) {
        a.insert(a.end(), {"--load-mode", "none"});
    } else {
        a.push_back("--no-mmap");
    }
    if (engines::accepts_flag(p.engine_version, "-fit")) a.insert(a.end(), {"-fit", "off"});
    if (req.use == UseCase::agents || spec.arch.architecture == "GptOssForCausalLM" ||
        spec.arch.family == "gpt-oss") {
        a.push_back("--jinja");
    }
    // SPARKCTL-PLAN-19: the host prompt cache and context checkpoints fit counted (--bench:
    // cache 0), where the build has the flags.
    const fit::EngineSettings& st = p.fit.estimate.settings;
    const bool host_caches = rules.enabled(kPlan19) || req.bench;
    if (host_caches && engines::accepts_flag(p.engine_version, "--cache-ram")) {
        a.insert(a.end(), {"--cache-ram", std::to_string(st.llamacpp_cache_ram_mib)});
    }
    if (rules.enabled(kPlan19) && engines::accepts_flag(p.engine_version, "--ctx-checkpoints")) {
        a.insert(a.end(), {"--ctx-checkpoints", num(st.llamacpp_ctx_checkpoints)});
    }
    if (req.bench) {
        // Older builds have no --no-cache-prompt (prompt caching is per request there).
        if (engines::accepts_flag(p.engine_version, "--no-cache-prompt")) {
            a.push_back("--no-cache-prompt");
        }
        a.push_back("--metrics");
    }
    return s;
}

// `launcher`: the --distributed-executor-backend of a tensor-parallel plan ("mp" or "ray").
Server vllm_server(const model::ModelSpec& spec, const PlanRequest& req, const RuleBook& rules,
                   const Plan& p, const std::string& launcher) {
    Server s;
    auto& a = s.argv;
    const fit::EngineSettings& st = p.fit.estimate.settings;
    const std::string model = p.variant_repo.empty() ? p.variant_file : p.variant_repo;
    a = {"vllm", "serve", model, "--host", "127.0.0.1"};
    s.model_index = 2;
    s.host_index = a.size() - 1;
    a.insert(a.end(), {"--port", num(p.port), "--served-model-name", p.served_model_name,
                       "--max-model-len", num(p.context), "--max-num-seqs", num(p.parallel)});
    const double ceiling = rules.get(kPlan1).value.value_or(0.85);
    const double u = std::min(ceiling, st.vllm_gpu_memory_utilization);
    a.insert(a.end(), {"--gpu-memory-utilization", fraction(u)});
    if (rules.enabled(kPlan2) && st.vllm_kv_cache_memory_bytes > 0) {
        a.insert(a.end(), {"--kv-cache-memory-bytes", num(st.vllm_kv_cache_memory_bytes)});
    }
    if (p.kv_cache_dtype != "auto") a.insert(a.end(), {"--kv-cache-dtype", p.kv_cache_dtype});
    if (p.tensor_parallel > 1) {
        a.insert(a.end(), {"--tensor-parallel-size", num(p.tensor_parallel),
                           "--distributed-executor-backend", launcher});
    }
    if (req.use == UseCase::agents) {
        const engines::Parsers ps =
            engines::parsers_for(Engine::vllm, spec.arch.architecture, spec.hf_id);
        if (!ps.tool_call.empty()) {
            a.insert(a.end(), {"--enable-auto-tool-choice", "--tool-call-parser", ps.tool_call});
        }
        if (!ps.reasoning.empty()) a.insert(a.end(), {"--reasoning-parser", ps.reasoning});
        add_chat_template(ps, s);
    }
    if (req.bench)
        a.insert(a.end(), {"--no-enable-prefix-caching", "--enable-prompt-tokens-details"});
    return s;
}

Server sglang_server(const model::ModelSpec& spec, const PlanRequest& req, const Plan& p) {
    Server s;
    auto& a = s.argv;
    const fit::MemoryBreakdown& m = p.fit.estimate.memory;
    const fit::EngineSettings& st = p.fit.estimate.settings;
    const std::string model = p.variant_repo.empty() ? p.variant_file : p.variant_repo;
    a = {"python3", "-m", "sglang.launch_server", "--model-path", model, "--host", "127.0.0.1"};
    s.model_index = 4;
    s.host_index = a.size() - 1;
    double mfs = req.hardware.budget_bytes
                     ? static_cast<double>(m.weights_bytes + m.kv_cache_bytes) /
                           static_cast<double>(req.hardware.budget_bytes)
                     : st.sglang_mem_fraction_static;
    if (st.sglang_mem_fraction_static > 0) mfs = std::min(mfs, st.sglang_mem_fraction_static);
    a.insert(a.end(), {"--port", num(p.port), "--served-model-name", p.served_model_name,
                       "--tp-size", num(p.tensor_parallel), "--context-length", num(p.context),
                       "--max-running-requests", num(p.parallel), "--mem-fraction-static",
                       fraction(mfs), "--max-total-tokens", num(st.sglang_max_total_tokens)});
    if (p.kv_cache_dtype != "auto") a.insert(a.end(), {"--kv-cache-dtype", p.kv_cache_dtype});
    if (spec.arch.architecture == "GptOssForCausalLM") {
        // engines.md 3.5: whether GB10 takes SGLang's SM100 paths is unknown; triton works.
        a.insert(a.end(), {"--attention-backend", "triton"});
    }
    if (req.use == UseCase::agents) {
        const engines::Parsers ps =
            engines::parsers_for(Engine::sglang, spec.arch.architecture, spec.hf_id);
        if (!ps.tool_call.empty()) a.insert(a.end(), {"--tool-call-parser", ps.tool_call});
        if (!ps.reasoning.empty()) a.insert(a.end(), {"--reasoning-parser", ps.reasoning});
        add_chat_template(ps, s);
    }
    if (req.bench) {
        a.insert(a.end(), {"--disable-radix-cache", "--enable-metrics", "--enable-cache-report"});
    }
    return s;
}

// The docker arguments that give a container the model, rewriting `inner` (the server's argv) to
// serve it as the container sees it: the host's Hugging Face cache for a repository (plus the
// token of a gated one), the checkpoint's own directory, read-only, for a local model.
std::vector<std::string> docker_model_args(const model::ModelSpec& spec, const Plan& p,
                                           std::size_t model_index,
                                           std::vector<std::string>& inner) {
    if (p.variant_repo.empty() && model_index != 0) {
        const Mount m = local_mount(p.variant_file, spec.source == model::SourceKind::gguf);
        inner[model_index] = m.served;
        return {"-v", m.host + ":" + m.container + ":ro"};
    }
    std::vector<std::string> out = {"-v", std::string(kHfCache) + ":/root/.cache/huggingface"};
    if (gated_repo(p.variant_repo)) out.insert(out.end(), {"-e", "HF_TOKEN"});
    return out;
}

// The same server inside the engine's official image, published on the loopback only.
LaunchCommand containerize(const model::ModelSpec& spec, const Server& s, const Plan& p,
                           const std::string& node) {
    LaunchCommand c;
    c.node = node;
    c.role = "server";
    c.kind = "container";
    std::vector<std::string> inner = s.argv;
    inner[s.host_index] = "0.0.0.0";  // inside the container; the host side is 127.0.0.1
    const std::string port = num(p.port);
    c.argv = {"docker",
              "run",
              "--rm",
              "--name",
              "sparkctl-" + p.served_model_name,
              "--gpus",
              "all",
              "--ipc=host",
              "--shm-size",
              "16g",
              "-p",
              "127.0.0.1:" + port + ":" + port};
    const std::vector<std::string> model = docker_model_args(spec, p, s.model_index, inner);
    c.argv.insert(c.argv.end(), model.begin(), model.end());
    if (s.template_index != 0) {  // the template file, read-only, where the server reads it
        c.argv.insert(c.argv.end(),
                      {"-v", std::string(kToolChatTemplate) + ":" + kTemplateInContainer + ":ro"});
        inner[s.template_index] = kTemplateInContainer;
    }
    c.argv.push_back(p.engine_version.image);
    c.argv.insert(c.argv.end(), inner.begin(), inner.end());
    c.health_url = "http://127.0.0.1:" + port + "/health";
    c.note = "image " + p.engine_version.image + " (" + p.engine_version.image_source + ")";
    return c;
}

// Both RoCE devices of the QSFP link, for NCCL_IB_HCA: one cable shows up as two ~100 Gb/s
// halves ("twins", e.g. rocep1s0f1 and roceP2p1s0f1), and NCCL uses the full link only when both
// are named (eugr/spark-vllm-docker docs/NETWORKING.md). The inventory's roce_hcas, else the
// ${ROCE_HCAS} placeholder.
std::string roce_hcas(const PlanRequest& req) {
    std::string hcas;
    if (req.cluster) {
        for (const std::string& h : req.cluster->roce_hcas) hcas += (hcas.empty() ? "" : ",") + h;
    }
    return hcas.empty() ? "${ROCE_HCAS}" : hcas;
}

// The fabric environment of one node: its address, the interfaces NCCL, Gloo, TP and UCX use
// (fabric_interface), both RoCE devices, the head's address.
std::vector<std::pair<std::string, std::string>> fabric_env(const PlanRequest& req,
                                                            const std::string& ip,
                                                            const std::string& head_ip, bool ray) {
    std::string iface = req.cluster && !req.cluster->fabric_interface.empty()
                            ? req.cluster->fabric_interface
                            : "${FABRIC_IF}";
    std::vector<std::pair<std::string, std::string>> env = {
        {"VLLM_HOST_IP", ip},
        {"NCCL_SOCKET_IFNAME", iface},
        {"GLOO_SOCKET_IFNAME", iface},
        {"TP_SOCKET_IFNAME", iface},
        {"UCX_NET_DEVICES", iface},
        {"OMPI_MCA_btl_tcp_if_include", iface},
        {"NCCL_IB_HCA", roce_hcas(req)},
        {"MASTER_ADDR", head_ip},
    };
    if (ray) env.emplace_back("RAY_memory_monitor_refresh_ms", "0");
    return env;
}

// The token a gated repository needs, from the caller's environment (never written out).
void add_hf_token(const Plan& p, std::vector<std::pair<std::string, std::string>>& env) {
    if (gated_repo(p.variant_repo)) env.emplace_back("HF_TOKEN", "${HF_TOKEN}");
}

// The multi-node launcher (R-OPS-4 names vLLM tensor parallel, not Ray): vLLM's own
// multiprocessing launcher where the targeted version defines its flags (V:vllm/engine/
// arg_utils.py --nnodes/--node-rank/--master-addr, V:vllm/entrypoints/cli/serve.py --headless
// "Run headless workers (for multi-node PP/TP)"; V:docs/serving/parallelism_scaling.md), since
// Ray's workers cost memory on a unified pool; Ray on request or for an older version.
std::string choose_launcher(const PlanRequest& req, const RuleBook& rules, Plan& p) {
    std::string missing;
    for (const char* f : {"--nnodes", "--node-rank", "--master-addr", "--headless"}) {
        if (!engines::accepts_flag(p.engine_version, f))
            missing += (missing.empty() ? "" : ", ") + std::string(f);
    }
    const std::string table = "vLLM " + p.engine_version.name + "'s flag table (" +
                              p.engine_version.flags_origin + " at " +
                              p.engine_version.flags_commit + ")";
    std::string launcher = req.launcher.empty() ? (missing.empty() ? "mp" : "ray") : req.launcher;
    if (launcher == "mp" && !missing.empty()) {
        p.warnings.push_back("--launcher mp: " + table + " lacks " + missing +
                             "; the plan uses Ray");
        launcher = "ray";
    }
    std::string reason =
        launcher == "mp"
            ? (req.launcher.empty()
                   ? "--nnodes/--node-rank/--master-addr/--headless are in " + table +
                         ": no Ray (its workers cost memory on a unified "
                         "pool)"
                   : "--launcher mp")
            : (req.launcher == "ray" ? std::string("--launcher ray") : table + " lacks " + missing);
    std::vector<Rejected> rejected;
    if (launcher == "mp") {
        rejected.push_back({"ray", "Ray workers cost memory on a unified pool (--launcher ray)"});
    } else if (missing.empty()) {
        rejected.push_back({"mp", "--launcher ray asked for Ray"});
    } else {
        rejected.push_back({"mp", "not in " + table + ": " + missing});
    }
    p.decisions.push_back({"launcher",
                           kOps4,
                           launcher == "mp" ? "vLLM multiprocessing (--nnodes " +
                                                  num(p.tensor_parallel) + " --headless workers)"
                                            : "Ray",
                           rules.get(kOps4).text + "; " + reason,
                           {{"flags", table}},
                           rejected});
    return launcher;
}

}  // namespace

std::size_t flags_start(const LaunchCommand& c) {
    for (std::size_t i = 0; i < c.argv.size(); ++i) {
        const std::string& a = c.argv[i];
        if (a == "serve" && i > 0 && c.argv[i - 1] == "vllm") return i + 2;  // after the model
        if (a == "llama-server" || a == "sglang.launch_server") return i + 1;
    }
    return c.argv.size();
}

void render_commands(const model::ModelSpec& spec, const PlanRequest& req, const RuleBook& rules,
                     Plan& p) {
    const Engine e = p.engine;
    p.served_model_name = spec.name;
    p.port = e == Engine::llama_cpp ? 8080 : e == Engine::vllm ? 8000 : 30000;
    p.decisions.push_back(
        {"served-name", kPlan9, p.served_model_name, rules.get(kPlan9).text, {}, {}});
    p.decisions.push_back(
        {"port", kPlan3, "127.0.0.1:" + num(p.port), rules.get(kPlan3).text, {}, {}});

    Server s;
    std::string launcher;  // multi-node only
    if (e == Engine::llama_cpp) {
        s = llamacpp_server(spec, req, rules, p);
        p.decisions.push_back(
            {"sizing",
             kPlan4,
             "-c " + num(p.context * p.parallel) + " -np " + num(p.parallel) + " -ngl " +
                 p.engine_version.all_gpu_layers + " -fa on -b " + num(p.fit.batch) + " -ub " +
                 num(p.fit.ubatch),
             rules.get(kPlan4).text,
             {{"context", num(p.context)},
              {"parallel", num(p.parallel)},
              {"compute_buffer", base::format_bytes(p.fit.estimate.memory.compute_bytes)},
              {"kv_cache", base::format_bytes(p.fit.estimate.memory.kv_cache_bytes)},
              {"kv_cache_dtype", p.kv_cache_dtype}},
             {{"-np auto", "4 slots with a unified KV cache: not what was sized"},
              {"-ub 512 (llama.cpp default)",
               "prefill of MoE models ~2.5x slower on the Spark than at the -ub 2048 of "
               "LC:benches/dgx-spark.md"},
              {"--fit on", "would change -c/-ngl behind the plan's back"}}});
        const fit::MemoryBreakdown& m = p.fit.estimate.memory;
        const fit::EngineSettings& st = p.fit.estimate.settings;
        if (rules.enabled(kPlan19)) {
            p.decisions.push_back(
                {"host-caches",
                 kPlan19,
                 "--cache-ram " + std::to_string(st.llamacpp_cache_ram_mib) +
                     " --ctx-checkpoints " + num(st.llamacpp_ctx_checkpoints),
                 rules.get(kPlan19).text,
                 {{"host_prompt_cache", base::format_bytes(m.host_prompt_cache_bytes)},
                  {"ctx_checkpoint", m.ctx_checkpoint_bytes
                                         ? base::format_bytes(m.ctx_checkpoint_bytes)
                                         : std::string("none made for this model")},
                  {"ctx_checkpoints_total", base::format_bytes(m.ctx_checkpoints_bytes)}},
                 {{"--cache-ram 8192 (llama.cpp default)",
                   "8 GiB of the unified pool whether or not the budget has it"},
                  {"--ctx-checkpoints 32 (llama.cpp default)",
                   "32 SWA/recurrent states per slot, most of them evicted by the 8,192-token "
                   "spacing anyway"}}});
        }
    } else if (e == Engine::vllm) {
        if (p.tensor_parallel > 1) launcher = choose_launcher(req, rules, p);
        s = vllm_server(spec, req, rules, p, launcher);
        const fit::EngineSettings& st = p.fit.estimate.settings;
        p.decisions.push_back(
            {"sizing",
             kPlan1,
             "--gpu-memory-utilization " + fraction(std::min(rules.get(kPlan1).value.value_or(0.85),
                                                             st.vllm_gpu_memory_utilization)),
             rules.get(kPlan1).text,
             {{"total", base::format_bytes(p.fit.estimate.memory.total_bytes)},
              {"memory_total", base::format_bytes(req.hardware.memory_total_bytes)}},
             {{"0.92 (vLLM default)", "fails at startup on GB10 (spark-knowledge.md)"}}});
        p.decisions.push_back({"sizing",
                               kPlan2,
                               "--kv-cache-memory-bytes " + num(st.vllm_kv_cache_memory_bytes),
                               rules.get(kPlan2).text,
                               {{"kv_cache", base::format_bytes(st.vllm_kv_cache_memory_bytes)}},
                               {}});
        p.decisions.push_back(
            {"sizing",
             kPlan5,
             "--max-model-len " + num(p.context) + " --max-num-seqs " + num(p.parallel),
             rules.get(kPlan5).text,
             {{"max_num_batched_tokens", num(st.vllm_max_num_batched_tokens)}},
             {}});
    } else {
        s = sglang_server(spec, req, p);
        p.decisions.push_back(
            {"sizing",
             kPlan6,
             "--context-length " + num(p.context) + " --max-running-requests " + num(p.parallel),
             rules.get(kPlan6).text,
             {{"weights", base::format_bytes(p.fit.estimate.memory.weights_bytes)},
              {"kv_cache", base::format_bytes(p.fit.estimate.memory.kv_cache_bytes)}},
             {}});
    }
    if (req.use == UseCase::agents) {
        const engines::Parsers ps = engines::parsers_for(e, spec.arch.architecture, spec.hf_id);
        std::string outcome =
            e == Engine::llama_cpp
                ? "--jinja"
                : "tool parser " + (ps.tool_call.empty() ? std::string("none") : ps.tool_call) +
                      ", reasoning parser " +
                      (ps.reasoning.empty() ? std::string("none") : ps.reasoning);
        p.decisions.push_back({"tools",
                               kPlan14,
                               outcome,
                               rules.get(kPlan14).text,
                               {{"architecture", spec.arch.architecture}, {"source", ps.source}},
                               {}});
        if (e != Engine::llama_cpp && !ps.chat_template.empty()) {
            add_placeholder(p, "TOOL_CHAT_TEMPLATE");
            p.warnings.push_back(
                "agents: " + spec.arch.architecture + "'s own chat template has no tool-call " +
                "format; the " + ps.tool_call + " parser needs vLLM's " + ps.chat_template +
                " (https://github.com/vllm-project/vllm/blob/main/" + ps.chat_template +
                "): set TOOL_CHAT_TEMPLATE to that file's path");
        }
        if (e != Engine::llama_cpp && ps.tool_call.empty()) {
            p.warnings.push_back("agents: no " + std::string(engines::to_string(e)) +
                                 " tool-call parser is known for " + spec.arch.architecture +
                                 "; tool calls will come back as text");
        }
    }
    if (req.bench) {
        const std::string off =
            e == Engine::llama_cpp
                ? (engines::accepts_flag(p.engine_version, "--no-cache-prompt")
                       ? "--no-cache-prompt --cache-ram 0 --metrics"
                       : "--cache-ram 0 --metrics (this build has no --no-cache-prompt)")
            : e == Engine::vllm ? "--no-enable-prefix-caching --enable-prompt-tokens-details "
                                  "(/metrics is on by default)"
                                : "--disable-radix-cache --enable-metrics --enable-cache-report";
        p.decisions.push_back({"bench", kOps2, off, rules.get(kOps2).text, {}, {}});
    }

    const std::string health = "http://127.0.0.1:" + num(p.port) + "/health";
    const std::string drop =
        "sync; echo 3 | sudo tee /proc/sys/vm/drop_caches (unified memory: page cache counts "
        "against the pool)";
    if (gated_repo(p.variant_repo)) {
        add_placeholder(p, "HF_TOKEN");
        p.warnings.push_back(p.variant_repo +
                             " is gated on Hugging Face: accept its licence at "
                             "https://huggingface.co/" +
                             p.variant_repo +
                             " and set HF_TOKEN (a read token) before launching "
                             "(https://huggingface.co/docs/hub/models-gated)");
    }
    if (p.tensor_parallel <= 1) {
        LaunchCommand native{"local",
                             "server",
                             "native",
                             s.argv,
                             {},
                             health,
                             req.hardware.unified_memory ? "before launch: " + drop : ""};
        add_hf_token(p, native.env);
        p.commands.push_back(native);
        if (!p.engine_version.image.empty()) {
            p.commands.push_back(containerize(spec, s, p, "local"));
            if (!p.variant_repo.empty()) add_placeholder(p, "HF_CACHE");
        }
        return;
    }

    // Cluster: vLLM tensor parallel, over its multiprocessing launcher or Ray (choose_launcher).
    const bool ray = launcher == "ray";
    const bool inv = req.cluster.has_value();
    std::vector<std::string> names, ips;
    for (std::uint32_t i = 0; i < p.nodes; ++i) {
        const bool have_host = inv && i < req.cluster->hosts.size();
        const bool have_ip = inv && i < req.cluster->addresses.size();
        names.push_back(have_host ? req.cluster->hosts[i] : "${NODE" + num(i) + "_HOST}");
        ips.push_back(have_ip ? req.cluster->addresses[i] : "${NODE" + num(i) + "_IP}");
        if (!have_host) add_placeholder(p, "NODE" + num(i) + "_HOST");
        if (!have_ip) add_placeholder(p, "NODE" + num(i) + "_IP");
    }
    if (!inv || req.cluster->fabric_interface.empty()) add_placeholder(p, "FABRIC_IF");
    const bool have_hcas = inv && !req.cluster->roce_hcas.empty();
    if (!have_hcas) add_placeholder(p, "ROCE_HCAS");
    p.warnings.push_back("cluster: NCCL_IB_HCA=" + roce_hcas(req) +
                         (have_hcas ? " names" : ": set ROCE_HCAS (or [cluster] roce_hcas) to") +
                         " both RoCE devices of the QSFP link (`ibdev2netdev` lists them, e.g. "
                         "rocep1s0f1,roceP2p1s0f1); with one named, NCCL uses half the link or "
                         "falls back to TCP sockets");
    if (!p.variant_repo.empty()) add_placeholder(p, "HF_CACHE");
    p.node_names = names;
    p.decisions.push_back(
        {"memory-per-node",
         kPlan8,
         base::format_bytes(p.fit.estimate.memory.total_bytes) + " per node",
         rules.get(kPlan8).text,
         {{"nodes", num(p.nodes)},
          {"weights_per_node", base::format_bytes(p.fit.estimate.memory.weights_bytes)},
          {"kv_per_node", base::format_bytes(p.fit.estimate.memory.kv_cache_bytes)},
          {"budget_per_node", base::format_bytes(req.hardware.budget_bytes)}},
         {}});
    const std::string head_ip = ips[0];
    const std::string image = p.engine_version.image;
    // A container with the node's fabric: host network, RDMA devices (--privileged), the model.
    auto node_container = [&](const std::string& name,
                              const std::vector<std::pair<std::string, std::string>>& env,
                              std::vector<std::string>& inner, std::size_t model_index) {
        std::vector<std::string> c = {"docker",     "run", "--rm",        "--name", name,
                                      "--gpus",     "all", "--network",   "host",   "--ipc=host",
                                      "--shm-size", "16g", "--privileged"};
        const std::vector<std::string> model = docker_model_args(spec, p, model_index, inner);
        c.insert(c.end(), model.begin(), model.end());
        for (const auto& [k, v] : env) {
            if (k != "HF_TOKEN") c.insert(c.end(), {"-e", k + "=" + v});
        }
        c.push_back(image);
        return c;
    };
    const std::string image_note = "image " + image + " (" + p.engine_version.image_source + ")";
    if (ray) {
        for (std::uint32_t i = 0; i < p.nodes; ++i) {
            auto env = fabric_env(req, ips[i], head_ip, true);
            std::vector<std::string> ray_argv =
                i == 0 ? std::vector<std::string>{"ray", "start", "--head",
                                                  "--node-ip-address=" + ips[i], "--port=6379"}
                       : std::vector<std::string>{"ray", "start", "--address=" + head_ip + ":6379",
                                                  "--node-ip-address=" + ips[i]};
            const std::string role = i == 0 ? "ray-head" : "ray-worker";
            p.commands.push_back({names[i], role, "native", ray_argv, env, std::nullopt,
                                  "keep it running; " + drop});
            // Container form: the playbook's image lacks ray, so it is installed first (playbook
            // step 2), then ray blocks in the foreground of the container.
            std::vector<std::string> inner = s.argv;
            std::vector<std::string> c =
                node_container("sparkctl-" + role, env, inner, s.model_index);
            c.insert(c.begin() + 2, "-d");
            std::string cmd = "pip install -q 'ray[default]>=2.9' && ";
            for (const std::string& x : ray_argv) cmd += x + " ";
            cmd += "--block";
            c.insert(c.end(), {"bash", "-c", cmd});
            p.commands.push_back({names[i], role, "container", c, {}, std::nullopt, image_note});
        }
        auto head_env = fabric_env(req, ips[0], head_ip, true);
        add_hf_token(p, head_env);
        p.commands.push_back(
            {names[0], "server", "native", s.argv, head_env, health,
             "run on the head after `ray status` shows " + num(p.nodes) + " nodes"});
        std::vector<std::string> exec = {"docker", "exec", "sparkctl-ray-head"};
        std::vector<std::string> inner = s.argv;
        docker_model_args(spec, p, s.model_index, inner);  // the path as the container sees it
        exec.insert(exec.end(), inner.begin(), inner.end());
        p.commands.push_back(
            {names[0],
             "server",
             "container",
             exec,
             {},
             health,
             "inside the head's Ray container (network host: 127.0.0.1 is the head)"});
        return;
    }
    // vLLM's multiprocessing launcher: the same `vllm serve` on every node; rank 0 serves the API,
    // the others run --headless. Workers first: rank 0 waits for them at MASTER_ADDR.
    auto rank_argv = [&](std::uint32_t i) {
        std::vector<std::string> argv = s.argv;
        argv.insert(argv.end(),
                    {"--nnodes", num(p.nodes), "--node-rank", num(i), "--master-addr", head_ip});
        if (i > 0) argv.push_back("--headless");
        return argv;
    };
    for (int pass = 0; pass < 2; ++pass) {
        for (std::uint32_t k = 1; k <= p.nodes; ++k) {
            const std::uint32_t i = k % p.nodes;  // workers 1..N-1, then the head
            const bool head = i == 0;
            auto env = fabric_env(req, ips[i], head_ip, false);
            add_hf_token(p, env);
            std::vector<std::string> argv = rank_argv(i);
            const std::string role = head ? "server" : "worker";
            const std::optional<std::string> url =
                head ? std::optional<std::string>(health) : std::nullopt;
            if (pass == 0) {
                p.commands.push_back(
                    {names[i], role, "native", argv, env, url,
                     (head ? "rank 0, serves the API" : "rank " + num(i) + ", headless") +
                         std::string("; before launch: ") + drop});
                continue;
            }
            std::vector<std::string> c = node_container(
                "sparkctl-" + p.served_model_name + "-rank" + num(i), env, argv, s.model_index);
            c.insert(c.end(), argv.begin(), argv.end());
            p.commands.push_back({names[i], role, "container", c, {}, url, image_note});
        }
    }
}

}  // namespace sparkctl::plan::detail
