// Private helpers shared by server.cpp and client.cpp: HTTP/1.1 head serialization.
#pragma once

#include <string>
#include <string_view>

#include "net/http.h"

namespace sparkctl::net::detail {

// The bytes append_headers() writes at most: what to reserve before it.
std::size_t headers_bytes(const Headers& headers);

// Appends "Name: value\r\n"; CR and LF in either become spaces (no header injection).
void append_header(std::string& out, std::string_view name, std::string_view value);

// Appends all headers but Content-Length and Transfer-Encoding, which the caller frames.
void append_headers(std::string& out, const Headers& headers);

// Appends one chunk of chunked transfer encoding (RFC 9112 section 7.1); empty data appends
// nothing (an empty chunk would end the body).
void append_chunk(std::string& out, std::string_view data);

}  // namespace sparkctl::net::detail
