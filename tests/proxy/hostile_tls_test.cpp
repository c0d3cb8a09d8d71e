// Issue 4, hostile clients at the TLS layer: handshakes that stall (half a ClientHello, a
// whole one then silence, one trickled a byte at a time) are closed at limits.header_timeout
// without holding up anybody else, and garbage where a ClientHello belongs (random bytes,
// plain HTTP, an oversized record, an SSLv2 hello) is closed at once, logged, and never
// forwarded. Renegotiation and over-deep chains are pinned in tls_test.cpp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The ClientHello a stock OpenSSL client sends first, captured through memory BIOs.
std::string client_hello() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_connect(ssl);  // wants to read the ServerHello: the hello is in wbio
    char* data = nullptr;
    const long n = BIO_get_mem_data(wbio, &data);
    std::string hello(data, n > 0 ? static_cast<std::size_t>(n) : 0);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return hello;
}

// A plain TCP connection to certgate's TLS port, for bytes no TLS library would send.
class RawConnection {
public:
    explicit RawConnection(std::uint16_t port) : opened_(Clock::now()) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~RawConnection() { ::close(fd_); }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    bool connected() const { return connected_; }
    Clock::time_point opened() const { return opened_; }
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    // Still open right now: takes what certgate sent so far (its ServerHello, say) and
    // finds no end of stream behind it.
    bool open_now() {
        char buf[4096];
        for (;;) {
            ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                received_.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        }
    }
    // Reads (and keeps) whatever certgate sends until it closes; false at the deadline.
    bool wait_closed(Clock::time_point deadline) {
        char buf[4096];
        for (;;) {
            const long left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                    .count();
            if (left <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed_at_ = Clock::now();
                return true;  // EOF or reset
            }
            received_.append(buf, static_cast<std::size_t>(n));
        }
    }
    const std::string& received() const { return received_; }
    long open_for_ms() const {
        return static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(closed_at_ - opened_).count());
    }

private:
    int fd_ = -1;
    bool connected_ = false;
    Clock::time_point opened_;
    Clock::time_point closed_at_{};
    std::string received_;
};

class HostileTlsTest : public ProxyTest {
protected:
    void start_with_header_timeout(const std::string& timeout) {
        ConfigParts parts;
        parts.top_level_extra = "limits:\n  header_timeout: " + timeout + "\n";
        start(parts);
    }
    // A good client gets its answer: the process is up and serving.
    void expect_served(const std::string& path) {
        auto r = https_request(port(), good_client(), get_request(path));
        ASSERT_TRUE(r) << "certgate did not serve " << path << "\n" << joined(proxy->log_lines());
        EXPECT_EQ(r->status, 200);
        EXPECT_FALSE(proxy->wait_exit(0ms)) << "certgate exited";
    }
    std::size_t handshake_failures(const std::string& reason) const {
        std::size_t n = 0;
        for (const auto& l : proxy->log_lines())
            if (l.find("\"event\":\"handshake_failed\"") != std::string::npos &&
                l.find(reason) != std::string::npos)
                ++n;
        return n;
    }

    // `stall` is sent, then nothing: every such connection is closed once header_timeout
    // (1500 ms) has passed since accept, not before, while a good client is served meanwhile.
    void expect_stalled_handshakes_closed_at_header_timeout(const std::string& stall) {
        constexpr auto timeout = 1500ms;
        start_with_header_timeout("1500ms");
        std::vector<std::unique_ptr<RawConnection>> stalled;
        for (int i = 0; i < 20; ++i) {
            stalled.push_back(std::make_unique<RawConnection>(port()));
            ASSERT_TRUE(stalled.back()->connected());
            ASSERT_TRUE(stalled.back()->send(stall));
        }
        expect_served("/meanwhile");
        for (auto& c : stalled) EXPECT_TRUE(c->open_now()) << "closed before header_timeout";
        const auto deadline = Clock::now() + timeout + 5s;
        for (auto& c : stalled) {
            ASSERT_TRUE(c->wait_closed(deadline)) << "a stalled handshake was held open";
            EXPECT_GE(c->open_for_ms(), timeout.count() - 20);
            EXPECT_EQ(c->received().find("HTTP/"), std::string::npos);
        }
        for (std::size_t n = 1; n <= stalled.size(); ++n)
            ASSERT_TRUE(proxy->wait_for_nth_log(
                {"\"event\":\"handshake_failed\"", "handshake timed out"}, n))
                << joined(proxy->log_lines());
        expect_served("/after");
        ASSERT_TRUE(upstream->wait_for_requests(2));
        auto seen = upstream->requests();
        ASSERT_EQ(seen.size(), 2u);
        EXPECT_EQ(seen[0].target, "/meanwhile");
        EXPECT_EQ(seen[1].target, "/after");
    }

    // `garbage` instead of a ClientHello: closed well before header_timeout (20 s), with
    // no HTTP answer, a handshake failure logged, nothing forwarded, and certgate serving on.
    void expect_refused_at_once(const std::string& garbage) {
        start_with_header_timeout("20s");
        RawConnection c(port());
        ASSERT_TRUE(c.connected());
        ASSERT_TRUE(c.send(garbage));
        ASSERT_TRUE(c.wait_closed(Clock::now() + 10s)) << "garbage held the connection open";
        EXPECT_EQ(c.received().find("HTTP/"), std::string::npos) << c.received();
        auto logged = proxy->wait_for_log({"\"event\":\"handshake_failed\""});
        ASSERT_TRUE(logged) << joined(proxy->log_lines());
        EXPECT_EQ(logged->find("handshake timed out"), std::string::npos) << *logged;
        EXPECT_EQ(upstream->request_count(), 0u);
        expect_served("/after");
        EXPECT_EQ(upstream->request_count(), 1u);
    }
};

// ---- stalls: closed at header_timeout, others unaffected

TEST_F(HostileTlsTest, HalfAClientHelloIsClosedAtHeaderTimeoutWhileOthersAreServed) {
    const std::string hello = client_hello();
    ASSERT_GT(hello.size(), 100u);
    expect_stalled_handshakes_closed_at_header_timeout(hello.substr(0, hello.size() / 2));
}

TEST_F(HostileTlsTest, WholeClientHelloThenSilenceIsClosedAtHeaderTimeout) {
    expect_stalled_handshakes_closed_at_header_timeout(client_hello());
}

TEST_F(HostileTlsTest, RecordHeaderPromisingMoreThanSentIsClosedAtHeaderTimeout) {
    expect_stalled_handshakes_closed_at_header_timeout(std::string("\x16\x03\x01\x40\x00", 5));
}

// Slowloris on the handshake: bytes keep coming, but header_timeout counts from accept.
TEST_F(HostileTlsTest, ClientHelloTrickledByteByByteIsStillClosedAtHeaderTimeout) {
    start_with_header_timeout("1s");
    const std::string hello = client_hello();
    RawConnection c(port());
    ASSERT_TRUE(c.connected());
    bool closed = false;
    for (std::size_t i = 0; i < hello.size() && !closed; ++i) {
        if (!c.send(hello.substr(i, 1))) break;
        // The client's own pace (what the test is about), and a bounded look for the close.
        closed = c.wait_closed(Clock::now() + 100ms);
    }
    ASSERT_TRUE(closed || c.wait_closed(Clock::now() + 5s));
    EXPECT_GE(c.open_for_ms(), 1000 - 20);
    EXPECT_LT(c.open_for_ms(), 5000) << "a trickled handshake outlived header_timeout";
    EXPECT_TRUE(proxy->wait_for_log({"\"event\":\"handshake_failed\"", "handshake timed out"}))
        << joined(proxy->log_lines());
    EXPECT_EQ(handshake_failures("handshake timed out"), 1u);
    expect_served("/after");
}

// ---- garbage instead of a ClientHello: refused at once

TEST_F(HostileTlsTest, RandomBytesInsteadOfClientHelloAreRefused) {
    std::string noise(2048, '\0');
    std::uint32_t x = 12345;
    for (auto& ch : noise) {
        x = x * 1664525u + 1013904223u;
        ch = static_cast<char>(x >> 24);
    }
    expect_refused_at_once(noise);
}

TEST_F(HostileTlsTest, PlainHttpRequestOnTheTlsPortIsRefused) {
    expect_refused_at_once(
        "GET / HTTP/1.1\r\nHost: localhost\r\nX-SSL-Client-DN: CN=admin\r\n\r\n");
}

TEST_F(HostileTlsTest, RecordHeaderWithHugeLengthIsRefused) {
    std::string record("\x16\x03\x01\xff\xff", 5);
    record += std::string(4096, 'A');
    expect_refused_at_once(record);
}

TEST_F(HostileTlsTest, Sslv2ClientHelloIsRefused) {
    // SSLv2 record: 2-byte length with the high bit set, MSG-CLIENT-HELLO, version 0.2,
    // one cipher spec (SSL_CK_RC4_128_WITH_MD5), no session id, 16-byte challenge.
    std::string body("\x01\x00\x02\x00\x03\x00\x00\x00\x10\x01\x00\x80", 12);
    body += std::string(16, '\x42');
    std::string hello;
    hello += static_cast<char>(0x80 | (body.size() >> 8));
    hello += static_cast<char>(body.size() & 0xff);
    expect_refused_at_once(hello + body);
}

TEST_F(HostileTlsTest, Sslv2FormatHelloOfferingSsl3IsRefused) {
    std::string body("\x01\x03\x00\x00\x03\x00\x00\x00\x10\x00\x00\x2f", 12);
    body += std::string(16, '\x42');
    std::string hello;
    hello += static_cast<char>(0x80 | (body.size() >> 8));
    hello += static_cast<char>(body.size() & 0xff);
    expect_refused_at_once(hello + body);
}

// Many hostile connections at once, all kinds mixed: each is dealt with on its own.
TEST_F(HostileTlsTest, MixedGarbageConnectionsDoNotDisturbAGoodClient) {
    start_with_header_timeout("20s");
    const std::vector<std::string> kinds = {
        "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", std::string("\x16\x03\x01\xff\xff", 5),
        std::string("\x15\x03\x03\x00\x02\x02\x28", 7), std::string(300, '\0')};
    std::vector<std::unique_ptr<RawConnection>> bad;
    for (int round = 0; round < 10; ++round)
        for (const auto& k : kinds) {
            bad.push_back(std::make_unique<RawConnection>(port()));
            ASSERT_TRUE(bad.back()->connected());
            ASSERT_TRUE(bad.back()->send(k));
        }
    TlsClient good(port(), good_client());
    ASSERT_TRUE(good.connect()) << good.error();
    for (auto& c : bad) EXPECT_TRUE(c->wait_closed(Clock::now() + 10s));
    for (std::size_t n = 1; n <= bad.size(); ++n)
        ASSERT_TRUE(proxy->wait_for_nth_log({"\"event\":\"handshake_failed\""}, n))
            << joined(proxy->log_lines());
    ASSERT_TRUE(good.send(get_request("/good")));
    auto r = good.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(upstream->wait_for_requests(1));
    EXPECT_EQ(upstream->request_count(), 1u);
}

}  // namespace
}  // namespace certgate::testing
