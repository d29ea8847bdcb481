#include "doctor/doctor.h"

#include "base/strings.h"
#include "doctor/detail/checks.h"

namespace sparkctl::doctor {

namespace detail {

std::string bytes(std::uint64_t n) { return base::format_bytes(n); }

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (const std::string& s : items) {
        if (!out.empty()) out += sep;
        out += s;
    }
    return out;
}

std::string first_line(std::string_view text) {
    for (const std::string& line : base::split(text, '\n')) {
        std::string_view t = base::trim(line);
        if (!t.empty()) return base::printable(t, 200);
    }
    return "";
}

}  // namespace detail

namespace {

bool is_digits(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// The whitespace-delimited word after `key` in `line`; "" when absent.
std::string word_after(std::string_view line, std::string_view key) {
    std::size_t at = line.find(key);
    if (at == std::string_view::npos) return "";
    std::string_view rest = base::trim(line.substr(at + key.size()));
    return std::string(rest.substr(0, rest.find_first_of(" \t|")));
}

}  // namespace

const char* to_string(Status status) {
    switch (status) {
        case Status::ok:
            return "ok";
        case Status::warn:
            return "warn";
        case Status::fail:
            return "fail";
    }
    return "fail";
}

bool any_failed(const std::vector<Check>& checks) {
    for (const Check& c : checks) {
        if (c.status == Status::fail) return true;
    }
    return false;
}

base::Result<NvidiaSmiTable> parse_nvidia_smi_table(std::string_view text) {
    NvidiaSmiTable t;
    for (const std::string& raw : base::split(text, '\n')) {
        std::string_view line = base::trim(raw);
        if (t.driver_version.empty() && line.find("Driver Version:") != std::string_view::npos) {
            t.driver_version = word_after(line, "Driver Version:");
            t.cuda_version = word_after(line, "CUDA Version:");
            continue;
        }
        // A GPU row's first cell: "|   0  NVIDIA GB10                    On  |".
        if (line.size() < 2 || line[0] != '|') continue;
        std::string_view cell = line.substr(1);
        cell = base::trim(cell.substr(0, cell.find('|')));
        std::size_t sp = cell.find(' ');
        if (sp == std::string_view::npos || !is_digits(cell.substr(0, sp))) continue;
        const std::size_t last = cell.find_last_of(' ');
        const std::string_view persistence = cell.substr(last + 1);
        if (persistence != "On" && persistence != "Off") continue;
        t.gpu_names.emplace_back(base::trim(cell.substr(sp, last - sp)));
    }
    if (t.driver_version.empty()) {
        return base::make_error(base::Errc::bad_input,
                                "nvidia-smi output has no 'Driver Version:' line");
    }
    return t;
}

DockerInfo parse_docker_info(std::string_view stdout_text, std::string_view stderr_text) {
    DockerInfo info;
    for (const std::string& raw : base::split(stdout_text, '\n')) {
        std::string_view line = base::trim(raw);
        auto value = [&](std::string_view key) -> std::optional<std::string> {
            if (line.rfind(key, 0) != 0) return std::nullopt;
            return std::string(base::trim(line.substr(key.size())));
        };
        if (auto v = value("Server Version:")) {
            info.server_version = *v;
        } else if (auto r = value("Runtimes:")) {
            for (const std::string& name : base::split(*r, ' ')) {
                if (!name.empty()) info.runtimes.push_back(name);
            }
        } else if (auto d = value("Default Runtime:")) {
            info.default_runtime = *d;
        } else if (auto e = value("ERROR:")) {
            info.server_error = *e;  // newer clients print the daemon error under "Server:"
        }
    }
    if (info.server_error.empty() && info.server_version.empty()) {
        info.server_error = detail::first_line(stderr_text);
    }
    return info;
}

std::optional<SysfsState> parse_sysfs_state(std::string_view text) {
    std::string_view t = base::trim(text);
    const std::size_t colon = t.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto code = base::parse_u64(base::trim(t.substr(0, colon)));
    if (!code || *code > 255) return std::nullopt;
    return SysfsState{static_cast<int>(*code), std::string(base::trim(t.substr(colon + 1)))};
}

std::vector<std::string> find_oom_daemons(Machine& machine) {
    std::vector<std::string> found;
    auto pids = machine.list_dir("/proc");
    if (!pids) return found;
    for (const std::string& pid : *pids) {
        if (!is_digits(pid)) continue;
        auto comm = machine.read_file("/proc/" + pid + "/comm");
        if (!comm) continue;  // the process exited meanwhile
        const std::string_view name = base::trim(*comm);
        if (name == "earlyoom" || name == "systemd-oomd") {
            found.push_back(std::string(name) + " (pid " + pid + ")");
        }
    }
    return found;
}

std::string hf_hub_cache(Machine& machine) {
    // huggingface_hub src/huggingface_hub/constants.py: HF_HUB_CACHE, else the legacy
    // HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub; HF_HOME defaults to $XDG_CACHE_HOME/huggingface
    // and XDG_CACHE_HOME to ~/.cache.
    if (auto v = machine.getenv("HF_HUB_CACHE")) return *v;
    if (auto v = machine.getenv("HUGGINGFACE_HUB_CACHE")) return *v;
    if (auto v = machine.getenv("HF_HOME")) return *v + "/hub";
    if (auto v = machine.getenv("XDG_CACHE_HOME")) return *v + "/huggingface/hub";
    return machine.getenv("HOME").value_or("") + "/.cache/huggingface/hub";
}

std::vector<Check> run_checks(Machine& machine, const Inputs& inputs) {
    std::vector<Check> out;
    detail::memory_checks(machine, inputs, out);
    detail::gpu_checks(machine, inputs, out);
    detail::software_checks(machine, inputs, out);
    if (inputs.fabric) detail::fabric_checks(machine, *inputs.fabric, out);
    return out;
}

}  // namespace sparkctl::doctor
