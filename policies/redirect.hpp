// The plain-HTTP listener's answer (SPEC redirect_http): every request goes to its https URL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace certgate::policies {

// Whether a Host header value may be copied into a redirect's Location: a DNS name (letters,
// digits, "-" and "."; no label starts or ends with "-"; at most 253 characters), an IPv4
// address or a bracketed IPv6 address, each with an optional ":port" of 1 to 65535. Anything
// else ("[::1", "host:", "host:abc", "-evil-") is answered with 400, never with a Location a
// browser would read differently from certgate.
bool is_valid_host(std::string_view host);

// "https://<host without its port>[:<tls_port> unless 443]<target>". `host` is a Host header
// value that is_valid_host accepted; `target` is the origin-form request target, kept as sent.
std::string https_redirect_location(std::string_view host, std::uint16_t tls_port,
                                    std::string_view target);

}  // namespace certgate::policies
