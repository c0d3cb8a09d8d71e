// What a valid configuration parses to: SPEC defaults, every key, normalization, files.
#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>


namespace certgate::config {
namespace {

using namespace std::chrono_literals;

const std::string kMinimal = R"(tls:
  certificate: /tls/server.crt
  private_key: /tls/server.key
  client_ca: /tls/clients.pem
upstream:
  url: http://127.0.0.1:8000
)";

// Every key of the SPEC schema, none at its default.
const std::string kEveryKey = R"(listen: "[::]:9443"
tls:
  certificate: /tls/server.crt
  private_key: /tls/server.key
  client_ca: /tls/clients.pem
  crl: [/tls/root.crl, /tls/intermediate.crl]
  verify_depth: 5
  min_version: "1.3"
redirect_http: "0.0.0.0:8080"
admin: "127.0.0.1:9901"
upstream:
  url: "unix:/run/app.sock"
  connect_timeout: 250ms
  response_timeout: 2m
  max_idle_connections: 8
  idle_timeout: 1500ms
workers: 4
limits:
  max_request_header_bytes: 16KiB
  max_request_body_bytes: 10MiB
  header_timeout: 5s
  body_idle_timeout: 20s
  idle_timeout: 1h
  max_connections: 500
  shutdown_timeout: 0s
identity:
  headers:
    verify: X-Verify
    subject: X-DN
    issuer: null
    serial: X-Serial
    fingerprint: X-Fp
    not_before: X-NB
    not_after: X-NA
    san_dns: X-DNS
    san_uri: X-URI
    certificate: X-SSL-Client-Cert
    rfc9440_cert: Client-Cert
    rfc9440_chain: Client-Cert-Chain
  strip_prefixes: ["X-SSL-", "X-Client-"]
  strip: ["X-Forwarded-Client-Cert"]
  allow_underscores_in_headers: true
forwarded:
  x_forwarded_for: append
  x_forwarded_proto: false
  x_real_ip: false
  request_id: null
policies:
  - name: billing
    paths: ["/billing/", "/api"]
    client_certificate: optional
    allow:
      subjects: ["CN=billing,O=Example Corp,C=US"]
      san_dns: ["*.Billing.internal"]
      san_uri: ["spiffe://example.org/ns/prod/sa/*"]
      fingerprints: ["0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0"]
    frame_ancestors: ["'self'", "https://*.example.com", "HTTPS://Portal.example.com:8443"]
    x_frame_options: sameorigin
    csp_mode: override
    hsts: null
    response_headers:
      X-Content-Type-Options: nosniff
      Referrer-Policy: no-referrer
    csrf:
      trusted_origins: ["https://app.example.com", "HTTPS://Other.Example.com:443", "http://localhost:3000"]
      allow_missing_origin: true
    cookies:
      secure: true
      same_site: lax
  - name: public
    paths: ["/"]
    client_certificate: none
    x_frame_options: "off"
    csp_mode: if_missing
    hsts: "max-age=60"
)";

TEST(ConfigDefaults, MinimalConfigHasSpecDefaults) {
    const Config config = parse_config(kMinimal, "t.yaml");
    EXPECT_EQ(config.source, "t.yaml");
    EXPECT_EQ(config.listen.host, "0.0.0.0");
    EXPECT_EQ(config.listen.port, 8443);
    EXPECT_EQ(config.tls.certificate.path, "/tls/server.crt");
    EXPECT_EQ(config.tls.private_key.path, "/tls/server.key");
    ASSERT_TRUE(config.tls.client_ca.has_value());
    EXPECT_EQ(config.tls.client_ca->path, "/tls/clients.pem");
    EXPECT_TRUE(config.tls.crl.empty());
    EXPECT_EQ(config.tls.verify_depth, 3);
    EXPECT_EQ(config.tls.min_version, TlsVersion::v1_2);
    EXPECT_FALSE(config.redirect_http.has_value());
    EXPECT_FALSE(config.admin.has_value());
    EXPECT_EQ(config.upstream.kind, Upstream::Kind::tcp);
    EXPECT_EQ(config.upstream.host, "127.0.0.1");
    EXPECT_EQ(config.upstream.port, 8000);
    EXPECT_EQ(config.upstream.url, "http://127.0.0.1:8000");
    EXPECT_EQ(config.upstream.connect_timeout, 5s);
    EXPECT_EQ(config.upstream.response_timeout, 60s);
    EXPECT_EQ(config.upstream.max_idle_connections, 64U);
    EXPECT_EQ(config.upstream.idle_timeout, 1s);
    EXPECT_EQ(config.workers, 0U);
    EXPECT_EQ(config.limits.max_request_header_bytes, 12U * 1024);
    EXPECT_EQ(config.limits.max_request_body_bytes, 0U);
    EXPECT_EQ(config.limits.header_timeout, 10s);
    EXPECT_EQ(config.limits.body_idle_timeout, 30s);
    EXPECT_EQ(config.limits.idle_timeout, 60s);
    EXPECT_EQ(config.limits.max_connections, 10000U);
    EXPECT_EQ(config.limits.shutdown_timeout, 30s);
    const IdentityHeaders& headers = config.identity.headers;
    EXPECT_EQ(headers.verify, "X-SSL-Client-Verify");
    EXPECT_EQ(headers.subject, "X-SSL-Client-DN");
    EXPECT_EQ(headers.issuer, "X-SSL-Client-Issuer-DN");
    EXPECT_EQ(headers.serial, "X-SSL-Client-Serial");
    EXPECT_EQ(headers.fingerprint, "X-SSL-Client-Fingerprint");
    EXPECT_EQ(headers.not_before, "X-SSL-Client-Not-Before");
    EXPECT_EQ(headers.not_after, "X-SSL-Client-Not-After");
    EXPECT_EQ(headers.san_dns, "X-SSL-Client-SAN-DNS");
    EXPECT_EQ(headers.san_uri, "X-SSL-Client-SAN-URI");
    EXPECT_FALSE(headers.certificate.has_value());
    EXPECT_FALSE(headers.rfc9440_cert.has_value());
    EXPECT_FALSE(headers.rfc9440_chain.has_value());
    EXPECT_EQ(config.identity.strip_prefixes, std::vector<std::string>{"X-SSL-Client-"});
    EXPECT_EQ(config.identity.strip,
              (std::vector<std::string>{"X-Forwarded-Client-Cert", "Client-Cert",
                                        "Client-Cert-Chain", "X-Client-Cert", "SSL-Client-Cert"}));
    EXPECT_FALSE(config.identity.allow_underscores_in_headers);
    EXPECT_EQ(config.forwarded.x_forwarded_for, XffMode::replace);
    EXPECT_TRUE(config.forwarded.x_forwarded_proto);
    EXPECT_TRUE(config.forwarded.x_real_ip);
    EXPECT_EQ(config.forwarded.request_id, "X-Request-Id");
}

TEST(ConfigDefaults, WithoutPoliciesKeyOneDefaultPolicyCoversEveryPath) {
    const Config config = parse_config(kMinimal, "t.yaml");
    ASSERT_EQ(config.policies.size(), 1U);
    const Policy& policy = config.policies.front();
    EXPECT_EQ(policy.name, "default");
    EXPECT_EQ(policy.paths, std::vector<std::string>{"/"});
    EXPECT_EQ(policy.client_certificate, CertMode::required);
    EXPECT_TRUE(policy.allow.empty());
    EXPECT_EQ(policy.frame_ancestors, std::vector<std::string>{"'none'"});
    EXPECT_EQ(policy.x_frame_options, FrameOptions::automatic);
    EXPECT_EQ(policy.csp_mode, CspMode::merge);
    EXPECT_EQ(policy.hsts, "max-age=31536000; includeSubDomains");
    EXPECT_TRUE(policy.response_headers.empty());
    EXPECT_FALSE(policy.csrf.has_value());
    EXPECT_FALSE(policy.cookies.has_value());
    EXPECT_TRUE(config.every_policy_requires_certificate());
}

TEST(ConfigEveryKey, TopLevelSectionsParseToTheirValues) {
    const Config config = parse_config(kEveryKey, "t.yaml");
    EXPECT_EQ(config.listen.host, "::");
    EXPECT_EQ(config.listen.port, 9443);
    EXPECT_EQ(config.listen.text, "[::]:9443");
    ASSERT_EQ(config.tls.crl.size(), 2U);
    EXPECT_EQ(config.tls.crl[1].path, "/tls/intermediate.crl");
    EXPECT_EQ(config.tls.verify_depth, 5);
    EXPECT_EQ(config.tls.min_version, TlsVersion::v1_3);
    ASSERT_TRUE(config.redirect_http.has_value());
    EXPECT_EQ(config.redirect_http->port, 8080);
    ASSERT_TRUE(config.admin.has_value());
    EXPECT_EQ(config.admin->host, "127.0.0.1");
    EXPECT_EQ(config.admin->port, 9901);
    EXPECT_EQ(config.upstream.kind, Upstream::Kind::unix_socket);
    EXPECT_EQ(config.upstream.socket_path, "/run/app.sock");
    EXPECT_EQ(config.upstream.url, "unix:/run/app.sock");
    EXPECT_EQ(config.upstream.connect_timeout, 250ms);
    EXPECT_EQ(config.upstream.response_timeout, 2min);
    EXPECT_EQ(config.upstream.max_idle_connections, 8U);
    EXPECT_EQ(config.upstream.idle_timeout, 1500ms);
    EXPECT_EQ(config.workers, 4U);
    EXPECT_EQ(config.limits.max_request_header_bytes, 16U * 1024);
    EXPECT_EQ(config.limits.max_request_body_bytes, 10U * 1024 * 1024);
    EXPECT_EQ(config.limits.header_timeout, 5s);
    EXPECT_EQ(config.limits.body_idle_timeout, 20s);
    EXPECT_EQ(config.limits.idle_timeout, 1h);
    EXPECT_EQ(config.limits.max_connections, 500U);
    EXPECT_EQ(config.limits.shutdown_timeout, 0s);
    const IdentityHeaders& headers = config.identity.headers;
    EXPECT_EQ(headers.verify, "X-Verify");
    EXPECT_EQ(headers.subject, "X-DN");
    EXPECT_FALSE(headers.issuer.has_value());
    EXPECT_EQ(headers.serial, "X-Serial");
    EXPECT_EQ(headers.fingerprint, "X-Fp");
    EXPECT_EQ(headers.not_before, "X-NB");
    EXPECT_EQ(headers.not_after, "X-NA");
    EXPECT_EQ(headers.san_dns, "X-DNS");
    EXPECT_EQ(headers.san_uri, "X-URI");
    EXPECT_EQ(headers.certificate, "X-SSL-Client-Cert");
    EXPECT_EQ(headers.rfc9440_cert, "Client-Cert");
    EXPECT_EQ(headers.rfc9440_chain, "Client-Cert-Chain");
    EXPECT_EQ(config.identity.strip_prefixes, (std::vector<std::string>{"X-SSL-", "X-Client-"}));
    EXPECT_EQ(config.identity.strip, std::vector<std::string>{"X-Forwarded-Client-Cert"});
    EXPECT_TRUE(config.identity.allow_underscores_in_headers);
    EXPECT_EQ(config.forwarded.x_forwarded_for, XffMode::append);
    EXPECT_FALSE(config.forwarded.x_forwarded_proto);
    EXPECT_FALSE(config.forwarded.x_real_ip);
    EXPECT_FALSE(config.forwarded.request_id.has_value());
}

TEST(ConfigEveryKey, PoliciesParseInOrderWithNormalizedValues) {
    const Config config = parse_config(kEveryKey, "t.yaml");
    ASSERT_EQ(config.policies.size(), 2U);
    const Policy& billing = config.policies[0];
    EXPECT_EQ(billing.name, "billing");
    EXPECT_EQ(billing.paths, (std::vector<std::string>{"/billing/", "/api"}));
    EXPECT_EQ(billing.client_certificate, CertMode::optional);
    EXPECT_EQ(billing.allow.subjects, std::vector<std::string>{"CN=billing,O=Example Corp,C=US"});
    EXPECT_EQ(billing.allow.san_dns, std::vector<std::string>{"*.billing.internal"});
    EXPECT_EQ(billing.allow.san_uri, std::vector<std::string>{"spiffe://example.org/ns/prod/sa/*"});
    EXPECT_EQ(billing.allow.fingerprints,
              std::vector<std::string>{
                  "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"});
    EXPECT_EQ(billing.frame_ancestors,
              (std::vector<std::string>{"'self'", "https://*.example.com",
                                        "https://portal.example.com:8443"}));
    EXPECT_EQ(billing.x_frame_options, FrameOptions::sameorigin);
    EXPECT_EQ(billing.csp_mode, CspMode::override_app);
    EXPECT_FALSE(billing.hsts.has_value());
    EXPECT_EQ(billing.response_headers,
              (std::vector<std::pair<std::string, std::string>>{
                  {"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"}}));
    ASSERT_TRUE(billing.csrf.has_value());
    EXPECT_EQ(billing.csrf->trusted_origins,
              (std::vector<std::string>{"https://app.example.com", "https://other.example.com",
                                        "http://localhost:3000"}));
    EXPECT_TRUE(billing.csrf->allow_missing_origin);
    ASSERT_TRUE(billing.cookies.has_value());
    EXPECT_TRUE(billing.cookies->secure);
    EXPECT_EQ(billing.cookies->same_site, SameSite::lax);

    const Policy& open = config.policies[1];
    EXPECT_EQ(open.client_certificate, CertMode::none);
    EXPECT_EQ(open.x_frame_options, FrameOptions::off);
    EXPECT_EQ(open.csp_mode, CspMode::if_missing);
    EXPECT_EQ(open.hsts, "max-age=60");
    EXPECT_FALSE(open.csrf.has_value());
    EXPECT_FALSE(config.every_policy_requires_certificate());
}

TEST(ConfigEveryKey, FileReferencesKeepTheirKeyAndPosition) {
    const Config config = parse_config(kMinimal, "t.yaml");
    EXPECT_EQ(config.tls.certificate.key, "tls.certificate");
    EXPECT_EQ(config.tls.certificate.mark.file, "t.yaml");
    EXPECT_EQ(config.tls.certificate.mark.line, 2);
    EXPECT_EQ(config.tls.certificate.mark.column, 16);
    EXPECT_EQ(config.tls.private_key.key, "tls.private_key");
    EXPECT_EQ(config.tls.private_key.mark.line, 3);
    EXPECT_EQ(config.tls.client_ca->key, "tls.client_ca");
    EXPECT_EQ(config.tls.client_ca->mark.line, 4);
    EXPECT_EQ(config.tls.client_ca->mark.column, 14);

    const Config every = parse_config(kEveryKey, "t.yaml");
    EXPECT_EQ(every.tls.crl[1].key, "tls.crl[1]");
    EXPECT_EQ(every.tls.crl[1].mark.line, 6);
    EXPECT_EQ(every.tls.crl[1].mark.column, 24);
}

TEST(ConfigEveryKey, AFullConfigIsAccepted) {
    const Config every = parse_config(kEveryKey, "t.yaml");
    EXPECT_TRUE(every.admin.has_value());
    EXPECT_TRUE(every.redirect_http.has_value());
    ASSERT_FALSE(every.policies.empty());
    EXPECT_TRUE(every.policies[0].csrf.has_value());
    EXPECT_TRUE(every.policies[0].cookies.has_value());
    EXPECT_FALSE(every.policies[0].allow.empty());
}

TEST(ConfigValues, UpstreamHostAndPortComeFromTheUrl) {
    auto with_url = [](const std::string& url) {
        return parse_config(
                   "tls: {certificate: /c, private_key: /k, client_ca: /ca}\n"
                   "upstream: {url: \"" +
                       url + "\"}\n",
                   "t.yaml")
            .upstream;
    };
    EXPECT_EQ(with_url("http://app").port, 80);
    EXPECT_EQ(with_url("http://app").host, "app");
    EXPECT_EQ(with_url("http://[::1]:9000/").host, "::1");
    EXPECT_EQ(with_url("http://[::1]:9000/").port, 9000);
    EXPECT_EQ(with_url("http://backend_app:3000").host, "backend_app");
}

TEST(ConfigValues, LocalhostListenerBindsTheLoopbackAddress) {
    const Config config = parse_config(kMinimal + "listen: \"localhost:8443\"\n", "t.yaml");
    EXPECT_EQ(config.listen.host, "127.0.0.1");
    EXPECT_EQ(config.listen.text, "localhost:8443");
}

TEST(ConfigValues, FrameOptionsAcceptAnyCase) {
    const Config config =
        parse_config(kMinimal +
                         "policies:\n"
                         "  - {name: a, paths: [/a], x_frame_options: Deny}\n"
                         "  - {name: b, paths: [/b], x_frame_options: SameOrigin}\n",
                     "t.yaml");
    EXPECT_EQ(config.policies[0].x_frame_options, FrameOptions::deny);
    EXPECT_EQ(config.policies[1].x_frame_options, FrameOptions::sameorigin);
}

TEST(ConfigValues, ClientCaMayBeOmittedWhenEveryPolicyHasNoCertificate) {
    const Config config = parse_config(
        "tls: {certificate: /c, private_key: /k}\n"
        "upstream: {url: \"http://127.0.0.1:8000\"}\n"
        "policies: [{name: open, paths: [/], client_certificate: none}]\n",
        "t.yaml");
    EXPECT_FALSE(config.tls.client_ca.has_value());
}

TEST(ConfigValues, EmptyAllowListsAndNullUnbuiltFeaturesAreAccepted) {
    const Config config =
        parse_config(kMinimal +
                         "redirect_http: null\n"
                         "admin:\n"
                         "policies:\n"
                         "  - name: a\n"
                         "    allow: {subjects: [], san_dns: [], san_uri: [], fingerprints: []}\n"
                         "    csrf: null\n"
                         "    cookies:\n",
                     "t.yaml");
    EXPECT_FALSE(config.redirect_http.has_value());
    EXPECT_FALSE(config.admin.has_value());
    EXPECT_TRUE(config.policies[0].allow.empty());
    EXPECT_FALSE(config.policies[0].csrf.has_value());
    EXPECT_FALSE(config.policies[0].cookies.has_value());
}

TEST(ConfigErrorMessages, WhatJoinsTheMessagesWithNewlines) {
    const ConfigError error({"a.yaml:1:1: x: one", "a.yaml:2:1: y: two"});
    EXPECT_STREQ(error.what(), "a.yaml:1:1: x: one\na.yaml:2:1: y: two");
    EXPECT_EQ(error.messages().size(), 2U);
}

TEST(ConfigErrorMessages, FormatErrorNamesFileLineColumnAndKeyPath) {
    EXPECT_EQ(format_error(Mark{"certgate.yaml", 14, 5}, "policies[1].frame_ancestors[0]",
                           "\"https//x.example\" is not a valid origin"),
              "certgate.yaml:14:5: policies[1].frame_ancestors[0]: \"https//x.example\" is not a "
              "valid origin");
}

class LoadConfigFile : public ::testing::Test {
protected:
    std::filesystem::path write(const std::string& name, const std::string& text) {
        const auto path = directory_ / name;
        std::ofstream(path) << text;
        return path;
    }
    void SetUp() override {
        directory_ = std::filesystem::path(::testing::TempDir()) /
                     ("certgate_config_test_" + std::to_string(::getpid()));
        std::filesystem::create_directories(directory_);
    }
    void TearDown() override { std::filesystem::remove_all(directory_); }
    std::filesystem::path directory_;
};

TEST_F(LoadConfigFile, ReadsTheFileAndRecordsItsPath) {
    const auto path = write("certgate.yaml", kMinimal);
    const Config config = load_config(path.string());
    EXPECT_EQ(config.source, path.string());
    EXPECT_EQ(config.tls.certificate.mark.file, path.string());
}

TEST_F(LoadConfigFile, ErrorsNameThePathAsGiven) {
    const auto path = write("bad.yaml", kMinimal + "workers: many\n");
    try {
        load_config(path.string());
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& error) {
        EXPECT_EQ(error.messages(),
                  std::vector<std::string>{path.string() +
                                           ":7:10: workers: expected \"auto\" or an integer from 1 "
                                           "to 256, found \"many\""});
    }
}

TEST_F(LoadConfigFile, MissingFileIsReportedWithItsReason) {
    const std::string path = (directory_ / "absent.yaml").string();
    try {
        load_config(path);
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& error) {
        EXPECT_EQ(
            error.messages(),
            std::vector<std::string>{path + ":1:1: cannot read file: No such file or directory"});
    }
}

TEST_F(LoadConfigFile, DirectoryIsReportedAsUnreadable) {
    try {
        load_config(directory_.string());
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& error) {
        EXPECT_EQ(error.messages(),
                  std::vector<std::string>{directory_.string() +
                                           ":1:1: cannot read file: Is a directory"});
    }
}

}  // namespace
}  // namespace certgate::config
