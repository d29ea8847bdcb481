// Admission at run time (R-OPS-1): a load is admitted when its reservation fits the budget with
// what is already reserved AND live MemAvailable minus a headroom; eviction is a pure function of
// (needed, running) in llama-swap's shape (idle, unpinned, least recently used first; never one
// with requests in flight while an idle set makes room: a busy one is evicted only after it
// drains; never a pinned one). MemInfo is the seam for the live reading.
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
    std::vector<std::string> drain;  // the members of `evict` with requests in flight
    std::string reason;
};

// Which residents to evict so that `needed` fits in `budget` with what remains: the shortest LRU
// prefix of the idle unpinned ones that makes room; empty when it fits already. When evicting
// every idle one is not enough, the busy unpinned ones follow the idle ones (LRU) and those in
// the set are named in `drain`: the caller evicts them only once their requests are done (issue
// 13, "drains first"). Never a pinned one. possible=false with the reason (the numbers, what is
// pinned) otherwise.
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
    std::vector<std::string> drain;  // the members of `evict` that must drain first
    std::string reason;
    std::uint64_t reserved_bytes, needed_bytes, budget_bytes, mem_available_bytes, headroom_bytes;
};

// Admits `needed` when, after evicting eviction_for's set (busy ones named in `drain`), it fits
// `budget` with the reservations that remain AND `mem_available` (plus what the evicted free) minus
// `headroom`. The reason carries the numbers either way.
AdmissionDecision admit(std::uint64_t needed, std::uint64_t budget, std::uint64_t headroom,
                        std::uint64_t mem_available, const std::vector<Resident>& running);

}  // namespace sparkctl::serve
