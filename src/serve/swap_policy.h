// Swaps under alternating demand (issue 14, "queued requests are collated by model so alternating
// clients do not thrash swaps"): a deployment that was loaded stays resident for a quantum before
// a load the gateway asked for may evict it, and one that is loading is never evicted by such a
// load; the load waits in the daemon's queue meanwhile (its requests in the gateway's). Pure: the
// clock is a parameter. docs/dev/serve.md "Swaps under alternating demand".
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "serve/admission.h"

namespace sparkctl::serve {

// The `swap_min_resident_s` key: "auto" (nullopt: each deployment's quantum is as long as its
// last load took) or seconds from 0 to 86400 (0: no quantum). Errors (bad_input) name the key.
base::Result<std::optional<double>> parse_swap_min_resident(std::string_view text);

// A deployment's quantum in ms: the setting, or with "auto" its last load's seconds.
std::int64_t resident_quantum_ms(std::optional<double> setting_s, double last_load_s);

// Protection of a resident against a load the gateway asked for: until this steady-clock ms
// (ready time + quantum); kWhileLoading for a deployment still loading.
constexpr std::int64_t kWhileLoading = std::numeric_limits<std::int64_t>::max();

struct SwapDecision {
    enum class Kind { go, wait, refuse };
    Kind kind = Kind::refuse;
    // go: admit()'s decision without the protected residents (what to evict, what drains);
    // refuse: admit()'s refusal as if nothing were protected (the numbers); wait: the decision
    // it waits for.
    AdmissionDecision admission;
    std::vector<std::string> waiting_for;  // wait: the protected residents that decision evicts
    std::int64_t retry_at_ms = 0;  // wait: when the first of them is free (or kWhileLoading)
};

// Admission for a load the gateway asked for, at `now_ms`. A resident whose protection is later
// than now counts as pinned: when the load fits without evicting any of them it goes (the
// eviction admit() picks among the others); when it fits only by evicting protected ones it waits
// until the first of those is free; when it does not fit even with them evicted, it is refused
// with admit()'s reason. Residents absent from `protected_until` are not protected.
SwapDecision decide_swap(std::uint64_t needed, std::uint64_t budget, std::uint64_t headroom,
                         std::uint64_t mem_available, const std::vector<Resident>& running,
                         const std::map<std::string, std::int64_t>& protected_until,
                         std::int64_t now_ms);

}  // namespace sparkctl::serve
