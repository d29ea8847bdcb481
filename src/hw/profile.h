// Hardware profiles: what a machine offers an inference engine (memory pool, the OS share of
// it, bandwidth, compute), with a citation for every figure. Built-in profiles are embedded
// TOML files (data/hardware/*.toml); users can pass their own file in the same schema.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sparkctl::hw {

// Peak tensor throughput per precision in operations per second (FLOP/s for floating point,
// OP/s for int8). nullopt: the vendor does not publish the figure, so it is unknown.
struct ComputePeaks {
    std::optional<double> fp4_flops_per_s;  // FP4 / NVFP4 / MXFP4
    std::optional<double> fp8_flops_per_s;
    std::optional<double> bf16_flops_per_s;  // BF16 and FP16 tensor (vendors quote one figure)
    std::optional<double> int8_ops_per_s;
    std::optional<double> fp32_flops_per_s;  // non-tensor FP32

    bool empty() const {
        return !fp4_flops_per_s && !fp8_flops_per_s && !bf16_flops_per_s && !int8_ops_per_s &&
               !fp32_flops_per_s;
    }
};

struct HardwareProfile {
    std::string name;  // canonical, lower-case ("dgx-spark")
    std::string description;
    std::vector<std::string> aliases;  // lower-case alternatives ("spark", "gb10")

    bool unified_memory = false;  // CPU and GPU share one pool
    int nodes = 1;

    // What the OS and CUDA (or Metal/ROCm) see, not the marketing figure.
    std::uint64_t memory_total_bytes = 0;
    // The share the OS, desktop, page cache churn and driver keep; see docs/dev/hw.md.
    std::uint64_t os_reserve_bytes = 0;
    // How os_reserve_bytes was chosen, e.g. "0.15 x memory_total_bytes".
    std::string os_reserve_rule;

    std::optional<std::uint64_t> memory_bandwidth_bytes_per_s;  // nullopt: unknown
    ComputePeaks compute_dense;                                 // preferred for performance models
    ComputePeaks compute_sparse;  // vendor "with sparsity" figures, kept apart

    std::string gpu_name;                // as nvidia-smi prints it, "" when unknown
    std::string gpu_compute_capability;  // "12.1"; "" when not CUDA or unknown
    std::string cpu_description;         // "" when the profile is a card, not a machine
    std::optional<int> cpu_cores;
    std::string interconnect_name;  // "" when not relevant
    std::optional<double> interconnect_gbps;

    // True for the "local" profile built from detection; notes say what is estimated.
    bool detected = false;
    std::vector<std::string> notes;

    // Field path (as in the TOML schema, e.g. "memory_total_bytes", "gpu.name",
    // "compute_sparse.fp4_flops_per_s") -> citation.
    std::map<std::string, std::string> sources;

    // memory_total_bytes - os_reserve_bytes (never negative: loading rejects reserve > total).
    std::uint64_t budget_bytes() const {
        return memory_total_bytes > os_reserve_bytes ? memory_total_bytes - os_reserve_bytes : 0;
    }
};

// The field paths of every figure `profile` carries (set optionals, non-empty strings, the
// memory figures). Used to check that each has a source.
std::vector<std::string> carried_fields(const HardwareProfile& profile);
// Carried fields without an entry in profile.sources.
std::vector<std::string> unsourced_fields(const HardwareProfile& profile);

// Canonical names of the built-in profiles, in display order.
std::vector<std::string> profile_names();

// A built-in profile by name or alias, case-insensitive ("DGX-Spark", "gb10", "5090").
// Errors: not_found naming the input and listing the known names.
base::Result<HardwareProfile> find_profile(std::string_view name);

// Parses a profile from TOML text; `origin` names the input in errors ("file.toml: key 'x':
// ..."). Errors (bad_input): malformed TOML, a missing required key, a wrong type, an unknown
// key, a negative or out-of-range value, a source for a field that does not exist.
base::Result<HardwareProfile> parse_profile_toml(std::string_view text, std::string_view origin);

// Reads and parses a profile file (at most 1 MiB). Errors: those of parse_profile_toml, and
// not_found / io from reading.
base::Result<HardwareProfile> load_profile_file(const std::filesystem::path& path);

}  // namespace sparkctl::hw
