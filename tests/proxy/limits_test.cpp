// SPEC `limits:` and `upstream:` keys, and "Responses": every limit answers with its status
// code (413, 431, 408), an unreachable, slow or broken app gives 502/504 with the frame
// headers, a dead pooled connection is not reused, and max_connections holds further
// connections in the backlog.
#include <future>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

class LimitsTest : public ProxyTest {
protected:
    void start_with_limits(const std::string& limits_lines) {
        ConfigParts parts;
        parts.top_level_extra = "limits:\n" + limits_lines;
        start(parts);
    }
    // certgate's own error: short plain text with the policy's frame headers.
    static void expect_own_error(const HttpResponse& r, int status) {
        EXPECT_EQ(r.status, status);
        EXPECT_EQ(r.header("Content-Type").value_or("").rfind("text/plain", 0), 0u);
        EXPECT_FALSE(r.body.empty());
        EXPECT_LT(r.body.size(), 200u);
        EXPECT_EQ(r.header("Content-Security-Policy"), "frame-ancestors 'none'");
        EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
        EXPECT_EQ(r.header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
    }
    static long ms_since(Clock::time_point t) {
        return static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
    }
};

TEST_F(LimitsTest, ContentLengthOverBodyLimitGets413AndCloses) {
    start_with_limits("  max_request_body_bytes: 1KiB\n");
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2048\r\n\r\n" +
                       std::string(2048, 'b')));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    expect_own_error(*r, 413);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(LimitsTest, ChunkedBodyOverLimitMidStreamNeverCompletesAtTheApp) {
    start_with_limits("  max_request_body_bytes: 1KiB\n");
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "258\r\n" + std::string(600, 'a') + "\r\n"));
    c.send("258\r\n" + std::string(600, 'b') + "\r\n0\r\n\r\n");  // may fail once refused
    auto r = c.read_response();
    if (r) {
        EXPECT_EQ(r->status, 413);
    }
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(upstream->request_count(), 0u) << "the app received a complete over-limit body";
}

TEST_F(LimitsTest, OversizedRequestHeaderGets431AndCloses) {
    start_with_limits("  max_request_header_bytes: 2KiB\n");
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/", "X-Big: " + std::string(3072, 'a') + "\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    expect_own_error(*r, 431);
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(LimitsTest, HeaderUnderLimitStillPasses) {
    start_with_limits("  max_request_header_bytes: 2KiB\n");
    auto r = https_request(port(), good_client(), get_request("/", "X-Big: " + std::string(512, 'a') + "\r\n"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(LimitsTest, HalfARequestHeadGets408AfterHeaderTimeout) {
    start_with_limits("  header_timeout: 500ms\n");
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.send("GET /slow HTTP/1.1\r\nHost: loc"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << "no 408 after header_timeout";
    EXPECT_LT(ms_since(t0), 3000);
    expect_own_error(*r, 408);
    EXPECT_TRUE(c.wait_closed(3s));
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(LimitsTest, SilentConnectionIsClosedAfterHeaderTimeout) {
    start_with_limits("  header_timeout: 500ms\n");
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    const auto t0 = Clock::now();
    EXPECT_TRUE(c.wait_closed(4s)) << "an idle connection was held open";
    EXPECT_LT(ms_since(t0), 3000);
}

TEST_F(LimitsTest, StalledBodyGets408AfterBodyIdleTimeout) {
    start_with_limits("  body_idle_timeout: 500ms\n");
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n" +
                       std::string(10, 'z')));
    auto r = c.read_response();
    ASSERT_TRUE(r) << "no 408 after body_idle_timeout";
    EXPECT_LT(ms_since(t0), 3000);
    expect_own_error(*r, 408);
    EXPECT_TRUE(c.wait_closed(3s));
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(LimitsTest, UpstreamDownGives502WithFrameHeaders) {
    ConfigParts parts;
    parts.upstream_url = "http://127.0.0.1:" + std::to_string(free_port());
    start(parts);
    auto r = https_request(port(), good_client(), get_request("/"));
    ASSERT_TRUE(r);
    expect_own_error(*r, 502);
}

TEST_F(LimitsTest, SlowUpstreamGives504AfterResponseTimeout) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) { reply.delay = 2s; });
    ConfigParts parts;
    parts.upstream_extra = "  response_timeout: 300ms\n";
    start(parts);
    const auto t0 = Clock::now();
    auto r = https_request(port(), good_client(), get_request("/slow"));
    ASSERT_TRUE(r);
    EXPECT_LT(ms_since(t0), 1800) << "waited for the app instead of response_timeout";
    expect_own_error(*r, 504);
}

TEST_F(LimitsTest, UpstreamClosingWithoutResponseGives502) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) { reply.raw = ""; });
    start();
    auto r = https_request(port(), good_client(), get_request("/"));
    ASSERT_TRUE(r);
    expect_own_error(*r, 502);
}

TEST_F(LimitsTest, InvalidHttpFromUpstreamGives502) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) { reply.raw = "garbage\r\n\r\n"; });
    start();
    auto r = https_request(port(), good_client(), get_request("/"));
    ASSERT_TRUE(r);
    expect_own_error(*r, 502);
}

TEST_F(LimitsTest, AmbiguousFramingFromUpstreamGives502) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) {
        reply.raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n0\r\n\r\n";
    });
    start();
    auto r = https_request(port(), good_client(), get_request("/"));
    ASSERT_TRUE(r);
    expect_own_error(*r, 502);
    EXPECT_EQ(r->body.find("hello"), std::string::npos);
}

TEST_F(LimitsTest, UpstreamConnectionClosedByAppIsNotReused) {
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
        reply.close = seen.target == "/first";
    });
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    for (const char* path : {"/first", "/second"}) {
        ASSERT_TRUE(c.send(get_request(path)));
        auto r = c.read_response();
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200) << path;
    }
    EXPECT_EQ(upstream->request_count(), 2u);
    EXPECT_EQ(upstream->connection_count(), 2u);
}

TEST_F(LimitsTest, PooledConnectionSilentlyClosedByAppIsRetriedForGet) {
    // The app answers keep-alive style, then drops the connection: the pooled connection is
    // dead, and the next GET must still get its answer (fresh connection).
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
        if (seen.target == "/first") reply.raw = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
    });
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    for (const char* path : {"/first", "/second", "/third"}) {
        ASSERT_TRUE(c.send(get_request(path)));
        auto r = c.read_response();
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200) << path;
        EXPECT_EQ(r->body, "ok\n") << path;
    }
    EXPECT_EQ(upstream->request_count(), 3u);
    EXPECT_EQ(upstream->connection_count(), 2u);
}

TEST_F(LimitsTest, MaxConnectionsHoldsFurtherConnectionsUntilOneCloses) {
    start_with_limits("  max_connections: 2\n");  // the harness runs workers: 1
    auto first = std::make_unique<TlsClient>(port(), good_client());
    TlsClient second(port(), good_client());
    ASSERT_TRUE(first->connect()) << first->error();
    ASSERT_TRUE(second.connect()) << second.error();
    TlsClient third(port(), good_client());
    auto handshake = std::async(std::launch::async, [&] { return third.connect(); });
    EXPECT_EQ(handshake.wait_for(300ms), std::future_status::timeout)
        << "a third connection was served over max_connections: 2";
    first.reset();  // frees a slot
    ASSERT_EQ(handshake.wait_for(5s), std::future_status::ready)
        << "the waiting connection was never accepted";
    ASSERT_TRUE(handshake.get()) << third.error();
    ASSERT_TRUE(third.send(get_request("/third")));
    auto r = third.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(second.send(get_request("/second")));
    auto r2 = second.read_response();
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->status, 200);
}

}  // namespace
}  // namespace certgate::testing
