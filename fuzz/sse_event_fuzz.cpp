// libFuzzer target: bench's per-event scan (bench/sse_event.h) against nlohmann as the oracle.
// Whenever the scan decides an event, the full parse must read the same fields from it; events
// it leaves undecided go to the full parse anyway, which must not crash either.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bench/sse_event.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto fast = sparkctl::bench::scan_event(text);
    const auto reference = sparkctl::bench::parse_event_reference(text);
    if (fast && fast != reference) std::abort();
    (void)sparkctl::bench::read_event(text);
    return 0;
}
