// Server-sent events: an incremental parser and the framing of one event.
// The rules are the WHATWG HTML standard's "Parsing an event stream" and "Interpreting an event
// stream":
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sparkctl::net {

struct SseEvent {
    std::string type = "message";  // the `event:` field; "message" when none was given
    std::string data;              // `data:` lines joined with "\n" (no trailing newline)
    std::string last_event_id;     // the last `id:` seen in the stream so far (spec: it persists)
    std::optional<std::int64_t> retry_ms;  // the last valid `retry:` seen so far, if any
};

// Byte-fed parser: chunks may split lines, fields and CRLF pairs anywhere. Not thread-safe; one
// parser per stream. Events with no data lines are not dispatched (spec).
class SseParser {
  public:
    using EventCallback = std::function<void(const SseEvent&)>;

    // A line longer than `max_line_bytes` or an event whose data exceeds `max_event_bytes` is an
    // error (a hostile or broken upstream must not grow memory without bound).
    explicit SseParser(std::size_t max_line_bytes = 1 << 20, std::size_t max_event_bytes = 8 << 20)
        : max_line_bytes_(max_line_bytes), max_event_bytes_(max_event_bytes) {}

    // Parses `bytes`, calling `on_event` for each complete event (blank line); the event is
    // valid during the call only (the parser reuses it). After an error the parser stays failed
    // and feed() keeps returning it.
    base::Result<void> feed(std::string_view bytes, const EventCallback& on_event);

    // At end of stream the spec discards an incomplete event; true when there was one (bench
    // reports a truncated stream).
    bool has_pending_data() const { return !line_.empty() || !data_.empty() || have_data_; }

  private:
    base::Result<void> take_line(std::string_view line, const EventCallback& on_event);
    void dispatch(const EventCallback& on_event);

    std::size_t max_line_bytes_;
    std::size_t max_event_bytes_;
    std::string line_;  // a line begun in an earlier feed
    std::string data_;
    std::string type_;
    std::string last_event_id_;
    std::optional<std::int64_t> retry_ms_;
    bool have_data_ = false;
    bool after_cr_ = false;  // the last byte fed was CR: a following LF ends no new line
    bool at_start_ = true;   // a leading U+FEFF (UTF-8 EF BB BF) is skipped once
    std::string bom_;        // bytes of a possible BOM seen so far
    std::optional<base::Error> failed_;
    SseEvent event_;  // handed to the callback, valid during the call only
};

// One event, ready to write: "event: T\n" (when type is not empty), "id: I\n" (when not empty),
// one "data: " line per line of `data` (split at CRLF, LF or CR), then a blank line.
std::string sse_event(std::string_view data, std::string_view type = {}, std::string_view id = {});

// A comment line (": text\n\n" is not needed: a comment alone dispatches nothing), used as a
// keep-alive. Newlines in `text` are replaced by spaces.
std::string sse_comment(std::string_view text);

}  // namespace sparkctl::net
