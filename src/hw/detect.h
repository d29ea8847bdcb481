// Detection of the local machine: memory and swap (/proc/meminfo), CPU (/proc/cpuinfo), NVIDIA
// GPUs (nvidia-smi), including GB10's unified memory, which nvidia-smi reports as "[N/A]".
// Parsing is in pure functions; detect() reaches the system through the System seam.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/process.h"
#include "base/result.h"
#include "hw/profile.h"

namespace sparkctl::hw {

struct MemInfo {
    std::uint64_t memory_total_bytes = 0;      // MemTotal
    std::uint64_t memory_available_bytes = 0;  // MemAvailable: the reliable figure on GB10
    std::optional<std::uint64_t> memory_free_bytes;
    std::optional<std::uint64_t> swap_total_bytes;  // nullopt when the lines are absent
    std::optional<std::uint64_t> swap_free_bytes;
    std::optional<std::uint64_t> page_cache_bytes;  // Cached: file pages, reclaimable
};

// Parses /proc/meminfo text ("Key:   123 kB" lines; values in KiB). Errors (bad_input): MemTotal
// or MemAvailable missing or malformed, a value that overflows.
base::Result<MemInfo> parse_meminfo(std::string_view text);

struct CpuInfo {
    std::string model;     // "AMD EPYC 7K62 48-Core Processor" or "10x Cortex-X925 + ..."
    int logical_cpus = 0;  // "processor" entries
    // aarch64: core kinds in first-seen order, e.g. {"Cortex-A725", 10}, {"Cortex-X925", 10}.
    std::vector<std::pair<std::string, int>> core_kinds;
};

// Parses /proc/cpuinfo text (x86 "model name" or aarch64 "CPU implementer"/"CPU part").
// Errors (bad_input): no "processor" entry.
base::Result<CpuInfo> parse_cpuinfo(std::string_view text);

// The name of an Arm core from its MIDR implementer and part ("0x41", "0xd85" -> "Cortex-X925");
// "" when unknown.
std::string arm_core_name(std::string_view implementer, std::string_view part);

struct GpuInfo {
    std::string name;
    std::optional<int> index;
    // nullopt when nvidia-smi prints "[N/A]" or "[Not Supported]" (GB10) or omits the column.
    std::optional<std::uint64_t> memory_total_bytes;
    std::optional<std::uint64_t> memory_used_bytes;
    std::optional<std::uint64_t> memory_free_bytes;
    std::string compute_capability;  // "12.1"; "" when not reported
    std::string driver_version;
    bool unified_memory = false;  // set by detect(): shares system memory (GB10)
    // Where the memory figures come from: "nvidia-smi", or "/proc/meminfo" for a unified GPU
    // whose memory nvidia-smi does not report (then total = MemTotal, free = MemAvailable).
    std::string memory_source;
};

// The columns sparkctl asks nvidia-smi for, in order.
std::span<const std::string_view> nvidia_smi_query_columns();

// Parses nvidia-smi --query-gpu CSV output. With a header line (--format=csv) columns are taken
// from it and unit suffixes ("81559 MiB") are stripped; without one (noheader), `columns`
// names them. Memory is in MiB. "[N/A]", "N/A", "[Not Supported]" read as unknown. Unknown
// columns are ignored. Errors (bad_input): a row with the wrong number of cells, a malformed
// number, no "name" column.
base::Result<std::vector<GpuInfo>> parse_nvidia_smi_csv(
    std::string_view text, std::span<const std::string_view> columns = nvidia_smi_query_columns());

// What detection found. Facts only; no policy.
struct Detection {
    MemInfo memory;
    std::optional<CpuInfo> cpu;  // nullopt when /proc/cpuinfo could not be read
    std::vector<GpuInfo> gpus;   // empty: no NVIDIA GPU (or no nvidia-smi)
    bool nvidia_smi_found = false;
    bool unified_memory = false;  // a GPU shares system memory (GB10)
    bool swap_on() const { return memory.swap_total_bytes.value_or(0) > 0; }
    bool swap_in_use() const {
        return memory.swap_total_bytes.value_or(0) > memory.swap_free_bytes.value_or(0);
    }
    std::vector<std::string> warnings;  // what could not be read and why
};

// The seam between detection and the machine (ninja's DiskInterface). Implementations must be
// usable from one thread at a time.
class System {
  public:
    virtual ~System() = default;
    // Reads a whole small file, including /proc files whose st_size is 0.
    virtual base::Result<std::string> read_file(const std::filesystem::path& path) = 0;
    // Runs a program; errors as base::run_process (not_found when it does not exist).
    virtual base::Result<base::ProcessResult> run(const std::vector<std::string>& argv,
                                                  std::chrono::milliseconds timeout) = 0;
};

// The real machine: /proc through read(2), programs through base::run_process.
std::unique_ptr<System> make_real_system();

// Detects the local machine. Errors: /proc/meminfo unreadable or malformed (io / bad_input).
// A missing nvidia-smi means no NVIDIA GPU; a failing or timing-out nvidia-smi and an
// unreadable /proc/cpuinfo are warnings, not errors.
base::Result<Detection> detect(System& system);

// The "local" profile: GB10 detected -> the dgx-spark figures with the detected memory total;
// otherwise detected memory and GPU with unknown bandwidth and compute, marked in notes.
HardwareProfile profile_from_detection(const Detection& detection);

// Resolves a --hardware value: a built-in name or alias, a path to a .toml file (any argument
// ending in ".toml" or containing '/'), or "local" (detects through `system`).
base::Result<HardwareProfile> resolve_hardware(std::string_view arg, System& system);

}  // namespace sparkctl::hw
