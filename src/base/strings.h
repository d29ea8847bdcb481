// Small string helpers used across modules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sparkctl::base {

std::string to_lower(std::string_view s);
std::string_view trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
bool iequals(std::string_view a, std::string_view b);

// Parses a whole string as a non-negative decimal integer; nullopt on any junk or overflow.
std::optional<std::uint64_t> parse_u64(std::string_view s);

// Parses a byte count with an optional binary or decimal suffix: "1024", "64GiB", "64G" (GiB),
// "100GB" (10^9), "512MiB", "1.5TiB". nullopt when malformed or out of range.
std::optional<std::uint64_t> parse_bytes(std::string_view s);

// "59.02 GiB", "512.0 MiB", "1023 B": binary units, for people.
std::string format_bytes(std::uint64_t bytes);

// Text for XML/SVG/HTML: &, <, >, " and ' as entities; control characters other than tab and
// newline dropped (XML 1.0 does not allow them).
std::string xml_escape(std::string_view text);

// Escapes control and non-printable bytes so untrusted names print safely in messages.
std::string printable(std::string_view s, std::size_t max_len = 80);

}  // namespace sparkctl::base
