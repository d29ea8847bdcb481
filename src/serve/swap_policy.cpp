#include "serve/swap_policy.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "base/strings.h"

namespace sparkctl::serve {

base::Result<std::optional<double>> parse_swap_min_resident(std::string_view text) {
    const std::string t(base::trim(text));
    if (t == "auto") return std::optional<double>();
    char* end = nullptr;
    const double v = t.empty() ? NAN : std::strtod(t.c_str(), &end);
    if (std::isnan(v) || end != t.c_str() + t.size() || v < 0 || v > 86'400) {
        return base::make_error(base::Errc::bad_input,
                                "swap_min_resident_s: expected auto or seconds from 0 to 86400, "
                                "got '" +
                                    base::printable(text) + "'");
    }
    return std::optional<double>(v);
}

std::int64_t resident_quantum_ms(std::optional<double> setting_s, double last_load_s) {
    const double s = setting_s.value_or(std::max(0.0, last_load_s));
    return static_cast<std::int64_t>(std::llround(s * 1e3));
}

SwapDecision decide_swap(std::uint64_t needed, std::uint64_t budget, std::uint64_t headroom,
                         std::uint64_t mem_available, const std::vector<Resident>& running,
                         const std::map<std::string, std::int64_t>& protected_until,
                         std::int64_t now_ms) {
    auto until = [&](const std::string& id) -> std::optional<std::int64_t> {
        auto it = protected_until.find(id);
        if (it == protected_until.end() || it->second <= now_ms) return std::nullopt;
        return it->second;
    };
    std::vector<Resident> guarded = running;
    for (Resident& r : guarded) {
        if (until(r.id)) r.pinned = true;
    }
    SwapDecision out;
    out.admission = admit(needed, budget, headroom, mem_available, guarded);
    if (out.admission.admit) {
        out.kind = SwapDecision::Kind::go;
        return out;
    }
    out.admission = admit(needed, budget, headroom, mem_available, running);
    if (!out.admission.admit) return out;  // refuse: it would not fit even so
    out.kind = SwapDecision::Kind::wait;
    out.retry_at_ms = kWhileLoading;
    for (const std::string& id : out.admission.evict) {
        if (auto t = until(id)) {
            out.waiting_for.push_back(id);
            out.retry_at_ms = std::min(out.retry_at_ms, *t);
        }
    }
    return out;
}

}  // namespace sparkctl::serve
