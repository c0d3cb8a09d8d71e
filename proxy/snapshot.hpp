// Everything a connection needs from the configuration, built once at load (or reload) into
// immutable objects. A connection holds the shared_ptr it started with; a reload swaps in a
// new one without touching requests in flight.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "policies/request_sanitizer.hpp"
#include "policies/response_decorator.hpp"
#include "proxy/tls_context.hpp"

namespace certgate::proxy {

struct Snapshot {
    config::Config config;
    TlsBuild tls;
    policies::SpoofRules spoof_rules;
    std::vector<policies::ResponseRules> response_rules;  // one per config.policies entry
    // Rules for responses no policy was chosen for (malformed requests, unrouted paths): the
    // policy that routes "/", else SPEC's defaults.
    policies::ResponseRules fallback_rules;
    std::string fallback_policy_name;
    bool handshake_requires_certificate = false;
    // A whole-certificate identity header is configured (PEM or RFC 9440 forms).
    bool identity_needs_encodings = false;

    const policies::ResponseRules& rules_for(std::optional<std::size_t> policy) const {
        return policy ? response_rules[*policy] : fallback_rules;
    }
    const std::string& policy_name(std::optional<std::size_t> policy) const {
        return policy ? config.policies[*policy].name : fallback_policy_name;
    }
};

// Loads, validates and opens everything. Throws config::ConfigError.
std::shared_ptr<const Snapshot> load_snapshot(const std::string& config_path);
std::shared_ptr<const Snapshot> build_snapshot(config::Config config);

// Warnings an operator should see (expiring certificates, unreachable policies, ...).
// `serve` logs expiry as certificate_expiring events instead: with_expiry = false.
std::vector<std::string> snapshot_warnings(const Snapshot& snapshot, bool with_expiry = true);

// Every file the snapshot was built from besides the config itself (certificate, key,
// client CA, CRLs): what a change on disk reloads.
std::vector<std::string> source_files(const config::Config& config);

// A served certificate or trusted client CA that expires within 30 days (or has expired).
struct ExpiringCertificate {
    const CertificateSummary* certificate;
    long days_left;  // whole days, rounded down; negative once expired
};
std::vector<ExpiringCertificate> expiring_certificates(const Snapshot& snapshot,
                                                       std::chrono::system_clock::time_point now);

}  // namespace certgate::proxy
