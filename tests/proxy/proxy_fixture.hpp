// Shared fixture for integration tests: fresh PKI, a real upstream, certgate as a process.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/harness.hpp"

namespace certgate::testing {

inline std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

class ProxyTest : public ::testing::Test {
protected:
    void SetUp() override {
        pki = make_pki();
        upstream = std::make_unique<UpstreamServer>();
    }

    // Starts certgate with `parts` (upstream defaults to the test upstream).
    ProxyProcess& start(ConfigParts parts = {}) {
        if (parts.upstream_url.empty()) parts.upstream_url = upstream->url();
        proxy = std::make_unique<ProxyProcess>(make_config(*pki, parts), pki->dir.path());
        EXPECT_TRUE(proxy->started()) << joined(proxy->log_lines());
        return *proxy;
    }
    std::uint16_t port() const { return proxy->port(); }
    ClientOptions good_client() const {
        ClientOptions o;
        o.cert = pki->client_crt;
        o.key = pki->client_key;
        return o;
    }
    // A client presenting `cert` (issued by whoever), written to files first.
    ClientOptions client_with(const std::string& name, const TestCert& cert) const {
        auto [crt, key] = pki->write(name, cert);
        ClientOptions o;
        o.cert = crt;
        o.key = key;
        return o;
    }

    std::unique_ptr<Pki> pki;
    std::unique_ptr<UpstreamServer> upstream;
    std::unique_ptr<ProxyProcess> proxy;
};

// A policies block where "/public" needs no certificate, "/opt" is optional and the rest
// requires one: request-level enforcement.
inline const char* kMixedPolicies =
    "policies:\n"
    "  - name: public\n"
    "    paths: [\"/public\"]\n"
    "    client_certificate: none\n"
    "  - name: opt\n"
    "    paths: [\"/opt\"]\n"
    "    client_certificate: optional\n"
    "  - name: default\n"
    "    paths: [\"/\"]\n"
    "    client_certificate: required\n";

}  // namespace certgate::testing
