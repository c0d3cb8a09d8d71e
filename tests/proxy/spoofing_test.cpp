// SPEC "Request sanitizing" steps 2-4: no client-sent header can pass for an identity
// header, whatever its spelling, and the app sees exactly one copy, written by certgate.
#include "proxy/proxy_fixture.hpp"

#include <cctype>

namespace certgate::testing {
namespace {

constexpr const char* kRealDn = "CN=billing,O=Example Corp,C=US";

class SpoofingTest : public ProxyTest {
protected:
    void SetUp() override {
        ProxyTest::SetUp();
        start();
    }
    SeenRequest send_with(const std::string& headers, const ClientOptions& client) {
        auto r = https_request(port(), client, get_request("/", headers));
        EXPECT_TRUE(r);
        if (r) {
            EXPECT_EQ(r->status, 200);
        }
        EXPECT_TRUE(upstream->wait_for_requests(1));
        auto seen = upstream->requests();
        return seen.empty() ? SeenRequest{} : seen.back();
    }
    SeenRequest send_with(const std::string& headers) { return send_with(headers, good_client()); }
};

TEST_F(SpoofingTest, ReplacesExactIdentityHeader) {
    auto seen = send_with("X-SSL-Client-DN: CN=admin\r\n");
    EXPECT_EQ(count_header(seen.headers, "X-SSL-Client-DN"), 1u);
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), kRealDn);
}
TEST_F(SpoofingTest, ReplacesMixedCaseIdentityHeader) {
    auto seen = send_with("x-ssl-CLIENT-verify: SUCCESS\r\nX-Ssl-Client-Dn: CN=admin\r\n");
    EXPECT_EQ(count_header(seen.headers, "X-SSL-Client-Verify"), 1u);
    EXPECT_EQ(count_header(seen.headers, "X-SSL-Client-DN"), 1u);
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), kRealDn);
}
TEST_F(SpoofingTest, DropsUnderscoreVariantOfIdentityHeader) {
    auto seen = send_with("X_SSL_CLIENT_DN: CN=admin\r\nX-SSL_Client-Verify: SUCCESS\r\n");
    for (const auto& [k, v] : seen.headers) {
        EXPECT_EQ(k.find('_'), std::string::npos) << k;
        EXPECT_NE(v, "CN=admin");
    }
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), kRealDn);
}
TEST_F(SpoofingTest, DropsDuplicatedIdentityHeaders) {
    auto seen = send_with("X-SSL-Client-DN: CN=admin\r\nX-SSL-Client-DN: CN=root\r\n");
    EXPECT_EQ(count_header(seen.headers, "X-SSL-Client-DN"), 1u);
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), kRealDn);
}
TEST_F(SpoofingTest, DropsHeadersWithTheIdentityPrefix) {
    auto seen = send_with("X-SSL-Client-Role: admin\r\nx-ssl-client-anything: 1\r\n");
    EXPECT_FALSE(seen.header("X-SSL-Client-Role"));
    EXPECT_FALSE(seen.header("X-SSL-Client-Anything"));
}
TEST_F(SpoofingTest, DropsHeadersOnTheStripList) {
    auto seen = send_with(
        "X-Forwarded-Client-Cert: By=spiffe://x\r\nClient-Cert: :AAAA:\r\n"
        "Client-Cert-Chain: :AAAA:\r\nX-Client-Cert: x\r\nSSL-Client-Cert: x\r\n");
    for (const char* h : {"X-Forwarded-Client-Cert", "Client-Cert", "Client-Cert-Chain",
                          "X-Client-Cert", "SSL-Client-Cert"})
        EXPECT_FALSE(seen.header(h)) << h;
}
TEST_F(SpoofingTest, ConnectionNamedIdentityHeaderCannotRemoveCertgatesOwn) {
    auto seen = send_with(
        "Connection: keep-alive, X-SSL-Client-Verify, X-SSL-Client-DN, X-Forwarded-For\r\n"
        "X-SSL-Client-Verify: SUCCESS\r\n");
    EXPECT_EQ(seen.header("X-SSL-Client-Verify"), "SUCCESS");
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), kRealDn);
    EXPECT_EQ(seen.header("X-Forwarded-For"), "127.0.0.1");
    EXPECT_FALSE(seen.header("Connection"));
}
TEST_F(SpoofingTest, RemovesHopByHopHeaders) {
    auto seen = send_with(
        "Connection: X-Custom-Hop\r\nX-Custom-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
        "Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-A\r\nUpgrade: websocket\r\n");
    for (const char* h : {"X-Custom-Hop", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                          "Upgrade", "Connection"})
        EXPECT_FALSE(seen.header(h)) << h;
}
TEST_F(SpoofingTest, DropsEveryUnderscoreHeaderByDefault) {
    auto seen = send_with("X_Custom: 1\r\nmy_header: 2\r\n");
    EXPECT_FALSE(seen.header("X_Custom"));
    EXPECT_FALSE(seen.header("my_header"));
}
TEST_F(SpoofingTest, ReplacesForwardedHeaders) {
    auto seen = send_with(
        "X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: http\r\nX-Real-IP: 10.9.9.9\r\n"
        "X-Request-Id: bad id with spaces\r\n");
    EXPECT_EQ(seen.header("X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(seen.header("X-Forwarded-Proto"), "https");
    EXPECT_EQ(seen.header("X-Real-IP"), "127.0.0.1");
    EXPECT_NE(seen.header("X-Request-Id"), "bad id with spaces");
    EXPECT_EQ(count_header(seen.headers, "X-Request-Id"), 1u);
}
TEST_F(SpoofingTest, KeepsAcceptableClientRequestId) {
    auto seen = send_with("X-Request-Id: req-42.a:b\r\n");
    EXPECT_EQ(seen.header("X-Request-Id"), "req-42.a:b");
}
TEST_F(SpoofingTest, SpoofedSuccessWithoutCertificateGetsNothingThrough) {
    // Handshake-level enforcement: no certificate, no HTTP exchange at all.
    ClientOptions anonymous;
    auto r = https_request(port(), anonymous,
                           get_request("/", "X-SSL-Client-Verify: SUCCESS\r\nX-SSL-Client-DN: CN=admin\r\n"));
    EXPECT_FALSE(r);
    EXPECT_EQ(upstream->request_count(), 0u);
}

// SPEC "Request sanitizing" 3, read safely: the app never sees a forwarding header a client
// wrote (Django's USE_X_FORWARDED_HOST, Rack's X-Forwarded-Ssl would trust it), and a
// disabled one is not sent at all rather than left as the client wrote it.
// Folded as an app framework reads a name: any case, '_' as '-'.
bool is_forwarding_header(std::string name) {
    for (auto& c : name)
        c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name.starts_with("x-forwarded-") || name == "x-real-ip" || name == "forwarded";
}

constexpr const char* kClientForwarding =
    "X-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 80\r\nX-Forwarded-Ssl: on\r\n"
    "X-Forwarded-Prefix: /admin\r\nX-Forwarded-Proto: http\r\nX-Forwarded-For: 10.9.9.9\r\n"
    "x-forwarded-anything: 1\r\nX_Forwarded_Host: evil.example\r\nX-Real-IP: 10.9.9.9\r\n"
    "Forwarded: for=10.9.9.9;proto=http;host=evil.example\r\n";

class SpoofingForwardedTest : public ProxyTest {
protected:
    // Starts certgate with `config_extra`, sends one GET carrying every kind of client
    // forwarding header, and returns what the app received.
    SeenRequest app_receives(const std::string& config_extra) {
        ConfigParts parts;
        parts.top_level_extra = config_extra;
        start(parts);
        auto r = https_request(port(), good_client(), get_request("/", kClientForwarding));
        EXPECT_TRUE(r && r->status == 200);
        EXPECT_TRUE(upstream->wait_for_requests(1));
        return upstream->requests().at(0);
    }
};

TEST_F(SpoofingForwardedTest, AppSeesOnlyCertgatesOwnForwardingHeaders) {
    const auto seen = app_receives("identity:\n  allow_underscores_in_headers: true\n");
    std::vector<std::string> forwarding;
    for (const auto& [name, value] : seen.headers)
        if (is_forwarding_header(name)) forwarding.push_back(name + ": " + value);
    EXPECT_EQ(forwarding, (std::vector<std::string>{"X-Forwarded-For: 127.0.0.1",
                                                    "X-Forwarded-Proto: https",
                                                    "X-Real-IP: 127.0.0.1"}))
        << seen.raw_head;
}

TEST_F(SpoofingForwardedTest, DisabledForwardingHeadersAreNotSentAtAll) {
    const auto seen = app_receives(
        "identity:\n  allow_underscores_in_headers: true\n"
        "forwarded:\n  x_forwarded_for: \"off\"\n  x_forwarded_proto: false\n  x_real_ip: false\n");
    for (const auto& [name, value] : seen.headers)
        EXPECT_FALSE(is_forwarding_header(name)) << name << ": " << value;
    EXPECT_EQ(count_header(seen.headers, "X-Request-Id"), 1u);
}

TEST_F(SpoofingForwardedTest, AppendModeStillChainsTheClientsForwardedFor) {
    const auto seen = app_receives("forwarded:\n  x_forwarded_for: append\n");
    EXPECT_EQ(count_header(seen.headers, "X-Forwarded-For"), 1u);
    EXPECT_EQ(seen.header("X-Forwarded-For"), "10.9.9.9, 127.0.0.1");
    EXPECT_FALSE(seen.header("X-Forwarded-Host"));
    EXPECT_FALSE(seen.header("Forwarded"));
}

class SpoofingOptionalTest : public ProxyTest {};

TEST_F(SpoofingOptionalTest, OptionalPolicyWithoutCertificateForwardsVerifyNoneOnly) {
    ConfigParts parts;
    parts.policies = kMixedPolicies;
    start(parts);
    ClientOptions anonymous;
    auto r = https_request(port(), anonymous,
                           get_request("/opt/x", "X-SSL-Client-Verify: SUCCESS\r\nX-SSL-Client-DN: CN=admin\r\n"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(upstream->wait_for_requests(1));
    auto seen = upstream->requests()[0];
    EXPECT_EQ(seen.header("X-SSL-Client-Verify"), "NONE");
    EXPECT_FALSE(seen.header("X-SSL-Client-DN"));
    EXPECT_FALSE(seen.header("X-SSL-Client-Fingerprint"));
}

}  // namespace
}  // namespace certgate::testing
