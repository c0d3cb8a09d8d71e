// SPEC "Routing": path normalization and its 400 cases, prefix matching, first policy wins,
// and what each client_certificate mode sends to the app.
#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

const char* const kFieldsBesidesVerify[] = {"X-SSL-Client-DN",         "X-SSL-Client-Issuer-DN",
                                            "X-SSL-Client-Serial",     "X-SSL-Client-Fingerprint",
                                            "X-SSL-Client-Not-Before", "X-SSL-Client-Not-After",
                                            "X-SSL-Client-SAN-DNS",    "X-SSL-Client-SAN-URI"};

class RoutingTest : public ProxyTest {
protected:
    void start_with_policies(const std::string& policies) {
        ConfigParts parts;
        parts.policies = policies;
        start(parts);
    }
    // Sends one request; expects the app to receive it; returns what it saw.
    SeenRequest forwarded(const std::string& raw_target, const ClientOptions& client) {
        const auto before = upstream->request_count();
        auto r = https_request(port(), client, get_request(raw_target));
        EXPECT_TRUE(r) << raw_target;
        if (r) {
            EXPECT_EQ(r->status, 200) << raw_target << ": " << r->body;
        }
        EXPECT_TRUE(upstream->wait_for_requests(before + 1)) << raw_target;
        auto seen = upstream->requests();
        return seen.size() > before ? seen.back() : SeenRequest{};
    }
    SeenRequest forwarded(const std::string& raw_target) {
        return forwarded(raw_target, good_client());
    }
    // The path the app received for `raw_target`.
    std::string app_target(const std::string& raw_target) { return forwarded(raw_target).target; }
    // The CSP certgate put on the response to `raw_target` (which policy applied).
    std::string csp_for(const std::string& raw_target) {
        auto r = https_request(port(), good_client(), get_request(raw_target));
        EXPECT_TRUE(r) << raw_target;
        if (!r) {
            return "";
        }
        EXPECT_EQ(r->status, 200) << raw_target;
        return r->header("Content-Security-Policy").value_or("(none)");
    }
    // 400, connection closed, nothing forwarded; and certgate goes on serving others.
    void expect_bad_path(const std::string& raw_target) {
        const auto before = upstream->request_count();
        TlsClient c(port(), good_client());
        ASSERT_TRUE(c.connect()) << c.error();
        ASSERT_TRUE(c.send(get_request(raw_target)));
        auto r = c.read_response();
        ASSERT_TRUE(r) << raw_target;
        EXPECT_EQ(r->status, 400) << raw_target;
        EXPECT_EQ(r->header("X-Frame-Options"), "DENY") << raw_target;
        EXPECT_TRUE(c.wait_closed()) << raw_target;
        EXPECT_EQ(upstream->request_count(), before)
            << raw_target << " reached the app as " << upstream->requests().back().target;
        auto next = https_request(port(), good_client(), get_request("/still-serving"));
        ASSERT_TRUE(next) << "no answer after refusing " << raw_target << ":\n"
                          << joined(proxy->log_lines());
        EXPECT_EQ(next->status, 200);
        ASSERT_TRUE(upstream->wait_for_requests(before + 1));
        EXPECT_EQ(upstream->requests().back().target, "/still-serving");
    }
};

// ---- normalization

TEST_F(RoutingTest, DotSegmentsAreResolved) {
    start();
    EXPECT_EQ(app_target("/a/./b/../c"), "/a/c");
}
TEST_F(RoutingTest, RepeatedSlashesAreMerged) {
    start();
    EXPECT_EQ(app_target("//x//y"), "/x/y");
}
TEST_F(RoutingTest, EncodedUnreservedCharactersAreDecoded) {
    start();
    EXPECT_EQ(app_target("/%7Euser"), "/~user");
    EXPECT_EQ(app_target("/%41b%2d"), "/Ab-");
}
TEST_F(RoutingTest, QueryStringPassesUntouched) {
    start();
    EXPECT_EQ(app_target("/a/../q?x=%2F&y=/a/../b&z=%7E"), "/q?x=%2F&y=/a/../b&z=%7E");
}
TEST_F(RoutingTest, EncodedSlashGets400) {
    start();
    expect_bad_path("/a%2Fb");
    expect_bad_path("/a%2fb");
}
TEST_F(RoutingTest, EncodedBackslashGets400) {
    start();
    expect_bad_path("/a%5Cb");
}
TEST_F(RoutingTest, EncodedNulGets400) {
    start();
    expect_bad_path("/a%00b");
}
TEST_F(RoutingTest, RawBackslashGets400) {
    start();
    expect_bad_path("/a\\b");
}
TEST_F(RoutingTest, ClimbingAboveRootGets400) {
    start();
    expect_bad_path("/../etc/passwd");
    expect_bad_path("/a/../../etc/passwd");
}

TEST_F(RoutingTest, TargetCharactersOutsideRfc3986Get400) {
    start();
    expect_bad_path("/a<b>\"{}|^`[]");
    expect_bad_path("/caf\xC3\xA9");
    expect_bad_path("/a?q=\x80\xFF");
    expect_bad_path("/a?filter[x]=1");
    expect_bad_path("/a?x=%G0");
    EXPECT_TRUE(proxy->wait_for_log({"\"status\":400", "\"rule\":\"path.invalid_char\""}));
    EXPECT_TRUE(proxy->wait_for_log({"\"status\":400", "\"rule\":\"path.bad_escape\""}));
    EXPECT_EQ(app_target("/a-._~!$&'()*+,;=:@?q=/?%5B%5D"), "/a-._~!$&'()*+,;=:@?q=/?%5B%5D");
}

// ---- prefixes

constexpr const char* kPrefixPolicies =
    "policies:\n"
    "  - name: api\n"
    "    paths: [\"/api\"]\n"
    "    frame_ancestors: [\"'self'\"]\n"
    "  - name: docs\n"
    "    paths: [\"/docs/\"]\n"
    "    frame_ancestors: [\"https://docs.example\"]\n"
    "  - name: default\n"
    "    paths: [\"/\"]\n";

TEST_F(RoutingTest, PrefixWithoutSlashMatchesExactPathAndFolderOnly) {
    start_with_policies(kPrefixPolicies);
    EXPECT_EQ(csp_for("/api"), "frame-ancestors 'self'");
    EXPECT_EQ(csp_for("/api/x"), "frame-ancestors 'self'");
    EXPECT_EQ(csp_for("/api/"), "frame-ancestors 'self'");
    EXPECT_EQ(csp_for("/apix"), "frame-ancestors 'none'");
    EXPECT_EQ(csp_for("/api-v2/x"), "frame-ancestors 'none'");
}
TEST_F(RoutingTest, PrefixWithSlashMatchesTheFolderNotTheBareName) {
    start_with_policies(kPrefixPolicies);
    EXPECT_EQ(csp_for("/docs"), "frame-ancestors 'none'");
    EXPECT_EQ(csp_for("/docs/"), "frame-ancestors https://docs.example");
    EXPECT_EQ(csp_for("/docs/guide"), "frame-ancestors https://docs.example");
}
TEST_F(RoutingTest, PrefixesMatchCaseInsensitively) {
    start_with_policies(kPrefixPolicies);
    EXPECT_EQ(csp_for("/API/x"), "frame-ancestors 'self'");
    EXPECT_EQ(csp_for("/Docs/guide"), "frame-ancestors https://docs.example");
}
TEST_F(RoutingTest, PrefixesMatchTheNormalizedPath) {
    start_with_policies(kPrefixPolicies);
    EXPECT_EQ(csp_for("/x/../api/y"), "frame-ancestors 'self'");
    EXPECT_EQ(csp_for("//api"), "frame-ancestors 'self'");
    EXPECT_EQ(csp_for("/%61pi/y"), "frame-ancestors 'self'");
}
TEST_F(RoutingTest, PrefixesInTheConfigAreNormalizedLikeRequestPaths) {
    // Before, "/x//y" was compared with normalized paths as written and never matched.
    start_with_policies(
        "policies:\n"
        "  - name: xy\n"
        "    paths: [\"/x//y\", \"/%7Euser\", \"/p/../q/\"]\n"
        "    frame_ancestors: [\"https://xy.example\"]\n"
        "  - name: default\n"
        "    paths: [\"/\"]\n");
    EXPECT_EQ(csp_for("/x/y"), "frame-ancestors https://xy.example");
    EXPECT_EQ(csp_for("/x//y/z"), "frame-ancestors https://xy.example");
    EXPECT_EQ(csp_for("/~user"), "frame-ancestors https://xy.example");
    EXPECT_EQ(csp_for("/q/a"), "frame-ancestors https://xy.example");
    EXPECT_EQ(csp_for("/q"), "frame-ancestors 'none'");  // "/q/" stays a folder
    EXPECT_EQ(csp_for("/x"), "frame-ancestors 'none'");
}
TEST_F(RoutingTest, UpperCasePathCannotDodgeARequiredPolicy) {
    start_with_policies(
        "policies:\n"
        "  - name: admin\n"
        "    paths: [\"/admin\"]\n"
        "    client_certificate: required\n"
        "  - name: open\n"
        "    paths: [\"/\"]\n"
        "    client_certificate: none\n");
    for (const char* path : {"/ADMIN/x", "/Admin", "/admin/x", "/x/../ADMIN"}) {
        auto r = https_request(port(), ClientOptions{}, get_request(path));
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 403) << path;
        EXPECT_EQ(r->body, "client certificate required\n") << path;
    }
    EXPECT_EQ(upstream->request_count(), 0u);
    auto r = https_request(port(), ClientOptions{}, get_request("/other"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(upstream->request_count(), 1u);
}
TEST_F(RoutingTest, FirstMatchingPolicyWins) {
    start_with_policies(
        "policies:\n"
        "  - name: first\n"
        "    paths: [\"/same\"]\n"
        "    frame_ancestors: [\"https://first.example\"]\n"
        "  - name: second\n"
        "    paths: [\"/same\"]\n"
        "    frame_ancestors: [\"https://second.example\"]\n"
        "  - name: catch_all\n"
        "    paths: [\"/\"]\n"
        "    frame_ancestors: [\"'self'\"]\n"
        "  - name: shadowed\n"
        "    paths: [\"/late\"]\n"
        "    frame_ancestors: [\"https://late.example\"]\n");
    EXPECT_EQ(csp_for("/same/page"), "frame-ancestors https://first.example");
    EXPECT_EQ(csp_for("/late"), "frame-ancestors 'self'");
    auto line = proxy->wait_for_log({"\"event\":\"request\"", "\"path\":\"/same/page\""});
    ASSERT_TRUE(line);
    EXPECT_NE(line->find("\"policy\":\"first\""), std::string::npos) << *line;
}
TEST_F(RoutingTest, PathNoPolicyMatchesGets404WithFrameHeaders) {
    start_with_policies(
        "policies:\n"
        "  - name: api\n"
        "    paths: [\"/api\"]\n");
    auto r = https_request(port(), good_client(), get_request("/other"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->header("Content-Security-Policy"), "frame-ancestors 'none'");
    EXPECT_EQ(r->header("X-Frame-Options"), "DENY");
    EXPECT_EQ(upstream->request_count(), 0u);
    EXPECT_EQ(forwarded("/api/x").target, "/api/x");
}

// ---- certificate modes (request-level enforcement)

TEST_F(RoutingTest, PolicyNoneSendsVerifyNoneEvenWithAValidCertificate) {
    start_with_policies(kMixedPolicies);
    auto seen = forwarded("/public/x");
    EXPECT_EQ(seen.header("X-SSL-Client-Verify"), "NONE");
    for (const char* h : kFieldsBesidesVerify) EXPECT_FALSE(seen.header(h)) << h;
}
TEST_F(RoutingTest, OptionalPolicyWithGoodCertificateSendsEveryField) {
    start_with_policies(kMixedPolicies);
    auto seen = forwarded("/opt/x");
    EXPECT_EQ(seen.header("X-SSL-Client-Verify"), "SUCCESS");
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), "CN=billing,O=Example Corp,C=US");
    EXPECT_EQ(seen.header("X-SSL-Client-Issuer-DN"), "CN=certgate test CA");
    EXPECT_EQ(seen.header("X-SSL-Client-SAN-DNS"), "billing.internal");
    EXPECT_EQ(seen.header("X-SSL-Client-SAN-URI"), "spiffe://example.org/ns/prod/sa/billing");
    for (const char* h : kFieldsBesidesVerify) {
        ASSERT_TRUE(seen.header(h)) << h;
        EXPECT_FALSE(seen.header(h)->empty()) << h;
        EXPECT_EQ(count_header(seen.headers, h), 1u) << h;
    }
}
TEST_F(RoutingTest, OptionalPolicyWithoutCertificateSendsVerifyNoneOnly) {
    start_with_policies(kMixedPolicies);
    auto seen = forwarded("/opt/x", ClientOptions{});
    EXPECT_EQ(seen.header("X-SSL-Client-Verify"), "NONE");
    for (const char* h : kFieldsBesidesVerify) EXPECT_FALSE(seen.header(h)) << h;
}
TEST_F(RoutingTest, RequestLevel403KeepsKeepAliveConnectionUsable) {
    start_with_policies(kMixedPolicies);
    TlsClient c(port(), ClientOptions{});
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/private")));
    auto refused = c.read_response();
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403);
    EXPECT_NE(refused->header("Connection"), "close");
    ASSERT_TRUE(c.send(get_request("/public/page")));
    auto allowed = c.read_response();
    ASSERT_TRUE(allowed) << "the connection did not survive the 403";
    EXPECT_EQ(allowed->status, 200);
    auto seen = upstream->requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].target, "/public/page");
}

}  // namespace
}  // namespace certgate::testing
