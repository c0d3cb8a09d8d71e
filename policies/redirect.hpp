// The plain-HTTP listener's answer (SPEC redirect_http): every request goes to its https URL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace certgate::policies {

// "https://<host without its port>[:<tls_port> unless 443]<target>". `host` is a Host header
// value already checked by check_request_framing (a name, IPv4, or bracketed IPv6, with an
// optional port); `target` is the origin-form request target, kept as sent.
std::string https_redirect_location(std::string_view host, std::uint16_t tls_port,
                                    std::string_view target);

}  // namespace certgate::policies
