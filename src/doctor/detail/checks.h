// The check groups of run_checks, one file each (doctor.cpp runs them in order).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "doctor/doctor.h"

namespace sparkctl::doctor::detail {

// swap, memory_available, page_cache, oom_daemon (checks_memory.cpp).
void memory_checks(Machine& machine, const Inputs& inputs, std::vector<Check>& out);
// nvidia_driver, gpu (checks_gpu.cpp).
void gpu_checks(Machine& machine, const Inputs& inputs, std::vector<Check>& out);
// engine.*, docker, nvidia_runtime, images, port, disk (checks_software.cpp).
void software_checks(Machine& machine, const Inputs& inputs, std::vector<Check>& out);
// fabric.devices, fabric.links, fabric.mtu, fabric.nccl_env (checks_fabric.cpp).
void fabric_checks(Machine& machine, const Fabric& fabric, std::vector<Check>& out);

// "12.3 GiB"
std::string bytes(std::uint64_t n);
// The items joined with `sep`.
std::string join(const std::vector<std::string>& items, std::string_view sep);
// The first line of a program's output, trimmed and printable.
std::string first_line(std::string_view text);

}  // namespace sparkctl::doctor::detail
