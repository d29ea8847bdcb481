#include "serve/admission.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "base/file.h"
#include "base/strings.h"

namespace sparkctl::serve {

namespace {

using base::format_bytes;

// The evictable residents in eviction order: idle, unpinned, least recently used first (ties by
// id, so the order is a function of the input alone); with `busy`, the unpinned ones with
// requests in flight follow, in the same order (they are evicted only after they drain).
std::vector<const Resident*> evictable(const std::vector<Resident>& running, bool busy = false) {
    std::vector<const Resident*> idle, in_flight;
    for (const Resident& r : running) {
        if (r.pinned) continue;
        (r.in_flight == 0 ? idle : in_flight).push_back(&r);
    }
    auto lru = [](const Resident* a, const Resident* b) {
        if (a->last_used_ms != b->last_used_ms) return a->last_used_ms < b->last_used_ms;
        return a->id < b->id;
    };
    std::sort(idle.begin(), idle.end(), lru);
    std::sort(in_flight.begin(), in_flight.end(), lru);
    if (busy) idle.insert(idle.end(), in_flight.begin(), in_flight.end());
    return idle;
}

std::uint64_t sum_reserved(const std::vector<Resident>& running) {
    std::uint64_t s = 0;
    for (const Resident& r : running) s += r.reserved_bytes;
    return s;
}

// What cannot be evicted, for the reason: "a (12 GiB, pinned), b (8 GiB, 2 in flight)".
std::string held(const std::vector<Resident>& running) {
    std::string out;
    for (const Resident& r : running) {
        if (!r.pinned && r.in_flight == 0) continue;
        std::string why = r.pinned ? "pinned" : "";
        if (r.in_flight > 0) {
            why += (why.empty() ? "" : ", ") + std::to_string(r.in_flight) + " in flight";
        }
        out += (out.empty() ? "" : ", ") + r.id + " (" + format_bytes(r.reserved_bytes) + ", " +
               why + ")";
    }
    return out.empty() ? "none" : out;
}

std::string ids(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

// The shortest prefix of the eviction order after which `fits(freed)` holds, freed being the
// reservations of the prefix; nullopt when even evicting every evictable one is not enough.
// With `busy`, the unpinned residents with requests in flight may follow the idle ones.
std::optional<std::vector<std::string>> shortest_prefix(
    const std::vector<Resident>& running, const std::function<bool(std::uint64_t)>& fits,
    bool busy = false) {
    std::vector<std::string> evict;
    std::uint64_t freed = 0;
    if (fits(freed)) return evict;
    for (const Resident* r : evictable(running, busy)) {
        evict.push_back(r->id);
        freed += r->reserved_bytes;
        if (fits(freed)) return evict;
    }
    return std::nullopt;
}

// An idle-only eviction set, else one that drains busy deployments first; `drain` receives the
// busy ones of the set.
std::optional<std::vector<std::string>> eviction_set(const std::vector<Resident>& running,
                                                     const std::function<bool(std::uint64_t)>& fits,
                                                     std::vector<std::string>& drain) {
    if (auto idle = shortest_prefix(running, fits)) return idle;
    auto with_busy = shortest_prefix(running, fits, true);
    if (!with_busy) return std::nullopt;
    for (const Resident& r : running) {
        if (r.in_flight > 0 &&
            std::find(with_busy->begin(), with_busy->end(), r.id) != with_busy->end()) {
            drain.push_back(r.id);
        }
    }
    return with_busy;
}

std::string drain_note(const std::vector<std::string>& drain) {
    return drain.empty() ? "" : " (after " + ids(drain) + " drain)";
}

}  // namespace

EvictionPlan eviction_for(std::uint64_t needed, std::uint64_t budget,
                          const std::vector<Resident>& running) {
    const std::uint64_t reserved = sum_reserved(running);
    auto fits = [&](std::uint64_t freed) {
        return needed <= budget && reserved - freed <= budget - needed;
    };
    std::vector<std::string> drain;
    auto evict = eviction_set(running, fits, drain);
    EvictionPlan plan{evict.has_value(), evict.value_or(std::vector<std::string>{}), drain, ""};
    const std::string numbers = "needs " + format_bytes(needed) + ", " + format_bytes(reserved) +
                                " of the " + format_bytes(budget) + " budget reserved";
    if (!evict) {
        plan.reason = needed > budget
                          ? numbers + ": more than the whole budget"
                          : numbers +
                                "; evicting every unpinned deployment frees too little; "
                                "held: " +
                                held(running);
    } else if (evict->empty()) {
        plan.reason = numbers + ": fits";
    } else {
        plan.reason = numbers + ": fits after evicting " + ids(*evict) + drain_note(drain);
    }
    return plan;
}

AdmissionDecision admit(std::uint64_t needed, std::uint64_t budget, std::uint64_t headroom,
                        std::uint64_t mem_available, const std::vector<Resident>& running) {
    const std::uint64_t reserved = sum_reserved(running);
    AdmissionDecision d{false, {}, {}, "", reserved, needed, budget, mem_available, headroom};
    // The live reading counts what the residents use now; evicting one gives back at most its
    // reservation (the caller reads MemAvailable again after the evictions, before loading).
    auto fits = [&](std::uint64_t freed) {
        const bool ledger = needed <= budget && reserved - freed <= budget - needed;
        const bool live = needed + headroom <= mem_available + freed;
        return ledger && live;
    };
    auto evict = eviction_set(running, fits, d.drain);
    const std::string numbers = "needs " + format_bytes(needed) + "; reserved " +
                                format_bytes(reserved) + " of the " + format_bytes(budget) +
                                " budget; MemAvailable " + format_bytes(mem_available) + " minus " +
                                format_bytes(headroom) + " headroom";
    if (evict) {
        d.admit = true;
        d.evict = std::move(*evict);
        d.reason = numbers + (d.evict.empty()
                                  ? ": fits"
                                  : ": fits after evicting " + ids(d.evict) + drain_note(d.drain));
        return d;
    }
    std::vector<std::string> all;
    for (const Resident* r : evictable(running, true)) all.push_back(r->id);
    d.evict = all;  // what it would have to evict, and it would still not be enough
    std::string why;
    if (needed > budget) {
        why = "more than the whole budget";
    } else if (needed + headroom > mem_available + sum_reserved(running)) {
        why = "more than MemAvailable would be with every deployment unloaded";
    } else {
        why = "evicting every unpinned deployment (" + (all.empty() ? "none" : ids(all)) +
              ") frees too little; held: " + held(running);
    }
    d.reason = numbers + ": does not fit: " + why;
    return d;
}

base::Result<std::uint64_t> parse_meminfo_field(std::string_view text, std::string_view field,
                                                const std::string& origin) {
    const std::string key = std::string(field) + ":";
    for (const std::string& line : base::split(text, '\n')) {
        if (!line.starts_with(key)) continue;
        std::string_view rest = base::trim(std::string_view(line).substr(key.size()));
        const std::size_t sp = rest.find(' ');
        const std::string_view number = rest.substr(0, sp);
        const std::string_view unit =
            sp == std::string_view::npos ? std::string_view() : base::trim(rest.substr(sp));
        auto kib = base::parse_u64(number);
        if (!kib || unit != "kB" || *kib > (UINT64_MAX >> 10)) {
            return base::make_error(base::Errc::bad_input, origin + ": " + key +
                                                               " expected '<number> kB', got '" +
                                                               base::printable(rest) + "'");
        }
        return *kib << 10;  // the kernel's "kB" is KiB (fs/proc/meminfo.c show_val_kb)
    }
    return base::make_error(base::Errc::bad_input, origin + ": no " + std::string(field) + " line");
}

base::Result<std::uint64_t> parse_mem_available(std::string_view text, const std::string& origin) {
    return parse_meminfo_field(text, "MemAvailable", origin);
}

namespace {

class ProcMemInfo final : public MemInfo {
  public:
    explicit ProcMemInfo(std::string path) : path_(std::move(path)) {}
    base::Result<std::uint64_t> mem_available_bytes() override {
        auto text = base::read_file(path_, 1u << 20);
        if (!text) return base::with_context(text.error(), "reading MemAvailable");
        return parse_mem_available(*text, path_);
    }

  private:
    std::string path_;
};

}  // namespace

std::unique_ptr<MemInfo> proc_meminfo(std::string path) {
    return std::make_unique<ProcMemInfo>(std::move(path));
}

}  // namespace sparkctl::serve
