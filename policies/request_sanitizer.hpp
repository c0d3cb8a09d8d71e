// Request sanitizing steps 2-4 (SPEC): hop-by-hop removal, identity spoofing removal,
// forwarding headers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "policies/header_list.hpp"

namespace certgate::policies {

// Compiled once per config snapshot from config::Identity.
struct SpoofRules {
    std::vector<std::string> exact;     // lower-case, '_' as '-': identity header names + strip
    std::vector<std::string> prefixes;  // lower-case, '_' as '-'
    bool allow_underscores = false;
};
SpoofRules compile_spoof_rules(const config::Identity& identity);

// Removes Connection and every header it names, Keep-Alive, Proxy-Connection, TE, Trailer,
// Upgrade. Runs before certgate adds any header, so a name in Connection can never remove
// one of certgate's own.
void strip_hop_by_hop(HeaderList& headers);

// Removes every header that could pass for an identity header (name lower-cased with '_'
// read as '-' equal to one, or starting with a prefix), then, unless allowed, every header
// whose name contains '_'. Returns the number of fields removed.
std::size_t strip_spoofable(HeaderList& headers, const SpoofRules& rules);

// True when a client-sent request id may be kept: 1-128 chars of [A-Za-z0-9._:-].
bool is_acceptable_request_id(std::string_view id);

// Removes every client header whose name, lower-cased with '_' read as '-', starts with
// "x-forwarded-" or is "x-real-ip" or "forwarded" (RFC 7239), except `request_id_header`
// (judged by its own rule). Returns the number of fields removed.
std::size_t strip_client_forwarding(HeaderList& headers, std::string_view request_id_header);

// The app never sees a forwarding header a client wrote: strips them (above), then sets
// X-Forwarded-For (replace: the client address; append: the client's X-Forwarded-For values
// read before the strip, then the client address; off: none), X-Forwarded-Proto: https and
// X-Real-IP when enabled (none when not), and the request id header. `generated_request_id`
// is used when the client's is absent or not acceptable. Returns the request id in force
// (empty when request ids are off).
std::string set_forwarding_headers(HeaderList& headers, const config::Forwarded& forwarded,
                                   std::string_view client_ip,
                                   std::string_view generated_request_id);

}  // namespace certgate::policies
