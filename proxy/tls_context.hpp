// Builds the server's TLS context from the configuration: certificate chain, key, client
// CAs, CRLs for the whole chain, depth, protocol floor, security level 2, no renegotiation.
// Also records client-certificate verification errors so that a request-level policy can
// judge a handshake that was allowed to complete.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace certgate::proxy {

using SslCtxPtr = std::shared_ptr<SSL_CTX>;

// One certificate named by the config, for `certgate check` and expiry warnings.
struct CertificateSummary {
    std::string role;  // "server", "client CA"
    std::string subject;
    std::string not_after;  // RFC 3339
    std::chrono::system_clock::time_point expires;
};

struct TlsBuild {
    SslCtxPtr context;
    std::vector<CertificateSummary> certificates;
    std::vector<std::string> warnings;  // expiry is judged separately, against the clock
    // SHA-256 over what decides whether a client certificate verifies (client_ca and CRL
    // contents, verify_depth): a reload that changes it re-judges open connections.
    std::string trust_id;
};

// Opens every file the tls section names and builds the context. Throws config::ConfigError
// with file:line:col of the offending key (unreadable file, key mismatch, broken chain, CRL
// not issued by a configured CA, ...), listing every problem found.
TlsBuild build_tls_context(const config::Config& config);

// The first verification error recorded for a connection's client certificate (X509_V_OK if
// none), surviving session resumption. Empty optional: no certificate was presented.
struct PeerVerification {
    bool presented = false;
    long error = 0;  // X509_V_OK when it verified
};
PeerVerification peer_verification(SSL* ssl);

// Verifies the client certificate chain `ssl` was given at its handshake again, against the
// trust of `trust` (another build, after a reload), with the handshake's rules: verify depth,
// CRLs for the whole chain, clientAuth purpose, security level.
PeerVerification reverify_peer(X509* leaf, STACK_OF(X509)* chain, const TlsBuild& trust);

// The first error the verify callback recorded during this handshake, X509_V_OK if none
// (also when the handshake failed before any certificate was judged).
long recorded_verify_error(SSL* ssl);
// The verification verdict a session carries (X509_V_OK or an error), as peer_verification
// would judge a connection resuming it; and the same put back on a session decoded again.
long session_verdict(SSL* ssl, SSL_SESSION* session);
void restore_session_verdict(SSL_SESSION* session, long verdict);

}  // namespace certgate::proxy
