#include "plan/detail/commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

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
    std::vector<std::string> argv;  // program + engine flags, host 127.0.0.1
    std::size_t host_index = 0;     // argv index of the host value
};

Server llamacpp_server(const model::ModelSpec& spec, const PlanRequest& req, const Plan& p) {
    Server s;
    auto& a = s.argv;
    a = {"llama-server"};
    if (spec.source == model::SourceKind::gguf) {
        a.insert(a.end(), {"-m", p.variant_file});
    } else {
        a.insert(a.end(), {"-hf", p.variant_repo + ":" + p.variant_format});
    }
    a.insert(a.end(), {"--host", "127.0.0.1"});
    s.host_index = a.size() - 1;
    a.insert(a.end(), {"--port", num(p.port), "-a", p.served_model_name});
    a.insert(a.end(), {"-c", num(p.context * p.parallel), "-np", num(p.parallel), "-ngl", "all",
                       "-fa", "on"});
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
    if (req.bench) a.insert(a.end(), {"--no-cache-prompt", "--cache-ram", "0", "--metrics"});
    return s;
}

Server vllm_server(const model::ModelSpec& spec, const PlanRequest& req, const RuleBook& rules,
                   const Plan& p) {
    Server s;
    auto& a = s.argv;
    const fit::EngineSettings& st = p.fit.estimate.settings;
    const std::string model = p.variant_repo.empty() ? p.variant_file : p.variant_repo;
    a = {"vllm", "serve", model, "--host", "127.0.0.1"};
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
                           "--distributed-executor-backend", "ray"});
    }
    if (req.use == UseCase::agents) {
        const engines::Parsers ps =
            engines::parsers_for(Engine::vllm, spec.arch.architecture, spec.hf_id);
        if (!ps.tool_call.empty()) {
            a.insert(a.end(), {"--enable-auto-tool-choice", "--tool-call-parser", ps.tool_call});
        }
        if (!ps.reasoning.empty()) a.insert(a.end(), {"--reasoning-parser", ps.reasoning});
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
    }
    if (req.bench) {
        a.insert(a.end(), {"--disable-radix-cache", "--enable-metrics", "--enable-cache-report"});
    }
    return s;
}

// The same server inside the engine's official image, published on the loopback only.
LaunchCommand containerize(const Server& s, const Plan& p, const std::string& node) {
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
              "127.0.0.1:" + port + ":" + port,
              "-v",
              std::string(kHfCache) + ":/root/.cache/huggingface",
              p.engine_version.image};
    c.argv.insert(c.argv.end(), inner.begin(), inner.end());
    c.health_url = "http://127.0.0.1:" + port + "/health";
    c.note = "image " + p.engine_version.image + " (" + p.engine_version.image_source + ")";
    return c;
}

std::vector<std::pair<std::string, std::string>> fabric_env(const Plan& p, const PlanRequest& req,
                                                            const std::string& ip,
                                                            const std::string& head_ip) {
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
        {"RAY_memory_monitor_refresh_ms", "0"},
        {"MASTER_ADDR", head_ip},
    };
    if (req.cluster && !req.cluster->roce_hcas.empty()) {
        std::string hcas;
        for (const std::string& h : req.cluster->roce_hcas) hcas += (hcas.empty() ? "" : ",") + h;
        env.emplace_back("NCCL_IB_HCA", hcas);
    }
    (void)p;
    return env;
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
    if (e == Engine::llama_cpp) {
        s = llamacpp_server(spec, req, p);
        p.decisions.push_back(
            {"sizing",
             kPlan4,
             "-c " + num(p.context * p.parallel) + " -np " + num(p.parallel) + " -ngl all -fa on",
             rules.get(kPlan4).text,
             {{"context", num(p.context)},
              {"parallel", num(p.parallel)},
              {"kv_cache", base::format_bytes(p.fit.estimate.memory.kv_cache_bytes)},
              {"kv_cache_dtype", p.kv_cache_dtype}},
             {{"-np auto", "4 slots with a unified KV cache: not what was sized"},
              {"--fit on", "would change -c/-ngl behind the plan's back"}}});
    } else if (e == Engine::vllm) {
        s = vllm_server(spec, req, rules, p);
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
        if (e != Engine::llama_cpp && ps.tool_call.empty()) {
            p.warnings.push_back("agents: no " + std::string(engines::to_string(e)) +
                                 " tool-call parser is known for " + spec.arch.architecture +
                                 "; tool calls will come back as text");
        }
    }
    if (req.bench) {
        const std::string off =
            e == Engine::llama_cpp ? "--no-cache-prompt --cache-ram 0 --metrics"
            : e == Engine::vllm    ? "--no-enable-prefix-caching --enable-prompt-tokens-details "
                                     "(/metrics is on by default)"
                                   : "--disable-radix-cache --enable-metrics --enable-cache-report";
        p.decisions.push_back({"bench", kOps2, off, rules.get(kOps2).text, {}, {}});
    }

    const std::string health = "http://127.0.0.1:" + num(p.port) + "/health";
    const std::string drop =
        "sync; echo 3 > /proc/sys/vm/drop_caches (unified memory: page "
        "cache counts against the pool)";
    if (p.tensor_parallel <= 1) {
        LaunchCommand native{"local",
                             "server",
                             "native",
                             s.argv,
                             {},
                             health,
                             req.hardware.unified_memory ? "before launch: " + drop : ""};
        p.commands.push_back(native);
        if (!p.engine_version.image.empty()) {
            p.commands.push_back(containerize(s, p, "local"));
            add_placeholder(p, "HF_CACHE");
        }
        return;
    }

    // Cluster: vLLM tensor parallel over Ray (engines.md 1.6; NVIDIA's two-Spark playbook).
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
    add_placeholder(p, "HF_CACHE");
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
    for (std::uint32_t i = 0; i < p.nodes; ++i) {
        auto env = fabric_env(p, req, ips[i], head_ip);
        std::vector<std::string> ray =
            i == 0 ? std::vector<std::string>{"ray", "start", "--head",
                                              "--node-ip-address=" + ips[i], "--port=6379"}
                   : std::vector<std::string>{"ray", "start", "--address=" + head_ip + ":6379",
                                              "--node-ip-address=" + ips[i]};
        const std::string role = i == 0 ? "ray-head" : "ray-worker";
        p.commands.push_back(
            {names[i], role, "native", ray, env, std::nullopt, "keep it running; " + drop});
        // Container form: the playbook's image lacks ray, so it is installed first (playbook
        // step 2), then ray blocks in the foreground of the container.
        std::vector<std::string> c = {"docker",
                                      "run",
                                      "-d",
                                      "--name",
                                      "sparkctl-" + role,
                                      "--gpus",
                                      "all",
                                      "--network",
                                      "host",
                                      "--ipc=host",
                                      "--shm-size",
                                      "16g",
                                      "--privileged",
                                      "-v",
                                      std::string(kHfCache) + ":/root/.cache/huggingface"};
        for (const auto& [k, v] : env) c.insert(c.end(), {"-e", k + "=" + v});
        std::string inner = "pip install -q 'ray[default]>=2.9' && ";
        for (const std::string& x : ray) inner += x + " ";
        inner += "--block";
        c.insert(c.end(), {image, "bash", "-c", inner});
        p.commands.push_back({names[i],
                              role,
                              "container",
                              c,
                              {},
                              std::nullopt,
                              "image " + image + " (" + p.engine_version.image_source + ")"});
    }
    auto head_env = fabric_env(p, req, ips[0], head_ip);
    p.commands.push_back({names[0], "server", "native", s.argv, head_env, health,
                          "run on the head after `ray status` shows " + num(p.nodes) + " nodes"});
    std::vector<std::string> exec = {"docker", "exec", "sparkctl-ray-head"};
    exec.insert(exec.end(), s.argv.begin(), s.argv.end());
    p.commands.push_back({names[0],
                          "server",
                          "container",
                          exec,
                          {},
                          health,
                          "inside the head's Ray container (network host: 127.0.0.1 is the head)"});
}

}  // namespace sparkctl::plan::detail
