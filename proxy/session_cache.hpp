// The TLS session cache, kept encoded. OpenSSL's own cache holds each session as an object,
// and a session holds the decoded client certificate (~7 KiB with its key and extension
// caches): with connections idle for minutes and each one's session cached, that was a
// quarter of the memory per connection. Here a session is kept as its DER (~1 KiB) and
// decoded again only when a client resumes it. What decides a resumed connection's identity
// travels with it: the certificate, the verification result and certgate's recorded
// verification error (an SSL_SESSION's ex_data is not part of its DER).
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <ctime>

namespace certgate::proxy {

// Replaces `context`'s internal cache with this one: the same size (20,480) and timeouts.
void install_session_cache(SSL_CTX* context);
// Drops the sessions expired at `now`; returns how many.
std::size_t sweep_session_cache(SSL_CTX* context, std::time_t now);
// Sessions held.
std::size_t session_cache_size(SSL_CTX* context);

}  // namespace certgate::proxy
