// SPEC "Decisions, in order" 2 and 3, and the `cookies` response rule, over real TLS:
// identity allow-lists, CSRF origin checks, Set-Cookie hardening, and the log line that
// explains every refusal.
#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

class AccessPoliciesTest : public ProxyTest {
protected:
    void start_with_policies(const std::string& policies) {
        ConfigParts parts;
        parts.policies = policies;
        start(parts);
    }
    // A client certificate issued by the test CA with the given SANs and subject.
    ClientOptions client(const std::string& name, std::vector<std::string> san_uri,
                         std::vector<std::string> san_dns = {},
                         std::vector<std::pair<std::string, std::string>> subject = {
                             {"CN", "svc"}}) {
        CertSpec spec;
        spec.subject = std::move(subject);
        spec.san_uri = std::move(san_uri);
        spec.san_dns = std::move(san_dns);
        return client_with(name, issue(pki->ca, spec));
    }
    // Sends `raw` on a new connection; returns the response (fails the test on none).
    HttpResponse send(const ClientOptions& who, const std::string& raw) {
        auto r = https_request(port(), who, raw);
        EXPECT_TRUE(r) << raw;
        return r.value_or(HttpResponse{});
    }
    // 200 and the app saw it.
    void expect_forwarded(const ClientOptions& who, const std::string& raw) {
        const auto before = upstream->request_count();
        auto r = send(who, raw);
        EXPECT_EQ(r.status, 200) << raw << "\n" << r.body;
        EXPECT_TRUE(upstream->wait_for_requests(before + 1, 5s)) << raw;
    }
    // 403 with `reason`, security headers on it, nothing forwarded; returns the log line.
    std::string expect_refused(const ClientOptions& who, const std::string& raw,
                               const std::string& reason, const std::string& rule) {
        const auto before = upstream->request_count();
        auto r = send(who, raw);
        EXPECT_EQ(r.status, 403) << raw;
        EXPECT_EQ(r.body, reason + "\n") << raw;
        EXPECT_TRUE(r.header("Content-Security-Policy")) << raw;
        EXPECT_EQ(upstream->request_count(), before) << raw << " reached the app";
        auto line = proxy->wait_for_log(
            {"\"event\":\"request\"", "\"status\":403", "\"rule\":\"" + rule + "\"",
             "\"reason\":\"" + reason + "\""});
        EXPECT_TRUE(line) << raw << "\n" << joined(proxy->log_lines());
        return line.value_or("");
    }
};

std::string post(const std::string& path, const std::string& extra_headers = "") {
    return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n" +
           extra_headers + "\r\nhi";
}

// ---- identity allow-lists ----------------------------------------------------------------

TEST_F(AccessPoliciesTest, SanUriAllowListPassesTheRightSpiffeIdAndRefusesAnother) {
    start_with_policies(
        "policies:\n"
        "  - name: billing\n"
        "    paths: [\"/\"]\n"
        "    allow:\n"
        "      san_uri: [\"spiffe://example.org/ns/prod/sa/*\"]\n");
    expect_forwarded(client("billing", {"spiffe://example.org/ns/prod/sa/billing"}),
                     get_request("/invoices"));
    EXPECT_EQ(upstream->requests().back().header("X-SSL-Client-SAN-URI"),
              "spiffe://example.org/ns/prod/sa/billing");

    const auto line = expect_refused(client("dev", {"spiffe://example.org/ns/dev/sa/billing"}),
                                     get_request("/invoices"), "client identity not allowed",
                                     "allow.san_uri");
    // One line answers "why was this client refused?": who, where, which rule.
    EXPECT_NE(line.find("\"policy\":\"billing\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"subject\":\"CN=svc\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"fingerprint\":\""), std::string::npos) << line;
    // `*` is one segment only.
    expect_refused(client("deep", {"spiffe://example.org/ns/prod/sa/billing/extra"}),
                   get_request("/"), "client identity not allowed", "allow.san_uri");
    // No URI SAN at all.
    expect_refused(client("no-uri", {}, {"billing.internal"}), get_request("/"),
                   "client identity not allowed", "allow.san_uri");
}

TEST_F(AccessPoliciesTest, DoubleStarMatchesAnyDepthWithinTheTrustDomain) {
    start_with_policies(
        "policies:\n"
        "  - name: mesh\n"
        "    paths: [\"/\"]\n"
        "    allow: {san_uri: [\"spiffe://example.org/**\"]}\n");
    expect_forwarded(client("a", {"spiffe://example.org/ns/prod/sa/x/y/z"}), get_request("/"));
    expect_refused(client("b", {"spiffe://evil.org/ns/prod/sa/x"}), get_request("/"),
                   "client identity not allowed", "allow.san_uri");
}

TEST_F(AccessPoliciesTest, AnyListedFieldMatchingIsEnough) {
    const auto by_fingerprint = issue(pki->ca, CertSpec{});
    const auto fp = [&] {
        auto [crt, key] = pki->write("fp", by_fingerprint);
        (void)key;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        X509_digest(by_fingerprint.x509(), EVP_sha256(), md, &len);
        std::string hex;
        char b[3];
        for (unsigned i = 0; i < len; ++i) {
            std::snprintf(b, sizeof b, "%02X", md[i]);
            hex += b;
            if (i + 1 < len) hex += ':';
        }
        return hex;  // upper case with colons: normalized at load
    }();
    start_with_policies(
        "policies:\n"
        "  - name: api\n"
        "    paths: [\"/\"]\n"
        "    allow:\n"
        "      subjects: [\"CN=billing,O=Example Corp,C=US\"]\n"
        "      san_dns: [\"*.billing.internal\"]\n"
        "      fingerprints: [\"" + fp + "\"]\n");
    expect_forwarded(client("subject", {}, {}, {{"C", "US"}, {"O", "Example Corp"}, {"CN", "billing"}}),
                     get_request("/"));
    expect_forwarded(client("dns", {}, {"api.billing.internal"}), get_request("/"));
    expect_forwarded(client_with("fp", by_fingerprint), get_request("/"));
    // `*` is exactly one DNS label; the subject is compared whole.
    expect_refused(client("two-labels", {}, {"a.b.billing.internal"}), get_request("/"),
                   "client identity not allowed", "allow.subjects,san_dns,fingerprints");
    expect_refused(client("near", {}, {}, {{"O", "Example Corp"}, {"CN", "billing"}}),
                   get_request("/"), "client identity not allowed",
                   "allow.subjects,san_dns,fingerprints");
}

TEST_F(AccessPoliciesTest, OptionalPolicyJudgesOnlyPresentedCertificatesAndNeverFailedOnes) {
    start_with_policies(
        "policies:\n"
        "  - name: opt\n"
        "    paths: [\"/\"]\n"
        "    client_certificate: optional\n"
        "    allow: {san_uri: [\"spiffe://example.org/sa/web\"]}\n");
    // No certificate: the allow-list does not apply; the app sees Verify: NONE.
    expect_forwarded(ClientOptions{}, get_request("/"));
    EXPECT_EQ(upstream->requests().back().header("X-SSL-Client-Verify"), "NONE");
    expect_forwarded(client("web", {"spiffe://example.org/sa/web"}), get_request("/"));
    expect_refused(client("other", {"spiffe://example.org/sa/other"}), get_request("/"),
                   "client identity not allowed", "allow.san_uri");
    // The right SPIFFE ID from a CA certgate does not trust: its fields prove nothing.
    const auto rogue_ca = make_ca("rogue CA");
    CertSpec spec;
    spec.san_uri = {"spiffe://example.org/sa/web"};
    expect_refused(client_with("forged", issue(rogue_ca, spec)), get_request("/"),
                   "client identity not allowed", "allow.san_uri");
}

// ---- CSRF ----------------------------------------------------------------------------------

const char* kCsrfPolicies =
    "policies:\n"
    "  - name: machines\n"
    "    paths: [\"/hooks\"]\n"
    "    client_certificate: none\n"
    "    csrf: {allow_missing_origin: true}\n"
    "  - name: app\n"
    "    paths: [\"/\"]\n"
    "    client_certificate: none\n"
    "    csrf: {trusted_origins: [\"https://app.example.com\"]}\n";

TEST_F(AccessPoliciesTest, CsrfRefusesMissingWrongAndNullOrigins) {
    start_with_policies(kCsrfPolicies);
    const ClientOptions anyone;
    expect_refused(anyone, post("/form"), "origin not allowed", "csrf.missing_origin");
    expect_refused(anyone, post("/form", "Origin: https://evil.example\r\n"), "origin not allowed",
                   "csrf.origin_mismatch");
    expect_refused(anyone, post("/form", "Origin: null\r\n"), "origin not allowed",
                   "csrf.origin_null");
    // A look-alike of the trusted origin, and the trusted host over plain http.
    expect_refused(anyone, post("/form", "Origin: https://app.example.com.evil.example\r\n"),
                   "origin not allowed", "csrf.origin_mismatch");
    expect_refused(anyone, post("/form", "Origin: http://app.example.com\r\n"),
                   "origin not allowed", "csrf.origin_mismatch");
    // A refusal sent before the body was read closes the connection.
    TlsClient c(port(), anyone);
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(post("/form", "Origin: https://evil.example\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed());
}

TEST_F(AccessPoliciesTest, CsrfPassesTrustedAndSameHostOriginsAndSafeMethods) {
    start_with_policies(kCsrfPolicies);
    const ClientOptions anyone;
    expect_forwarded(anyone, post("/form", "Origin: https://app.example.com\r\n"));
    EXPECT_EQ(upstream->requests().back().body, "hi");
    expect_forwarded(anyone, post("/form", "Origin: https://localhost\r\n"));
    expect_forwarded(anyone, "POST /form HTTP/1.1\r\nHost: localhost:8443\r\nContent-Length: 0\r\n"
                             "Origin: https://localhost:8443\r\n\r\n");
    expect_forwarded(anyone, "DELETE /item/1 HTTP/1.1\r\nHost: localhost\r\n"
                             "Origin: https://app.example.com\r\n\r\n");
    // Safe methods are never judged.
    expect_forwarded(anyone, get_request("/form", "Origin: https://evil.example\r\n"));
    expect_forwarded(anyone, "OPTIONS /form HTTP/1.1\r\nHost: localhost\r\n"
                             "Origin: null\r\n\r\n");
}

TEST_F(AccessPoliciesTest, CsrfFallsBackToSecFetchSiteThenReferer) {
    start_with_policies(kCsrfPolicies);
    const ClientOptions anyone;
    expect_forwarded(anyone, post("/form", "Sec-Fetch-Site: same-origin\r\n"));
    expect_refused(anyone, post("/form", "Sec-Fetch-Site: cross-site\r\n"), "origin not allowed",
                   "csrf.sec_fetch_site");
    expect_forwarded(anyone, post("/form", "Referer: https://app.example.com/orders?id=7\r\n"));
    expect_forwarded(anyone, post("/form", "Referer: https://localhost/page\r\n"));
    expect_refused(anyone, post("/form", "Referer: https://evil.example/app.example.com\r\n"),
                   "origin not allowed", "csrf.referer_mismatch");
    // Origin, when present, decides alone: a good Referer does not rescue a bad Origin.
    expect_refused(anyone,
                   post("/form", "Origin: https://evil.example\r\n"
                                 "Referer: https://app.example.com/\r\n"),
                   "origin not allowed", "csrf.origin_mismatch");
}

TEST_F(AccessPoliciesTest, MachineClientsMayOmitOriginWhereAllowed) {
    start_with_policies(kCsrfPolicies);
    const ClientOptions anyone;
    expect_forwarded(anyone, post("/hooks/build"));
    // allow_missing_origin does not let a wrong Origin through.
    expect_refused(anyone, post("/hooks/build", "Origin: https://evil.example\r\n"),
                   "origin not allowed", "csrf.origin_mismatch");
}

// ---- cookies -------------------------------------------------------------------------------

TEST_F(AccessPoliciesTest, SetCookieGetsThePolicysSecureAndSameSite) {
    start_with_policies(
        "policies:\n"
        "  - name: plain\n"
        "    paths: [\"/plain\"]\n"
        "  - name: app\n"
        "    paths: [\"/\"]\n"
        "    cookies: {secure: true, same_site: Strict}\n");
    upstream->set_handler([](const SeenRequest&, Reply& reply) {
        reply.headers.push_back({"Set-Cookie", "sid=abc123; Path=/; SameSite=None; HttpOnly"});
        reply.headers.push_back({"Set-Cookie", "pref=\"a; SameSite=None; Secure\"; samesite=lax"});
        reply.headers.push_back({"Set-Cookie", "theme=dark"});
    });
    auto r = send(good_client(), get_request("/account"));
    ASSERT_EQ(r.status, 200);
    std::vector<std::string> cookies;
    for (const auto& [name, value] : r.headers)
        if (name == "Set-Cookie" || name == "set-cookie") cookies.push_back(value);
    EXPECT_EQ(cookies, (std::vector<std::string>{
                           "sid=abc123; Path=/; HttpOnly; Secure; SameSite=Strict",
                           "pref=\"a; SameSite=None; Secure\"; Secure; SameSite=Strict",
                           "theme=dark; Secure; SameSite=Strict"}));

    // A policy without `cookies` leaves them exactly as the app sent them.
    auto plain = send(good_client(), get_request("/plain"));
    ASSERT_EQ(plain.status, 200);
    EXPECT_EQ(plain.header("Set-Cookie"), "sid=abc123; Path=/; SameSite=None; HttpOnly");
}

}  // namespace
}  // namespace certgate::testing
