#include "plan/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/strings.h"

namespace sparkctl::plan {

namespace {

std::string b(std::uint64_t bytes) { return base::format_bytes(bytes); }

std::string join_argv(const std::vector<std::string>& argv) {
    std::string out;
    for (const std::string& a : argv) out += (out.empty() ? "" : " ") + shell_quote(a);
    return out;
}

std::string env_prefix(const LaunchCommand& c) {
    std::string out;
    for (const auto& [k, v] : c.env) out += k + "=" + shell_quote(v) + " ";
    return out;
}

// ANSI SGR colours (ECMA-48): green and red foreground, reset.
constexpr const char* kGreen = "\033[32m";
constexpr const char* kRed = "\033[31m";
constexpr const char* kReset = "\033[0m";

std::string paint(const std::string& s, const char* colour, bool on) {
    return on ? colour + s + kReset : s;
}

std::string status_line(const Plan& p, bool colour) {
    const fit::MemoryBreakdown& m = p.fit.estimate.memory;
    switch (p.status) {
        case Status::ok:
            if (!p.fit.supported || m.total_bytes == 0) return "";
            return paint("fits", kGreen, colour) + ": total " + b(m.total_bytes) +
                   (p.nodes > 1 ? " per node" : "") + " <= budget " + b(m.budget_bytes) + "\n";
        case Status::refused:
            return "REFUSED (exit 2): " + p.refusal + "\n";
        case Status::does_not_fit:
            return paint("DOES NOT FIT", kRed, colour) + " (exit 3): total " + b(m.total_bytes) +
                   " per node > budget " + b(m.budget_bytes) + "\n";
    }
    return "";
}

std::string fmt_double(double x, const char* f) {
    char buf[32];
    std::snprintf(buf, sizeof buf, f, x);
    return buf;
}

}  // namespace

std::string shell_quote(const std::string& arg) {
    if (arg.empty()) return "''";
    bool plain = true;
    for (char c : arg) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') ||
                        std::string_view("-_./:=,@+%").find(c) != std::string_view::npos;
        plain &= ok;
    }
    if (plain) return arg;
    if (arg.find("${") != std::string::npos && arg.find_first_of("\"`\\") == std::string::npos &&
        arg.find('$', arg.find('}')) == std::string::npos) {
        return "\"" + arg + "\"";  // a placeholder stays expandable
    }
    std::string out = "'";
    for (char c : arg) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

bool colour_wanted(bool stdout_is_tty, const char* no_color) {
    return stdout_is_tty && (no_color == nullptr || *no_color == '\0');
}

std::string render_text(const Plan& p, bool explain, bool colour) {
    std::string out;
    if (p.quant.empty()) {  // refused before the quantization was chosen
        out += p.model + " for " + to_string(p.use) + ": " + engines::to_string(p.engine) + "\n";
    } else {
        out += p.model + " for " + to_string(p.use) + ": " + engines::to_string(p.engine) + " " +
               p.engine_version.name + ", " + p.quant +
               (p.variant_repo.empty() ? "" : " (" + p.variant_repo + ")") + ", context " +
               std::to_string(p.context) + ", parallel " + std::to_string(p.parallel) +
               (p.nodes > 1 ? ", " + std::to_string(p.nodes) + " nodes (TP " +
                                  std::to_string(p.tensor_parallel) + ")"
                            : "") +
               "\n";
    }
    out += status_line(p, colour);
    out += "\nDecisions" + std::string(explain ? " (full trace)" : "") + ":\n";
    for (const Decision& d : p.decisions) {
        out += "  " + d.step + ": " + d.outcome + "  [" + d.rule + "]";
        if (!explain) {
            out += "\n";
            continue;
        }
        out += "\n      why: " + d.reason + "\n";
        if (!d.facts.empty()) {
            out += "      facts:";
            for (const auto& [k, v] : d.facts) out += " " + k + "=" + v + ";";
            out.pop_back();
            out += "\n";
        }
        for (const Rejected& r : d.rejected)
            out += "      rejected " + r.option + ": " + r.reason + "\n";
    }
    if (p.fit.supported && p.fit.estimate.memory.total_bytes > 0) {
        const fit::MemoryBreakdown& m = p.fit.estimate.memory;
        out += "\nMemory" + std::string(p.nodes > 1 ? " per node" : "") + ": weights " +
               b(m.weights_bytes) + " + KV cache " + b(m.kv_cache_bytes) + " (" + p.kv_cache_dtype +
               ") + compute " + b(m.compute_bytes) + " + overhead " + b(m.overhead_bytes) +
               (p.engine == engines::Engine::llama_cpp
                    ? " + host prompt cache " + b(m.host_prompt_cache_bytes) +
                          " + context checkpoints " + b(m.ctx_checkpoints_bytes)
                    : std::string()) +
               " = " + b(m.total_bytes) + " of " + b(m.budget_bytes) +
               " budget; peak while loading " + b(m.peak_bytes) + "\n";
    }
    if (p.performance) {
        const fit::Performance& f = p.performance->predicted;
        out += "Performance (predicted at " + std::to_string(f.parallel) + " user" +
               (f.parallel == 1 ? "" : "s") + ", depth " + std::to_string(f.depth) + ", prompt " +
               std::to_string(f.prompt) +
               (f.nodes > 1 ? ", " + std::to_string(f.nodes) + " nodes" : "") + "): decode " +
               fmt_double(f.decode_tokens_per_s, "%.1f") + " tokens/s per sequence";
        if (f.parallel > 1) {
            out += ", " + fmt_double(f.decode_tokens_per_s_total, "%.1f") + " total";
        }
        out += ", ITL " + fmt_double(f.itl_ms, "%.1f") + " ms";
        if (f.prefill_tokens_per_s) {
            out += ", prefill " + fmt_double(*f.prefill_tokens_per_s, "%.0f") + " tokens/s";
        }
        if (f.ttft_ms) out += ", TTFT " + fmt_double(*f.ttft_ms, "%.0f") + " ms";
        out += "\n  ceiling (" + p.performance->ceiling_rule +
               "): decode <= " + fmt_double(f.decode_ceiling_tokens_per_s, "%.1f") +
               " tokens/s per sequence (prediction " +
               fmt_double(100.0 * f.decode_ceiling_fraction, "%.0f") + "% of it)";
        if (p.performance->speedup_vs_one_node && p.performance->one_node) {
            out += "; speed-up over one node " +
                   fmt_double(*p.performance->speedup_vs_one_node, "%.2f") + "x (decode " +
                   fmt_double(p.performance->one_node->decode_tokens_per_s_total, "%.1f") + " -> " +
                   fmt_double(f.decode_tokens_per_s_total, "%.1f") + " tokens/s total)";
        }
        if (const auto& w = p.performance->working_point) {
            out += "\n  agents' working point (depth " + std::to_string(w->depth) + ", prompt " +
                   std::to_string(w->prompt) + "): decode " +
                   fmt_double(w->decode_tokens_per_s, "%.1f") + " tokens/s per agent, ITL " +
                   fmt_double(w->itl_ms, "%.1f") + " ms" +
                   (w->ttft_ms ? ", TTFT " + fmt_double(*w->ttft_ms, "%.0f") + " ms" : "");
        }
        out += "\n  source: " + p.performance->source + "\n";
        for (const std::string& n : p.performance->notes) out += "  note: " + n + "\n";
    }
    for (const std::string& w : p.warnings) out += "warning: " + w + "\n";
    if (!p.suggestions.empty()) {
        out +=
            "\nSuggestions (cheapest first; --prefer fit applies the first that fits, other than "
            "--quant):\n";
        for (const Suggestion& s : p.suggestions) {
            out += "  " + s.flag + ": " + s.change + " -> " + s.buys + "\n";
        }
    }
    if (!p.commands.empty()) {
        out += "\nCommands:\n";
        for (const LaunchCommand& c : p.commands) {
            out += "  # " + c.node + " " + c.role + " (" + c.kind + ")" +
                   (c.note.empty() ? "" : ": " + c.note) + "\n";
            out += "  " + env_prefix(c) + join_argv(c.argv) + "\n";
            if (c.health_url) out += "  # health: " + *c.health_url + "\n";
        }
    }
    if (!p.placeholders.empty()) {
        out += "\nPlaceholders to set:";
        for (const std::string& x : p.placeholders) out += " " + x;
        out += "\n";
    }
    return out;
}

std::uint64_t health_timeout_s(const Plan& p) {
    // Assumed effective load rate of the weights from disk: 1 GB/s. A stated assumption, not a
    // measurement: NVIDIA's DGX Spark page lists 4 TB of NVMe M.2 storage with no read speed
    // (https://www.nvidia.com/en-us/products/workstations/dgx-spark/); NVMe drives read
    // sequentially at several GB/s, but a cold load also parses, converts and copies tensors.
    constexpr double kLoadBytesPerS = 1e9;
    // Startup work besides reading (assumed): vLLM and SGLang compile (torch.compile) and capture
    // CUDA graphs before /health answers (vLLM's HTTP server starts only after the engine is up);
    // llama-server answers /health with 503 until its model is loaded.
    const double startup_s = p.engine == engines::Engine::llama_cpp ? 30.0 : 300.0;
    constexpr double kMargin = 1.5;
    constexpr std::uint64_t kLlamaSwapDefault = 120;  // llama-swap config.example.yaml
    const double load_s = static_cast<double>(p.fit.estimate.memory.weights_bytes) / kLoadBytesPerS;
    const auto s = static_cast<std::uint64_t>(std::ceil((load_s + startup_s) * kMargin));
    return std::max(s, kLlamaSwapDefault);
}

namespace {

// The variable that names a program in the sh script, so a build outside PATH (or a stand-in)
// can be used: LLAMA_SERVER=~/llama.cpp/build/bin/llama-server.
std::string program_var(const std::string& program) {
    if (program == "llama-server") return "LLAMA_SERVER";
    if (program == "vllm") return "VLLM";
    if (program == "python3") return "PYTHON";
    if (program == "ray") return "RAY";
    if (program == "docker") return "DOCKER";
    return "";
}

// argv with the program as its variable and the plan's port as ${PORT}.
std::vector<std::string> script_argv(const LaunchCommand& c, const std::string& port) {
    std::vector<std::string> argv = c.argv;
    if (!argv.empty() && !program_var(argv[0]).empty()) {
        argv[0] = "${" + program_var(argv[0]) + "}";
    }
    const std::string published = "127.0.0.1:" + port + ":" + port;
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == "--port" && argv[i + 1] == port) argv[i + 1] = "${PORT}";
        if (argv[i] == "-p" && argv[i + 1] == published) {
            argv[i + 1] = "127.0.0.1:${PORT}:${PORT}";
        }
    }
    return argv;
}

std::string script_url(const std::string& url, const std::string& port) {
    std::string out = url;
    const std::string from = ":" + port + "/";
    if (auto at = out.find(from); at != std::string::npos)
        out.replace(at, from.size(), ":${PORT}/");
    return out;
}

// A line for an unquoted here-document: placeholders (${NAME}) expand on this machine, anything
// else that the shell would expand is escaped.
std::string heredoc_line(const std::string& line) {
    std::string out;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c == '$' && i + 1 < line.size() && line[i + 1] == '{') {
            out += c;
        } else if (c == '$' || c == '`' || c == '\\') {
            out += std::string("\\") + c;
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::string render_sh(const Plan& p, const std::string& ssh_user) {
    const std::string port = std::to_string(p.port);
    std::string out =
        "#!/usr/bin/env bash\n# sparkctl plan: " + p.model + " for " + to_string(p.use) + " on " +
        engines::to_string(p.engine) + " " + p.engine_version.name +
        "\n# Starts the server in the background (log in $LOG_DIR), waits for its "
        "health URL up to\n# $HEALTH_TIMEOUT seconds, and exits 0 with it running, "
        "or 1 with the log's last lines.\nset -euo pipefail\n"
        "KIND=\"${KIND:-native}\"  # or container\n"
        "PORT=\"${PORT:-" +
        port +
        "}\"\nLOG_DIR=\"${LOG_DIR:-$PWD}\"\n"
        "HEALTH_TIMEOUT=\"${HEALTH_TIMEOUT:-" +
        std::to_string(health_timeout_s(p)) + "}\"  # seconds: weights at 1 GB/s + startup, x1.5\n";
    std::vector<std::string> programs;
    for (const LaunchCommand& c : p.commands) {
        if (c.argv.empty() || program_var(c.argv[0]).empty()) continue;
        if (std::find(programs.begin(), programs.end(), c.argv[0]) != programs.end()) continue;
        programs.push_back(c.argv[0]);
        const std::string v = program_var(c.argv[0]);
        out += v + "=\"${" + v + ":-" + c.argv[0] + "}\"\n";
    }
    bool has_container = false;
    for (const LaunchCommand& c : p.commands) has_container |= c.kind == "container";
    out += "case \"$KIND\" in\n  native) ;;\n";
    if (has_container) {
        out += "  container) ;;\n";
    } else {
        out += "  container)\n    echo \"sparkctl: " + std::string(engines::to_string(p.engine)) +
               " has no official image in the playbooks: run KIND=native\" >&2\n    exit 2 ;;\n";
    }
    out +=
        "  *) echo \"sparkctl: KIND must be native or container, not '$KIND'\" >&2; exit 2 ;;\n"
        "esac\n";
    for (const std::string& x : p.placeholders) {
        if (x == "HF_CACHE") {
            out += "HF_CACHE=\"${HF_CACHE:-$HOME/.cache/huggingface}\"\n";
        } else if (x == "HF_TOKEN") {  // a secret: not echoed, and exported for docker -e
            out +=
                "if [ -z \"${HF_TOKEN:-}\" ]; then read -rsp 'HF_TOKEN: ' HF_TOKEN; echo; fi\n"
                "export HF_TOKEN\n";
        } else {
            out += "if [ -z \"${" + x + ":-}\" ]; then read -rp '" + x + ": ' " + x + "; fi\n";
        }
    }
    out +=
        "mkdir -p \"$LOG_DIR\"\n\n"
        "# wait_healthy URL PID LOG: until URL answers; fails when PID exits or the deadline "
        "passes.\n"
        "wait_healthy() {\n"
        "  local deadline=$((SECONDS + HEALTH_TIMEOUT))\n"
        "  until curl -sf -o /dev/null \"$1\"; do\n"
        "    if ! kill -0 \"$2\" 2>/dev/null; then\n"
        "      echo \"sparkctl: the server exited before $1 answered; last lines of $3:\" >&2\n"
        "      tail -n 30 \"$3\" >&2\n"
        "      exit 1\n"
        "    fi\n"
        "    if [ \"$SECONDS\" -ge \"$deadline\" ]; then\n"
        "      echo \"sparkctl: $1 did not answer within ${HEALTH_TIMEOUT}s; stopping pid $2; "
        "last lines of $3:\" >&2\n"
        "      kill \"$2\" 2>/dev/null || true\n"
        "      tail -n 30 \"$3\" >&2\n"
        "      exit 1\n"
        "    fi\n"
        "    sleep 2\n"
        "  done\n"
        "  echo \"sparkctl: serving at ${1%/health} (pid $2, log $3)\"\n"
        "}\n";
    const std::string head = p.node_names.empty() ? "local" : p.node_names.front();
    // A gated repository's token reaches the other nodes' commands (docker -e HF_TOKEN reads the
    // node's environment).
    const bool token =
        std::find(p.placeholders.begin(), p.placeholders.end(), "HF_TOKEN") != p.placeholders.end();
    for (const std::string& kind : {std::string("native"), std::string("container")}) {
        bool any = false;
        for (const LaunchCommand& c : p.commands) any |= c.kind == kind;
        if (!any) continue;
        out += "\nif [ \"$KIND\" = " + kind + " ]; then\n";
        int rank_logs = 0;
        for (const LaunchCommand& c : p.commands) {
            if (c.kind != kind) continue;
            const std::string line = env_prefix(c) + join_argv(script_argv(c, port));
            const bool remote = c.node != "local" && c.node != head;
            out += "  # " + c.node + " " + c.role + (c.note.empty() ? "" : ": " + c.note) + "\n";
            if (c.role == "server" && c.health_url) {  // on this machine, in the background
                const std::string log = "\"$LOG_DIR/sparkctl-" + p.served_model_name + ".log\"";
                out += "  " + env_prefix(c) + "nohup " + join_argv(script_argv(c, port)) + " >" +
                       log + " 2>&1 &\n  wait_healthy " + script_url(*c.health_url, port) +
                       " \"$!\" " + log + "\n";
                continue;
            }
            const bool long_running = c.role == "worker";  // a headless rank blocks
            if (remote) {
                // The placeholders expand here, not on the node (an unquoted here-document).
                const std::string who = (ssh_user.empty() ? "" : ssh_user + "@") + c.node;
                out += "  ssh " + shell_quote(who) + " bash -s";
                if (long_running) {
                    out += " >\"$LOG_DIR/sparkctl-" + p.served_model_name + "-" + c.role +
                           std::to_string(++rank_logs) + ".log\" 2>&1";
                }
                out += " <<SPARKCTL_EOF" + std::string(long_running ? " &" : "") + "\n" +
                       (token ? "export HF_TOKEN=\"${HF_TOKEN}\"\n" : "") + heredoc_line(line) +
                       "\nSPARKCTL_EOF\n";
            } else {
                out += "  " + line + "\n";
            }
            if (c.role == "ray-head") {
                out += "  sleep 5  # let the head listen before workers join\n";
            }
        }
        out += "fi\n";
    }
    return out;
}

std::string render_compose(const Plan& p) {
    std::string out = "# sparkctl plan: " + p.model + " (" + engines::to_string(p.engine) + " " +
                      p.engine_version.name + ")\n# HF_CACHE: the host's Hugging Face cache\n";
    out += "services:\n";
    bool any = false;
    for (const LaunchCommand& c : p.commands) {
        if (c.kind != "container" || (!p.node_names.empty() && c.node != p.node_names.front())) {
            continue;
        }
        // Only `docker run` commands become services (docker exec runs in one).
        if (c.argv.size() < 2 || c.argv[1] != "run") continue;
        any = true;
        std::string image;
        std::vector<std::string> cmd, ports, volumes, env;
        bool host_net = false;
        std::size_t i = 2;
        for (; i < c.argv.size(); ++i) {
            const std::string& a = c.argv[i];
            if (a == "-p") {
                ports.push_back(c.argv[++i]);
            } else if (a == "-v") {
                volumes.push_back(c.argv[++i]);
            } else if (a == "-e") {
                env.push_back(c.argv[++i]);
            } else if (a == "--name" || a == "--shm-size" || a == "--gpus" || a == "--network") {
                host_net |= a == "--network";
                ++i;
            } else if (a.rfind("-", 0) == 0) {
                continue;
            } else {
                image = a;
                break;
            }
        }
        cmd.assign(c.argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, c.argv.end());
        out += "  " + c.role + ":\n    image: " + image + "\n    ipc: host\n    shm_size: 16g\n";
        if (host_net) out += "    network_mode: host\n    privileged: true\n";
        if (!ports.empty()) {
            out += "    ports:\n";
            for (const std::string& x : ports) out += "      - \"" + x + "\"\n";
        }
        if (!volumes.empty()) {
            out += "    volumes:\n";
            for (const std::string& x : volumes) out += "      - \"" + x + "\"\n";
        }
        if (!env.empty()) {
            out += "    environment:\n";
            for (const std::string& x : env) out += "      - \"" + x + "\"\n";
        }
        out += "    command:\n";
        for (const std::string& x : cmd) {
            std::string esc;
            for (char ch : x) esc += ch == '"' ? std::string("\\\"") : std::string(1, ch);
            out += "      - \"" + esc + "\"\n";
        }
        out +=
            "    deploy:\n      resources:\n        reservations:\n          devices:\n"
            "            - driver: nvidia\n              count: all\n              "
            "capabilities: [gpu]\n";
        if (c.health_url) {
            out += "    healthcheck:\n      test: [\"CMD-SHELL\", \"curl -sf " + *c.health_url +
                   " || exit 1\"]\n      interval: 10s\n      retries: 3\n      start_period: " +
                   std::to_string(health_timeout_s(p)) + "s\n";
        }
    }
    if (!any) {
        out += "  # " + std::string(engines::to_string(p.engine)) +
               " has no official image in the playbooks: run it natively (--format sh)\n";
    }
    return out;
}

std::string render_llama_swap(const Plan& p) {
    const LaunchCommand* server = nullptr;
    for (const LaunchCommand& c : p.commands) {
        if (c.role == "server" && c.kind == "native") {
            server = &c;
            break;
        }
    }
    const std::uint64_t timeout = health_timeout_s(p);
    std::string out = "# sparkctl plan: " + p.model + " (" + engines::to_string(p.engine) + " " +
                      p.engine_version.name +
                      "); llama-swap fills ${PORT}\n# healthCheckTimeout is global in llama-swap: "
                      "keep the largest of your entries (loading " +
                      b(p.fit.estimate.memory.weights_bytes) +
                      " at an assumed 1 GB/s, plus startup, x1.5)\nhealthCheckTimeout: " +
                      std::to_string(timeout) + "\nmodels:\n";
    if (server == nullptr) return out + "  # no server command (see the plan's status)\n";
    std::vector<std::string> argv = server->argv;
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == "--port") argv[i + 1] = "${PORT}";
    }
    // llama-swap runs cmd without a shell: the environment goes in env:, and ${env.NAME} is read
    // from llama-swap's own environment (config.example.yaml, macros).
    out += "  \"" + p.served_model_name + "\":\n    cmd: >\n      " + join_argv(argv) +
           "\n    proxy: \"http://127.0.0.1:${PORT}\"\n    checkEndpoint: \"/health\"\n";
    if (!server->env.empty()) {
        out += "    env:\n";
        for (const auto& [k, v] : server->env) {
            std::string value = v;
            if (value.starts_with("${") && value.ends_with("}")) {
                value = "${env." + value.substr(2);
            }
            out += "      - \"" + k + "=" + value + "\"\n";
        }
    }
    return out;
}

}  // namespace sparkctl::plan
