// Faster decoding of EC public keys in certificates, for OpenSSL 3.0.
//
// OpenSSL 3.0 decodes the public key of every certificate it parses (each client certificate,
// once per full handshake) through a provider decoder context that it builds from scratch each
// time: it lists every key manager and decoder of every provider and matches their names.
// Building that context is ~20 % of a full mTLS handshake's CPU, several times the cost of the
// decoding itself (OpenSSL 3.1 and later keep a cache of these contexts).
//
// OpenSSL 3.0 takes its own built-in EC decoder instead when an ENGINE is registered for EC
// key operations. install_ec_key_engine() registers one whose EC method is OpenSSL's own
// built-in EC method, copied unchanged: the same code decodes, signs and verifies (OpenSSL's
// legacy EC_KEY path), without the per-certificate decoder context. Nothing else changes:
// other key types (RSA, Ed25519, X25519) keep the provider path.
//
// One difference shows to code that makes EC keys while it is installed: OpenSSL's built-in
// method knows curves by their short names only ("prime256v1", "secp384r1"), not by NIST
// names ("P-256"). libssl uses the short names; so do certgate and its tests.
#pragma once

#include <string>

namespace certgate::proxy {

// Before any certificate is loaded; a second call changes nothing. Does nothing on OpenSSL
// other than 3.0, or when OpenSSL refuses; says which in the returned text ("" when installed).
std::string install_ec_key_engine();

}  // namespace certgate::proxy
