#include "proxy/http_writer.hpp"

#include <charconv>

namespace certgate::proxy {
namespace {

void append_fields(std::string& out, const policies::HeaderList& headers) {
    headers.for_each([&](std::string_view name, std::string_view value) {
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    });
}

void append_number(std::string& out, std::uint64_t n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, end);
}

void append_framing(std::string& out, BodyFraming framing, std::uint64_t length) {
    if (framing == BodyFraming::length) {
        out += "Content-Length: ";
        append_number(out, length);
        out += "\r\n";
    } else if (framing == BodyFraming::chunked) {
        out += "Transfer-Encoding: chunked\r\n";
    }
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

void serialize_request_head(std::string& out, const policies::RequestHead& head,
                            std::string_view path, std::string_view query, BodyFraming framing,
                            std::uint64_t length) {
    out += head.method;
    out += ' ';
    out += path;
    out += query;
    out += " HTTP/1.1\r\n";
    append_fields(out, head.headers);
    append_framing(out, framing, length);
    out += "\r\n";
}

void serialize_response_head(std::string& out, const ResponseHead& head, std::string_view reason,
                             BodyFraming framing, std::uint64_t length, bool close,
                             bool keep_alive_token) {
    out += "HTTP/1.1 ";
    append_number(out, static_cast<std::uint64_t>(head.status));
    out += ' ';
    out += reason;
    out += "\r\n";
    append_fields(out, head.headers);
    append_framing(out, framing, length);
    if (close)
        out += "Connection: close\r\n";
    else if (keep_alive_token)
        out += "Connection: keep-alive\r\n";
    out += "\r\n";
}

std::size_t format_chunk_header(char* buf, std::uint64_t size) {
    auto [end, ec] = std::to_chars(buf, buf + 16, size, 16);
    end[0] = '\r';
    end[1] = '\n';
    return static_cast<std::size_t>(end + 2 - buf);
}

bool has_ambiguous_framing(const ResponseHead& head) {
    std::size_t lengths = head.headers.count("Content-Length");
    std::size_t encodings = head.headers.count("Transfer-Encoding");
    if (lengths > 1 || (lengths && encodings) || encodings > 1) return true;
    // RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing (a 1.0
    // reader would take the body as delimited by the close).
    if (encodings && head.version < 11) return true;
    if (encodings == 1) {
        auto te = head.headers.get("Transfer-Encoding");
        return !policies::iequals(trim(*te), "chunked");
    }
    return false;
}

}  // namespace certgate::proxy
