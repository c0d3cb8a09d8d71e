// SPEC "Signals" (SIGTERM/SIGINT drain within limits.shutdown_timeout, then exit 0),
// "Logs and metrics" (one JSON line per request with every field, refusals with reason and
// rule) and "Responses" (a 1 GiB upload or download passes in bounded memory).
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/src.hpp>  // header-only Boost.JSON, compiled into this test only
#include <openssl/evp.h>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

using Clock = std::chrono::steady_clock;
namespace json = boost::json;
namespace net = boost::asio;

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr long kMaxRssKib = 64 * 1024;  // certgate's resident memory bound while streaming

long ms_since(Clock::time_point t) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

std::string hex(const unsigned char* p, unsigned n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}

class LifecycleTest : public ProxyTest {
protected:
    void start_with_limits(const std::string& limits_lines, const std::string& policies = "") {
        ConfigParts parts;
        parts.top_level_extra = "limits:\n" + limits_lines;
        parts.policies = policies;
        start(parts);
    }
    // Sends a GET whose answer the app delays by `delay`; returns once the app has it.
    std::unique_ptr<TlsClient> request_in_flight(std::chrono::milliseconds delay) {
        upstream->set_handler([delay](const SeenRequest&, Reply& reply) { reply.delay = delay; });
        auto c = std::make_unique<TlsClient>(port(), good_client());
        EXPECT_TRUE(c->connect()) << c->error();
        EXPECT_TRUE(c->send(get_request("/in-flight")));
        EXPECT_TRUE(upstream->wait_for_requests(1)) << "the request never reached the app";
        return c;
    }
    void expect_drains_in_flight_request(int sig) {
        start_with_limits("  shutdown_timeout: 5s\n");
        auto c = request_in_flight(1s);
        const auto t0 = Clock::now();
        proxy->signal(sig);
        ASSERT_TRUE(proxy->wait_for_log({"\"event\":\"shutdown\""}, 2s)) << joined(proxy->log_lines());
        // Once certgate says it is draining, it has stopped accepting: a new connection fails
        // at connect or handshake (several tries, as one might slip through a race).
        for (int attempt = 0; attempt < 3; ++attempt) {
            ClientOptions late_opts = good_client();
            late_opts.timeout = 2s;
            TlsClient late(port(), late_opts);
            if (!late.connect()) continue;
            bool sent = late.send(get_request("/late"));
            auto lr = late.read_response();
            ADD_FAILURE() << "attempt " << attempt << ": a new connection completed its TLS handshake "
                          << "after the \"draining\" log line; its request (sent: " << sent
                          << ") got " << (lr ? "status " + std::to_string(lr->status) : "no response");
        }
        auto r = c->read_response();
        ASSERT_TRUE(r) << "the in-flight request was cut off";
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "ok\n");
        auto code = proxy->wait_exit(8s);
        ASSERT_TRUE(code) << "still running " << ms_since(t0) << " ms after the signal";
        EXPECT_EQ(*code, 0);
        EXPECT_LT(ms_since(t0), 5000 + 2000);  // shutdown_timeout + margin
    }
};

TEST_F(LifecycleTest, SigtermLetsInFlightRequestFinishRefusesNewConnectionsAndExitsZero) {
    expect_drains_in_flight_request(SIGTERM);
}

TEST_F(LifecycleTest, SigintAlsoDrainsAndExitsZero) { expect_drains_in_flight_request(SIGINT); }

// SIGHUP, SIGTERM and SIGINT go to the main thread, which reloads or drains: every other
// thread (workers, admin) blocks them, so the kernel can hand them nowhere else and no
// worker's system call is interrupted by one. Read from the kernel's view of each thread.
TEST_F(LifecycleTest, OnlyTheMainThreadTakesControlSignals) {
    ConfigParts parts;
    parts.top_level_extra = "admin: \"127.0.0.1:" + std::to_string(free_port()) + "\"\n";
    parts.workers = 2;
    ASSERT_TRUE(start(parts).started());

    auto blocked = [](const std::string& status_path) -> std::optional<unsigned long long> {
        std::ifstream in(status_path);
        for (std::string line; std::getline(in, line);)
            if (line.rfind("SigBlk:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
        return std::nullopt;
    };
    auto bit = [](int sig) { return 1ull << (sig - 1); };
    const unsigned long long control = bit(SIGHUP) | bit(SIGTERM) | bit(SIGINT);
    const std::string tasks = "/proc/" + std::to_string(proxy->pid()) + "/task";
    int others = 0;
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
        auto mask = blocked(task.path().string() + "/status");
        ASSERT_TRUE(mask) << task.path();
        if (task.path().filename() == std::to_string(proxy->pid())) {
            EXPECT_EQ(*mask & control, 0u) << "the main thread blocks a control signal";
        } else {
            ++others;
            EXPECT_EQ(*mask & control, control) << "thread " << task.path().filename()
                                                << " can take a control signal";
        }
    }
    EXPECT_GE(others, 3) << "two workers and the admin listener run on their own threads";

    for (int n = 1; n <= 3; ++n) {
        proxy->signal(SIGHUP);
        ASSERT_TRUE(proxy->wait_for_nth_log({"\"event\":\"reload\"", "\"trigger\":\"signal\""}, n,
                                            10s))
            << joined(proxy->log_lines());
    }
    auto r = https_request(port(), good_client(), get_request("/after"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

// Each worker listens with SO_REUSEPORT, which would let a second process of the same user
// bind beside the first and take a share of the connections: a second certgate started by
// mistake, or an old one with an old CA bundle and CRL still running. The second refuses to
// start instead (exit 1, the address named), and the first goes on serving every connection.
TEST_F(LifecycleTest, SecondInstanceOnTheSameAddressRefusesToStartAndTheFirstServesOn) {
    ConfigParts parts;
    parts.upstream_url = upstream->url();
    parts.workers = 2;
    const std::string yaml = make_config(*pki, parts);
    proxy = std::make_unique<ProxyProcess>(yaml, pki->dir.path());
    ASSERT_TRUE(proxy->started()) << joined(proxy->log_lines());

    TempDir other_dir;
    ProxyProcess second(yaml, other_dir.path());
    EXPECT_FALSE(second.started()) << joined(second.log_lines());
    auto code = second.wait_exit(10s);
    ASSERT_TRUE(code) << "the second instance is still running";
    EXPECT_EQ(*code, 1);
    const std::string address = "127.0.0.1:" + std::to_string(port());
    EXPECT_TRUE(second.wait_for_log({"\"event\":\"listen_failed\"", address, "in use"}, 2s))
        << joined(second.log_lines());

    for (int i = 0; i < 20; ++i) {  // new connections, each its own source port: all served
        auto r = https_request(port(), good_client(), get_request("/still-mine"));
        ASSERT_TRUE(r) << "connection " << i;
        EXPECT_EQ(r->status, 200);
    }
    EXPECT_EQ(upstream->request_count(), 20u);
}

// The same for the redirect port, and for a listener that is not certgate: the message names
// the address that is taken.
TEST_F(LifecycleTest, RedirectAddressInUseRefusesToStartNamingIt) {
    net::io_context ioc;
    net::ip::tcp::acceptor squatter(ioc, {net::ip::make_address("127.0.0.1"), 0});
    const auto taken = squatter.local_endpoint().port();
    ConfigParts parts;
    parts.upstream_url = upstream->url();
    parts.top_level_extra = "redirect_http: \"127.0.0.1:" + std::to_string(taken) + "\"\n";
    ProxyProcess p(make_config(*pki, parts), pki->dir.path());
    EXPECT_FALSE(p.started());
    auto code = p.wait_exit(10s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 1);
    EXPECT_TRUE(p.wait_for_log({"listen_failed", "127.0.0.1:" + std::to_string(taken), "in use"}, 2s))
        << joined(p.log_lines());
}

TEST_F(LifecycleTest, SigtermWithIdleKeepAliveConnectionExitsPromptly) {
    start_with_limits("  shutdown_timeout: 5s\n");
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    const auto t0 = Clock::now();
    proxy->signal(SIGTERM);
    auto code = proxy->wait_exit(4s);
    ASSERT_TRUE(code) << "an idle keep-alive connection held the shutdown";
    EXPECT_EQ(*code, 0);
    EXPECT_LT(ms_since(t0), 3000) << "should not wait for shutdown_timeout (5s)";
    EXPECT_TRUE(c.wait_closed(2s));
}

TEST_F(LifecycleTest, ShutdownTimeoutBoundsARequestStuckInTheApp) {
    start_with_limits("  shutdown_timeout: 1s\n");
    auto c = request_in_flight(10s);
    const auto t0 = Clock::now();
    proxy->signal(SIGTERM);
    auto code = proxy->wait_exit(4s);
    ASSERT_TRUE(code) << "did not exit within shutdown_timeout (1s) + margin";
    EXPECT_EQ(*code, 0);
    EXPECT_LT(ms_since(t0), 1000 + 1500);
}

TEST_F(LifecycleTest, OneJsonLogLinePerRequestWithEverySpecField) {
    start_with_limits("  shutdown_timeout: 5s\n", kMixedPolicies);
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/logged/get", "X-Request-Id: req-1\r\n")));
    ASSERT_TRUE(c.read_response());
    ASSERT_TRUE(c.send("POST /logged/post HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: req-2\r\n"
                       "Content-Length: 5\r\n\r\nhello"));
    ASSERT_TRUE(c.read_response());
    auto refused = https_request(port(), ClientOptions{}, get_request("/logged/refused", "X-Request-Id: req-3\r\n"));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403);
    ASSERT_TRUE(proxy->wait_for_log({"\"event\":\"request\"", "req-3"}));

    std::map<std::string, json::object> by_id;
    std::size_t request_lines = 0;
    for (const auto& line : proxy->log_lines()) {
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        ASSERT_FALSE(ec) << "not a JSON line: " << line;
        ASSERT_TRUE(v.is_object()) << line;
        const auto& o = v.as_object();
        if (!o.contains("event") || o.at("event") != "request") continue;
        ++request_lines;
        ASSERT_TRUE(o.contains("request_id")) << line;
        by_id[std::string(o.at("request_id").as_string())] = o;
    }
    EXPECT_EQ(request_lines, 3u) << joined(proxy->log_lines());
    ASSERT_EQ(by_id.size(), 3u);
    for (const auto& [id, o] : by_id) {
        for (const char* f : {"time", "client", "method", "path", "policy", "verify"})
            EXPECT_TRUE(o.contains(f) && o.at(f).is_string() && !o.at(f).as_string().empty())
                << id << " lacks " << f;
        for (const char* f : {"status", "bytes_in", "bytes_out", "duration_ms"})
            EXPECT_TRUE(o.contains(f) && o.at(f).is_number()) << id << " lacks " << f;
        EXPECT_EQ(std::string(o.at("client").as_string()).rfind("127.0.0.1:", 0), 0u) << id;
    }
    const auto& get = by_id["req-1"];
    EXPECT_EQ(get.at("method"), "GET");
    EXPECT_EQ(get.at("path"), "/logged/get");
    EXPECT_EQ(json::value_to<int>(get.at("status")), 200);
    EXPECT_EQ(json::value_to<int>(get.at("bytes_out")), 3);
    EXPECT_TRUE(get.contains("upstream_ms") && get.at("upstream_ms").is_number());
    EXPECT_EQ(get.at("policy"), "default");
    EXPECT_EQ(get.at("verify"), "SUCCESS");
    EXPECT_EQ(get.at("subject"), "CN=billing,O=Example Corp,C=US");
    EXPECT_EQ(get.contains("fingerprint") ? get.at("fingerprint").as_string().size() : 0u, 64u);
    EXPECT_FALSE(get.contains("reason"));

    const auto& post = by_id["req-2"];
    EXPECT_EQ(post.at("method"), "POST");
    EXPECT_EQ(json::value_to<int>(post.at("bytes_in")), 5);

    const auto& no = by_id["req-3"];
    EXPECT_EQ(json::value_to<int>(no.at("status")), 403);
    EXPECT_EQ(no.at("verify"), "NONE");
    EXPECT_EQ(no.at("policy"), "default");
    EXPECT_TRUE(no.contains("reason") && no.at("reason") == "client certificate required");
    EXPECT_TRUE(no.contains("rule") && no.at("rule").is_string() && !no.at("rule").as_string().empty());
}

TEST_F(LifecycleTest, OneGibUploadStreamsInBoundedMemory) {
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) { reply.body = seen.body_sha256; });
    start();
    auto opts = good_client();
    opts.timeout = 30s;
    TlsClient c(port(), opts);
    ASSERT_TRUE(c.connect()) << c.error();
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Length: " + std::to_string(kGiB) + "\r\n\r\n"));
    std::string piece(256 * 1024, '\0');
    for (std::size_t i = 0; i < piece.size(); ++i) piece[i] = static_cast<char>((i * 131 + 7) & 0xff);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
    bool sent = true;
    for (std::uint64_t n = 0; n < kGiB / piece.size() && sent; ++n) {
        std::memcpy(piece.data(), &n, sizeof n);  // each piece differs: order and loss show
        EVP_DigestUpdate(md, piece.data(), piece.size());
        sent = c.send(piece);
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_DigestFinal_ex(md, digest, &dl);
    EVP_MD_CTX_free(md);
    ASSERT_TRUE(sent) << "upload cut off after " << ms_since(t0) << " ms";
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, hex(digest, dl)) << "the app received different bytes";
    ASSERT_TRUE(upstream->wait_for_requests(1));
    EXPECT_EQ(upstream->requests().at(0).body_bytes, kGiB);
    const long peak = proxy->peak_rss_kib();
    EXPECT_GT(peak, 0);
    if (!kSanitized) {
        EXPECT_LT(peak, kMaxRssKib) << "certgate peak RSS " << peak << " KiB during a 1 GiB upload";
    }
    RecordProperty("upload_ms", static_cast<int>(ms_since(t0)));
    RecordProperty("peak_rss_kib", static_cast<int>(peak));
}

TEST_F(LifecycleTest, OneGibDownloadStreamsInBoundedMemory) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) { reply.generated_bytes = kGiB; });
    start();
    auto opts = good_client();
    opts.timeout = 30s;
    TlsClient c(port(), opts);
    ASSERT_TRUE(c.connect()) << c.error();
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.send(get_request("/download")));
    // Read raw, counting the body instead of storing it.
    std::string head;
    std::vector<char> buf(64 * 1024);
    std::uint64_t body = 0;
    bool only_x = true;
    std::size_t head_end = std::string::npos;
    while (head_end == std::string::npos) {
        int n = SSL_read(c.ssl(), buf.data(), static_cast<int>(buf.size()));
        ASSERT_GT(n, 0) << "no response head";
        head.append(buf.data(), static_cast<std::size_t>(n));
        head_end = head.find("\r\n\r\n");
    }
    body = head.size() - (head_end + 4);
    only_x = head.find_first_not_of('x', head_end + 4) == std::string::npos;
    head.resize(head_end + 2);
    ASSERT_EQ(head.rfind("HTTP/1.1 200 ", 0), 0u) << head;
    std::string lower = head;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    ASSERT_NE(lower.find("\r\ncontent-length: " + std::to_string(kGiB) + "\r\n"), std::string::npos) << head;
    while (body < kGiB) {
        int n = SSL_read(c.ssl(), buf.data(), static_cast<int>(buf.size()));
        ASSERT_GT(n, 0) << "download cut off at " << body << " bytes after " << ms_since(t0) << " ms";
        if (std::string_view(buf.data(), static_cast<std::size_t>(n)).find_first_not_of('x') !=
            std::string_view::npos)
            only_x = false;
        body += static_cast<std::uint64_t>(n);
    }
    EXPECT_EQ(body, kGiB);
    EXPECT_TRUE(only_x) << "body bytes were altered";
    const long peak = proxy->peak_rss_kib();
    EXPECT_GT(peak, 0);
    if (!kSanitized) {
        EXPECT_LT(peak, kMaxRssKib) << "certgate peak RSS " << peak << " KiB during a 1 GiB download";
    }
    upstream->set_handler([](const SeenRequest&, Reply&) {});
    ASSERT_TRUE(c.send(get_request("/after", "Connection: close\r\n")));  // still in sync
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    RecordProperty("download_ms", static_cast<int>(ms_since(t0)));
    RecordProperty("peak_rss_kib", static_cast<int>(peak));
}

}  // namespace
}  // namespace certgate::testing
