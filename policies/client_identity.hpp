// The verified client identity and its header formats (SPEC "identity"). Uses OpenSSL's
// certificate types but no sockets: computed once per connection, then reused per request.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

#include "config/config.hpp"
#include "policies/header_list.hpp"
#include "policies/refusal.hpp"

namespace certgate::policies {

struct ClientIdentity {
    enum class Status { none, verified, failed };
    Status status = Status::none;
    std::string failure_reason;  // e.g. "certificate has expired" (status failed)

    // Set when a certificate was presented (whether or not it verified), header-safe.
    std::string subject;      // RFC 4514, control chars as \0D-style escapes, UTF-8 kept
    std::string issuer;       // RFC 4514
    std::string serial;       // upper-case hex, no leading zeros ("0" for zero)
    std::string fingerprint;  // SHA-256 of DER, lower-case hex
    std::string not_before;   // RFC 3339 UTC "2026-11-22T10:00:00Z"
    std::string not_after;
    std::vector<std::string> san_dns;  // raw values as in the certificate
    std::vector<std::string> san_uri;
    std::string pem_urlencoded;        // leaf PEM, URL-encoded
    std::string rfc9440_cert;          // ":base64(DER):"
    std::string rfc9440_chain;         // ":b64:, :b64:" of the certs sent after the leaf
};

// Describes a presented certificate. `sent_chain` is what the client sent after its leaf
// (may be null). `failure` is the verification error text, nullopt when it verified.
// `with_encodings`: also the PEM and RFC 9440 forms, which only the whole-certificate
// headers use (a few KiB per connection, and encoding work per handshake, otherwise).
ClientIdentity describe_certificate(X509* leaf, STACK_OF(X509) * sent_chain,
                                    std::optional<std::string> failure,
                                    bool with_encodings = true);

// RFC 4514 string with SPEC's escaping (used for subject and issuer).
std::string format_dn(const X509_NAME* name);

// SAN list as sent to the app: joined with ",", control characters, space, ',' and '%'
// inside a value percent-encoded.
std::string format_san_list(const std::vector<std::string>& values);

// "SUCCESS" | "NONE" | "FAILED:<reason>" (reason made header-safe).
std::string verify_header_value(const ClientIdentity& id);

// Certificate requirement (decision 1): `required` with no certificate -> 403
// "client certificate required" (rule "verify.missing"); with a failed one -> 403
// "client certificate rejected: <reason>" (rule "verify: <reason>").
std::optional<Refusal> check_certificate_requirement(config::CertMode mode,
                                                     const ClientIdentity& id);

// Writes the identity headers the app sees, per SPEC: verified -> every configured field;
// optional with none/failed -> Verify only; mode none -> Verify: NONE only.
void write_identity_headers(HeaderList& headers, const config::IdentityHeaders& names,
                            config::CertMode mode, const ClientIdentity& id);

}  // namespace certgate::policies
