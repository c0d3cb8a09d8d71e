// Identity allow-lists (SPEC decision 2): which verified client certificates a policy lets
// through, by subject, SAN DNS pattern, SAN URI pattern (SPIFFE IDs) or fingerprint.
#pragma once

#include <optional>
#include <string_view>

#include "config/config.hpp"
#include "policies/client_identity.hpp"
#include "policies/refusal.hpp"

namespace certgate::policies {

// DNS name against a pattern, ASCII case-insensitive. A "*" label stands for exactly one
// whole label of letters, digits, '-' or '_': "*.billing.internal" matches
// "a.billing.internal", not "billing.internal" nor "a.b.billing.internal". A label that
// merely contains '*' ("a*") never matches, and a wildcard never matches a name's own "*"
// label (a wildcard client certificate is not "one host under billing.internal").
// Empty labels (leading, trailing or doubled dots) never match.
bool dns_pattern_matches(std::string_view pattern, std::string_view name);

// URI against a SPIFFE-style pattern. Scheme and authority must be equal (ASCII
// case-insensitive; a pattern "*" there is literal). Path segments: "*" is exactly one
// non-empty segment, "**" any number of segments (zero included), anywhere in the pattern;
// every other segment is literal and case-sensitive.
// A pattern with a wildcard never matches a URI that could be read two ways: one with a
// query or fragment, a "." or ".." segment, an empty segment ("//", trailing "/"), any
// '%' escape (%2F, %2E, ...), a '\', a space or a control character.
// A pattern without wildcards matches only the same URI (scheme and authority in any case).
bool uri_pattern_matches(std::string_view pattern, std::string_view uri);

// Whether the policy's allow-list judges this request: never when the list is empty or the
// policy ignores certificates (mode none); always on `required`; on `optional` only when a
// certificate was presented, verified or not (a failed one is then refused, never
// forwarded as if absent).
bool allow_list_applies(const config::AllowList& allow, config::CertMode mode,
                        const ClientIdentity& id);

// Nothing when the allow-list is empty or any listed field matches a verified identity;
// otherwise 403 "client identity not allowed". A certificate that was absent or failed
// verification never passes, whatever its fields say.
// Rule: "allow." followed by the configured lists, in the order subjects, san_dns, san_uri,
// fingerprints, joined by ",": "allow.san_uri", "allow.subjects,san_uri".
std::optional<Refusal> check_allow_list(const config::AllowList& allow, const ClientIdentity& id);

}  // namespace certgate::policies
