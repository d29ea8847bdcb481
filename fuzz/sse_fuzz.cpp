// libFuzzer target: the SSE parser on hostile streams. Checks two properties besides "no
// crash": chunking never changes the events (whole input vs. byte by byte), and framing any
// input with sse_event() parses back to it (line ends normalized to LF).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "net/sse.h"

namespace {

using sparkctl::net::SseEvent;
using sparkctl::net::SseParser;

std::vector<SseEvent> parse(std::string_view text, std::size_t piece, bool& ok) {
    SseParser parser(4096, 64 * 1024);
    std::vector<SseEvent> events;
    ok = true;
    for (std::size_t i = 0; i < text.size() && ok; i += piece) {
        ok = parser.feed(text.substr(i, piece), [&](const SseEvent& e) { events.push_back(e); })
                 .ok();
    }
    return events;
}

bool same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].type != b[i].type || a[i].data != b[i].data ||
            a[i].last_event_id != b[i].last_event_id || a[i].retry_ms != b[i].retry_ms) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    bool whole_ok = false;
    bool bytes_ok = false;
    const auto whole = parse(text, text.size() + 1, whole_ok);
    const auto bytes = parse(text, 1, bytes_ok);
    // An error stops a parser at the same byte either way, so events before it agree.
    if (whole_ok != bytes_ok || !same(whole, bytes)) std::abort();

    if (size <= 1024) {
        std::string normalized;
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '\r') {
                normalized.push_back('\n');
                if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
            } else {
                normalized.push_back(text[i]);
            }
        }
        bool ok = false;
        const auto framed = parse(sparkctl::net::sse_event(text, "t", "i"), 4096, ok);
        if (!ok || framed.size() != 1 || framed[0].data != normalized) std::abort();
    }
    return 0;
}
