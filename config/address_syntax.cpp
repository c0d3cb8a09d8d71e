#include "config/address_syntax.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>

namespace certgate::config::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool starts_with_ci(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), is_digit)) {
        return std::nullopt;
    }
    unsigned value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    if (value < 1 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

bool is_ipv4(std::string_view text) {
    const std::string z(text);
    in_addr address{};
    return inet_pton(AF_INET, z.c_str(), &address) == 1;
}

bool is_ipv6(std::string_view text) {
    const std::string z(text);
    in6_addr address{};
    return inet_pton(AF_INET6, z.c_str(), &address) == 1;
}

// Underscores are not valid in browser-visible host names, but container runtimes
// (docker compose service names) resolve them, so upstream hosts may use them.
bool is_dns_label(std::string_view label, bool allow_underscore) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
        return false;
    }
    return std::all_of(label.begin(), label.end(), [&](char c) {
        return is_alpha(c) || is_digit(c) || c == '-' || (allow_underscore && c == '_');
    });
}

bool is_dns_name(std::string_view name, bool allow_underscore) {
    if (name.empty() || name.size() > 253) return false;
    std::string_view last;
    for (std::size_t start = 0;;) {
        const std::size_t dot = name.find('.', start);
        last = name.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (!is_dns_label(last, allow_underscore)) return false;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    // An all-digit last label is a malformed IPv4 address, not a name.
    return !std::all_of(last.begin(), last.end(), is_digit);
}

struct Authority {
    std::string_view host;
    bool bracketed = false;
    std::optional<std::string_view> port;
};

std::optional<Authority> split_authority(std::string_view text) {
    Authority authority;
    std::string_view rest;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        authority.host = text.substr(1, close - 1);
        authority.bracketed = true;
        rest = text.substr(close + 1);
    } else {
        const std::size_t colon = text.find(':');
        authority.host = text.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon);
    }
    if (!rest.empty()) {
        if (rest.front() != ':') return std::nullopt;
        authority.port = rest.substr(1);
    }
    return authority;
}

std::optional<std::string_view> strip_scheme(std::string_view text, std::string& scheme) {
    for (std::string_view candidate : {"https", "http"}) {
        if (starts_with_ci(text, std::string(candidate) + "://")) {
            scheme = candidate;
            return text.substr(candidate.size() + 3);
        }
    }
    return std::nullopt;
}

}  // namespace

Parsed<Endpoint> parse_endpoint(std::string_view text) {
    const Invalid invalid{quote(text) +
                          " is not a valid address: use IPv4:port, [IPv6]:port or localhost:port"};
    const auto authority = split_authority(text);
    if (!authority || !authority->port) return invalid;
    Endpoint endpoint;
    endpoint.text = std::string(text);
    if (authority->bracketed && is_ipv6(authority->host)) {
        endpoint.host = std::string(authority->host);
    } else if (!authority->bracketed && iequals(authority->host, "localhost")) {
        endpoint.host = "127.0.0.1";
    } else if (!authority->bracketed && is_ipv4(authority->host)) {
        endpoint.host = std::string(authority->host);
    } else {
        return invalid;
    }
    const auto port = parse_port(*authority->port);
    if (!port) return Invalid{quote(text) + " has an invalid port: use 1 to 65535"};
    endpoint.port = *port;
    return endpoint;
}

bool endpoints_overlap(const Endpoint& a, const Endpoint& b) {
    if (a.port != b.port || a.port == 0) return false;
    struct Bytes {
        bool v6 = false;
        unsigned char raw[16] = {};
    };
    const auto bytes = [](const std::string& host) {
        Bytes out;
        out.v6 = host.find(':') != std::string::npos;
        if (::inet_pton(out.v6 ? AF_INET6 : AF_INET, host.c_str(), out.raw) != 1) out = Bytes{};
        return out;
    };
    const Bytes x = bytes(a.host), y = bytes(b.host);
    const auto any = [](const Bytes& v) {
        return std::all_of(std::begin(v.raw), std::end(v.raw), [](unsigned char c) { return c == 0; });
    };
    if (x.v6 == y.v6 && std::equal(std::begin(x.raw), std::end(x.raw), std::begin(y.raw))) return true;
    if ((x.v6 && any(x)) || (y.v6 && any(y))) return true;  // "::": both families
    return !x.v6 && !y.v6 && (any(x) || any(y));            // "0.0.0.0": every IPv4 address
}

Parsed<UpstreamTarget> parse_upstream_url(std::string_view text) {
    UpstreamTarget target;
    if (starts_with_ci(text, "https://")) {
        return Invalid{"https upstreams are not supported (planned)"};
    }
    if (starts_with_ci(text, "unix:")) {
        const std::string_view path = text.substr(5);
        if (path.empty() || path.front() != '/' || path.starts_with("//") ||
            has_control_char(path)) {
            return Invalid{quote(text) +
                           " is not a valid unix socket URL: use unix:/absolute/path"};
        }
        // sockaddr_un::sun_path holds 108 bytes including the terminating NUL.
        if (path.size() > 107)
            return Invalid{quote(text) + " has a socket path longer than 107 bytes"};
        target.kind = Upstream::Kind::unix_socket;
        target.socket_path = std::string(path);
        return target;
    }
    const Invalid invalid{
        quote(text) +
        " is not a valid upstream URL: use http://host:port or unix:/path/to/app.sock"};
    std::string scheme;
    const auto rest = strip_scheme(text, scheme);
    if (!rest || scheme != "http") return invalid;
    const std::size_t end = rest->find_first_of("/?#");
    const std::string_view tail = end == std::string_view::npos ? "" : rest->substr(end);
    if (!tail.empty() && tail != "/") {
        return Invalid{quote(text) + " has a path, query or fragment: give only http://host:port"};
    }
    const auto authority = split_authority(rest->substr(0, end));
    if (!authority) return invalid;
    const bool host_ok = authority->bracketed
                             ? is_ipv6(authority->host)
                             : is_ipv4(authority->host) || is_dns_name(authority->host, true);
    if (!host_ok) return invalid;
    target.host = std::string(authority->host);
    target.port = 80;
    if (authority->port) {
        const auto port = parse_port(*authority->port);
        if (!port) return Invalid{quote(text) + " has an invalid port: use 1 to 65535"};
        target.port = *port;
    }
    return target;
}

Parsed<std::string> parse_frame_ancestor(std::string_view text) {
    const Invalid invalid{quote(text) + " is not a valid origin"};
    std::string source = ascii_lower(text);
    if (source == "'none'" || source == "'self'" || source == "https:" || source == "http:") {
        return source;
    }
    std::string scheme;
    const auto rest = strip_scheme(source, scheme);
    if (!rest) return invalid;
    const auto authority = split_authority(*rest);
    if (!authority || authority->bracketed) return invalid;
    std::string_view host = authority->host;
    const bool wildcard = host.starts_with("*.");
    if (wildcard) host.remove_prefix(2);
    if (!is_dns_name(host, false) && (wildcard || !is_ipv4(host))) return invalid;
    if (authority->port && *authority->port != "*" && !parse_port(*authority->port)) return invalid;
    return source;
}

Parsed<std::string> parse_origin(std::string_view text) {
    const Invalid invalid{quote(text) + " is not a valid origin"};
    std::string scheme;
    const std::string lowered = ascii_lower(text);
    const auto rest = strip_scheme(lowered, scheme);
    if (!rest) return invalid;
    const auto authority = split_authority(*rest);
    if (!authority) return invalid;
    const bool host_ok = authority->bracketed
                             ? is_ipv6(authority->host)
                             : is_ipv4(authority->host) || is_dns_name(authority->host, false);
    if (!host_ok) return invalid;
    std::string origin = scheme + "://";
    origin += authority->bracketed ? "[" + std::string(authority->host) + "]"
                                   : std::string(authority->host);
    if (authority->port) {
        const auto port = parse_port(*authority->port);
        if (!port) return invalid;
        const std::uint16_t default_port = scheme == "https" ? 443 : 80;
        if (*port != default_port) origin += ":" + std::to_string(*port);
    }
    return origin;
}

Parsed<std::string> parse_dns_pattern(std::string_view text) {
    const std::string pattern = ascii_lower(text);
    bool ok = !pattern.empty();
    for (std::size_t start = 0; ok;) {
        const std::size_t dot = pattern.find('.', start);
        const std::string_view label =
            std::string_view(pattern).substr(start, dot == std::string::npos ? dot : dot - start);
        ok = label == "*" || is_dns_label(label, true);
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    if (!ok) return Invalid{quote(text) + " is not a valid DNS name pattern"};
    return pattern;
}

}  // namespace certgate::config::detail
