// The syntax of addresses, URLs, origins and host names in the configuration.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/value_syntax.hpp"

namespace certgate::config::detail {

// "IPv4:port", "[IPv6]:port" or "localhost:port"; localhost becomes 127.0.0.1.
Parsed<Endpoint> parse_endpoint(std::string_view text);

// Whether two listening addresses would take the same connections: one port, and the same
// address or a wildcard covering the other ("0.0.0.0" every IPv4 address; "::" every address,
// certgate listening on both families there).
bool endpoints_overlap(const Endpoint& a, const Endpoint& b);

struct UpstreamTarget {
    Upstream::Kind kind = Upstream::Kind::tcp;
    std::string host;
    std::uint16_t port = 0;
    std::string socket_path;
};

// "http://host[:port][/]" or "unix:/absolute/path".
Parsed<UpstreamTarget> parse_upstream_url(std::string_view text);

// One CSP frame-ancestors source: 'none', 'self', "https:", "http:",
// http(s)://host[:port] with an optional "*." host prefix. Returned lower-cased.
Parsed<std::string> parse_frame_ancestor(std::string_view text);

// "scheme://host[:port]" (http or https, no path), lower-cased, default port removed, so
// that it compares equal to the Origin header a browser sends.
Parsed<std::string> parse_origin(std::string_view text);

// A DNS name in which "*" may stand for whole labels: "*.billing.internal".
Parsed<std::string> parse_dns_pattern(std::string_view text);

}  // namespace certgate::config::detail
