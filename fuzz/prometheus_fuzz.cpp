// libFuzzer target: the Prometheus text parser on hostile /metrics pages (bench scrapes
// engines it does not control). What parses must survive a write/parse round trip of its
// labels.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/prometheus.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sparkctl::net::prometheus;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto samples = parse_text(text, "fuzz/metrics");
    if (!samples.ok()) return 0;
    TextWriter w;
    for (const Sample& s : *samples) w.sample(s.name, s.labels, s.value);
    auto again = parse_text(w.text(), "fuzz/rewritten");
    if (!again.ok() || again->size() != samples->size()) std::abort();
    for (std::size_t i = 0; i < samples->size(); ++i) {
        if ((*again)[i].name != (*samples)[i].name || (*again)[i].labels != (*samples)[i].labels) {
            std::abort();
        }
    }
    return 0;
}
