// Cookie hardening (SPEC "Responses", cookies): every Set-Cookie the app sends gets Secure and
// the policy's SameSite, whatever the app wrote, so that a session cookie never travels over
// plain HTTP nor rides along on a cross-site request the policy does not allow.
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "policies/header_list.hpp"

namespace certgate::policies {

// One Set-Cookie value. The name=value pair is kept byte for byte, a DQUOTE-wrapped value
// (RFC 6265 4.1.1) up to its closing quote even when it holds ';'. Then:
//   cookies.secure (or same_site None, which browsers drop without Secure): every Secure
//       attribute (any case, with or without a value) is removed and one "; Secure" appended;
//   cookies.same_site set: every SameSite attribute is removed and one
//       "; SameSite=Strict|Lax|None" appended.
// An attribute certgate does not set is left as the app wrote it (secure: false never
// removes the app's Secure; no same_site keeps the app's SameSite). Other attributes keep
// their text and order; empty ones (";;") are dropped. A blank value is returned unchanged.
std::string rewrite_set_cookie(std::string_view set_cookie, const config::Cookies& cookies);

// Rewrites every Set-Cookie field (name in any case) in place: every field keeps its position.
void rewrite_cookies(HeaderList& response_headers, const config::Cookies& cookies);

}  // namespace certgate::policies
