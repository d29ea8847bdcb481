// `sparkctl doctor`: is this box set up to run engines inside the memory pool? Each check reads
// the machine through the Machine seam and reports ok / warn / fail with its numbers, the fix
// and the rule it serves (docs/dev/doctor.md). Pure policy over what the seam returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "doctor/machine.h"
#include "engines/installed.h"

namespace sparkctl::doctor {

enum class Status { ok, warn, fail };
const char* to_string(Status status);

struct Check {
    std::string id;  // "swap", "engine.vllm", "fabric.links"
    Status status = Status::ok;
    std::string detail;  // what was found, with the numbers
    std::string fix;     // what to do; "" when nothing
    std::string rule;    // "R-OPS-1"; "" when no rule applies
};

// A cluster to check the fabric for ([cluster] in the config, or --cluster).
struct Fabric {
    std::vector<std::string> roce_hcas;  // configured NCCL_IB_HCA devices; empty: every one found
    std::string fabric_interface;        // configured NCCL_SOCKET_IFNAME; "" unknown
};

struct Inputs {
    std::uint64_t budget_bytes = 0;  // the plan's budget (hardware profile or --budget)
    std::string budget_origin;       // "dgx-spark profile", for the detail
    engines::Programs programs;
    int port = 8080;                           // the port serve would listen on
    std::optional<Fabric> fabric;              // nullopt: no cluster, fabric checks skipped
    std::chrono::milliseconds timeout{20000};  // per program run
};

// Runs every check in a fixed order. Never fails: what cannot be read becomes a check's detail.
std::vector<Check> run_checks(Machine& machine, const Inputs& inputs);

// True when a check failed (the command then exits 4).
bool any_failed(const std::vector<Check>& checks);

// ---- The parsers behind the checks (pure, tested on captured outputs) ----

// The banner and GPU rows of plain `nvidia-smi` output.
struct NvidiaSmiTable {
    std::string driver_version;          // "580.126.09"
    std::string cuda_version;            // "13.0"; the newest CUDA the driver supports
    std::vector<std::string> gpu_names;  // "NVIDIA GB10", in index order
};
// Errors (bad_input): no "Driver Version:" in the text.
base::Result<NvidiaSmiTable> parse_nvidia_smi_table(std::string_view text);

// What `docker info` prints about the daemon (text format).
struct DockerInfo {
    std::string server_version;         // "" when the client could not reach a daemon
    std::vector<std::string> runtimes;  // " Runtimes: io.containerd.runc.v2 nvidia runc"
    std::string default_runtime;
    std::string server_error;  // "Cannot connect to the Docker daemon ..." or ""
};
DockerInfo parse_docker_info(std::string_view stdout_text, std::string_view stderr_text);

// A sysfs RDMA port state file ("4: ACTIVE", "5: LinkUp"): the number and the name.
struct SysfsState {
    int code = -1;
    std::string name;
};
std::optional<SysfsState> parse_sysfs_state(std::string_view text);

// The processes whose /proc/PID/comm is an OOM daemon (earlyoom, systemd-oomd), "name (pid N)".
std::vector<std::string> find_oom_daemons(Machine& machine);

// The Hugging Face hub cache directory, as huggingface_hub resolves it: $HF_HUB_CACHE, else
// $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub.
std::string hf_hub_cache(Machine& machine);

}  // namespace sparkctl::doctor
