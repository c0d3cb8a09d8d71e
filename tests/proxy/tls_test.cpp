// SPEC "TLS and client certificates": what verifies, handshake-level vs request-level
// enforcement, identity header formats, protocol versions, renegotiation, SNI, resumption.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

enum class Bad { expired, not_yet_valid, untrusted_ca, self_signed, server_auth_only, revoked };

struct BadCert {
    TestCert cert;
    std::string reason;     // OpenSSL's verify error text, as certgate reports it
    std::string tls_extra;  // e.g. the CRL that revokes it
};

const char* const kFieldsBesidesVerify[] = {"X-SSL-Client-DN",         "X-SSL-Client-Issuer-DN",
                                            "X-SSL-Client-Serial",     "X-SSL-Client-Fingerprint",
                                            "X-SSL-Client-Not-Before", "X-SSL-Client-Not-After",
                                            "X-SSL-Client-SAN-DNS",    "X-SSL-Client-SAN-URI"};

std::string reason(long x509_error) { return X509_verify_cert_error_string(x509_error); }

std::string base64(const std::string& data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string percent_decode(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string rfc3339(const ASN1_TIME* t) {
    std::tm tm{};
    ASN1_TIME_to_tm(t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Waits (bounded) until certgate no longer owns the socket of the connection whose client
// end is `client_port`: its row in /proc/net/tcp is gone or has no inode (closed, orphaned).
bool wait_server_released(std::uint16_t server_port, std::uint16_t client_port,
                          std::chrono::milliseconds timeout) {
    char local[32], remote[32];
    std::snprintf(local, sizeof local, "0100007F:%04X", server_port);
    std::snprintf(remote, sizeof remote, "0100007F:%04X", client_port);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        bool owned = false;
        std::ifstream in("/proc/net/tcp");
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream f(line);
            std::string sl, loc, rem, st, queues, timer, retr, uid, to, inode;
            f >> sl >> loc >> rem >> st >> queues >> timer >> retr >> uid >> to >> inode;
            if (loc == local && rem == remote && inode != "0") owned = true;
        }
        if (!owned) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);  // polling a kernel table: there is no event to wait on
    }
}

ConfigParts config(std::string tls_extra, std::string policies = "") {
    ConfigParts parts;
    parts.tls_extra = std::move(tls_extra);
    parts.policies = std::move(policies);
    return parts;
}

std::uint16_t local_port(const TlsClient& c) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(SSL_get_fd(c.ssl()), reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
}

class TlsTest : public ProxyTest {
protected:
    BadCert bad(Bad kind) const {
        CertSpec spec;
        spec.subject = {{"O", "Example Corp"}, {"CN", "bad client"}};
        switch (kind) {
            case Bad::expired:
                spec.not_before_offset_seconds = -2 * 86400;
                spec.not_after_offset_seconds = -86400;
                return {issue(pki->ca, spec), reason(X509_V_ERR_CERT_HAS_EXPIRED), ""};
            case Bad::not_yet_valid:
                spec.not_before_offset_seconds = 86400;
                spec.not_after_offset_seconds = 2 * 86400;
                return {issue(pki->ca, spec), reason(X509_V_ERR_CERT_NOT_YET_VALID), ""};
            case Bad::untrusted_ca:
                return {issue(make_ca("someone else's CA"), spec),
                        reason(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY), ""};
            case Bad::self_signed:
                return {make_self_signed(spec), reason(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT), ""};
            case Bad::server_auth_only:
                spec.eku = Eku::server_auth;
                return {issue(pki->ca, spec), reason(X509_V_ERR_INVALID_PURPOSE), ""};
            case Bad::revoked: {
                TestCert cert = issue(pki->ca, spec);
                auto crl = pki->dir.write("ca.crl", make_crl_pem(pki->ca, {&cert}));
                return {cert, reason(X509_V_ERR_CERT_REVOKED), "  crl: [\"" + crl + "\"]\n"};
            }
        }
        return {};
    }

    // Every policy requires a certificate: a TLS alert, no HTTP exchange, nothing forwarded;
    // then, as a control, a good client passes under the very same configuration.
    void expect_handshake_refused(const ClientOptions& client) {
        auto r = https_request(port(), client, get_request("/refused"));
        EXPECT_FALSE(r) << "got HTTP " << (r ? r->status : 0);
        EXPECT_TRUE(proxy->wait_for_log({"\"event\":\"handshake_failed\""}))
            << joined(proxy->log_lines());
        EXPECT_EQ(upstream->request_count(), 0u);
        auto control = forwarded_as(good_client(), "/control");
        EXPECT_EQ(control.header("X-SSL-Client-Verify"), "SUCCESS");
    }
    void expect_handshake_refused(Bad kind) {
        BadCert b = bad(kind);
        start(config(b.tls_extra));
        expect_handshake_refused(client_with("bad", b.cert));
    }

    // Request-level enforcement: 403 on a required path, FAILED:<reason> alone on /opt.
    void expect_request_refused(Bad kind) {
        BadCert b = bad(kind);
        start(config(b.tls_extra, kMixedPolicies));
        const auto client = client_with("bad", b.cert);
        auto r = https_request(port(), client, get_request("/private"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 403);
        EXPECT_EQ(r->body.rfind("client certificate rejected: " + b.reason, 0), 0u) << r->body;
        EXPECT_EQ(r->header("X-Frame-Options"), "DENY");
        auto o = https_request(port(), client, get_request("/opt/page"));
        ASSERT_TRUE(o);
        EXPECT_EQ(o->status, 200);
        auto seen = upstream->requests();
        ASSERT_EQ(seen.size(), 1u) << "the refused request reached the app";
        EXPECT_EQ(seen[0].target, "/opt/page");
        EXPECT_EQ(seen[0].header("X-SSL-Client-Verify"), "FAILED:" + b.reason);
        for (const char* h : kFieldsBesidesVerify) EXPECT_FALSE(seen[0].header(h)) << h;
    }

    SeenRequest forwarded_as(const ClientOptions& client, const std::string& path = "/") {
        const auto before = upstream->request_count();
        auto r = https_request(port(), client, get_request(path));
        EXPECT_TRUE(r);
        if (r) {
            EXPECT_EQ(r->status, 200) << r->body;
        }
        EXPECT_TRUE(upstream->wait_for_requests(before + 1));
        auto seen = upstream->requests();
        return seen.size() > before ? seen.back() : SeenRequest{};
    }

    // root -> `intermediates` CAs -> leaf; the .crt file holds the leaf then the CAs it sent.
    ClientOptions chained_client(int intermediates) {
        TestCert issuer = pki->ca;
        std::string chain;
        for (int i = 0; i < intermediates; ++i) {
            CertSpec ca;
            ca.subject = {{"CN", "intermediate " + std::to_string(i)}};
            ca.is_ca = true;
            ca.not_after_offset_seconds = 365L * 86400;
            issuer = issue(issuer, ca);
            chain = issuer.cert_pem() + chain;
        }
        CertSpec leaf;
        leaf.subject = {{"CN", "chained client"}};
        TestCert cert = issue(issuer, leaf);
        ClientOptions o;
        o.cert = pki->dir.write("chained.crt", cert.cert_pem() + chain);
        o.key = pki->dir.write("chained.key", cert.key_pem());
        return o;
    }
};

// ---- handshake-level enforcement (default config: every policy requires a certificate)

TEST_F(TlsTest, HandshakeRefusesClientWithoutCertificate) {
    start();
    expect_handshake_refused(ClientOptions{});
}
TEST_F(TlsTest, HandshakeRefusesExpiredCertificate) { expect_handshake_refused(Bad::expired); }
TEST_F(TlsTest, HandshakeRefusesNotYetValidCertificate) {
    expect_handshake_refused(Bad::not_yet_valid);
}
TEST_F(TlsTest, HandshakeRefusesCertificateFromUntrustedCa) {
    expect_handshake_refused(Bad::untrusted_ca);
}
TEST_F(TlsTest, HandshakeRefusesSelfSignedCertificate) {
    expect_handshake_refused(Bad::self_signed);
}
TEST_F(TlsTest, HandshakeRefusesServerAuthOnlyCertificate) {
    expect_handshake_refused(Bad::server_auth_only);
}
TEST_F(TlsTest, HandshakeRefusesRevokedCertificateButNotOthersUnderTheSameCrl) {
    expect_handshake_refused(Bad::revoked);  // the control client is not on the CRL
}
TEST_F(TlsTest, HandshakeRefusesChainWithOneIntermediateOverVerifyDepthOne) {
    start(config("  verify_depth: 1\n"));
    expect_handshake_refused(chained_client(1));
}
TEST_F(TlsTest, HandshakeRefusesChainWithTwoIntermediatesOverVerifyDepthOne) {
    start(config("  verify_depth: 1\n"));
    expect_handshake_refused(chained_client(2));
}
TEST_F(TlsTest, ChainWithIntermediateWithinVerifyDepthThreeVerifies) {
    start(config("  verify_depth: 3\n"));
    auto seen = forwarded_as(chained_client(1));
    EXPECT_EQ(seen.header("X-SSL-Client-Verify"), "SUCCESS");
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), "CN=chained client");
    EXPECT_EQ(seen.header("X-SSL-Client-Issuer-DN"), "CN=intermediate 0");
}
TEST_F(TlsTest, CertificateFailsWhenItsCaHasNoCrlWhileCrlsAreConfigured) {
    TestCert other = make_ca("second CA");
    pki->dir.write("ca.pem", pki->ca.cert_pem() + other.cert_pem());
    auto other_crl = pki->dir.write("other.crl", make_crl_pem(other, {}));
    start(config("  crl: [\"" + other_crl + "\"]\n"));
    auto r = https_request(port(), good_client(), get_request("/"));
    EXPECT_FALSE(r) << "got HTTP " << (r ? r->status : 0);
    EXPECT_EQ(upstream->request_count(), 0u);
    // Control: once the client's CA has a current CRL too, the same certificate verifies.
    auto ca_crl = pki->dir.write("ca.crl", make_crl_pem(pki->ca, {}));
    start(config("  crl: [\"" + other_crl + "\", \"" + ca_crl + "\"]\n"));
    EXPECT_EQ(forwarded_as(good_client()).header("X-SSL-Client-Verify"), "SUCCESS");
}

TEST_F(TlsTest, HandshakeRefusalIsLoggedWithTheVerificationError) {
    expect_handshake_refused(Bad::expired);
    const std::string why = reason(X509_V_ERR_CERT_HAS_EXPIRED);
    EXPECT_TRUE(proxy->wait_for_log({"\"event\":\"handshake_failed\"", why}))
        << "\"" << why << "\" not logged:\n"
        << joined(proxy->log_lines());
}

// ---- request-level enforcement (some policy does not require a certificate)

TEST_F(TlsTest, RequestLevelRefusesMissingCertificateWith403) {
    start(config("", kMixedPolicies));
    auto r = https_request(port(), ClientOptions{}, get_request("/private"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_EQ(r->body, "client certificate required\n");
    EXPECT_EQ(upstream->request_count(), 0u);
}
TEST_F(TlsTest, RequestLevelRefusesExpiredCertificate) { expect_request_refused(Bad::expired); }
TEST_F(TlsTest, RequestLevelRefusesNotYetValidCertificate) {
    expect_request_refused(Bad::not_yet_valid);
}
TEST_F(TlsTest, RequestLevelRefusesCertificateFromUntrustedCa) {
    expect_request_refused(Bad::untrusted_ca);
}
TEST_F(TlsTest, RequestLevelRefusesSelfSignedCertificate) {
    expect_request_refused(Bad::self_signed);
}
TEST_F(TlsTest, RequestLevelRefusesServerAuthOnlyCertificate) {
    expect_request_refused(Bad::server_auth_only);
}
TEST_F(TlsTest, RequestLevelRefusesRevokedCertificate) { expect_request_refused(Bad::revoked); }

// ---- identity header formats

TEST_F(TlsTest, SubjectWithCommaQuoteUtf8AndNewlineArrivesEscapedOnOneLine) {
    CertSpec spec;
    spec.subject = {{"C", "US"}, {"O", "Acme, \"Inc\""}, {"CN", "Zo\xC3\xAB\nadmin"}};
    spec.san_dns = {"a.billing.internal", "b.billing.internal"};
    spec.san_uri = {"spiffe://example.org/ns/prod/sa/a", "https://b.example/x"};
    start();
    auto seen = forwarded_as(client_with("odd", issue(pki->ca, spec)));
    const std::string dn = "CN=Zo\xC3\xAB\\0Aadmin,O=Acme\\, \\\"Inc\\\",C=US";
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), dn);
    EXPECT_NE(seen.raw_head.find("\r\nX-SSL-Client-DN: " + dn + "\r\n"), std::string::npos)
        << seen.raw_head;
    EXPECT_EQ(seen.raw_head.find("\nadmin"), std::string::npos) << seen.raw_head;
    EXPECT_EQ(seen.header("X-SSL-Client-SAN-DNS"), "a.billing.internal,b.billing.internal");
    EXPECT_EQ(seen.header("X-SSL-Client-SAN-URI"),
              "spiffe://example.org/ns/prod/sa/a,https://b.example/x");
}

TEST_F(TlsTest, SerialFingerprintAndDatesUseSpecFormats) {
    CertSpec spec;
    spec.subject = {{"CN", "formats"}};
    spec.serial = 0xABCDEF012L;  // DER 0A BC DE F0 12: a leading zero nibble
    TestCert a = issue(pki->ca, spec);
    spec.serial = 0xFF12;  // DER 00 FF 12: a leading sign byte
    TestCert b = issue(pki->ca, spec);
    start();
    auto seen = forwarded_as(client_with("a", a));
    EXPECT_EQ(seen.header("X-SSL-Client-Serial"), "ABCDEF012");
    EXPECT_EQ(seen.header("X-SSL-Client-Fingerprint"), sha256_hex(a.der()));
    EXPECT_EQ(seen.header("X-SSL-Client-Not-Before"), rfc3339(X509_get0_notBefore(a.x509())));
    EXPECT_EQ(seen.header("X-SSL-Client-Not-After"), rfc3339(X509_get0_notAfter(a.x509())));
    EXPECT_EQ(seen.header("X-SSL-Client-Not-After")->size(), 20u);  // YYYY-MM-DDTHH:MM:SSZ
    EXPECT_EQ(forwarded_as(client_with("b", b)).header("X-SSL-Client-Serial"), "FF12");
}

// Every key exchange group and client key type, on TLS 1.3 and 1.2: the handshake completes
// and the app sees the certificate that was presented. (certgate decodes EC keys through
// OpenSSL's built-in method on OpenSSL 3.0, proxy/key_decoding.hpp; P-256 key exchange and
// ECDSA signatures then take that path too.)
TEST_F(TlsTest, EveryKeyExchangeGroupAndClientKeyTypeHandshakesWithTheRightIdentity) {
    CertSpec spec;
    spec.subject = {{"CN", "ec client"}};
    const TestCert ec = issue(pki->ca, spec);
    spec.subject = {{"CN", "rsa client"}};
    spec.key_type = KeyType::rsa_2048;
    const TestCert rsa = issue(pki->ca, spec);
    start();
    for (const char* group : {"X25519", "P-256", "P-384"}) {
        for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
            for (const TestCert* cert : {&ec, &rsa}) {
                SCOPED_TRACE(std::string(group) + (version == TLS1_3_VERSION ? " TLS 1.3 " : " TLS 1.2 ") +
                             (cert == &ec ? "EC" : "RSA"));
                ClientOptions client = client_with(cert == &ec ? "ec" : "rsa", *cert);
                // TLS 1.2 also takes the group list as the curves an ECDSA certificate may use:
                // certgate's own is on P-256.
                client.groups = version == TLS1_2_VERSION && std::string(group) != "P-256"
                                    ? std::string(group) + ":P-256"
                                    : group;
                client.max_version = version;
                auto seen = forwarded_as(client);
                EXPECT_EQ(seen.header("X-SSL-Client-Verify"), "SUCCESS");
                EXPECT_EQ(seen.header("X-SSL-Client-Fingerprint"), sha256_hex(cert->der()));
            }
        }
    }
}

TEST_F(TlsTest, OptionalCertificateOutputsCarryTheLeaf) {
    ConfigParts parts;
    parts.top_level_extra =
        "identity:\n  headers:\n    certificate: X-SSL-Client-Cert\n"
        "    rfc9440_cert: Client-Cert\n";
    start(parts);
    auto seen = forwarded_as(good_client());
    auto pem = seen.header("X-SSL-Client-Cert");
    ASSERT_TRUE(pem);
    EXPECT_EQ(pem->find_first_of("\r\n "), std::string::npos) << *pem;
    EXPECT_EQ(percent_decode(*pem), pki->client.cert_pem());
    EXPECT_EQ(seen.header("Client-Cert"), ":" + base64(pki->client.der()) + ":");
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), "CN=billing,O=Example Corp,C=US");
}

// ---- SNI plays no part

TEST_F(TlsTest, NoSniAndUnknownSniGetTheSameCertificateRules) {
    start();
    for (std::optional<std::string> sni :
         {std::optional<std::string>(), std::optional<std::string>("unknown.example")}) {
        ClientOptions anonymous;
        anonymous.sni = sni;
        EXPECT_FALSE(https_request(port(), anonymous, get_request("/"))) << sni.value_or("no SNI");
        ClientOptions good = good_client();
        good.sni = sni;
        EXPECT_EQ(forwarded_as(good).header("X-SSL-Client-Verify"), "SUCCESS");
    }
    EXPECT_EQ(upstream->request_count(), 2u);
}

TEST_F(TlsTest, NoSniWithoutCertificateStillGets403AtRequestLevel) {
    start(config("", kMixedPolicies));
    ClientOptions anonymous;
    anonymous.sni = std::nullopt;
    auto r = https_request(port(), anonymous, get_request("/private"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_EQ(upstream->request_count(), 0u);
}

// ---- protocol versions and renegotiation

TEST_F(TlsTest, NeverNegotiatesTls10Or11) {
    start();
    for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
        ClientOptions old = good_client();  // min_version lowers the client's security level
        old.min_version = TLS1_VERSION;
        old.max_version = version;
        TlsClient c(port(), old);
        EXPECT_FALSE(c.connect()) << "negotiated " << c.protocol();
    }
    const std::string target = "127.0.0.1:" + std::to_string(port());
    for (const char* flag : {"-tls1", "-tls1_1"}) {
        auto [code, out] =
            run_command({"openssl", "s_client", "-connect", target, flag, "-cipher",
                         "DEFAULT@SECLEVEL=0", "-cert", pki->client_crt, "-key", pki->client_key});
        EXPECT_NE(code, 0) << flag << "\n" << out;
        EXPECT_NE(out.find("alert protocol version"), std::string::npos) << flag << "\n" << out;
    }
    // Control: the same command line with TLS 1.2 does connect.
    auto [code, out] = run_command({"openssl", "s_client", "-connect", target, "-tls1_2", "-cert",
                                    pki->client_crt, "-key", pki->client_key});
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("TLSv1.2"), std::string::npos) << out;
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(TlsTest, MinVersion13RefusesTls12Client) {
    start(config("  min_version: \"1.3\"\n"));
    ClientOptions tls12 = good_client();
    tls12.max_version = TLS1_2_VERSION;
    TlsClient c(port(), tls12);
    EXPECT_FALSE(c.connect()) << "negotiated " << c.protocol();
    TlsClient ok(port(), good_client());
    ASSERT_TRUE(ok.connect()) << ok.error();
    EXPECT_EQ(ok.protocol(), "TLSv1.3");
}

TEST_F(TlsTest, ClientInitiatedRenegotiationIsRefused) {
    start();
    ClientOptions tls12 = good_client();
    tls12.max_version = TLS1_2_VERSION;
    tls12.timeout = 5s;
    TlsClient c(port(), tls12);
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_EQ(c.protocol(), "TLSv1.2");
    ASSERT_TRUE(c.send(get_request("/before")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_EQ(SSL_renegotiate(c.ssl()), 1);
    EXPECT_NE(SSL_do_handshake(c.ssl()), 1) << "the server renegotiated";
    EXPECT_EQ(SSL_renegotiate_pending(c.ssl()), 1);
    ERR_clear_error();
    // Nothing more is served on this connection.
    if (c.send(get_request("/after"))) {
        EXPECT_FALSE(c.read_response());
    }
    EXPECT_EQ(upstream->request_count(), 1u);
    EXPECT_EQ(upstream->requests().at(0).target, "/before");
}

// ---- session resumption keeps the verification result

// As real clients do: the first connection is closed before the next one offers its session.
TEST_F(TlsTest, SessionResumesOnTheNextConnectionWithTheSameIdentity) {
    start();
    SSL_SESSION* session = nullptr;
    std::uint16_t first_port = 0;
    {
        TlsClient first(port(), good_client());
        ASSERT_TRUE(first.connect()) << first.error();
        ASSERT_TRUE(first.send(get_request("/first", "Connection: close\r\n")));
        ASSERT_TRUE(first.read_response());  // the ticket arrived before it
        EXPECT_TRUE(first.wait_closed());
        session = SSL_get1_session(first.ssl());
        ASSERT_TRUE(session);
        ASSERT_TRUE(SSL_SESSION_is_resumable(session));
        first_port = local_port(first);
    }  // the client closes too; then certgate is done with that connection
    ASSERT_TRUE(wait_server_released(port(), first_port, 5s));
    ClientOptions again = good_client();
    again.session = session;
    TlsClient second(port(), again);
    const bool connected = second.connect();
    SSL_SESSION_free(session);
    ASSERT_TRUE(connected) << second.error();
    EXPECT_TRUE(SSL_session_reused(second.ssl())) << "full handshake instead of resumption";
    ASSERT_TRUE(second.send(get_request("/second")));
    auto r = second.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    auto seen = upstream->requests();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1].header("X-SSL-Client-Verify"), "SUCCESS");
    EXPECT_EQ(seen[1].header("X-SSL-Client-DN"), "CN=billing,O=Example Corp,C=US");
    EXPECT_EQ(seen[1].header("X-SSL-Client-Fingerprint"), sha256_hex(pki->client.der()));
}

// The first connection stays open here: this test is about the verification result that
// travels with the session, independently of how long the server cache keeps it.
TEST_F(TlsTest, ResumedSessionOfFailedCertificateStaysFailed) {
    start(config("", kMixedPolicies));
    const auto expired = client_with("expired", bad(Bad::expired).cert);
    TlsClient first(port(), expired);
    ASSERT_TRUE(first.connect()) << first.error();
    ASSERT_TRUE(first.send(get_request("/opt")));
    ASSERT_TRUE(first.read_response());
    SSL_SESSION* session = SSL_get1_session(first.ssl());
    ASSERT_TRUE(session);
    ClientOptions again = expired;
    again.session = session;
    TlsClient second(port(), again);
    const bool connected = second.connect();
    SSL_SESSION_free(session);
    ASSERT_TRUE(connected) << second.error();
    ASSERT_TRUE(SSL_session_reused(second.ssl())) << "full handshake instead of resumption";
    ASSERT_TRUE(second.send(get_request("/private")));
    auto r = second.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_EQ(r->body,
              "client certificate rejected: " + reason(X509_V_ERR_CERT_HAS_EXPIRED) + "\n");
    auto seen = upstream->requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].header("X-SSL-Client-Verify"),
              "FAILED:" + reason(X509_V_ERR_CERT_HAS_EXPIRED));
}

}  // namespace
}  // namespace certgate::testing
