#include "hw/detect.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "base/strings.h"

namespace sparkctl::hw {

namespace {

using base::Errc;
using base::make_error;

constexpr std::uint64_t kMiB = 1024ull * 1024ull;
constexpr std::uint64_t kGiB = 1024ull * kMiB;
constexpr std::size_t kMaxProcFileBytes = 4u << 20;
constexpr std::chrono::milliseconds kNvidiaSmiTimeout{10000};

// Discrete GPUs keep 1 GiB back for display and driver allocations (docs/dev/hw.md).
constexpr std::uint64_t kDiscreteReserveBytes = kGiB;
// Unified or CPU-only machines without a known profile: the dgx-spark share (docs/dev/hw.md).
constexpr double kUnifiedReserveFraction = 0.15;

const std::string_view kQueryColumns[] = {"name",        "memory.total", "memory.used",
                                          "memory.free", "compute_cap",  "driver_version"};

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        if (end == text.size()) break;
        start = end + 1;
    }
    return lines;
}

std::vector<std::string_view> split_cells(std::string_view line) {
    std::vector<std::string_view> cells;
    std::size_t start = 0;
    while (true) {
        std::size_t comma = line.find(',', start);
        std::string_view cell = line.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        cells.push_back(base::trim(cell));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return cells;
}

bool contains_icase(std::string_view hay, std::string_view needle) {
    return base::to_lower(hay).find(base::to_lower(needle)) != std::string::npos;
}

// "[N/A]", "N/A", "[Not Supported]", "Not Supported", "" -> unknown.
bool is_unknown(std::string_view cell) {
    std::string c = base::to_lower(cell);
    return c.empty() || c == "[n/a]" || c == "n/a" || c == "[not supported]" ||
           c == "not supported" || c == "[unknown error]";
}

// A header cell: "name", "memory.total [MiB]", "clocks.current.sm [MHz]".
bool is_header_cell(std::string_view cell, bool& has_letter) {
    std::size_t bracket = cell.find(" [");
    std::string_view key = cell.substr(0, bracket);
    if (key.empty()) return false;
    for (char ch : key) {
        bool lower = ch >= 'a' && ch <= 'z';
        has_letter = has_letter || lower;
        if (!lower && !(ch >= '0' && ch <= '9') && ch != '.' && ch != '_') return false;
    }
    return bracket == std::string_view::npos || cell.back() == ']';
}

bool is_header_line(const std::vector<std::string_view>& cells) {
    bool has_letter = false;
    for (std::string_view c : cells) {
        if (!is_header_cell(c, has_letter)) return false;
    }
    return has_letter;
}

std::string_view header_key(std::string_view cell) {
    std::size_t bracket = cell.find(" [");
    return cell.substr(0, bracket);
}

// A MiB figure, with or without a " MiB" suffix.
base::Result<std::optional<std::uint64_t>> parse_mib(std::string_view cell, std::size_t line_no,
                                                     std::string_view column) {
    if (is_unknown(cell)) return std::optional<std::uint64_t>();
    std::string_view v = cell;
    if (v.size() > 3 && v.substr(v.size() - 3) == "MiB") v = base::trim(v.substr(0, v.size() - 3));
    auto n = base::parse_u64(v);
    if (!n || *n > std::numeric_limits<std::uint64_t>::max() / kMiB) {
        return make_error(Errc::bad_input, "nvidia-smi output line " + std::to_string(line_no) +
                                               ": " + std::string(column) + ": '" +
                                               base::printable(cell) + "' is not a MiB count");
    }
    return std::optional<std::uint64_t>(*n * kMiB);
}

class RealSystem : public System {
  public:
    base::Result<std::string> read_file(const std::filesystem::path& path) override {
        // /proc files report st_size 0, so read until EOF instead of trusting the size.
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            Errc code = (err == ENOENT || err == ENOTDIR) ? Errc::not_found : Errc::io;
            return make_error(code, path.string() + ": cannot open: " + std::strerror(err));
        }
        std::string out;
        char buf[65536];
        while (true) {
            ssize_t got = ::read(fd, buf, sizeof buf);
            if (got < 0) {
                if (errno == EINTR) continue;
                int err = errno;
                ::close(fd);
                return make_error(Errc::io, path.string() + ": read failed: " + std::strerror(err));
            }
            if (got == 0) break;
            out.append(buf, static_cast<std::size_t>(got));
            if (out.size() > kMaxProcFileBytes) {
                ::close(fd);
                return make_error(Errc::bad_input, path.string() + ": larger than " +
                                                       std::to_string(kMaxProcFileBytes) +
                                                       " bytes");
            }
        }
        ::close(fd);
        return out;
    }

    base::Result<base::ProcessResult> run(const std::vector<std::string>& argv,
                                          std::chrono::milliseconds timeout) override {
        base::RunOptions options;
        options.timeout = timeout;
        options.max_output_bytes = 1u << 20;
        return base::run_process(argv, options);
    }
};

std::string first_line(std::string_view s) {
    std::string_view t = base::trim(s);
    return base::printable(t.substr(0, t.find('\n')), 200);
}

}  // namespace

base::Result<MemInfo> parse_meminfo(std::string_view text) {
    MemInfo m;
    std::optional<std::uint64_t> total, available;
    std::size_t line_no = 0;
    for (std::string_view line : split_lines(text)) {
        ++line_no;
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view key = base::trim(line.substr(0, colon));
        std::optional<std::uint64_t>* slot = nullptr;
        if (key == "MemTotal")
            slot = &total;
        else if (key == "MemAvailable")
            slot = &available;
        else if (key == "MemFree")
            slot = &m.memory_free_bytes;
        else if (key == "SwapTotal")
            slot = &m.swap_total_bytes;
        else if (key == "SwapFree")
            slot = &m.swap_free_bytes;
        else if (key == "Cached")
            slot = &m.page_cache_bytes;
        if (slot == nullptr) continue;
        std::string_view value = base::trim(line.substr(colon + 1));
        bool kib = false;
        if (value.size() >= 2 && value.substr(value.size() - 2) == "kB") {
            value = base::trim(value.substr(0, value.size() - 2));
            kib = true;
        }
        auto n = base::parse_u64(value);
        if (!n || (kib && *n > std::numeric_limits<std::uint64_t>::max() / 1024)) {
            return make_error(Errc::bad_input, "/proc/meminfo line " + std::to_string(line_no) +
                                                   ": " + std::string(key) + ": '" +
                                                   base::printable(value) + "' is not a kB count");
        }
        *slot = kib ? *n * 1024 : *n;
    }
    if (!total) return make_error(Errc::bad_input, "/proc/meminfo: no MemTotal line");
    if (!available) {
        return make_error(Errc::bad_input,
                          "/proc/meminfo: no MemAvailable line (kernel older than 3.14?)");
    }
    m.memory_total_bytes = *total;
    m.memory_available_bytes = *available;
    return m;
}

std::string arm_core_name(std::string_view implementer, std::string_view part) {
    std::string imp = base::to_lower(implementer);
    std::string p = base::to_lower(part);
    struct Part {
        const char* implementer;
        const char* part;
        const char* name;
    };
    // MIDR values from Arm's and NVIDIA's TRMs as listed in util-linux lscpu (lscpu-arm.c).
    static const Part kParts[] = {
        {"0x41", "0xd03", "Cortex-A53"},  {"0x41", "0xd05", "Cortex-A55"},
        {"0x41", "0xd07", "Cortex-A57"},  {"0x41", "0xd08", "Cortex-A72"},
        {"0x41", "0xd0b", "Cortex-A76"},  {"0x41", "0xd0c", "Neoverse-N1"},
        {"0x41", "0xd40", "Neoverse-V1"}, {"0x41", "0xd41", "Cortex-A78"},
        {"0x41", "0xd44", "Cortex-X1"},   {"0x41", "0xd46", "Cortex-A510"},
        {"0x41", "0xd47", "Cortex-A710"}, {"0x41", "0xd48", "Cortex-X2"},
        {"0x41", "0xd49", "Neoverse-N2"}, {"0x41", "0xd4f", "Neoverse-V2"},
        {"0x41", "0xd80", "Cortex-A520"}, {"0x41", "0xd81", "Cortex-A720"},
        {"0x41", "0xd82", "Cortex-X4"},   {"0x41", "0xd84", "Neoverse-V3"},
        {"0x41", "0xd85", "Cortex-X925"}, {"0x41", "0xd87", "Cortex-A725"},
        {"0x41", "0xd8e", "Neoverse-N3"}, {"0x4e", "0x004", "NVIDIA Carmel"},
    };
    for (const Part& e : kParts) {
        if (imp == e.implementer && p == e.part) return e.name;
    }
    return "";
}

base::Result<CpuInfo> parse_cpuinfo(std::string_view text) {
    CpuInfo info;
    std::string model_name;
    std::string implementer;
    std::vector<std::string> kinds;  // one per processor (aarch64)
    auto flush_arm = [&](const std::string& part) {
        std::string name = arm_core_name(implementer, part);
        if (name.empty()) name = "Arm part " + part + " (implementer " + implementer + ")";
        kinds.push_back(name);
    };
    for (std::string_view line : split_lines(text)) {
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view key = base::trim(line.substr(0, colon));
        std::string_view value = base::trim(line.substr(colon + 1));
        if (key == "processor") {
            ++info.logical_cpus;
        } else if (key == "model name" && model_name.empty()) {
            model_name = base::printable(value, 200);
        } else if (key == "CPU implementer") {
            implementer = std::string(value);
        } else if (key == "CPU part") {
            flush_arm(std::string(value));
        }
    }
    if (info.logical_cpus == 0) {
        return make_error(Errc::bad_input, "/proc/cpuinfo: no 'processor' entries");
    }
    for (const std::string& k : kinds) {
        bool found = false;
        for (auto& [name, count] : info.core_kinds) {
            if (name == k) {
                ++count;
                found = true;
            }
        }
        if (!found) info.core_kinds.emplace_back(k, 1);
    }
    if (!model_name.empty()) {
        info.model = model_name;
    } else if (!info.core_kinds.empty()) {
        std::string m;
        for (const auto& [name, count] : info.core_kinds) {
            if (!m.empty()) m += " + ";
            m += std::to_string(count) + "x " + name;
        }
        info.model = m;
    }
    return info;
}

std::span<const std::string_view> nvidia_smi_query_columns() { return kQueryColumns; }

base::Result<std::vector<GpuInfo>> parse_nvidia_smi_csv(std::string_view text,
                                                        std::span<const std::string_view> columns) {
    std::vector<GpuInfo> gpus;
    std::vector<std::string_view> header(columns.begin(), columns.end());
    bool first = true;
    std::size_t line_no = 0;
    for (std::string_view raw : split_lines(text)) {
        ++line_no;
        std::string_view line = base::trim(raw);
        if (line.empty()) continue;
        std::vector<std::string_view> cells = split_cells(line);
        if (first) {
            first = false;
            if (is_header_line(cells)) {
                header.clear();
                for (std::string_view c : cells) header.push_back(header_key(c));
                continue;
            }
        }
        if (cells.size() != header.size()) {
            return make_error(Errc::bad_input, "nvidia-smi output line " + std::to_string(line_no) +
                                                   ": " + std::to_string(cells.size()) +
                                                   " cells, expected " +
                                                   std::to_string(header.size()) + ": '" +
                                                   base::printable(line) + "'");
        }
        GpuInfo g;
        bool named = false;
        for (std::size_t i = 0; i < cells.size(); ++i) {
            std::string_view col = header[i];
            std::string_view cell = cells[i];
            if (col == "name" || col == "gpu_name") {
                g.name = base::printable(cell, 200);
                named = true;
            } else if (col == "index") {
                auto n = base::parse_u64(cell);
                if (n && *n < 4096) g.index = static_cast<int>(*n);
            } else if (col == "memory.total" || col == "memory.used" || col == "memory.free") {
                auto v = parse_mib(cell, line_no, col);
                if (!v) return v.error();
                if (col == "memory.total") g.memory_total_bytes = *v;
                if (col == "memory.used") g.memory_used_bytes = *v;
                if (col == "memory.free") g.memory_free_bytes = *v;
            } else if (col == "compute_cap") {
                if (!is_unknown(cell)) g.compute_capability = base::printable(cell, 16);
            } else if (col == "driver_version") {
                if (!is_unknown(cell)) g.driver_version = base::printable(cell, 64);
            }
        }
        if (!named) {
            return make_error(Errc::bad_input, "nvidia-smi output: no 'name' column");
        }
        if (g.memory_total_bytes) g.memory_source = "nvidia-smi";
        gpus.push_back(std::move(g));
    }
    return gpus;
}

std::unique_ptr<System> make_real_system() { return std::make_unique<RealSystem>(); }

base::Result<Detection> detect(System& system) {
    Detection d;
    auto meminfo_text = system.read_file("/proc/meminfo");
    if (!meminfo_text) return meminfo_text.error();
    auto mem = parse_meminfo(*meminfo_text);
    if (!mem) return mem.error();
    d.memory = *mem;

    auto cpu_text = system.read_file("/proc/cpuinfo");
    if (!cpu_text) {
        d.warnings.push_back("cpu: " + cpu_text.error().message);
    } else {
        auto cpu = parse_cpuinfo(*cpu_text);
        if (cpu)
            d.cpu = *cpu;
        else
            d.warnings.push_back("cpu: " + cpu.error().message);
    }

    std::string query = "--query-gpu=";
    for (std::size_t i = 0; i < std::size(kQueryColumns); ++i) {
        query += (i ? "," : "") + std::string(kQueryColumns[i]);
    }
    auto smi =
        system.run({"nvidia-smi", query, "--format=csv,noheader,nounits"}, kNvidiaSmiTimeout);
    if (!smi) {
        // An absent nvidia-smi means no NVIDIA GPU: not an error, not worth a warning.
        if (smi.error().code != Errc::not_found) {
            d.warnings.push_back("gpu: nvidia-smi: " + smi.error().message);
        }
    } else {
        d.nvidia_smi_found = true;
        if (smi->timed_out) {
            d.warnings.push_back("gpu: nvidia-smi timed out after " +
                                 std::to_string(kNvidiaSmiTimeout.count() / 1000) + " s");
        } else if (smi->exit_code != 0) {
            std::string why = first_line(smi->stdout_text + smi->stderr_text);
            d.warnings.push_back("gpu: nvidia-smi exited with status " +
                                 std::to_string(smi->exit_code) + (why.empty() ? "" : ": " + why));
        } else {
            auto gpus = parse_nvidia_smi_csv(smi->stdout_text);
            if (!gpus)
                d.warnings.push_back("gpu: " + gpus.error().message);
            else
                d.gpus = std::move(gpus).value();
        }
    }

    for (GpuInfo& g : d.gpus) {
        // GB10 (and other coherent SoCs) report no framebuffer: the GPU uses the system pool.
        if (!g.memory_total_bytes || contains_icase(g.name, "GB10")) {
            g.unified_memory = true;
            g.memory_total_bytes = d.memory.memory_total_bytes;
            g.memory_free_bytes = d.memory.memory_available_bytes;
            g.memory_used_bytes =
                d.memory.memory_total_bytes -
                std::min(d.memory.memory_total_bytes, d.memory.memory_available_bytes);
            g.memory_source = "/proc/meminfo";
            d.unified_memory = true;
        }
    }
    return d;
}

HardwareProfile profile_from_detection(const Detection& d) {
    bool gb10 = false;
    for (const GpuInfo& g : d.gpus) gb10 = gb10 || contains_icase(g.name, "GB10");

    if (gb10) {
        auto spark = find_profile("dgx-spark");
        SPARKCTL_ASSERT(spark.ok());
        HardwareProfile p = std::move(spark).value();
        // Keep the built-in reserve share (0.15) but apply it to the detected total.
        double share =
            static_cast<double>(p.os_reserve_bytes) / static_cast<double>(p.memory_total_bytes);
        p.name = "local";
        p.description =
            "this machine: NVIDIA GB10 detected, dgx-spark figures with detected memory";
        p.aliases.clear();
        p.detected = true;
        p.memory_total_bytes = d.memory.memory_total_bytes;
        p.os_reserve_bytes =
            static_cast<std::uint64_t>(static_cast<double>(p.memory_total_bytes) * share);
        p.sources["memory_total_bytes"] = "detected: /proc/meminfo MemTotal";
        p.notes.push_back("bandwidth, compute, CPU and interconnect are the dgx-spark figures");
        return p;
    }

    HardwareProfile p;
    p.name = "local";
    p.detected = true;
    p.unified_memory = d.unified_memory;
    const GpuInfo* gpu = d.gpus.empty() ? nullptr : &d.gpus.front();
    if (gpu != nullptr && !gpu->unified_memory && gpu->memory_total_bytes) {
        p.description = "this machine: " + gpu->name + " (detected; bandwidth and compute unknown)";
        p.memory_total_bytes = *gpu->memory_total_bytes;
        p.os_reserve_bytes = std::min(kDiscreteReserveBytes, p.memory_total_bytes);
        p.os_reserve_rule = "discrete GPU: 1 GiB for display and driver allocations";
        p.sources["memory_total_bytes"] = "detected: nvidia-smi memory.total (GPU 0)";
        if (d.gpus.size() > 1) {
            p.notes.push_back(std::to_string(d.gpus.size()) +
                              " GPUs detected; the profile describes GPU 0 only");
        }
    } else {
        p.description = gpu != nullptr
                            ? "this machine: " + gpu->name + " (unified memory; detected)"
                            : "this machine: no NVIDIA GPU detected (system memory only)";
        p.memory_total_bytes = d.memory.memory_total_bytes;
        p.os_reserve_bytes = static_cast<std::uint64_t>(static_cast<double>(p.memory_total_bytes) *
                                                        kUnifiedReserveFraction);
        p.os_reserve_rule = "unified or CPU-only: 0.15 x memory_total_bytes (the dgx-spark share)";
        p.sources["memory_total_bytes"] = "detected: /proc/meminfo MemTotal";
    }
    p.sources["os_reserve"] = "sparkctl rule, docs/dev/hw.md";
    p.sources["unified_memory"] = gpu != nullptr ? "detected: nvidia-smi" : "detected";
    if (gpu != nullptr) {
        p.gpu_name = gpu->name;
        p.sources["gpu.name"] = "detected: nvidia-smi";
        if (!gpu->compute_capability.empty()) {
            p.gpu_compute_capability = gpu->compute_capability;
            p.sources["gpu.compute_capability"] = "detected: nvidia-smi compute_cap";
        }
    }
    if (d.cpu) {
        p.cpu_description = d.cpu->model;
        p.cpu_cores = d.cpu->logical_cpus;
        if (!p.cpu_description.empty()) p.sources["cpu.description"] = "detected: /proc/cpuinfo";
        p.sources["cpu.cores"] = "detected: /proc/cpuinfo processor entries";
    }
    p.notes.push_back(
        "memory bandwidth and compute peaks are unknown for a detected machine: give "
        "--hardware NAME or a .toml profile for speed predictions");
    return p;
}

base::Result<HardwareProfile> resolve_hardware(std::string_view arg, System& system) {
    std::string_view a = base::trim(arg);
    if (a.empty()) return make_error(Errc::bad_input, "--hardware: empty value");
    if (base::iequals(a, "local")) {
        auto d = detect(system);
        if (!d) return base::with_context(d.error(), "--hardware local");
        return profile_from_detection(*d);
    }
    bool is_file = a.find('/') != std::string_view::npos ||
                   (a.size() > 5 && base::iequals(a.substr(a.size() - 5), ".toml"));
    if (is_file) return load_profile_file(std::filesystem::path(std::string(a)));
    return find_profile(a);
}

}  // namespace sparkctl::hw
