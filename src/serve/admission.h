// Admission at run time (R-OPS-1): a load is admitted when its reservation fits the budget with
// what is already reserved AND live MemAvailable minus a headroom; eviction is a pure function of
// (needed, running) in llama-swap's shape (idle, unpinned, least recently used first; never one
// with requests in flight, never a pinned one). MemInfo is the seam for the live reading.
// Everything but proc_meminfo's reads is pure and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace sparkctl::serve {

struct Resident {
    std::string id;
    std::uint64_t reserved_bytes;
    bool pinned;
    int in_flight;
    double idle_s;
    std::int64_t last_used_ms;
};

struct EvictionPlan {
    bool possible;
    std::vector<std::string> evict;
    std::string reason;
};

// Which residents to evict (idle, unpinned, LRU first; never in flight or pinned) so that
// `needed` fits in `budget` with what remains. The shortest LRU prefix of the evictable ones that
// makes room; empty when it fits already. possible=false with the reason (the numbers, what is
// pinned or busy) otherwise.
EvictionPlan eviction_for(std::uint64_t needed, std::uint64_t budget,
                          const std::vector<Resident>& running);

class MemInfo {
  public:
    virtual ~MemInfo() = default;
    virtual base::Result<std::uint64_t> mem_available_bytes() = 0;
};

// Reads MemAvailable from a /proc/meminfo-format file at each call. Errors: io naming the file
// when it cannot be read, bad_input naming it when it has no MemAvailable line.
std::unique_ptr<MemInfo> proc_meminfo(std::string path = "/proc/meminfo");

// One field of /proc/meminfo text ("MemFree:   123456 kB") in bytes. Errors: bad_input naming
// `origin` and the field when it is absent or malformed.
base::Result<std::uint64_t> parse_meminfo_field(std::string_view text, std::string_view field,
                                                const std::string& origin);

// MemAvailable from /proc/meminfo text ("MemAvailable:   123456 kB"). Errors name `origin`.
base::Result<std::uint64_t> parse_mem_available(std::string_view text, const std::string& origin);

struct AdmissionDecision {
    bool admit;
    std::vector<std::string> evict;
    std::string reason;
    std::uint64_t reserved_bytes, needed_bytes, budget_bytes, mem_available_bytes, headroom_bytes;
};

// Admits `needed` when, after evicting eviction_for's set, it fits `budget` with the reservations
// that remain AND `mem_available` (plus what the evicted free) minus `headroom`. The reason
// carries the numbers either way.
AdmissionDecision admit(std::uint64_t needed, std::uint64_t budget, std::uint64_t headroom,
                        std::uint64_t mem_available, const std::vector<Resident>& running);

}  // namespace sparkctl::serve
