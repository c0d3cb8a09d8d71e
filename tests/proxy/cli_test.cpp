// SPEC "Command line": serve, check, version, --help, CERTGATE_CONFIG and the exit codes
// 0 (success), 1 (configuration or start-up error), 2 (usage error).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// 1-based line of the first line of `yaml` containing `needle`.
int line_of(const std::string& yaml, const std::string& needle) {
    auto pos = yaml.find(needle);
    if (pos == std::string::npos) {
        return -1;
    }
    return 1 +
           static_cast<int>(std::count(yaml.begin(), yaml.begin() + static_cast<long>(pos), '\n'));
}

std::string date_of(const ASN1_TIME* t) {
    std::tm tm{};
    ASN1_TIME_to_tm(t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

class CliTest : public ProxyTest {
protected:
    std::string yaml(ConfigParts parts = {}) const {
        parts.upstream_url = upstream->url();
        if (parts.listen.empty()) {
            parts.listen = "127.0.0.1:18443";
        }
        return make_config(*pki, parts);
    }
    std::string write(const std::string& text, const std::string& name = "certgate.yaml") const {
        return pki->dir.write(name, text);
    }
    static std::pair<int, std::string> certgate(std::vector<std::string> args,
                                                const std::map<std::string, std::string>& env = {},
                                                std::chrono::milliseconds timeout = 20s) {
        args.insert(args.begin(), certgate_binary());
        return run_command(args, "", timeout, env);
    }
    static std::pair<int, std::string> check(const std::string& path) {
        return certgate({"check", "--config", path});
    }
    // Replaces the server certificate files with one valid for `days`.
    TestCert server_cert_valid_for(long days) const {
        CertSpec spec;
        spec.subject = {{"CN", "localhost"}};
        spec.san_dns = {"localhost"};
        spec.san_ip = {"127.0.0.1"};
        spec.eku = Eku::server_auth;
        spec.not_after_offset_seconds = days * 86400;
        TestCert cert = issue(pki->ca, spec);
        pki->write("server", cert);
        return cert;
    }
    // Expects exit 1 and a message `file:line:<key or value column>: key: ...`.
    void expect_located_error(const std::string& text, const std::string& line_needle,
                              const std::string& key, int key_column, int value_column) {
        const auto path = write(text);
        auto [code, out] = check(path);
        EXPECT_EQ(code, 1) << out;
        const auto at = path + ":" + std::to_string(line_of(text, line_needle)) + ":";
        EXPECT_TRUE(contains(out, at + std::to_string(key_column) + ": " + key + ": ") ||
                    contains(out, at + std::to_string(value_column) + ": " + key + ": "))
            << "expected " << at << "<col>: " << key << ": in:\n"
            << out;
    }
};

// ---- version and usage

TEST_F(CliTest, VersionPrintsCertgateOpensslAndBoostVersions) {
    auto [code, out] = certgate({"version"});
    EXPECT_EQ(code, 0) << out;
    EXPECT_TRUE(contains(out, "certgate ")) << out;
    EXPECT_TRUE(contains(out, "OpenSSL 3")) << out;
    EXPECT_TRUE(contains(out, "Boost 1.81")) << out;
}
TEST_F(CliTest, HelpExitsZero) {
    auto [code, out] = certgate({"--help"});
    EXPECT_EQ(code, 0) << out;
    for (const char* cmd : {"serve", "check", "version"}) EXPECT_TRUE(contains(out, cmd)) << out;
}
TEST_F(CliTest, CommandHelpExitsZeroAndNamesConfigOption) {
    for (const char* cmd : {"serve", "check"}) {
        auto [code, out] = certgate({cmd, "--help"});
        EXPECT_EQ(code, 0) << cmd << "\n" << out;
        EXPECT_TRUE(contains(out, "--config")) << cmd << "\n" << out;
    }
}
TEST_F(CliTest, MissingCommandIsAUsageError) {
    auto [code, out] = certgate({});
    EXPECT_EQ(code, 2) << out;
}
TEST_F(CliTest, UnknownCommandIsAUsageError) {
    auto [code, out] = certgate({"frobnicate"});
    EXPECT_EQ(code, 2) << out;
}
TEST_F(CliTest, UnknownOptionIsAUsageError) {
    const auto path = write(yaml());
    for (auto args : {std::vector<std::string>{"check", "--config", path, "--bogus"},
                      std::vector<std::string>{"serve", "--no-such-option"},
                      std::vector<std::string>{"version", "--verbose"}}) {
        auto [code, out] = certgate(args);
        EXPECT_EQ(code, 2) << args[1] << "\n" << out;
    }
}
TEST_F(CliTest, StrayArgumentToCheckIsAUsageErrorNamingIt) {
    const auto path = write(yaml());
    auto [code, out] = certgate({"check", "other.yaml"}, {{"CERTGATE_CONFIG", path}});
    EXPECT_EQ(code, 2) << out;
    EXPECT_TRUE(contains(out, "certgate: unexpected argument \"other.yaml\"\n")) << out;
    EXPECT_TRUE(contains(out, "usage: certgate <command>")) << out;
    EXPECT_FALSE(contains(out, "configuration is usable")) << out;
}
TEST_F(CliTest, StrayArgumentAfterTheConfigOptionIsAUsageError) {
    const auto path = write(yaml());
    auto [code, out] = certgate({"check", "--config", path, "extra"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_TRUE(contains(out, "unexpected argument \"extra\"")) << out;
}
TEST_F(CliTest, StrayArgumentToServeIsAUsageErrorAndServesNothing) {
    const auto path = write(yaml());
    auto [code, out] = certgate({"serve", "extra"}, {{"CERTGATE_CONFIG", path}}, 10s);
    EXPECT_EQ(code, 2) << out;
    EXPECT_TRUE(contains(out, "certgate: unexpected argument \"extra\"\n")) << out;
    EXPECT_TRUE(contains(out, "usage: certgate <command>")) << out;
}
TEST_F(CliTest, StrayArgumentToVersionIsAUsageError) {
    auto [code, out] = certgate({"version", "extra"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_TRUE(contains(out, "certgate: unexpected argument \"extra\"\n")) << out;
    EXPECT_TRUE(contains(out, "usage: certgate <command>")) << out;
    EXPECT_FALSE(contains(out, "Boost 1.")) << out;
}
TEST_F(CliTest, ArgumentsAfterTheEndOfOptionsMarkerAreUsageErrors) {
    auto [code, out] = certgate({"version", "--", "--help"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_TRUE(contains(out, "unexpected argument \"--help\"")) << out;
}
TEST_F(CliTest, StrayArgumentAfterHelpIsAUsageError) {
    auto [code, out] = certgate({"--help", "extra"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_TRUE(contains(out, "unexpected argument \"extra\"")) << out;
}

// ---- check

TEST_F(CliTest, CheckSummarizesAUsableConfig) {
    TestCert server = server_cert_valid_for(200);
    const auto path = write(yaml());
    auto [code, out] = check(path);
    EXPECT_EQ(code, 0) << out;
    EXPECT_TRUE(contains(out, "127.0.0.1:18443")) << out;      // listener
    EXPECT_TRUE(contains(out, "default")) << out;              // the policy
    EXPECT_TRUE(contains(out, "CN=localhost")) << out;         // server certificate
    EXPECT_TRUE(contains(out, "CN=certgate test CA")) << out;  // client CA
    EXPECT_TRUE(contains(out, date_of(X509_get0_notAfter(server.x509())))) << out;  // expiry
    EXPECT_FALSE(contains(out, "warning")) << out;
}
TEST_F(CliTest, CheckListsEveryPolicy) {
    ConfigParts parts;
    parts.policies = kMixedPolicies;
    auto [code, out] = check(write(yaml(parts)));
    EXPECT_EQ(code, 0) << out;
    for (const char* name : {"public", "opt", "default", "/public", "/opt"})
        EXPECT_TRUE(contains(out, name)) << name << " in:\n" << out;
}
TEST_F(CliTest, CheckShowsEachPolicysAccessRules) {
    ConfigParts parts;
    parts.policies =
        "policies:\n  - name: default\n    paths: [\"/\"]\n"
        "    allow: {san_uri: [\"spiffe://example.org/**\"]}\n"
        "    csrf: {trusted_origins: [\"https://app.example.com\"]}\n"
        "    cookies: {same_site: Strict}\n";
    auto [code, out] = check(write(yaml(parts)));
    EXPECT_EQ(code, 0) << out;
    for (const char* part : {"1 san_uri", "csrf (1 trusted origins)", "cookies hardened",
                             "redirect:  off", "admin:     off"})
        EXPECT_TRUE(contains(out, part)) << part << " in:\n" << out;
}
TEST_F(CliTest, CheckRefusesUnknownKeyWithItsLocation) {
    ConfigParts parts;
    parts.top_level_extra = "bogus: 1\n";
    const auto text = yaml(parts);
    const auto path = write(text);
    auto [code, out] = check(path);
    EXPECT_EQ(code, 1) << out;
    const auto where =
        path + ":" + std::to_string(line_of(text, "bogus:")) + ":1: bogus: unknown key";
    EXPECT_TRUE(contains(out, where)) << "expected " << where << " in:\n" << out;
}
TEST_F(CliTest, CheckRefusesUnknownNestedKey) {
    ConfigParts parts;
    parts.tls_extra = "  verify_dpeth: 2\n";
    const auto text = yaml(parts);
    const auto path = write(text);
    auto [code, out] = check(path);
    EXPECT_EQ(code, 1) << out;
    const auto where = path + ":" + std::to_string(line_of(text, "verify_dpeth")) +
                       ":3: tls.verify_dpeth: unknown key";
    EXPECT_TRUE(contains(out, where)) << "expected " << where << " in:\n" << out;
}
TEST_F(CliTest, CheckRefusesPrivateKeyThatDoesNotMatchTheCertificate) {
    auto [crt, other_key] = pki->write("other", make_self_signed(CertSpec{}));
    auto text = yaml();
    text.replace(text.find(pki->server_key), pki->server_key.size(), other_key);
    expect_located_error(text, "private_key:", "tls.private_key", 3, 16);
}
TEST_F(CliTest, CheckRefusesUnreadableCertificate) {
    auto text = yaml();
    text.replace(text.find(pki->server_crt), pki->server_crt.size(), "/nonexistent/server.crt");
    expect_located_error(text, "certificate:", "tls.certificate", 3, 16);
}
TEST_F(CliTest, CheckNamesAMissingConfigFileAtItsFirstPositionWithoutAKeyPath) {
    const auto path = pki->dir.path() + "/absent.yaml";
    auto [code, out] = check(path);
    EXPECT_EQ(code, 1) << out;
    EXPECT_TRUE(contains(out, path + ":1:1: cannot read file: No such file or directory\n")) << out;
}
TEST_F(CliTest, CheckRefusesCrlNotIssuedByTheClientCa) {
    auto crl = pki->dir.write("foreign.crl", make_crl_pem(make_ca("foreign CA"), {}));
    ConfigParts parts;
    parts.tls_extra = "  crl: [\"" + crl + "\"]\n";
    auto [code, out] = check(write(yaml(parts)));
    EXPECT_EQ(code, 1) << out;
    EXPECT_TRUE(contains(out, "tls.crl")) << out;
}
TEST_F(CliTest, CheckAcceptsCrlIssuedByTheClientCa) {
    server_cert_valid_for(200);
    auto crl = pki->dir.write("ca.crl", make_crl_pem(pki->ca, {}));
    ConfigParts parts;
    parts.tls_extra = "  crl: [\"" + crl + "\"]\n";
    auto [code, out] = check(write(yaml(parts)));
    EXPECT_EQ(code, 0) << out;
}
TEST_F(CliTest, CheckWarnsAboutServerCertificateExpiringWithin30Days) {
    server_cert_valid_for(10);
    auto [code, out] = check(write(yaml()));
    EXPECT_EQ(code, 0) << out;
    EXPECT_TRUE(contains(out, "warning")) << out;
    EXPECT_TRUE(contains(out, "CN=localhost")) << out;
    EXPECT_TRUE(contains(out, "30 days")) << out;
}
TEST_F(CliTest, CheckWarnsAboutUnreachablePolicy) {
    server_cert_valid_for(200);
    ConfigParts parts;
    parts.policies =
        "policies:\n"
        "  - name: everything\n"
        "    paths: [\"/\"]\n"
        "  - name: never_reached\n"
        "    paths: [\"/api\"]\n";
    auto [code, out] = check(write(yaml(parts)));
    EXPECT_EQ(code, 0) << out;
    auto at = out.find("warning");
    ASSERT_NE(at, std::string::npos) << out;
    EXPECT_NE(out.find("never_reached", at), std::string::npos) << out;
}
TEST_F(CliTest, CertgateConfigEnvironmentVariableNamesTheConfig) {
    const auto path = write(yaml());
    auto [code, out] = certgate({"check"}, {{"CERTGATE_CONFIG", path}});
    EXPECT_EQ(code, 0) << out;
    EXPECT_TRUE(contains(out, path)) << out;
}
TEST_F(CliTest, ConfigOptionTakesPrecedenceOverEnvironment) {
    const auto good = write(yaml());
    const auto bad = write("listen: [\n", "broken.yaml");
    auto [code, out] = certgate({"check", "--config", good}, {{"CERTGATE_CONFIG", bad}});
    EXPECT_EQ(code, 0) << out;
}
// ---- serve

TEST_F(CliTest, ServeWithBadConfigExitsOneQuickly) {
    ConfigParts parts;
    parts.top_level_extra = "bogus: 1\n";
    const auto path = write(yaml(parts));
    const auto t0 = std::chrono::steady_clock::now();
    auto [code, out] = certgate({"serve", "--config", path}, {}, 10s);
    EXPECT_EQ(code, 1) << out;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_TRUE(contains(out, "unknown key")) << out;
}
TEST_F(CliTest, ServeOnAPortInUseExitsOne) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ConfigParts parts;
    parts.listen = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    const auto path = write(yaml(parts));
    auto [code, out] = certgate({"serve", "--config", path}, {}, 10s);
    ::close(fd);
    EXPECT_EQ(code, 1) << out;
}

}  // namespace
}  // namespace certgate::testing
