// The last steps before a load is spawned, on the live memory reading: vLLM's
// --gpu-memory-utilization recomputed from MemAvailable, and the page cache dropped before a
// large load (`drop_caches = true`). Reads and writes files only through the paths given (the
// seams tests use). Thread-compatible.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "base/result.h"
#include "serve/deployment.h"

namespace sparkctl::serve {

// A load needs the page cache dropped when its reservation plus the headroom is more than
// MemFree: it would have to take memory the page cache holds. On GB10 the engines size
// themselves from CUDA's free memory, which excludes reclaimable page cache (engines.md "UMA",
// V:vllm/utils/mem_utils.py; vLLM issue #48140: page cache left by an earlier load failed the
// start-up check), and NVIDIA's playbooks drop caches before a launch (spark-knowledge.md,
// "Page cache from loading weights counts against the pool").
bool wants_drop_caches(std::uint64_t needed_bytes, std::uint64_t mem_free_bytes,
                       std::uint64_t headroom_bytes);

// sync(2), then "1" (free the page cache: Documentation/admin-guide/sysctl/vm.rst,
// drop_caches) written to `path`. Errors: io naming the path when it cannot be opened or
// written (not root, read-only /proc/sys).
base::Result<void> drop_page_cache(const std::filesystem::path& path);

struct PrelaunchOptions {
    std::uint64_t headroom_bytes = 0;
    bool drop_caches = false;
    // Where MemFree is read; nullopt: the simulated pool (no page cache to drop).
    std::optional<std::filesystem::path> meminfo_path;
    std::filesystem::path drop_caches_path = "/proc/sys/vm/drop_caches";
};

// Prepares `spec` for its launch on the live reading `mem_available`: drops the page cache when
// asked and wanted (a refusal to write is a logged warning, not an error), then recomputes vLLM's
// --gpu-memory-utilization (fit_vllm_memory_utilization), logging the planned and the launched
// value when they differ. Errors: does_not_fit from fit_vllm_memory_utilization.
base::Result<void> prepare_launch(DeploymentSpec& spec, std::uint64_t mem_available,
                                  const PrelaunchOptions& options);

}  // namespace sparkctl::serve
