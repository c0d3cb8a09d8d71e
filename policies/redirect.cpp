#include "policies/redirect.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

namespace certgate::policies {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex_digit(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_letter_or_digit(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 3986 port, 1-5 digits; 0 is no port a browser can be sent to.
bool is_port(std::string_view s) {
    if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), is_digit)) return false;
    unsigned value = 0;
    for (char c : s) value = value * 10 + static_cast<unsigned>(c - '0');
    return value >= 1 && value <= 65535;
}

bool parses_as(int family, std::string_view s) {
    unsigned char address[sizeof(in6_addr)];
    return s.size() < INET6_ADDRSTRLEN && ::inet_pton(family, std::string(s).c_str(), address) == 1;
}

// Dotted-quad decimal only: glibc's inet_pton refuses the octal, hex and short forms
// ("010.1.1.1", "0x7f.1", "127.1") that would name another address in some resolver.
bool is_ipv4(std::string_view s) { return parses_as(AF_INET, s); }

// A browser reads a host whose last label is a number ("1.2.3.999", "a.0x10") as an IPv4
// address (WHATWG URL "ends in a number"), so such a name must be a valid one.
bool ends_in_a_number(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    auto label = name.substr(name.rfind('.') + 1);
    if (label.size() >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X'))
        return std::all_of(label.begin() + 2, label.end(), is_hex_digit);
    return !label.empty() && std::all_of(label.begin(), label.end(), is_digit);
}

// Letters, digits, "-" and "."; labels of 1-63 characters not starting or ending with "-";
// one trailing "." (a fully qualified name) allowed.
bool is_dns_name(std::string_view name) {
    if (name.empty() || name.size() > 253) return false;
    if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
    for (;;) {
        const auto dot = name.find('.');
        const auto label = name.substr(0, dot);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label)
            if (!is_letter_or_digit(c) && c != '-') return false;
        if (dot == std::string_view::npos) return true;
        name.remove_prefix(dot + 1);
    }
}

}  // namespace

bool is_valid_host(std::string_view host) {
    std::string_view name = host, port;
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos) return false;
        if (!parses_as(AF_INET6, host.substr(1, close - 1))) return false;
        const auto rest = host.substr(close + 1);
        if (rest.empty()) return true;
        return rest.front() == ':' && is_port(rest.substr(1));
    }
    if (const auto colon = host.find(':'); colon != std::string_view::npos) {
        name = host.substr(0, colon);
        port = host.substr(colon + 1);
        if (!is_port(port)) return false;
    }
    return ends_in_a_number(name) ? is_ipv4(name) : is_dns_name(name);
}

std::string https_redirect_location(std::string_view host, std::uint16_t tls_port,
                                    std::string_view target) {
    std::string_view name = host;
    if (!name.empty() && name.front() == '[') {
        auto close = name.find(']');
        if (close != std::string_view::npos) name = name.substr(0, close + 1);
    } else if (auto colon = name.find(':'); colon != std::string_view::npos) {
        name = name.substr(0, colon);
    }
    std::string location = "https://";
    location += name;
    if (tls_port != 443) {
        location += ':';
        location += std::to_string(tls_port);
    }
    location += target;
    return location;
}

}  // namespace certgate::policies
