// Cheap pre-checks on untrusted JSON text before a DOM parser sees it (private to `model`).
#pragma once

#include <cstddef>
#include <string_view>

namespace sparkctl::model::detail {

// Deepest nesting of arrays/objects in `text`, skipping string contents. Stops counting at
// `limit + 1`, so the scan is linear and needs no stack. Malformed text is left to the parser.
inline std::size_t json_nesting_depth(std::string_view text, std::size_t limit) {
    std::size_t depth = 0;
    std::size_t max_depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            ++depth;
            if (depth > max_depth) max_depth = depth;
            if (max_depth > limit) return max_depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return max_depth;
}

}  // namespace sparkctl::model::detail
