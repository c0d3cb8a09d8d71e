// redirect_http: a plain listener that answers every request with 308 to the https URL and
// forwards nothing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

class RedirectTest : public ProxyTest {
protected:
    void start_with_redirect() {
        redirect_port = free_port();
        ConfigParts parts;
        parts.top_level_extra = "redirect_http: \"127.0.0.1:" + std::to_string(redirect_port) + "\"\n";
        start(parts);
    }
    std::uint16_t redirect_port = 0;
};

TEST_F(RedirectTest, AnswersWith308ToTheHttpsUrlKeepingTheTarget) {
    start_with_redirect();
    auto out = plain_exchange(redirect_port,
                              "GET /a/b?c=1&d=%20 HTTP/1.1\r\nHost: app.example:8080\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 308 ", 0), 0u) << out;
    EXPECT_NE(out.find("\r\nLocation: https://app.example:" + std::to_string(port()) +
                       "/a/b?c=1&d=%20\r\n"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("\r\nContent-Security-Policy: frame-ancestors 'none'\r\n"), std::string::npos);
    EXPECT_NE(out.find("\r\nX-Frame-Options: DENY\r\n"), std::string::npos);
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(RedirectTest, PostIsRedirectedToo) {
    start_with_redirect();
    auto out = plain_exchange(redirect_port,
                              "POST /form HTTP/1.1\r\nHost: app.example\r\nContent-Length: 3\r\n\r\nabc");
    EXPECT_EQ(out.rfind("HTTP/1.1 308 ", 0), 0u) << out;
    EXPECT_NE(out.find("Location: https://app.example:" + std::to_string(port()) + "/form\r\n"),
              std::string::npos);
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(RedirectTest, MalformedRequestGets400AndNoLocation) {
    start_with_redirect();
    auto out = plain_exchange(redirect_port, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 400 ", 0), 0u) << out;
    EXPECT_EQ(out.find("Location:"), std::string::npos);
    auto smuggle = plain_exchange(redirect_port, "GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(smuggle.rfind("HTTP/1.1 400 ", 0), 0u) << smuggle;
}

TEST_F(RedirectTest, HeadGets308And400WithoutABody) {
    start_with_redirect();
    // RFC 9110 9.3.2: the GET's headers, Content-Length included, and nothing after them.
    auto get = plain_exchange(redirect_port, "GET /a HTTP/1.1\r\nHost: app.example\r\n\r\n");
    auto head = plain_exchange(redirect_port, "HEAD /a HTTP/1.1\r\nHost: app.example\r\n\r\n");
    EXPECT_EQ(head.rfind("HTTP/1.1 308 ", 0), 0u) << head;
    EXPECT_NE(head.find("\r\nLocation: https://app.example:" + std::to_string(port()) + "/a\r\n"),
              std::string::npos)
        << head;
    const auto get_end = get.find("\r\n\r\n");
    ASSERT_NE(get_end, std::string::npos) << get;
    EXPECT_GT(get.size(), get_end + 4) << "the GET's 308 has a body";
    EXPECT_EQ(head, get.substr(0, get_end + 4)) << "HEAD differs from GET's head, or has a body";
    auto bad = plain_exchange(redirect_port, "HEAD / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    EXPECT_EQ(bad.rfind("HTTP/1.1 400 ", 0), 0u) << bad;
    EXPECT_EQ(bad.find("\r\n\r\n") + 4, bad.size()) << bad;
    EXPECT_EQ(upstream->request_count(), 0u);
}

// The Host rule itself is pinned in tests/policies/redirect_test.cpp.
TEST_F(RedirectTest, InvalidHostGets400AndNoLocation) {
    start_with_redirect();
    for (const char* host : {"[::1", "localhost:abc", "localhost:", "-evil-"}) {
        auto out = plain_exchange(redirect_port,
                                  std::string("GET /x HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
        EXPECT_EQ(out.rfind("HTTP/1.1 400 ", 0), 0u) << host << "\n" << out;
        EXPECT_EQ(out.find("Location:"), std::string::npos) << host << "\n" << out;
    }
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(RedirectTest, TlsListenerStillServesBesideIt) {
    start_with_redirect();
    auto r = https_request(port(), good_client(), get_request("/"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace certgate::testing
