// Cross-site request forgery check (SPEC decision 3): a browser on another site must not be
// able to make a certificate-holding user's browser send a state-changing request here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "policies/header_list.hpp"
#include "policies/refusal.hpp"

namespace certgate::policies {

// An Origin-header style value in the form the config loader gives trusted_origins:
// "scheme://host[:port]", http or https only, scheme and host lower-cased, the default port
// (443, 80) dropped, IPv6 kept in brackets. An empty path or "/" is accepted and dropped.
// Nothing for "null", userinfo, any other path, a query, a fragment, a bad host or port.
std::optional<std::string> normalize_origin(std::string_view origin);

// The origin of a Referer URL (scheme://host[:port] of an absolute http(s) URL), normalized
// as above; its path, query and fragment are ignored. Nothing when it has none (relative
// reference, userinfo, another scheme).
std::optional<std::string> referer_origin(std::string_view referer);

// GET, HEAD and OPTIONS pass. Otherwise the first of Origin, Sec-Fetch-Site, Referer that the
// request carries decides:
//   Origin: passes when it normalizes to a trusted origin or to https://<Host>;
//           "null" -> "csrf.origin_null"; anything else, or two Origin fields,
//           -> "csrf.origin_mismatch".
//   Sec-Fetch-Site: "same-origin" and "none" pass; anything else, or two fields,
//           -> "csrf.sec_fetch_site".
//   Referer: its origin judged as Origin; unparsable, not allowed, or two fields,
//           -> "csrf.referer_mismatch".
// None of them: passes only with allow_missing_origin, else "csrf.missing_origin".
// Every refusal is 403 "origin not allowed".
std::optional<Refusal> check_csrf(const config::Csrf& csrf, std::string_view method,
                                  const HeaderList& headers);

}  // namespace certgate::policies
