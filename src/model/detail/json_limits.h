// Cheap pre-checks on untrusted JSON text before a DOM parser sees it (private to `model`).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sparkctl::model::detail {

// Follows a left-to-right scan of JSON text in and out of string literals.
class JsonStringTracker {
  public:
    // Feeds the next character; true when it belongs to a string literal, its quotes included.
    bool in_string(char c) {
        if (in_string_) {
            if (escaped_) {
                escaped_ = false;
            } else if (c == '\\') {
                escaped_ = true;
            } else if (c == '"') {
                in_string_ = false;
            }
            return true;
        }
        in_string_ = c == '"';
        return in_string_;
    }

  private:
    bool in_string_ = false;
    bool escaped_ = false;
};

// Deepest nesting of arrays/objects in `text`, skipping string contents. Stops counting at
// `limit + 1`, so the scan is linear and needs no stack. Malformed text is left to the parser.
inline std::size_t json_nesting_depth(std::string_view text, std::size_t limit) {
    std::size_t depth = 0;
    std::size_t max_depth = 0;
    JsonStringTracker strings;
    for (char c : text) {
        if (strings.in_string(c)) continue;
        if (c == '[' || c == '{') {
            ++depth;
            if (depth > max_depth) max_depth = depth;
            if (max_depth > limit) return max_depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return max_depth;
}

// Python's json.dumps writes NaN, Infinity and -Infinity, which are not JSON; real config.json
// files carry them (Nemotron-H: "time_step_limit": [0.0, Infinity]). Replaces those bare value
// tokens, outside strings, with null, so the value reads as unknown. Linear, no allocation
// beyond the copy.
inline std::string python_json_to_strict(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    JsonStringTracker strings;
    char prev = '\0';  // last non-space character outside strings (a string counts as '"')
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (strings.in_string(c)) {
            out += c;
            if (c == '"') prev = c;
            continue;
        }
        if (prev == ':' || prev == ',' || prev == '[') {
            bool replaced = false;
            for (std::string_view token : {"-Infinity", "Infinity", "NaN"}) {
                if (text.substr(i, token.size()) != token) continue;
                std::size_t end = i + token.size();
                char next = end < text.size() ? text[end] : ' ';
                bool boundary = !((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
                                  (next >= '0' && next <= '9') || next == '_');
                if (!boundary) continue;
                out += "null";
                i = end - 1;
                prev = 'l';
                replaced = true;
                break;
            }
            if (replaced) continue;
        }
        out += c;
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') prev = c;
    }
    return out;
}

}  // namespace sparkctl::model::detail
