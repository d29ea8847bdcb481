#include <strings.h>

#include "net/detail/wire.h"
#include "net/http.h"

namespace sparkctl::net {

namespace {
bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

std::string_view header_value(const Headers& headers, std::string_view name) {
    for (const auto& [n, v] : headers) {
        if (iequals(n, name)) return v;
    }
    return {};
}

namespace detail {

std::size_t headers_bytes(const Headers& headers) {
    std::size_t n = 0;
    for (const auto& [name, value] : headers) n += name.size() + value.size() + 4;
    return n;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    const auto clean = [&out](std::string_view s) {
        const std::size_t from = out.size();
        out.append(s);
        for (std::size_t i = from; i < out.size(); ++i) {
            if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
        }
    };
    clean(name);
    out.append(": ");
    clean(value);
    out.append("\r\n");
}

void append_headers(std::string& out, const Headers& headers) {
    for (const auto& [name, value] : headers) {
        if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) continue;
        append_header(out, name, value);
    }
}

void append_chunk(std::string& out, std::string_view data) {
    if (data.empty()) return;
    // The size in hex, by hand (snprintf took about 300 instructions a chunk, callgrind).
    char size[2 * sizeof(std::size_t) + 2];
    char* end = size + sizeof size;
    char* p = end;
    *--p = '\n';
    *--p = '\r';
    for (std::size_t n = data.size(); n != 0; n >>= 4) *--p = "0123456789abcdef"[n & 0xf];
    out.append(p, static_cast<std::size_t>(end - p));
    out.append(data);
    out.append("\r\n");
}

}  // namespace detail
}  // namespace sparkctl::net
