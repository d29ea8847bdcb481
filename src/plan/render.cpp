#include "plan/render.h"

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

std::string status_line(const Plan& p) {
    switch (p.status) {
        case Status::ok:
            return "";
        case Status::refused:
            return "REFUSED (exit 2): " + p.refusal + "\n";
        case Status::does_not_fit:
            return "DOES NOT FIT (exit 3): total " + b(p.fit.estimate.memory.total_bytes) +
                   " per node > budget " + b(p.fit.estimate.memory.budget_bytes) + "\n";
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

std::string render_text(const Plan& p, bool explain) {
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
    out += status_line(p);
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
               ") + compute " + b(m.compute_bytes) + " + overhead " + b(m.overhead_bytes) + " = " +
               b(m.total_bytes) + " of " + b(m.budget_bytes) + " budget; peak while loading " +
               b(m.peak_bytes) + "\n";
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

std::string render_sh(const Plan& p, const std::string& ssh_user) {
    std::string out = "#!/usr/bin/env bash\n# sparkctl plan: " + p.model + " for " +
                      to_string(p.use) + " on " + engines::to_string(p.engine) + " " +
                      p.engine_version.name +
                      "\nset -euo pipefail\nKIND=\"${KIND:-native}\"  # or container\n";
    for (const std::string& x : p.placeholders) {
        if (x == "HF_CACHE") {
            out += "HF_CACHE=\"${HF_CACHE:-$HOME/.cache/huggingface}\"\n";
            continue;
        }
        out += "if [ -z \"${" + x + ":-}\" ]; then read -rp '" + x + ": ' " + x + "; fi\n";
    }
    std::string head = p.node_names.empty() ? "local" : p.node_names.front();
    for (const std::string& kind : {std::string("native"), std::string("container")}) {
        bool any = false;
        for (const LaunchCommand& c : p.commands) any |= c.kind == kind;
        if (!any) continue;
        out += "\nif [ \"$KIND\" = " + kind + " ]; then\n";
        for (const LaunchCommand& c : p.commands) {
            if (c.kind != kind) continue;
            std::string line = env_prefix(c) + join_argv(c.argv);
            const bool remote = c.node != "local" && c.node != head;
            const bool background = c.role != "server" || remote;
            out += "  # " + c.node + " " + c.role + (c.note.empty() ? "" : ": " + c.note) + "\n";
            if (remote) {
                const std::string who = (ssh_user.empty() ? "" : ssh_user + "@") + c.node;
                line = "ssh " + shell_quote(who) + " " + shell_quote(line);
            }
            out += "  " + line + (background && c.kind == "native" ? " &" : "") + "\n";
            if (c.role == "ray-head")
                out += "  sleep 5  # let the head listen before workers join\n";
            if (c.role == "server" && c.health_url) {
                out += "  until curl -sf " + *c.health_url +
                       " >/dev/null; do sleep 5; done  # add & to the line above to wait here\n";
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
                   " || exit 1\"]\n      interval: 10s\n      retries: 90\n";
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
    std::string out = "# sparkctl plan: " + p.model + " (" + engines::to_string(p.engine) + " " +
                      p.engine_version.name + "); llama-swap fills ${PORT}\nmodels:\n";
    if (server == nullptr) return out + "  # no server command (see the plan's status)\n";
    std::vector<std::string> argv = server->argv;
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == "--port") argv[i + 1] = "${PORT}";
    }
    out += "  \"" + p.served_model_name + "\":\n    cmd: >\n      " + env_prefix(*server) +
           join_argv(argv) +
           "\n    proxy: \"http://127.0.0.1:${PORT}\"\n    checkEndpoint: \"/health\"\n";
    return out;
}

}  // namespace sparkctl::plan
