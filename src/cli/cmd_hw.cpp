// sparkctl hw: the detected hardware of this machine, a profile (--hardware), or the built-in
// profiles (--list).
#include <fmt/format.h>

#include <memory>
#include <string>

#include "base/exit_status.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/hw_json.h"
#include "hw/detect.h"
#include "hw/profile.h"

namespace sparkctl::cli {

namespace {

using nlohmann::json;

json optional_json(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json compute_json(const hw::ComputePeaks& c) {
    return {{"fp4_flops_per_s", optional_json(c.fp4_flops_per_s)},
            {"fp8_flops_per_s", optional_json(c.fp8_flops_per_s)},
            {"bf16_flops_per_s", optional_json(c.bf16_flops_per_s)},
            {"int8_ops_per_s", optional_json(c.int8_ops_per_s)},
            {"fp32_flops_per_s", optional_json(c.fp32_flops_per_s)}};
}

json profile_json(const hw::HardwareProfile& p) {
    json j;
    j["name"] = p.name;
    j["description"] = p.description;
    j["aliases"] = p.aliases;
    j["detected"] = p.detected;
    j["unified_memory"] = p.unified_memory;
    j["nodes"] = p.nodes;
    j["memory_total_bytes"] = p.memory_total_bytes;
    j["os_reserve_bytes"] = p.os_reserve_bytes;
    j["os_reserve_rule"] = p.os_reserve_rule;
    j["budget_bytes"] = p.budget_bytes();
    j["memory_bandwidth_bytes_per_s"] =
        p.memory_bandwidth_bytes_per_s ? json(*p.memory_bandwidth_bytes_per_s) : json(nullptr);
    j["compute_dense"] = compute_json(p.compute_dense);
    j["compute_sparse"] = compute_json(p.compute_sparse);
    j["gpu"] = {{"name", p.gpu_name}, {"compute_capability", p.gpu_compute_capability}};
    j["cpu"] = {{"description", p.cpu_description},
                {"cores", p.cpu_cores ? json(*p.cpu_cores) : json(nullptr)}};
    j["interconnect"] = {
        {"name", p.interconnect_name},
        {"gbps", p.interconnect_gbps ? json(*p.interconnect_gbps) : json(nullptr)}};
    j["notes"] = p.notes;
    j["sources"] = p.sources;
    return j;
}

}  // namespace

json detection_json(const hw::Detection& d) {
    json j;
    j["memory_total_bytes"] = d.memory.memory_total_bytes;
    j["memory_available_bytes"] = d.memory.memory_available_bytes;
    j["memory_free_bytes"] =
        d.memory.memory_free_bytes ? json(*d.memory.memory_free_bytes) : json(nullptr);
    j["swap_total_bytes"] =
        d.memory.swap_total_bytes ? json(*d.memory.swap_total_bytes) : json(nullptr);
    j["swap_free_bytes"] =
        d.memory.swap_free_bytes ? json(*d.memory.swap_free_bytes) : json(nullptr);
    j["swap_on"] = d.swap_on();
    j["swap_in_use"] = d.swap_in_use();
    j["unified_memory"] = d.unified_memory;
    if (d.cpu) {
        json kinds = json::array();
        for (const auto& [name, count] : d.cpu->core_kinds) {
            kinds.push_back({{"name", name}, {"count", count}});
        }
        j["cpu"] = {
            {"model", d.cpu->model}, {"logical_cpus", d.cpu->logical_cpus}, {"core_kinds", kinds}};
    } else {
        j["cpu"] = nullptr;
    }
    j["nvidia_smi_found"] = d.nvidia_smi_found;
    json gpus = json::array();
    for (const hw::GpuInfo& g : d.gpus) {
        auto opt = [](const std::optional<std::uint64_t>& v) {
            return v ? json(*v) : json(nullptr);
        };
        gpus.push_back({{"index", g.index ? json(*g.index) : json(nullptr)},
                        {"name", g.name},
                        {"memory_total_bytes", opt(g.memory_total_bytes)},
                        {"memory_used_bytes", opt(g.memory_used_bytes)},
                        {"memory_free_bytes", opt(g.memory_free_bytes)},
                        {"memory_source", g.memory_source},
                        {"unified_memory", g.unified_memory},
                        {"compute_capability", g.compute_capability},
                        {"driver_version", g.driver_version}});
    }
    j["gpus"] = gpus;
    j["warnings"] = d.warnings;
    return j;
}

namespace {

std::string gib(std::uint64_t bytes) { return base::format_bytes(bytes); }

std::string rate(const std::optional<double>& v, const char* unit) {
    if (!v) return "unknown";
    return fmt::format("{:.1f} T{}", *v / 1e12, unit);
}

std::string compute_text(const hw::ComputePeaks& c) {
    if (c.empty()) return "unknown";
    std::string s;
    auto add = [&](const char* label, const std::optional<double>& v, const char* unit) {
        if (!v) return;
        if (!s.empty()) s += ", ";
        s += fmt::format("{} {}", label, rate(v, unit));
    };
    add("fp4", c.fp4_flops_per_s, "FLOP/s");
    add("fp8", c.fp8_flops_per_s, "FLOP/s");
    add("bf16", c.bf16_flops_per_s, "FLOP/s");
    add("int8", c.int8_ops_per_s, "OP/s");
    add("fp32", c.fp32_flops_per_s, "FLOP/s");
    return s + " (others unknown)";
}

std::string profile_text(const hw::HardwareProfile& p) {
    std::string s = fmt::format("{}: {}\n", p.name, p.description);
    auto row = [&](const char* k, const std::string& v) {
        s += fmt::format("  {:<18} {}\n", k, v);
    };
    row("memory total", fmt::format("{} ({} bytes){}", gib(p.memory_total_bytes),
                                    p.memory_total_bytes, p.unified_memory ? ", unified" : ""));
    row("OS reserve", fmt::format("{} ({})", gib(p.os_reserve_bytes), p.os_reserve_rule));
    row("budget", gib(p.budget_bytes()));
    row("bandwidth",
        p.memory_bandwidth_bytes_per_s
            ? fmt::format("{:.0f} GB/s", static_cast<double>(*p.memory_bandwidth_bytes_per_s) / 1e9)
            : "unknown");
    row("compute (dense)", compute_text(p.compute_dense));
    row("compute (sparse)", compute_text(p.compute_sparse));
    if (!p.gpu_name.empty()) {
        row("GPU", p.gpu_name + (p.gpu_compute_capability.empty()
                                     ? ""
                                     : " (compute " + p.gpu_compute_capability + ")"));
    }
    if (!p.cpu_description.empty() || p.cpu_cores) {
        row("CPU", p.cpu_description +
                       (p.cpu_cores ? fmt::format(" ({} cores)", *p.cpu_cores) : std::string()));
    }
    if (!p.interconnect_name.empty()) {
        row("interconnect",
            p.interconnect_name +
                (p.interconnect_gbps ? fmt::format(", {:g} Gbps", *p.interconnect_gbps) : ""));
    }
    row("nodes", std::to_string(p.nodes));
    for (const std::string& n : p.notes) row("note", n);
    if (!p.sources.empty()) {
        s += "sources:\n";
        for (const auto& [field, citation] : p.sources) {
            s += fmt::format("  {}: {}\n", field, citation);
        }
    }
    return s;
}

std::string detection_text(const hw::Detection& d) {
    std::string s;
    auto row = [&](const std::string& k, const std::string& v) {
        s += fmt::format("{:<10} {}\n", k, v);
    };
    row("memory",
        fmt::format("{} total, {} available (MemAvailable){}", gib(d.memory.memory_total_bytes),
                    gib(d.memory.memory_available_bytes),
                    d.unified_memory ? ", shared by CPU and GPU" : ""));
    if (!d.memory.swap_total_bytes) {
        row("swap", "unknown");
    } else if (!d.swap_on()) {
        row("swap", "off");
    } else {
        std::uint64_t used =
            *d.memory.swap_total_bytes -
            std::min(*d.memory.swap_total_bytes, d.memory.swap_free_bytes.value_or(0));
        row("swap", fmt::format("on: {} total, {} used (R-OPS-1: avoid swap)",
                                gib(*d.memory.swap_total_bytes), gib(used)));
    }
    if (d.cpu) {
        row("cpu", fmt::format("{} ({} logical CPUs)",
                               d.cpu->model.empty() ? "unknown model" : d.cpu->model,
                               d.cpu->logical_cpus));
    } else {
        row("cpu", "unknown");
    }
    if (d.gpus.empty()) {
        row("gpu", d.nvidia_smi_found ? "none reported by nvidia-smi"
                                      : "no NVIDIA GPU (nvidia-smi not found)");
    }
    for (std::size_t i = 0; i < d.gpus.size(); ++i) {
        const hw::GpuInfo& g = d.gpus[i];
        std::string mem;
        if (g.unified_memory) {
            mem = "unified memory (nvidia-smi reports none; pool figures from /proc/meminfo)";
        } else if (g.memory_total_bytes) {
            mem = fmt::format("{} total", gib(*g.memory_total_bytes));
            if (g.memory_free_bytes) mem += fmt::format(", {} free", gib(*g.memory_free_bytes));
        } else {
            mem = "memory unknown";
        }
        std::string extra;
        if (!g.compute_capability.empty()) extra += ", compute " + g.compute_capability;
        if (!g.driver_version.empty()) extra += ", driver " + g.driver_version;
        row(fmt::format("gpu {}", g.index.value_or(static_cast<int>(i))),
            fmt::format("{}: {}{}", g.name, mem, extra));
    }
    hw::HardwareProfile local = hw::profile_from_detection(d);
    row("budget", fmt::format("{} as 'local' ({}); see sparkctl hw --hardware local",
                              gib(local.budget_bytes()), local.os_reserve_rule));
    for (const std::string& w : d.warnings) row("warning", w);
    return s;
}

}  // namespace

Action setup_hw(CLI::App& app, Context& ctx) {
    auto list = std::make_shared<bool>(false);  // shared with the action, which outlives setup
    app.add_flag("--list", *list, "List the built-in hardware profiles");
    ctx.add_config_flag(app, "hardware");
    return [list](Context& c) -> int {
        if (*list) {
            if (c.out.json) {
                json profiles = json::array();
                for (const std::string& name : hw::profile_names()) {
                    profiles.push_back(profile_json(hw::find_profile(name).value()));
                }
                c.out.emit_json({{"profiles", profiles}});
            } else {
                std::string s = fmt::format("{:<18} {:>12} {:>12} {:>10}  {}\n", "NAME", "MEMORY",
                                            "BUDGET", "BANDWIDTH", "DESCRIPTION");
                for (const std::string& name : hw::profile_names()) {
                    hw::HardwareProfile p = hw::find_profile(name).value();
                    std::string bw =
                        p.memory_bandwidth_bytes_per_s
                            ? fmt::format(
                                  "{:.0f} GB/s",
                                  static_cast<double>(*p.memory_bandwidth_bytes_per_s) / 1e9)
                            : "unknown";
                    s += fmt::format("{:<18} {:>12} {:>12} {:>10}  {}\n", p.name,
                                     gib(p.memory_total_bytes), gib(p.budget_bytes()), bw,
                                     p.description);
                }
                c.out.emit_text(s);
            }
            return base::kExitOk;
        }

        std::unique_ptr<hw::System> system = hw::make_real_system();
        if (c.flags.count("hardware") != 0) {
            auto cfg = c.config();
            if (!cfg) return c.out.fail(cfg.error());
            auto p = hw::resolve_hardware((*cfg)->value("hardware"), *system);
            if (!p) return c.out.fail(p.error());
            if (c.out.json)
                c.out.emit_json({{"profile", profile_json(*p)}});
            else
                c.out.emit_text(profile_text(*p));
            return base::kExitOk;
        }

        auto d = hw::detect(*system);
        if (!d) return c.out.fail(d.error());
        if (c.out.json) {
            c.out.emit_json({{"detected", detection_json(*d)}});
        } else {
            c.out.emit_text(detection_text(*d));
        }
        return base::kExitOk;
    };
}

}  // namespace sparkctl::cli
