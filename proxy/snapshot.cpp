#include "proxy/snapshot.hpp"

#include "policies/path.hpp"

namespace certgate::proxy {

std::shared_ptr<const Snapshot> build_snapshot(config::Config config) {
    auto s = std::make_shared<Snapshot>();
    s->tls = build_tls_context(config);
    s->spoof_rules = policies::compile_spoof_rules(config.identity);
    for (const auto& p : config.policies)
        s->response_rules.push_back(policies::compile_response_rules(p));
    if (auto root = policies::route(config.policies, "/")) {
        s->fallback_rules = s->response_rules[*root];
        s->fallback_policy_name = config.policies[*root].name;
    } else {
        s->fallback_rules = policies::compile_response_rules(config::Policy{});
        s->fallback_policy_name.assign(1, '-');  // not = "-": GCC 12 -Wrestrict false alarm
    }
    s->handshake_requires_certificate = config.every_policy_requires_certificate();
    const auto& names = config.identity.headers;
    s->identity_needs_encodings =
        names.certificate.has_value() || names.rfc9440_cert.has_value() || names.rfc9440_chain.has_value();
    s->config = std::move(config);
    return s;
}

std::shared_ptr<const Snapshot> load_snapshot(const std::string& config_path) {
    return build_snapshot(config::load_config(config_path));
}

std::vector<std::string> source_files(const config::Config& c) {
    std::vector<std::string> files{c.tls.certificate.path, c.tls.private_key.path};
    if (c.tls.client_ca) files.push_back(c.tls.client_ca->path);
    for (const auto& crl : c.tls.crl) files.push_back(crl.path);
    return files;
}

std::vector<ExpiringCertificate> expiring_certificates(const Snapshot& s,
                                                       std::chrono::system_clock::time_point now) {
    constexpr auto kWarnWithin = std::chrono::hours(24 * 30);
    std::vector<ExpiringCertificate> out;
    for (const auto& c : s.tls.certificates) {
        auto left = c.expires - now;
        if (left >= kWarnWithin) continue;
        out.push_back({&c, static_cast<long>(std::chrono::floor<std::chrono::days>(left).count())});
    }
    return out;
}

std::vector<std::string> snapshot_warnings(const Snapshot& s, bool with_expiry) {
    std::vector<std::string> warnings = s.tls.warnings;
    if (with_expiry)
        for (const auto& e : expiring_certificates(s, std::chrono::system_clock::now()))
            warnings.push_back(e.certificate->role + " certificate \"" + e.certificate->subject +
                               "\" expires " + e.certificate->not_after +
                               (e.days_left < 0 ? " (already expired)" : " (within 30 days)"));
    const auto& policies = s.config.policies;
    for (size_t j = 0; j < policies.size(); ++j) {
        bool reachable = false;
        for (const auto& path : policies[j].paths) {
            bool shadowed = false;
            for (size_t i = 0; i < j && !shadowed; ++i)
                for (const auto& earlier : policies[i].paths)
                    if (policies::path_matches(earlier, path)) shadowed = true;
            if (!shadowed) reachable = true;
        }
        if (!reachable)
            warnings.push_back("policy \"" + policies[j].name +
                               "\" is unreachable: earlier policies match all of its paths");
    }
    if (!policies::route(policies, "/"))
        warnings.push_back("no policy matches \"/\": requests no policy matches get 404");
    return warnings;
}

}  // namespace certgate::proxy
