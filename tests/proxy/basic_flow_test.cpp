// The core promise end to end: a verified client reaches the app with certgate's identity
// headers, and every response carries the frame headers.
#include <thread>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

TEST_F(ProxyTest, VerifiedClientReachesAppWithIdentityHeaders) {
    start();
    auto r = https_request(port(), good_client(), get_request("/hello?x=1"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok\n");
    ASSERT_TRUE(upstream->wait_for_requests(1));
    auto seen = upstream->requests().at(0);
    EXPECT_EQ(seen.target, "/hello?x=1");
    EXPECT_EQ(seen.header("X-SSL-Client-Verify"), "SUCCESS");
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), "CN=billing,O=Example Corp,C=US");
    EXPECT_EQ(seen.header("X-SSL-Client-Issuer-DN"), "CN=certgate test CA");
    EXPECT_EQ(seen.header("X-SSL-Client-SAN-DNS"), "billing.internal");
    EXPECT_EQ(seen.header("X-SSL-Client-SAN-URI"), "spiffe://example.org/ns/prod/sa/billing");
    EXPECT_EQ(seen.header("X-SSL-Client-Fingerprint")->size(), 64u);
    EXPECT_EQ(seen.header("X-Forwarded-Proto"), "https");
    EXPECT_EQ(seen.header("X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(seen.header("X-Real-IP"), "127.0.0.1");
    EXPECT_EQ(seen.header("X-Request-Id")->size(), 32u);
}

TEST_F(ProxyTest, EveryResponseCarriesFrameHeadersAndHsts) {
    start();
    auto r = https_request(port(), good_client(), get_request("/"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("Content-Security-Policy"), "frame-ancestors 'none'");
    EXPECT_EQ(r->header("X-Frame-Options"), "DENY");
    EXPECT_EQ(r->header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
}

TEST_F(ProxyTest, KeepAliveServesSeveralRequestsOnOneConnectionAndPoolsUpstream) {
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(c.send(get_request("/n" + std::to_string(i))));
        auto r = c.read_response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->status, 200);
    }
    EXPECT_EQ(upstream->request_count(), 5u);
    EXPECT_EQ(upstream->connection_count(), 1u);  // the pool reused one upstream connection
}

// Between requests a connection keeps its last exchange's heads for a moment, then the
// worker's sweep (every 100 ms) frees them; requests must go on across both states. The
// pauses are the idle time under test, not a synchronisation.
TEST_F(ProxyTest, KeepAliveConnectionServesOnAfterItsIdleMemoryIsReleased) {
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    for (auto pause : {0ms, 350ms, 0ms, 350ms}) {
        std::this_thread::sleep_for(pause);
        ASSERT_TRUE(c.send(get_request("/after-" + std::to_string(pause.count()),
                                       "X-Pad: " + std::string(2000, 'p') + "\r\n")));
        auto r = c.read_response();
        ASSERT_TRUE(r) << pause.count();
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->header("X-Frame-Options"), "DENY");
    }
    EXPECT_EQ(upstream->request_count(), 4u);
}

TEST_F(ProxyTest, LogsOneJsonLinePerRequest) {
    start();
    auto r = https_request(port(), good_client(), get_request("/logged", "X-Request-Id: abc-123\r\n"));
    ASSERT_TRUE(r);
    auto line = proxy->wait_for_log({"\"event\":\"request\"", "\"path\":\"/logged\""});
    ASSERT_TRUE(line);
    for (const char* field : {"\"time\":", "\"client\":\"127.0.0.1:", "\"method\":\"GET\"",
                              "\"status\":200", "\"bytes_in\":0", "\"bytes_out\":3",
                              "\"duration_ms\":", "\"upstream_ms\":", "\"policy\":\"default\"",
                              "\"verify\":\"SUCCESS\"",
                              "\"subject\":\"CN=billing,O=Example Corp,C=US\"",
                              "\"fingerprint\":\"", "\"request_id\":\"abc-123\""})
        EXPECT_NE(line->find(field), std::string::npos) << field << " in " << *line;
}

}  // namespace
}  // namespace certgate::testing
