// SPEC "Request sanitizing" 5, "Decisions" 4 and "Responses": bodies and framing through
// the proxy. Bodies are re-framed toward the app (chunked stays chunked, no extensions, no
// trailers), Expect/HEAD/204/304 behave, the upstream pool is reused, and real clients
// (curl) get the same treatment.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <openssl/evp.h>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

std::string pattern(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

// Reads raw bytes from the TLS connection until `end` appears (bounded by the client's
// receive timeout). Only for exchanges where nothing else can follow yet.
bool read_raw_until(TlsClient& c, std::string_view end, std::string& out) {
    char buf[4096];
    while (out.find(end) == std::string::npos) {
        int n = SSL_read(c.ssl(), buf, sizeof buf);
        if (n <= 0) return false;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return true;
}

// The body of a chunked message: whether it is complete, whether every chunk-size line is
// bare hex (no extensions) and the trailer section is empty.
struct Chunked {
    bool complete = false;
    bool clean = true;
    std::string body;
    std::size_t chunks = 0;
};
Chunked decode_chunked(std::string_view s) {
    Chunked c;
    std::size_t pos = 0;
    for (;;) {
        auto eol = s.find("\r\n", pos);
        if (eol == std::string_view::npos) return c;
        std::string line(s.substr(pos, eol - pos));
        if (line.empty() || line.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
            c.clean = false;
        std::size_t size = std::strtoul(line.c_str(), nullptr, 16);
        pos = eol + 2;
        if (size == 0) {
            if (s.substr(pos, 2) == "\r\n") {
                c.complete = true;
            } else {
                c.clean = false;  // a trailer section
                c.complete = s.find("\r\n\r\n", pos) != std::string_view::npos;
            }
            return c;
        }
        if (s.size() < pos + size + 2) return c;
        c.body.append(s.substr(pos, size));
        ++c.chunks;
        pos += size + 2;
    }
}

// An app that records the exact bytes of one chunked request, then answers and closes.
class RawUpstream {
public:
    RawUpstream() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::listen(fd_, 8) == 0)
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~RawUpstream() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::optional<std::string> wait_request(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, timeout, [&] { return done_; });
        return done_ ? std::optional(raw_) : std::nullopt;
    }

private:
    static bool complete(const std::string& raw) {
        auto h = raw.find("\r\n\r\n");
        return h != std::string::npos && decode_chunked(std::string_view(raw).substr(h + 4)).complete;
    }
    void run() {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        int conn = -1;
        while (conn < 0 && !stop_ && std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) > 0) conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        }
        if (conn < 0) return;
        std::string raw;
        char buf[4096];
        while (!complete(raw) && !stop_ && std::chrono::steady_clock::now() < deadline) {
            pollfd p{conn, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            ssize_t n = ::recv(conn, buf, sizeof buf, 0);
            if (n <= 0) break;
            raw.append(buf, static_cast<std::size_t>(n));
        }
        std::string_view reply = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
        [[maybe_unused]] auto sent = ::send(conn, reply.data(), reply.size(), MSG_NOSIGNAL);
        {
            std::lock_guard lock(mu_);
            raw_ = raw;
            done_ = true;
        }
        cv_.notify_all();
        ::close(conn);
    }

    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    std::string raw_;
    std::thread thread_;
};

class ProxyingTest : public ProxyTest {};

TEST_F(ProxyingTest, ContentLengthBodyArrivesIntactWithLengthFraming) {
    start();
    const std::string body = pattern(300 * 1024, 1);
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n"));
    for (std::size_t off = 0; off < body.size(); off += 64 * 1024)
        ASSERT_TRUE(c.send(std::string_view(body).substr(off, 64 * 1024)));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(upstream->wait_for_requests(1));
    auto seen = upstream->requests().at(0);
    EXPECT_FALSE(seen.chunked);
    EXPECT_EQ(seen.header("Content-Length"), std::to_string(body.size()));
    EXPECT_FALSE(seen.header("Transfer-Encoding"));
    EXPECT_EQ(seen.body_bytes, body.size());
    EXPECT_EQ(seen.body_sha256, sha256_hex(body));
}

TEST_F(ProxyingTest, ChunkedRequestStaysChunkedAndArrivesIntact) {
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    const std::string a = pattern(40000, 2), b = pattern(70000, 3), d = "tail";
    ASSERT_TRUE(c.send("POST /chunks HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"));
    ASSERT_TRUE(c.send("9c40;ext=1\r\n" + a + "\r\n"));
    ASSERT_TRUE(c.send("11170\r\n" + b + "\r\n"));
    ASSERT_TRUE(c.send("4\r\n" + d + "\r\n0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(upstream->wait_for_requests(1));
    auto seen = upstream->requests().at(0);
    EXPECT_TRUE(seen.chunked);
    EXPECT_FALSE(seen.header("Content-Length"));
    EXPECT_EQ(seen.body_bytes, a.size() + b.size() + d.size());
    EXPECT_EQ(seen.body_sha256, sha256_hex(a + b + d));
}

TEST_F(ProxyingTest, ChunkExtensionsAndTrailersNeverReachTheApp) {
    RawUpstream app;
    ConfigParts parts;
    parts.upstream_url = app.url();
    start(parts);
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send("POST /chunks HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                       "Trailer: X-Trailer\r\n\r\n"
                       "5;ext=1\r\nhello\r\n6;name=\"v\"\r\n world\r\n"
                       "0\r\nX-Trailer: t\r\nX-SSL-Client-DN: CN=forged\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    auto raw = app.wait_request(5s);
    ASSERT_TRUE(raw) << "the app never received the whole chunked request";
    auto h = raw->find("\r\n\r\n");
    ASSERT_NE(h, std::string::npos);
    const std::string head = raw->substr(0, h + 4);
    EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
    EXPECT_EQ(head.find("Trailer"), std::string::npos) << head;
    auto chunked = decode_chunked(std::string_view(*raw).substr(h + 4));
    EXPECT_TRUE(chunked.complete);
    EXPECT_TRUE(chunked.clean) << "extensions or trailers forwarded: " << raw->substr(h + 4);
    EXPECT_EQ(chunked.body, "hello world");
    EXPECT_EQ(raw->find("ext="), std::string::npos);
    EXPECT_EQ(raw->find("X-Trailer: t"), std::string::npos);
    EXPECT_EQ(raw->find("forged"), std::string::npos);
}

TEST_F(ProxyingTest, ChunkedResponseStaysChunkedForHttp11Client) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) {
        reply.chunked = true;
        reply.generated_bytes = 300000;
    });
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/stream")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Transfer-Encoding"), "chunked");
    EXPECT_FALSE(r->header("Content-Length"));
    EXPECT_EQ(r->body, std::string(300000, 'x'));
    ASSERT_TRUE(c.send(get_request("/again")));  // still keep-alive
    auto again = c.read_response();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body.size(), 300000u);
}

TEST_F(ProxyingTest, ChunkedResponseIsUnchunkedForHttp10ClientAndClosed) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) {
        reply.chunked = true;
        reply.generated_bytes = 300000;
    });
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send("GET /stream HTTP/1.0\r\nHost: localhost\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->header("Transfer-Encoding"));
    EXPECT_EQ(r->body, std::string(300000, 'x'));
    EXPECT_TRUE(c.wait_closed());
}

TEST_F(ProxyingTest, ExpectContinueGets100ThenTheBodyIsForwarded) {
    start();
    auto opts = good_client();
    opts.timeout = 5s;
    TlsClient c(port(), opts);
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n"
                       "Expect: 100-continue\r\n\r\n"));
    std::string interim;
    ASSERT_TRUE(read_raw_until(c, "\r\n\r\n", interim)) << "no 100 Continue: " << interim;
    EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << interim;
    ASSERT_TRUE(c.send("hello world"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(upstream->wait_for_requests(1));
    auto seen = upstream->requests().at(0);
    EXPECT_EQ(seen.body, "hello world");
    EXPECT_FALSE(seen.header("Expect"));
}

TEST_F(ProxyingTest, RefusedExpectContinueRequestGets403WithoutContinueAndCloses) {
    ConfigParts parts;
    parts.policies = kMixedPolicies;
    start(parts);
    auto opts = good_client();
    opts.cert.clear();
    opts.key.clear();
    opts.timeout = 5s;
    TlsClient c(port(), opts);
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send("POST /private HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n"
                       "Expect: 100-continue\r\n\r\n"));
    auto r = c.read_response();  // a 100 here would parse as a response of its own
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(ProxyingTest, HeadKeepsContentLengthWithoutBodyAndConnectionStaysUsable) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) { reply.body = std::string(1234, 'h'); });
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send("HEAD /page HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    auto r = c.read_response(true);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Content-Length"), "1234");
    EXPECT_TRUE(r->body.empty());
    ASSERT_TRUE(c.send(get_request("/page")));
    auto g = c.read_response();
    ASSERT_TRUE(g) << "HEAD response carried body bytes or closed the connection";
    EXPECT_EQ(g->status, 200);
    EXPECT_EQ(g->body, std::string(1234, 'h'));
}

TEST_F(ProxyingTest, ChunkedResponseFromHttp10AppIs502AndItsConnectionIsNotReused) {
    // RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing (a 1.0 reader
    // takes the body as ending at the close), as ambiguous as Content-Length with it.
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
        if (seen.target != "/http10") return;
        reply.raw = "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        reply.after_raw = Reply::AfterRaw::keep_open;  // would serve on if it were reused
    });
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/http10")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502);
    EXPECT_EQ(r->body, "bad gateway\n");
    EXPECT_EQ(r->header("X-Frame-Options"), "DENY");
    ASSERT_TRUE(c.send(get_request("/next")));  // the client connection goes on
    auto next = c.read_response();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
    EXPECT_EQ(next->body, "ok\n");
    EXPECT_EQ(upstream->request_count(), 2u);
    EXPECT_EQ(upstream->connection_count(), 2u);  // the faulty connection was dropped
}

TEST_F(ProxyingTest, FramingFieldsInAnAppsTrailersAreDiscardedAndTheConnectionIsReused) {
    // Trailers are dropped unread, so a Content-Length or Transfer-Encoding among them frames
    // nothing: the whole body reaches the client and the app connection stays in the pool.
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
        if (seen.target == "/cl")
            reply.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n0\r\nContent-Length: 2\r\n\r\n";
        if (seen.target == "/te")
            reply.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "6\r\nworld!\r\n0\r\nX-T: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        if (reply.raw) reply.after_raw = Reply::AfterRaw::keep_open;
    });
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    for (const auto& [path, body] : {std::pair{"/cl", "hello"}, std::pair{"/te", "world!"},
                                     std::pair{"/next", "ok\n"}}) {
        ASSERT_TRUE(c.send(get_request(path))) << path;
        auto r = c.read_response();
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200) << path;
        EXPECT_EQ(r->body, body) << path;
        EXPECT_FALSE(r->header("X-T")) << path;
    }
    EXPECT_EQ(upstream->request_count(), 3u);
    EXPECT_EQ(upstream->connection_count(), 1u);  // one app connection served all three
}

TEST_F(ProxyingTest, NoContent204And304HaveNoBodyAndKeepAliveWorks) {
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
        if (seen.target == "/204") reply.status = 204;
        if (seen.target == "/304") reply.status = 304;
    });
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    for (const char* path : {"/204", "/304", "/after"}) {
        ASSERT_TRUE(c.send(get_request(path))) << path;
        auto r = c.read_response();
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, std::string(path) == "/after" ? 200 : std::atoi(path + 1));
        if (std::string(path) != "/after") {
            EXPECT_TRUE(r->body.empty()) << path;
            EXPECT_FALSE(r->header("Transfer-Encoding")) << path;
        } else {
            EXPECT_EQ(r->body, "ok\n");
        }
    }
    EXPECT_EQ(upstream->request_count(), 3u);
}

TEST_F(ProxyingTest, UnixSocketUpstreamWorks) {
    UpstreamServer app(pki->dir.path() + "/app.sock");
    app.set_handler([](const SeenRequest&, Reply& reply) { reply.body = "from unix\n"; });
    ConfigParts parts;
    parts.upstream_url = app.url();
    start(parts);
    auto r = https_request(port(), good_client(), get_request("/u"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "from unix\n");
    ASSERT_TRUE(app.wait_for_requests(1));
    EXPECT_EQ(app.requests().at(0).header("X-SSL-Client-DN"), "CN=billing,O=Example Corp,C=US");
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(ProxyingTest, CurlClientGetsBodyAndAppSeesRealDn) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) { reply.body = "hello curl\n"; });
    start();
    auto [code, out] = run_command({"curl", "-sS", "--cacert", pki->ca_pem, "--cert", pki->client_crt,
                                    "--key", pki->client_key,
                                    "https://127.0.0.1:" + std::to_string(port()) + "/x", "-H",
                                    "X-SSL-Client-DN: forged"});
    EXPECT_EQ(code, 0) << out;
    EXPECT_EQ(out, "hello curl\n");
    ASSERT_TRUE(upstream->wait_for_requests(1));
    auto seen = upstream->requests().at(0);
    EXPECT_EQ(count_header(seen.headers, "X-SSL-Client-DN"), 1u);
    EXPECT_EQ(seen.header("X-SSL-Client-DN"), "CN=billing,O=Example Corp,C=US");
}

TEST_F(ProxyingTest, CurlPostsSeveralMebibytesIntact) {
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) { reply.body = seen.body_sha256; });
    start();
    const std::string data = pattern(3 * 1024 * 1024 + 17, 7);
    const std::string file = pki->dir.write("upload.bin", data);
    auto [code, out] = run_command({"curl", "-sS", "--cacert", pki->ca_pem, "--cert", pki->client_crt,
                                    "--key", pki->client_key, "--data-binary", "@" + file, "-H",
                                    "Content-Type: application/octet-stream",
                                    "https://127.0.0.1:" + std::to_string(port()) + "/upload"},
                                   "", 30s);
    EXPECT_EQ(code, 0) << out;
    EXPECT_EQ(out, sha256_hex(data));
    ASSERT_TRUE(upstream->wait_for_requests(1));
    auto seen = upstream->requests().at(0);
    EXPECT_EQ(seen.method, "POST");
    EXPECT_EQ(seen.body_bytes, data.size());
    EXPECT_FALSE(seen.header("Expect"));
}

TEST_F(ProxyingTest, ManyHeadersAndFiftyMebibyteBodyPassIntact) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) {
        for (int i = 0; i < 80; ++i)
            reply.headers.emplace_back("X-App-" + std::to_string(i), "value-" + std::string(100, 'v'));
        reply.generated_bytes = 50ull << 20;
    });
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/big")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    for (int i = 0; i < 80; ++i)
        EXPECT_EQ(r->count("X-App-" + std::to_string(i)), 1u) << i;
    EXPECT_EQ(r->header("Content-Length"), std::to_string(50ull << 20));
    EXPECT_EQ(r->body.size(), 50ull << 20);
    EXPECT_EQ(r->body.find_first_not_of('x'), std::string::npos);
}

TEST_F(ProxyingTest, SequentialClientConnectionsReuseOnePooledUpstreamConnection) {
    start();
    for (int i = 0; i < 2; ++i) {
        TlsClient c(port(), good_client());
        ASSERT_TRUE(c.connect()) << c.error();
        ASSERT_TRUE(c.send(get_request("/pool" + std::to_string(i))));
        auto r = c.read_response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->status, 200);
    }
    EXPECT_EQ(upstream->request_count(), 2u);
    EXPECT_EQ(upstream->connection_count(), 1u);
}

// certgate writes a request to the pooled app connection in pieces: the head with the first
// body bytes, later body bytes as they come, and for chunked bodies the last chunk. Each piece
// must reach the app at once, not wait for the app to acknowledge the one before (Nagle's
// algorithm against an app's delayed ACK costs 40 ms or more per request on Linux). Timed five
// times per case on a warmed, pooled app connection; the fastest must be quick (scheduling
// noise makes some slow, a held piece would make all of them slow).
class SplitBodyTest : public ProxyTest {
protected:
    using Clock = std::chrono::steady_clock;
    void SetUp() override {
        ProxyTest::SetUp();
        start();
        client = std::make_unique<TlsClient>(port(), good_client());
        ASSERT_TRUE(client->connect()) << client->error();
        ASSERT_TRUE(client->send(get_request("/warm")));  // the app connection is in its rhythm
        ASSERT_TRUE(client->read_response());
    }
    // Sends `first`, waits until the app has received bytes of it when `wait_for_app`, then
    // sends `second` (if any); returns the milliseconds from the last send to the response.
    long exchange(const std::string& first, const std::string& second, bool wait_for_app) {
        const auto before = upstream->bytes_received();
        EXPECT_TRUE(client->send(first));
        if (wait_for_app) {
            const auto limit = Clock::now() + 5s;
            while (upstream->bytes_received() == before && Clock::now() < limit)
                std::this_thread::sleep_for(1ms);
            EXPECT_GT(upstream->bytes_received(), before) << "nothing reached the app";
        }
        const auto t0 = Clock::now();
        if (!second.empty()) {
            EXPECT_TRUE(client->send(second));
        }
        auto r = client->read_response();
        EXPECT_TRUE(r && r->status == 200);
        return static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
    }
    static std::string listed(const std::vector<long>& ms) {
        std::string out;
        for (long m : ms) out += std::to_string(m) + " ms ";
        return out;
    }
    std::unique_ptr<TlsClient> client;
};

TEST_F(SplitBodyTest, BodyBytesArrivingAfterTheFirstGoToTheAppAtOnce) {
    std::vector<long> ms;
    for (int i = 0; i < 5; ++i) {
        const std::string body = pattern(200, static_cast<unsigned>(i));
        ms.push_back(exchange("POST /split HTTP/1.1\r\nHost: localhost\r\nContent-Length: 200\r\n\r\n" +
                                  body.substr(0, 100),
                              body.substr(100), true));
    }
    EXPECT_LT(*std::min_element(ms.begin(), ms.end()), 30) << listed(ms);
    ASSERT_TRUE(upstream->wait_for_requests(6));
    EXPECT_EQ(upstream->requests().back().body_sha256, sha256_hex(pattern(200, 4)));
}

TEST_F(SplitBodyTest, ChunkedBodyEndsAtTheAppAtOnce) {
    std::vector<long> ms;
    for (int i = 0; i < 5; ++i) {
        ms.push_back(exchange("POST /chunked HTTP/1.1\r\nHost: localhost\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                              "", false));
    }
    EXPECT_LT(*std::min_element(ms.begin(), ms.end()), 30) << listed(ms);
    ASSERT_TRUE(upstream->wait_for_requests(6));
    EXPECT_EQ(upstream->requests().back().body, "hello");
}

}  // namespace
}  // namespace certgate::testing
