// Issue 4, request side: slow and oversized clients. Each one gets its SPEC answer (408, 431,
// 400) within a bound set by certgate's limits, not by the client's pace; certgate's memory
// stays bounded; and ANOTHER client making normal requests meanwhile is served normally.
// limits_test.cpp covers the plain cases (half a head, a stalled body, one big header).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

long ms_between(Clock::time_point a, Clock::time_point b) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

// A well-behaved client making one request after another on fresh connections, recording
// when each ran and how it ended.
class NormalTraffic {
public:
    NormalTraffic(std::uint16_t port, ClientOptions client) : port_(port), client_(std::move(client)) {
        client_.timeout = 5s;
        thread_ = std::thread([this] { run(); });
    }
    ~NormalTraffic() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    // Every request answered 200 within `bound`, and at least one ran entirely inside
    // [from, to] (while the hostile client was at work) when that lasted long enough.
    void expect_served(Clock::time_point from, Clock::time_point to,
                       std::chrono::milliseconds bound = 4s) {
        const bool must_overlap = to - from >= 500ms;
        {
            // A hostile exchange can end before the first probe does: wait for one (bounded).
            std::unique_lock lock(mutex_);
            probed_.wait_for(lock, 5s, [&] { return !probes_.empty(); });
        }
        stop();
        std::size_t inside = 0;
        for (const auto& p : probes_) {
            EXPECT_EQ(p.status, 200) << "a normal request failed meanwhile";
            EXPECT_LT(ms_between(p.start, p.end), bound.count()) << "a normal request was held up";
            if (p.start >= from && p.end <= to) ++inside;
        }
        EXPECT_GE(probes_.size(), 1u);
        if (must_overlap) {
            EXPECT_GE(inside, 1u) << "no normal request completed while the hostile client ran ("
                                  << probes_.size() << " in all)";
        }
    }

private:
    struct Probe {
        Clock::time_point start, end;
        int status;
    };
    void run() {
        for (int i = 0; !stop_; ++i) {
            Probe p;
            p.start = Clock::now();
            auto r = https_request(port_, client_, get_request("/probe/" + std::to_string(i)));
            p.end = Clock::now();
            p.status = r ? r->status : 0;
            {
                std::lock_guard lock(mutex_);
                probes_.push_back(p);
            }
            probed_.notify_all();
            // Pacing only (load generation): a probe every ~50 ms is plenty.
            std::this_thread::sleep_for(50ms);
        }
    }
    std::uint16_t port_;
    ClientOptions client_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable probed_;
    std::vector<Probe> probes_;  // guarded by mutex_ until the thread is joined
    std::thread thread_;
};

class HostileSlow : public ProxyTest {
protected:
    void start_with_limits(const std::string& extra = "") {
        ConfigParts parts;
        parts.top_level_extra =
            "limits:\n  header_timeout: 1s\n  body_idle_timeout: 1s\n" + extra;
        start(parts);
    }
    static int fd_of(const TlsClient& c) { return SSL_get_fd(c.ssl()); }
    // True when the server sent response bytes (or closed) within `wait`. TLS 1.3 session
    // tickets also make the socket readable, so a non-blocking peek tells the two apart.
    static bool readable(const TlsClient& c, std::chrono::milliseconds wait) {
        const auto deadline = Clock::now() + wait;
        for (;;) {
            if (SSL_pending(c.ssl()) > 0) return true;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            pollfd p{fd_of(c), POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
            const int flags = ::fcntl(fd_of(c), F_GETFL);
            ::fcntl(fd_of(c), F_SETFL, flags | O_NONBLOCK);
            char byte;
            const int n = SSL_peek(c.ssl(), &byte, 1);
            const int err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(c.ssl(), n);
            ERR_clear_error();
            ::fcntl(fd_of(c), F_SETFL, flags);
            if (err != SSL_ERROR_WANT_READ) return true;  // data, or the connection ended
        }
    }
    // Sends `bytes` one byte per TLS record, `pace` apart, until the server answers (or
    // closes); returns how many bytes went out.
    static std::size_t trickle(TlsClient& c, const std::string& bytes, std::chrono::milliseconds pace) {
        std::size_t sent = 0;
        for (char b : bytes) {
            if (readable(c, pace)) break;  // the wait doubles as the pacing
            if (!c.send(std::string_view(&b, 1))) break;
            ++sent;
        }
        return sent;
    }
    // Nothing but the normal traffic (/probe/...) reached the app, not a byte more.
    void expect_app_saw_only_probes(bool check_bytes = true) {
        std::uint64_t bytes = 0;
        for (const auto& s : upstream->requests()) {
            EXPECT_EQ(s.target.rfind("/probe/", 0), 0u) << "the app saw:\n" << s.raw_head;
            bytes += s.raw_head.size() + s.body_bytes;
        }
        if (check_bytes) {
            EXPECT_EQ(upstream->bytes_received(), bytes) << "hostile bytes reached the app";
        }
    }
    static void expect_own_error(const HttpResponse& r, int status) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.header("Connection"), "close");
        EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
    }
};

TEST_F(HostileSlow, SlowlorisHeaderGets408AtHeaderTimeoutWhateverThePace) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    const auto t0 = Clock::now();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    // 200 bytes at one per 100 ms would take 20 s; each byte is well inside every idle limit.
    const std::string head = "GET /slowloris HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + std::string(200, 'a');
    const auto sent = trickle(c, head, 100ms);
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r) << "no answer after trickling " << sent << " bytes";
    expect_own_error(*r, 408);
    EXPECT_GE(ms_between(t0, t1), 900) << "answered before header_timeout";
    EXPECT_LT(ms_between(t0, t1), 3000) << "header_timeout was not enforced from accept";
    EXPECT_LT(sent, head.size());
    EXPECT_TRUE(c.wait_closed(3s));
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes();
}

TEST_F(HostileSlow, SlowlorisOnSecondKeepAliveRequestGets408FromItsFirstByte) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/probe/first")));
    auto first = c.read_response();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200);
    const auto t0 = Clock::now();
    const std::string head = "GET /slowloris HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + std::string(200, 'a');
    const auto sent = trickle(c, head, 100ms);
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r) << "no answer after trickling " << sent << " bytes";
    expect_own_error(*r, 408);
    EXPECT_GE(ms_between(t0, t1), 900);
    EXPECT_LT(ms_between(t0, t1), 3000);
    EXPECT_TRUE(c.wait_closed(3s));
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes();
}

TEST_F(HostileSlow, TrickledTlsHandshakeIsClosedAtHeaderTimeout) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port());
    const auto t0 = Clock::now();
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    // A TLS handshake record announcing 16 KiB, then one byte per 100 ms: 160 s if let run.
    const std::string hello = std::string("\x16\x03\x01\x40\x00\x01", 6) + std::string(300, '\0');
    bool closed = false;
    for (char b : hello) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) > 0) {  // the wait doubles as the pacing
            char buf[256];
            closed = ::recv(fd, buf, sizeof buf, 0) <= 0;
            if (closed) break;
        }
        if (::send(fd, &b, 1, MSG_NOSIGNAL) != 1) {
            closed = true;
            break;
        }
    }
    const auto t1 = Clock::now();
    ::close(fd);
    EXPECT_TRUE(closed) << "a trickled handshake was held open";
    EXPECT_GE(ms_between(t0, t1), 900);
    EXPECT_LT(ms_between(t0, t1), 3000) << "header_timeout does not cover the handshake";
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes();
}

// Timeouts punish slow clients, never a slow certgate. certgate is stopped (SIGSTOP: a
// stand-in for a worker busy with one huge head, a CPU-throttled container, a paused VM) for
// longer than header_timeout and body_idle_timeout while prompt clients wait on it: when it
// runs again their deadlines have all passed, yet each one is served. A client that really
// was late (half a head before the stop, nothing since) is still answered 408.
TEST_F(HostileSlow, ClientsThatWereWaitingOnAStalledCertgateAreServed) {
    start_with_limits();
    TlsClient fresh(port(), good_client());  // handshake done, first request not yet sent
    ASSERT_TRUE(fresh.connect()) << fresh.error();
    TlsClient body(port(), good_client());  // a POST whose body comes during the stall
    ASSERT_TRUE(body.connect()) << body.error();
    ASSERT_TRUE(body.send("POST /probe/body HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                          "Expect: 100-continue\r\n\r\n"));
    // Its head has been read and its body is on the clock once "100 Continue" is back.
    auto go_on = body.read_response();
    ASSERT_TRUE(go_on);
    ASSERT_EQ(go_on->status, 100);
    TlsClient late(port(), good_client());  // half a head, then nothing
    ASSERT_TRUE(late.connect()) << late.error();
    ASSERT_TRUE(late.send("GET /probe/late HTTP/1.1\r\nHost: local"));

    // certgate stalls while the last client is in its handshake: its flight is out, the
    // client answers once certgate runs again (the client was not late; certgate was), by
    // when header_timeout (from accept) has long passed.
    auto stall = [&] {
        proxy->signal(SIGSTOP);
        EXPECT_TRUE(fresh.send(get_request("/probe/fresh")));
        EXPECT_TRUE(body.send("hello"));
        // The stall itself (a stimulus, not a wait for anything): past every 1 s timer.
        std::this_thread::sleep_for(1500ms);
        proxy->signal(SIGCONT);
        // Answer only once certgate has surely looked at its timers again: after it served
        // another client.
        auto r1 = fresh.read_response();
        ASSERT_TRUE(r1) << "a request sent during the stall was dropped";
        EXPECT_EQ(r1->status, 200);
    };
    ClientOptions options = good_client();
    options.before_client_flight = stall;
    TlsClient handshaking(port(), options);
    const bool handshook = handshaking.connect();
    const auto resumed = Clock::now();
    ASSERT_TRUE(handshook) << "the handshake was cut: " << handshaking.error();
    ASSERT_TRUE(handshaking.send(get_request("/probe/handshaking")));

    auto r2 = body.read_response();
    ASSERT_TRUE(r2) << "a body sent during the stall was dropped";
    EXPECT_EQ(r2->status, 200);
    auto r3 = handshaking.read_response();
    ASSERT_TRUE(r3) << "a handshake answered after the stall was dropped";
    EXPECT_EQ(r3->status, 200);
    auto r4 = late.read_response();
    ASSERT_TRUE(r4) << "the late client got no answer";
    expect_own_error(*r4, 408);
    // Given back no more than the stall (about 0.5 s of it fell inside its 1 s).
    EXPECT_LT(ms_between(resumed, Clock::now()), 1500) << "the late client was given too long";
}

TEST_F(HostileSlow, BodyTrickledWithinIdleLimitThenStalledGets408AfterBodyIdleTimeout) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.send("POST /slowbody HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n"));
    // 8 bytes 250 ms apart: 2 s in all, past body_idle_timeout, but no pause reaches it.
    const auto sent = trickle(c, std::string(8, 'b'), 250ms);
    EXPECT_EQ(sent, 8u) << "a body arriving within body_idle_timeout was cut off";
    const auto last_byte = Clock::now();
    ASSERT_TRUE(readable(c, 5s)) << "no answer to a stalled body";
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r);
    expect_own_error(*r, 408);
    EXPECT_GE(ms_between(last_byte, t1), 700) << "timed out before body_idle_timeout";
    EXPECT_LT(ms_between(last_byte, t1), 3000);
    EXPECT_TRUE(c.wait_closed(3s));
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes(false);  // the head and 8 bytes were streamed; never completed
}

TEST_F(HostileSlow, ChunkedBodyStalledInsideAChunkGets408) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.send("POST /slowchunk HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "100\r\nabc"));
    ASSERT_TRUE(readable(c, 5s)) << "no answer to a stalled chunk";
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r);
    expect_own_error(*r, 408);
    EXPECT_GE(ms_between(t0, t1), 700);
    EXPECT_LT(ms_between(t0, t1), 3000);
    EXPECT_TRUE(c.wait_closed(3s));
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes(false);
}

TEST_F(HostileSlow, SlowReaderOfLargeResponseKeepsMemoryBoundedAndIsClosed) {
    constexpr std::uint64_t kSize = 64ull << 20;
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
        if (seen.target == "/big") reply.generated_bytes = kSize;
    });
    start_with_limits();
    // Warm up (TLS, pool, buffers) before the baseline.
    auto warm = https_request(port(), good_client(), get_request("/probe/warm"));
    ASSERT_TRUE(warm);
    const long rss_before = proxy->rss_kib();
    ASSERT_GT(rss_before, 0);

    NormalTraffic normal(port(), good_client());
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.send(get_request("/big")));
    // The client reads nothing. certgate logs the request when it gives up on the client.
    const auto line = proxy->wait_for_log({"\"path\":\"/big\""}, 15s);
    const auto t1 = Clock::now();
    ASSERT_TRUE(line) << "a client that stopped reading was held open\n" << joined(proxy->log_lines());
    EXPECT_GE(ms_between(t0, t1), 900) << "closed before body_idle_timeout";
    std::smatch m;
    ASSERT_TRUE(std::regex_search(*line, m, std::regex("\"bytes_out\":([0-9]+)"))) << *line;
    EXPECT_LT(std::stoull(m[1].str()), kSize) << "the whole response went out to a non-reader?";
    const long peak = proxy->peak_rss_kib();
    if (!kSanitized) {
        EXPECT_LT(peak - rss_before, 16 * 1024) << "certgate buffered the response: RSS "
                                                << rss_before << " KiB -> peak " << peak << " KiB";
        EXPECT_LT(proxy->rss_kib() - rss_before, 16 * 1024);
    }
    normal.expect_served(t0, t1);
    // What was already in flight drains, then the connection ends short of the full body.
    EXPECT_TRUE(c.wait_closed(5s));
    EXPECT_FALSE(c.read_response());
}

TEST_F(HostileSlow, OversizedRequestLineGets431) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    const auto t0 = Clock::now();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send("GET /" + std::string(64 * 1024, 'a') + " HTTP/1.1\r\nHost: localhost\r\n\r\n" +
                       get_request("/smuggled")));
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r);
    expect_own_error(*r, 431);
    EXPECT_TRUE(c.wait_closed(3s));
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes();
}

TEST_F(HostileSlow, EndlessBlankLinesBeforeTheRequestGet431) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    const auto t0 = Clock::now();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    std::string blank;
    for (int i = 0; i < 32 * 1024; ++i) blank += "\r\n";
    ASSERT_TRUE(c.send(blank + get_request("/after-blank-lines")));
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r);
    expect_own_error(*r, 431);
    EXPECT_TRUE(c.wait_closed(3s));
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes();
}

// 10,000 tiny headers: over the byte limit they get 431; under a raised limit they pass (or
// get 431) — never a crash, never a stall of the worker.
TEST_F(HostileSlow, TenThousandHeadersOverTheByteLimitGet431) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    std::string fields;
    for (int i = 0; i < 10000; ++i) fields += "h" + std::to_string(i) + ":x\r\n";
    const auto t0 = Clock::now();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/many", fields)));
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r);
    expect_own_error(*r, 431);
    EXPECT_LT(ms_between(t0, t1), 3000);
    EXPECT_TRUE(c.wait_closed(3s));
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes();
}

TEST_F(HostileSlow, ManyHeadersAndConnectionTokensWithinTheLimitAreHandledInBoundedTime) {
    start_with_limits("  max_request_header_bytes: 1MiB\n");
    NormalTraffic normal(port(), good_client());
    // Within 1 MiB: ~100,000 Connection tokens and ~100,000 fields, so that any per-token
    // pass over the fields is 10^10 steps.
    std::string connection = "Connection: keep-alive";
    for (int i = 0; i < 40000; ++i) connection += ",t" + std::to_string(i % 1000);
    std::string fields;
    for (int i = 0; fields.size() < 600 * 1024; ++i) fields += "f" + std::to_string(i % 1000) + ":\r\n";
    const auto t0 = Clock::now();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/probe/many", connection + "\r\n" + fields)));
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r) << "no answer";
    EXPECT_TRUE(r->status == 200 || r->status == 431) << r->status;
    // TSan slows certgate several-fold; the bound is about linear vs quadratic work.
    const long bound_ms = kSanitized ? 15000 : 3000;
    EXPECT_LT(ms_between(t0, t1), bound_ms) << "the worker was busy with one request's headers";
    normal.expect_served(t0, t1);
    auto after = https_request(port(), good_client(), get_request("/probe/after"));
    ASSERT_TRUE(after) << "certgate is gone";
    EXPECT_EQ(after->status, 200);
}

TEST_F(HostileSlow, HugeChunkExtensionGets400AndIsNeverForwarded) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    const auto t0 = Clock::now();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    std::string ext;
    while (ext.size() < 100 * 1024) ext += ";ext=" + std::string(59, 'e');
    ASSERT_TRUE(c.send("POST /ext HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5" + ext + "\r\nhello\r\n0\r\n\r\n" + get_request("/smuggled")));
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r) << "no answer";
    expect_own_error(*r, 400);
    EXPECT_TRUE(c.wait_closed(3s));
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes();
}

TEST_F(HostileSlow, HugeChunkExtensionAfterAGoodChunkIsNotForwarded) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    const auto t0 = Clock::now();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    std::string ext;
    while (ext.size() < 100 * 1024) ext += ";ext=" + std::string(59, 'e');
    ASSERT_TRUE(c.send("POST /ext HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n5" + ext + "\r\nhello\r\n0\r\n\r\n" + get_request("/smuggled")));
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r) << "no answer";
    expect_own_error(*r, 400);
    EXPECT_TRUE(c.wait_closed(3s));
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes(false);  // the head and "abc" were streamed
    std::uint64_t probe_bytes = 0;
    for (const auto& s : upstream->requests()) probe_bytes += s.raw_head.size();
    EXPECT_LT(upstream->bytes_received() - probe_bytes, 4096u) << "the extension reached the app";
}

TEST_F(HostileSlow, HugeTrailerSectionGets400) {
    start_with_limits();
    NormalTraffic normal(port(), good_client());
    const auto t0 = Clock::now();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    std::string trailers;
    for (int i = 0; trailers.size() < 100 * 1024; ++i) trailers += "X-T" + std::to_string(i) + ": v\r\n";
    ASSERT_TRUE(c.send("POST /trailers HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n0\r\n" + trailers + "\r\n" + get_request("/smuggled")));
    auto r = c.read_response();
    const auto t1 = Clock::now();
    ASSERT_TRUE(r) << "no answer";
    expect_own_error(*r, 400);
    EXPECT_TRUE(c.wait_closed(3s));
    normal.expect_served(t0, t1);
    expect_app_saw_only_probes(false);
}

}  // namespace
}  // namespace certgate::testing
