// Memory checks (R-OPS-1): swap, MemAvailable against the budget, the page cache, an OOM daemon.
#include <algorithm>

#include "base/strings.h"
#include "doctor/detail/checks.h"
#include "hw/detect.h"

namespace sparkctl::doctor::detail {

namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024ull * 1024ull;
// serve's default admission headroom (issue 13, "MemAvailable minus a headroom (default 2 GiB)").
constexpr std::uint64_t kHeadroomBytes = 2 * kGiB;
// Below this the page cache is not worth a warning.
constexpr std::uint64_t kPageCacheWarnBytes = kGiB;

Check swap_check(const hw::MemInfo& m) {
    Check c{"swap", Status::ok, "", "", "R-OPS-1"};
    if (!m.swap_total_bytes) {
        c.status = Status::warn;
        c.detail = "/proc/meminfo has no SwapTotal line: swap unknown";
        return c;
    }
    const std::uint64_t total = *m.swap_total_bytes;
    const std::uint64_t used = total - std::min(total, m.swap_free_bytes.value_or(total));
    if (total == 0) {
        c.detail = "swap off";
        return c;
    }
    c.fix =
        "sudo swapoff -a, and remove the swap entries from /etc/fstab (and any zram or "
        "swapfile unit) so it stays off";
    if (used == 0) {
        c.status = Status::warn;
        c.detail = "swap on: " + bytes(total) + " total, none used";
    } else {
        c.status = Status::fail;
        c.detail = "swap in use: " + bytes(used) + " of " + bytes(total) +
                   " (the pool was overcommitted; swapping unified memory stalls the GPU)";
    }
    return c;
}

Check available_check(const hw::MemInfo& m, const Inputs& in) {
    Check c{"memory_available", Status::ok, "", "", "R-OPS-1"};
    const std::string budget = bytes(in.budget_bytes) + " (" + in.budget_origin + ")";
    if (m.memory_total_bytes < in.budget_bytes) {
        c.status = Status::fail;
        c.detail = "MemTotal " + bytes(m.memory_total_bytes) + " is below the budget " + budget +
                   ": plans would overcommit this machine";
        c.fix =
            "set hardware = local (or a profile for this machine) in the config, or plan "
            "with --budget";
        return c;
    }
    c.detail = "MemAvailable " + bytes(m.memory_available_bytes) + ", budget " + budget +
               ", MemTotal " + bytes(m.memory_total_bytes);
    if (m.memory_available_bytes < in.budget_bytes) {
        const std::uint64_t usable =
            m.memory_available_bytes - std::min(m.memory_available_bytes, kHeadroomBytes);
        c.status = Status::warn;
        c.detail += ": " + bytes(in.budget_bytes - m.memory_available_bytes) +
                    " of the budget is held by something else";
        c.fix =
            "stop what holds memory (sparkctl ps, ps aux --sort=-rss | head), or plan with "
            "--budget " +
            std::to_string(usable) + " (MemAvailable less a 2 GiB headroom)";
    }
    return c;
}

Check page_cache_check(const hw::MemInfo& m, const Inputs& in) {
    Check c{"page_cache", Status::ok, "", "", "R-OPS-1"};
    if (!m.page_cache_bytes) {
        c.status = Status::warn;
        c.detail = "/proc/meminfo has no Cached line: page cache unknown";
        return c;
    }
    const std::uint64_t free = m.memory_free_bytes.value_or(m.memory_available_bytes);
    c.detail = "page cache " + bytes(*m.page_cache_bytes) + ", MemFree " + bytes(free);
    if (free < in.budget_bytes && *m.page_cache_bytes >= kPageCacheWarnBytes) {
        // vLLM issue #48140: its start check read MemFree on GB10, so page cache left by an
        // earlier load failed the start; NVIDIA's playbook drops caches before loads
        // (docs/reference/engines.md, section 1.4; spark-knowledge.md).
        c.status = Status::warn;
        c.detail += " (below the budget " + bytes(in.budget_bytes) +
                    "): an engine start check that reads free memory (vLLM issue #48140) does "
                    "not count the cache";
        c.fix = "sync; echo 3 | sudo tee /proc/sys/vm/drop_caches (before large loads)";
    }
    return c;
}

Check oom_check(Machine& machine) {
    Check c{"oom_daemon", Status::ok, "", "", "R-OPS-1"};
    const std::vector<std::string> found = find_oom_daemons(machine);
    if (!found.empty()) {
        c.detail = "running: " + join(found, ", ");
        return c;
    }
    c.status = Status::warn;
    c.detail =
        "no earlyoom or systemd-oomd running: out of memory, a GB10 tends to wedge "
        "instead of killing one process";
    c.fix = "sudo apt install earlyoom && sudo systemctl enable --now earlyoom";
    return c;
}

}  // namespace

void memory_checks(Machine& machine, const Inputs& inputs, std::vector<Check>& out) {
    auto text = machine.read_file("/proc/meminfo");
    auto mem = text ? hw::parse_meminfo(*text) : base::Result<hw::MemInfo>(text.error());
    if (!mem) {
        for (const char* id : {"swap", "memory_available", "page_cache"}) {
            out.push_back({id, Status::fail, mem.error().message, "", "R-OPS-1"});
        }
    } else {
        out.push_back(swap_check(*mem));
        out.push_back(available_check(*mem, inputs));
        out.push_back(page_cache_check(*mem, inputs));
    }
    out.push_back(oom_check(machine));
}

}  // namespace sparkctl::doctor::detail
