#include "policies/request_head.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace certgate::policies {

namespace {

const void* find_byte(const char* p, std::size_t n, char c) {
    return n ? std::memchr(p, c, n) : nullptr;
}

HeadScan malformed(HeadScan s, std::size_t at, const char* rule) {
    s.status = HeadScan::Status::malformed;
    s.scanned = at;
    s.rule = rule;
    return s;
}

// RFC 9110 5.6.2 tchar.
bool is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

// Checks one complete line [b, b+n) that was followed by '\n'. Returns a rule name or null.
const char* check_line(const char* b, std::size_t n, bool first_line) {
    if (n == 0 || b[n - 1] != '\r') return "framing.bare_lf";  // RFC 9112 2.2
    if (find_byte(b, n, '\0')) return "framing.nul";
    if (find_byte(b, n - 1, '\r')) return "framing.bare_cr";
    if (b[0] == ' ' || b[0] == '\t')
        // obs-fold (RFC 9112 5.2) on a field line; before the request line it is garbage.
        return first_line ? "framing.request_line" : "framing.obs_fold";
    if (!first_line && n > 1) {
        // RFC 9112 5.1: no whitespace between name and colon ("Transfer-Encoding : chunked"
        // is a known smuggling shape that lenient parsers accept and strict ones ignore).
        std::size_t i = 0;
        while (i < n - 1 && b[i] != ':' && is_tchar(static_cast<unsigned char>(b[i]))) ++i;
        if (i == 0 || i == n - 1 || b[i] != ':') return "framing.header_name";
    }
    return nullptr;
}

// host [":" port] as real clients send it: a DNS name, an IPv4 address or a bracketed IPv6
// one. Stops values like "a/b@evil" or "a, b" that would be pasted into an Origin
// comparison or a redirect Location; RFC 3986 reg-name's sub-delims never occur in practice.
bool is_host_value(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                        (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' || c == '~' ||
                        c == ':' || c == '[' || c == ']';
        if (!ok) return false;
    }
    return true;
}

std::string_view trim_ows(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

bool is_plain_decimal(std::string_view v) {
    if (v.empty()) return false;
    std::uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return false;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (n > (UINT64_MAX - d) / 10) return false;  // overflow: framing we cannot honour
        n = n * 10 + d;
    }
    return true;
}

Refusal bad_request(const char* what, const char* rule) {
    return Refusal{400, std::string("bad request: ") + what, rule};
}

// Calls f(token) for each comma-separated, trimmed, non-empty token of every `name` field.
template <class F>
void for_each_token(const HeaderList& headers, std::string_view name, F&& f) {
    headers.for_each([&](std::string_view n, std::string_view value) {
        if (!iequals(n, name)) return;
        while (!value.empty()) {
            const auto comma = value.find(',');
            const auto tok = trim_ows(value.substr(0, comma));
            if (!tok.empty()) f(tok);
            if (comma == std::string_view::npos) break;
            value.remove_prefix(comma + 1);
        }
    });
}

}  // namespace

HeadScan scan_request_head(std::string_view bytes, std::size_t max_head_bytes,
                           std::size_t resume_from) {
    HeadScan s;
    const char* const base = bytes.data();
    const std::size_t size = bytes.size();

    // RFC 9112 2.2: empty lines before the request line are ignored. They do not count
    // toward the head, but a stream of nothing but blank lines is bounded just the same.
    std::size_t lead = 0;
    while (lead + 1 < size && base[lead] == '\r' && base[lead + 1] == '\n') lead += 2;
    s.leading_empty_lines = lead;
    if (lead > max_head_bytes) {
        s.status = HeadScan::Status::too_large;
        s.scanned = lead;
        return s;
    }

    // Resume at the start of the line holding `resume_from`, so any offset is safe.
    std::size_t line = resume_from < lead ? lead : (resume_from > size ? size : resume_from);
    if (line > lead) {
        const char* prev = static_cast<const char*>(memrchr(base + lead, '\n', line - lead));
        line = prev ? static_cast<std::size_t>(prev - base) + 1 : lead;
    }

    const std::size_t limit = (size - lead > max_head_bytes) ? lead + max_head_bytes : size;
    while (line < limit) {
        const char* nl = static_cast<const char*>(find_byte(base + line, limit - line, '\n'));
        if (!nl) break;
        const auto n = static_cast<std::size_t>(nl - (base + line));
        if (const char* rule = check_line(base + line, n, line == lead))
            return malformed(s, line, rule);
        const std::size_t next = line + n + 1;
        if (n == 1 && line != lead) {  // "\r\n" alone: the end of the field section
            s.status = HeadScan::Status::complete;
            s.head_end = next;
            s.scanned = next;
            return s;
        }
        line = next;
    }

    // An unfinished line: what is there must still be clean, a trailing CR may await its LF.
    const std::size_t tail = limit - line;
    if (find_byte(base + line, tail, '\0')) return malformed(s, line, "framing.nul");
    if (tail > 1 && find_byte(base + line, tail - 1, '\r'))
        return malformed(s, line, "framing.bare_cr");
    if (tail > 0 && (base[line] == ' ' || base[line] == '\t'))
        return malformed(s, line, line == lead ? "framing.request_line" : "framing.obs_fold");
    s.scanned = line;
    // Any byte still to come would take the head past the limit.
    s.status =
        (size - lead >= max_head_bytes) ? HeadScan::Status::too_large : HeadScan::Status::need_more;
    return s;
}

std::optional<Refusal> check_request_framing(const RequestHead& head) {
    if (!is_token(head.method)) return bad_request("invalid method", "framing.method");
    for (char c : head.method)
        if (c >= 'a' && c <= 'z') return bad_request("invalid method", "framing.method");

    // RFC 9112 3.2.1: origin-form only. Absolute-form would let the client pick the
    // authority, '*' (asterisk-form) is for OPTIONS to the proxy itself.
    if (head.target.empty() || head.target.front() != '/')
        return bad_request("request target is not origin-form", "framing.target");
    for (unsigned char c : head.target)
        if (c <= 0x20 || c == 0x7F || c == '#')
            return bad_request("invalid character in request target", "framing.target");

    if (head.version != 10 && head.version != 11)
        return bad_request("unsupported HTTP version", "framing.version");

    std::optional<Refusal> refusal;
    std::size_t hosts = 0, lengths = 0, encodings = 0;
    std::string_view host, length, encoding;
    head.headers.for_each([&](std::string_view name, std::string_view value) {
        if (refusal) return;
        if (!is_token(name)) {
            refusal = bad_request("invalid header name", "framing.header_name");
            return;
        }
        // RFC 9110 5.5: CR, LF and NUL in a value are how header injection travels.
        for (char c : value)
            if (c == '\r' || c == '\n' || c == '\0') {
                refusal = bad_request("invalid header value", "framing.header_value");
                return;
            }
        auto note = [&](std::size_t& seen, std::string_view& last) {
            ++seen;
            last = value;
        };
        if (iequals(name, "host")) note(hosts, host);
        if (iequals(name, "content-length")) note(lengths, length);
        if (iequals(name, "transfer-encoding")) note(encodings, encoding);
    });
    if (refusal) return refusal;

    // RFC 9112 3.2: exactly one Host, or the app and certgate may disagree on the authority.
    if (hosts != 1 || !is_host_value(trim_ows(host)))
        return bad_request("missing, duplicate or invalid Host", "framing.host");
    // RFC 9112 6.1/6.3: CL together with TE is the classic request-smuggling shape.
    if (lengths > 0 && encodings > 0)
        return bad_request("both Content-Length and Transfer-Encoding", "framing.cl_and_te");
    if (lengths > 1 || (lengths == 1 && !is_plain_decimal(trim_ows(length))))
        return bad_request("invalid Content-Length", "framing.content_length");
    if (encodings > 0 && head.version == 10)
        return bad_request("Transfer-Encoding on HTTP/1.0", "framing.te_on_http10");
    if (encodings > 1 || (encodings == 1 && !iequals(trim_ows(encoding), "chunked")))
        return bad_request("unsupported Transfer-Encoding", "framing.transfer_encoding");
    return std::nullopt;
}

bool is_last_request(const RequestHead& head) {
    bool close = false, keep_alive = false;
    for_each_token(head.headers, "connection", [&](std::string_view tok) {
        if (iequals(tok, "close")) close = true;
        if (iequals(tok, "keep-alive")) keep_alive = true;
    });
    // RFC 9112 9.3: HTTP/1.0 persists only when asked to.
    return close || (head.version == 10 && !keep_alive);
}

}  // namespace certgate::policies
