// Plain HTTP/1.1 message types shared by net::Server and net::Client (no Boost in sight).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sparkctl::net {

using Headers = std::vector<std::pair<std::string, std::string>>;  // name, value (in order)

// The first value of header `name` (case-insensitive), or empty.
std::string_view header_value(const Headers& headers, std::string_view name);

struct Request {
    std::string method;  // "GET", "POST", ...
    std::string target;  // "/v1/completions?x=1"
    Headers headers;
    std::string body;
};

struct Response {
    int status = 200;
    Headers headers;  // Content-Length is set by the server or client, never by hand
    std::string body;
};

}  // namespace sparkctl::net
