// Serialization of the heads certgate sends: requests toward the app (one framing header,
// certgate's own) and responses toward the client.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "policies/request_head.hpp"
#include "proxy/http_parsers.hpp"

namespace certgate::proxy {

enum class BodyFraming {
    none,            // no body, no framing header added (HEAD, 204, 304, bodiless requests)
    length,          // Content-Length
    chunked,         // Transfer-Encoding: chunked
    close_delimited  // body ends when the connection closes (HTTP/1.0 clients only)
};

void serialize_request_head(std::string& out, const policies::RequestHead& head,
                            std::string_view path, std::string_view query, BodyFraming framing,
                            std::uint64_t length);

void serialize_response_head(std::string& out, const ResponseHead& head, std::string_view reason,
                             BodyFraming framing, std::uint64_t length, bool close,
                             bool keep_alive_token);

// "<hex>\r\n" into buf (at least 20 bytes); returns the bytes written.
std::size_t format_chunk_header(char* buf, std::uint64_t size);

// An upstream response whose length two readers could disagree on: more than one
// Content-Length, Content-Length with Transfer-Encoding, a Transfer-Encoding other than
// chunked, or any Transfer-Encoding on HTTP/1.0. Such a response is a 502 and its connection
// is never reused.
bool has_ambiguous_framing(const ResponseHead& head);

}  // namespace certgate::proxy
