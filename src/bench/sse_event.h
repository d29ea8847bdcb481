// What bench reads from one SSE event of an OpenAI-compatible stream (or a whole response): an
// error, whether it carries content (`choices[0].text` or `choices[0].delta.content`, not
// empty), `usage` token counts and llama.cpp's `timings.cache_n`. The per-event path of the load
// generator: a purpose-built scan that decides the common events without building a DOM, and
// the nlohmann parse (the reference) for everything it does not decide. The fuzz target
// fuzz/sse_event_fuzz.cpp holds the scan to the reference.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sparkctl::bench {

struct EventFields {
    bool error = false;    // a top-level "error" member (the other fields are then unset)
    bool content = false;  // choices[0].text or choices[0].delta.content: a non-empty string
    std::optional<std::uint64_t> completion_tokens;  // usage.*, when unsigned integers
    std::optional<std::uint64_t> prompt_tokens;
    std::optional<std::uint64_t> cache_n;  // timings.cache_n, a non-negative integer
    bool operator==(const EventFields&) const = default;
};

// The reference: nlohmann parses `data`; nullopt when it is not a JSON object.
std::optional<EventFields> parse_event_reference(std::string_view data);

// The fast scan: one pass over `data`, no allocation. nullopt when it cannot decide exactly as
// the reference would: invalid JSON, not an object, a \u escape or a byte outside ASCII, a
// number with an exponent or over 300 characters, a field of interest given twice or as a
// number that is not a plain unsigned integer of at most 19 digits, nesting over 64 deep.
std::optional<EventFields> scan_event(std::string_view data);

// scan_event, else the reference.
std::optional<EventFields> read_event(std::string_view data);

}  // namespace sparkctl::bench
