// SPEC "Responses": CSP frame-ancestors (merge | override | if_missing), X-Frame-Options,
// HSTS and response_headers on every response, the app's and certgate's own; hop-by-hop
// response headers never reach the client.
#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

constexpr const char* kCsp = "Content-Security-Policy";

class ResponsesTest : public ProxyTest {
protected:
    // One policy for every path, with `lines` (indented 4) added to it.
    void start_policy(const std::string& lines) {
        ConfigParts parts;
        parts.policies = "policies:\n  - name: p\n    paths: [\"/\"]\n" + lines;
        start(parts);
    }
    // The app answers every request with `headers` added to its reply.
    void app_sends(Headers headers) {
        upstream->set_handler([headers](const SeenRequest&, Reply& reply) {
            for (const auto& h : headers) reply.headers.push_back(h);
        });
    }
    HttpResponse get(const std::string& path = "/") {
        auto r = https_request(port(), good_client(), get_request(path));
        EXPECT_TRUE(r);
        if (r) {
            EXPECT_EQ(r->status, 200);
        }
        return r.value_or(HttpResponse{});
    }
    static std::vector<std::string> all(const HttpResponse& r, const std::string& name) {
        std::vector<std::string> out;
        for (const auto& [k, v] : r.headers)
            if (count_header({{k, v}}, name) == 1) out.push_back(v);
        return out;
    }
    // /public needs nothing, /private requires a certificate and has its own frame policy;
    // nothing else is routed.
    void start_for_own_responses() {
        upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
            if (seen.target.ends_with("/slow")) reply.delay = 2s;
            if (seen.target == "/public/broken") reply.raw = "";
        });
        ConfigParts parts;
        parts.upstream_extra = "  response_timeout: 300ms\n";
        parts.policies =
            "policies:\n"
            "  - name: public\n"
            "    paths: [\"/public\"]\n"
            "    client_certificate: none\n"
            "  - name: private\n"
            "    paths: [\"/private\"]\n"
            "    client_certificate: required\n"
            "    frame_ancestors: [\"'self'\"]\n"
            "    response_headers: {X-Content-Type-Options: nosniff}\n";
        start(parts);
    }
    // certgate's own response: short plain text with exactly one CSP and X-Frame-Options.
    HttpResponse own(const std::string& raw, int status, const ClientOptions& client = {}) {
        auto r = https_request(port(), client, raw);
        EXPECT_TRUE(r) << raw;
        if (!r) return {};
        EXPECT_EQ(r->status, status) << raw;
        EXPECT_EQ(r->header("Content-Type").value_or("").rfind("text/plain", 0), 0u) << raw;
        EXPECT_FALSE(r->body.empty()) << raw;
        EXPECT_LT(r->body.size(), 200u) << raw;
        EXPECT_EQ(r->count(kCsp), 1u) << raw;
        EXPECT_EQ(r->header(kCsp).value_or("").rfind("frame-ancestors ", 0), 0u) << raw;
        EXPECT_EQ(r->count("X-Frame-Options"), 1u) << raw;
        return *r;
    }
    // /req requires a certificate, /opt does not, /picky allows nobody; nothing else is
    // routed. The app fails in the ways its target names.
    void start_for_head_responses() {
        upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
            if (seen.target.ends_with("/slow")) reply.delay = 2s;
            if (seen.target == "/opt/dropped") reply.raw = "";
            if (seen.target == "/opt/ambiguous")
                reply.raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        });
        ConfigParts parts;
        parts.upstream_extra = "  response_timeout: 300ms\n";
        parts.policies =
            "policies:\n"
            "  - name: req\n"
            "    paths: [\"/req\"]\n"
            "    client_certificate: required\n"
            "  - name: opt\n"
            "    paths: [\"/opt\"]\n"
            "    client_certificate: optional\n"
            "  - name: picky\n"
            "    paths: [\"/picky\"]\n"
            "    client_certificate: optional\n"
            "    allow: {subjects: [\"CN=somebody else\"]}\n";
        start(parts);
    }
    // HEAD `path`, then GET `path`, then GET /opt/x on one connection. The HEAD answer is the
    // GET's status and headers (its Content-Length included) without a single body byte: any
    // would be read as the start of the next response (RFC 9110 9.3.2).
    static void expect_head_without_body(TlsClient& c, const std::string& path, int status) {
        ASSERT_TRUE(c.send("HEAD " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n"));
        auto head = c.read_response(true);
        ASSERT_TRUE(head) << "HEAD " << path;
        EXPECT_EQ(head->status, status) << path;
        EXPECT_TRUE(head->body.empty()) << path;
        EXPECT_EQ(head->header("Connection"), std::nullopt) << path;  // kept alive
        EXPECT_EQ(head->count("X-Frame-Options"), 1u) << path;
        ASSERT_TRUE(c.send(get_request(path)));
        auto get = c.read_response();
        ASSERT_TRUE(get) << "the GET after HEAD " << path << " did not parse";
        EXPECT_EQ(get->status, status) << path;
        EXPECT_FALSE(get->body.empty()) << path;
        EXPECT_EQ(head->header("Content-Length"), std::to_string(get->body.size())) << path;
        EXPECT_EQ(head->header("Content-Type"), get->header("Content-Type")) << path;
        ASSERT_TRUE(c.send(get_request("/opt/x")));
        auto next = c.read_response();
        ASSERT_TRUE(next) << "the request after HEAD " << path << " did not parse";
        EXPECT_EQ(next->status, 200) << path;
        EXPECT_EQ(next->body, "ok\n") << path;
    }
};

TEST_F(ResponsesTest, MergeReplacesAppFrameAncestors) {
    app_sends({{kCsp, "default-src 'self'; frame-ancestors *"}});
    start();
    auto r = get();
    EXPECT_EQ(all(r, kCsp), std::vector<std::string>{"default-src 'self'; frame-ancestors 'none'"});
}

TEST_F(ResponsesTest, MergeAppendsFrameAncestorsToAppCspWithoutIt) {
    app_sends({{kCsp, "default-src 'self'"}});
    start();
    EXPECT_EQ(all(get(), kCsp), std::vector<std::string>{"default-src 'self'; frame-ancestors 'none'"});
}

TEST_F(ResponsesTest, MergeRewritesEachCommaJoinedPolicy) {
    app_sends({{kCsp, "default-src 'self'; frame-ancestors *, frame-ancestors https://evil.example; img-src *"}});
    start();
    auto csp = all(get(), kCsp);
    ASSERT_EQ(csp.size(), 1u);
    EXPECT_EQ(csp[0], "default-src 'self'; frame-ancestors 'none', frame-ancestors 'none'; img-src *");
}

TEST_F(ResponsesTest, MergeReplacesMixedCaseDirectiveName) {
    app_sends({{kCsp, "Frame-ANCESTORS https://evil.example; script-src 'self'"}});
    start();
    auto csp = all(get(), kCsp);
    ASSERT_EQ(csp.size(), 1u);
    EXPECT_EQ(csp[0], "frame-ancestors 'none'; script-src 'self'");
}

TEST_F(ResponsesTest, MergeHandlesSeveralCspHeaders) {
    app_sends({{kCsp, "default-src 'self'"}, {kCsp, "img-src *; frame-ancestors https://evil.example"}});
    start();
    auto csp = all(get(), kCsp);
    // One of them had frame-ancestors: it is replaced there, nothing is appended elsewhere.
    EXPECT_EQ(csp, (std::vector<std::string>{"default-src 'self'", "img-src *; frame-ancestors 'none'"}));
}

TEST_F(ResponsesTest, MergeAddsCspWhenAppSentNone) {
    start();
    EXPECT_EQ(all(get(), kCsp), std::vector<std::string>{"frame-ancestors 'none'"});
}

TEST_F(ResponsesTest, ReportOnlyCspIsLeftAlone) {
    app_sends({{"Content-Security-Policy-Report-Only", "frame-ancestors *; report-uri /r"}});
    start();
    auto r = get();
    EXPECT_EQ(r.header("Content-Security-Policy-Report-Only"), "frame-ancestors *; report-uri /r");
    EXPECT_EQ(r.count("Content-Security-Policy-Report-Only"), 1u);
    EXPECT_EQ(all(r, kCsp), std::vector<std::string>{"frame-ancestors 'none'"});
}

TEST_F(ResponsesTest, OverrideReplacesAppCspWithFrameAncestorsAlone) {
    app_sends({{kCsp, "default-src 'self'; frame-ancestors *"}, {kCsp, "img-src *"}});
    start_policy("    csp_mode: override\n    frame_ancestors: [\"'self'\", \"https://parent.example\"]\n");
    EXPECT_EQ(all(get(), kCsp), std::vector<std::string>{"frame-ancestors 'self' https://parent.example"});
}

TEST_F(ResponsesTest, IfMissingKeepsAppCspVerbatimAndAddsWhenAbsent) {
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
        if (seen.target == "/with") reply.headers.emplace_back(kCsp, "default-src 'self'; frame-ancestors *");
    });
    start_policy("    csp_mode: if_missing\n");
    EXPECT_EQ(all(get("/with"), kCsp), std::vector<std::string>{"default-src 'self'; frame-ancestors *"});
    EXPECT_EQ(all(get("/without"), kCsp), std::vector<std::string>{"frame-ancestors 'none'"});
}

TEST_F(ResponsesTest, AutoFrameOptionsIsSameOriginWithSelf) {
    app_sends({{"X-Frame-Options", "ALLOW-FROM https://evil.example"}});
    start_policy("    frame_ancestors: [\"'self'\"]\n");
    auto r = get();
    EXPECT_EQ(all(r, "X-Frame-Options"), std::vector<std::string>{"SAMEORIGIN"});
    EXPECT_EQ(all(r, kCsp), std::vector<std::string>{"frame-ancestors 'self'"});
}

TEST_F(ResponsesTest, AutoFrameOptionsIsDenyWithNone) {
    app_sends({{"X-Frame-Options", "SAMEORIGIN"}});
    start_policy("    frame_ancestors: [\"'none'\"]\n");
    EXPECT_EQ(all(get(), "X-Frame-Options"), std::vector<std::string>{"DENY"});
}

TEST_F(ResponsesTest, ExplicitFrameOptionsReplacesApps) {
    app_sends({{"X-Frame-Options", "DENY"}});
    start_policy("    x_frame_options: SAMEORIGIN\n");
    EXPECT_EQ(all(get(), "X-Frame-Options"), std::vector<std::string>{"SAMEORIGIN"});
}

TEST_F(ResponsesTest, FrameOptionsOffRemovesApps) {
    app_sends({{"X-Frame-Options", "DENY"}});
    start_policy("    x_frame_options: \"off\"\n");
    auto r = get();
    EXPECT_EQ(r.count("X-Frame-Options"), 0u);
    EXPECT_EQ(all(r, kCsp), std::vector<std::string>{"frame-ancestors 'none'"});  // CSP still set
}

TEST_F(ResponsesTest, HstsReplacesApps) {
    app_sends({{"Strict-Transport-Security", "max-age=0"}});
    start_policy("    hsts: \"max-age=600\"\n");
    EXPECT_EQ(all(get(), "Strict-Transport-Security"), std::vector<std::string>{"max-age=600"});
}

TEST_F(ResponsesTest, NullHstsPassesAppsOwnHeaderAndAddsNone) {
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
        if (seen.target == "/with") reply.headers.emplace_back("Strict-Transport-Security", "max-age=42");
    });
    start_policy("    hsts: null\n");
    EXPECT_EQ(all(get("/with"), "Strict-Transport-Security"), std::vector<std::string>{"max-age=42"});
    EXPECT_EQ(get("/without").count("Strict-Transport-Security"), 0u);
}

TEST_F(ResponsesTest, ResponseHeadersAreSetReplacingApps) {
    app_sends({{"X-Content-Type-Options", "sniff-away"}, {"Referrer-Policy", "unsafe-url"},
               {"Referrer-Policy", "origin"}});
    start_policy("    response_headers: {X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer}\n");
    auto r = get();
    EXPECT_EQ(all(r, "X-Content-Type-Options"), std::vector<std::string>{"nosniff"});
    EXPECT_EQ(all(r, "Referrer-Policy"), std::vector<std::string>{"no-referrer"});
}

TEST_F(ResponsesTest, ResponseHeadersAreSetWhenAppSentNone) {
    start_policy("    response_headers: {X-Content-Type-Options: nosniff}\n");
    EXPECT_EQ(all(get(), "X-Content-Type-Options"), std::vector<std::string>{"nosniff"});
}

TEST_F(ResponsesTest, OwnRefusal403CarriesThePolicysHeaders) {
    start_for_own_responses();
    auto r = own(get_request("/private/x"), 403);
    EXPECT_EQ(r.header(kCsp), "frame-ancestors 'self'");
    EXPECT_EQ(r.header("X-Frame-Options"), "SAMEORIGIN");
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(ResponsesTest, OwnBadRequest400CarriesFrameHeaders) {
    start_for_own_responses();
    own("GET /public/a%2Fb HTTP/1.1\r\nHost: localhost\r\n\r\n", 400);
    own("GET /public HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(ResponsesTest, OwnUnrouted404CarriesFrameHeaders) {
    start_for_own_responses();
    own(get_request("/elsewhere"), 404, good_client());
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(ResponsesTest, OwnUpstreamFailure502CarriesFrameHeaders) {
    start_for_own_responses();
    auto r = own(get_request("/public/broken"), 502);
    EXPECT_EQ(r.header(kCsp), "frame-ancestors 'none'");
    EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
}

TEST_F(ResponsesTest, OwnUpstreamTimeout504CarriesThePolicysHeaders) {
    start_for_own_responses();
    auto r = own(get_request("/private/slow"), 504, good_client());
    EXPECT_EQ(r.header(kCsp), "frame-ancestors 'self'");
    EXPECT_EQ(r.header("X-Frame-Options"), "SAMEORIGIN");
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
}

TEST_F(ResponsesTest, OwnErrorsToHeadHaveNoBodyAndKeepTheConnectionInStep) {
    start_for_head_responses();
    TlsClient c(port());  // no certificate
    ASSERT_TRUE(c.connect()) << c.error();
    expect_head_without_body(c, "/req/x", 403);          // client certificate required
    expect_head_without_body(c, "/elsewhere", 404);      // no policy for this path
    expect_head_without_body(c, "/opt/dropped", 502);    // app closed without answering
    expect_head_without_body(c, "/opt/ambiguous", 502);  // ambiguous framing from the app
    expect_head_without_body(c, "/opt/slow", 504);       // no response head in time
}

TEST_F(ResponsesTest, IdentityRefusalToHeadHasNoBody) {
    start_for_head_responses();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    expect_head_without_body(c, "/picky/x", 403);  // client identity not allowed
}

TEST_F(ResponsesTest, AppDown502ToHeadHasNoBody) {
    ConfigParts parts;
    parts.upstream_url = "http://127.0.0.1:" + std::to_string(free_port());  // nothing listens
    start(parts);
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send("HEAD /x HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    auto head = c.read_response(true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 502);
    EXPECT_TRUE(head->body.empty());
    ASSERT_TRUE(c.send(get_request("/x")));
    auto get = c.read_response();
    ASSERT_TRUE(get) << "the GET after HEAD did not parse";
    EXPECT_EQ(get->status, 502);
    EXPECT_EQ(get->body, "upstream unavailable\n");
    EXPECT_EQ(head->header("Content-Length"), std::to_string(get->body.size()));
}

TEST_F(ResponsesTest, HopByHopResponseHeadersAreNotPassedToClient) {
    app_sends({{"Connection", "X-Foo"}, {"X-Foo", "1"}, {"Keep-Alive", "timeout=5"},
               {"Upgrade", "h2c"}, {"Trailer", "X-T"}, {"Proxy-Connection", "keep-alive"},
               {"X-Kept", "yes"}});
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    for (const char* h : {"X-Foo", "Keep-Alive", "Upgrade", "Trailer", "Proxy-Connection"})
        EXPECT_EQ(r->count(h), 0u) << h;
    EXPECT_EQ(r->header("Connection").value_or("").find("X-Foo"), std::string::npos);
    EXPECT_EQ(r->header("X-Kept"), "yes");
    ASSERT_TRUE(c.send(get_request("/again")));  // the client connection is still usable
    auto again = c.read_response();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200);
}

}  // namespace
}  // namespace certgate::testing
