// cg-loadgen: the certgate benchmark's load generator and upload sink.
//
// A closed-loop HTTP/1.1 client that can present a TLS client certificate (wrk and h2load
// cannot), written as one thread of Boost.Asio C++20 coroutines over OpenSSL. Every
// connection slot is a coroutine that waits for each response before it sends the next
// request. Modes (--mode):
//   keepalive  each slot sends GETs on one connection, reconnecting only if it is closed
//   handshake  a new TCP+TLS connection per request (Connection: close): full handshakes/s
//   resume     as handshake, but each slot offers the TLS session it got last time
//   hold       open --hold N connections (--conns at a time), one GET each, then keep them idle;
//              prints "HOLDING n" once every one is open, and stays until --duration ends
//   upload     POST --body-bytes B per request, streamed from a 256 KiB buffer
// With --sink PORT it is instead a plain-HTTP sink: it reads every request body (length or
// chunked; length-framed bodies are spliced into /dev/null, so the sink costs the load core
// little) before answering "200 ok"; GET /echo answers with the request head.
//
// At the end it prints one line: RESULT {json}. With --watch NAME=PIDS (the proxy, the
// upstream, ...) it also reports the CPU seconds those processes used inside the measured
// window (utime+stime from /proc/PID/stat), and with --cpus the busy and steal % of those
// cores, so the window is exactly the loadgen's own. Busy time on a core that none of these
// processes account for is someone else's: run.sh uses that to spot disturbed runs.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace net = boost::asio;
namespace tls = boost::asio::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = tls::stream<tcp::socket>;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// ---------------------------------------------------------------- options

enum class Mode { keepalive, handshake, resume, hold, upload };

struct Options {
    Mode mode = Mode::keepalive;
    bool use_tls = false;
    std::string host = "127.0.0.1", port, path = "/", cert, key, ca;
    int conns = 64, hold = 0, sink_port = 0;
    double duration = 4, warmup = 1;
    long long requests = 0;  // stop after this many measured requests (0: run for --duration)
    long long body_bytes = 0;
    std::vector<std::string> headers, cpus;
    std::vector<std::pair<std::string, std::vector<std::string>>> watch;  // name -> pids
    std::vector<std::pair<std::string, std::string>> tags;
};

// ---------------------------------------------------------------- measurement

// Latency histogram: bucket i holds samples with round(100 * ln(ns)) == i, so each bucket is
// about 1 % wide and 2,600 buckets reach past 100 s.
class Histogram {
public:
    void add(Clock::duration d) {
        double ns = double(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
        size_t i = ns < 1 ? 0 : std::min(counts_.size() - 1, size_t(std::lround(100.0 * std::log(ns))));
        ++counts_[i];
        ++total_;
        max_ns_ = std::max(max_ns_, ns);
    }
    double quantile_ms(double q) const {
        if (total_ == 0) return 0;
        auto rank = std::max<uint64_t>(1, uint64_t(std::ceil(q * double(total_))));
        uint64_t seen = 0;
        for (size_t i = 0; i < counts_.size(); ++i)
            if ((seen += counts_[i]) >= rank) return std::min(std::exp(double(i) / 100.0), max_ns_) / 1e6;
        return max_ns_ / 1e6;
    }
    double max_ms() const { return max_ns_ / 1e6; }

private:
    std::array<uint64_t, 2600> counts_{};
    uint64_t total_ = 0;
    double max_ns_ = 0;
};

struct Counters {
    long long reqs = 0, non2xx = 0, errors = 0, handshakes = 0, resumed = 0, body_bytes = 0;
};

// CPU ticks (utime+stime+cutime+cstime) of the watched processes.
static double watched_cpu_seconds(const std::vector<std::string>& pids) {
    static const double hz = double(sysconf(_SC_CLK_TCK));
    long long ticks = 0;
    for (auto& pid : pids) {
        std::ifstream f("/proc/" + pid + "/stat");
        std::string all((std::istreambuf_iterator<char>(f)), {});
        auto close = all.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(all.substr(close + 2));  // fields from 3 (state) on
        std::string field;
        for (int n = 3; n <= 17 && rest >> field; ++n)
            if (n >= 14) ticks += std::stoll(field);  // 14 utime 15 stime 16 cutime 17 cstime
    }
    return double(ticks) / hz;
}

// jiffies of one core from /proc/stat: busy (idle, iowait and steal excluded), steal, total
struct CoreTime {
    long long busy = 0, steal = 0, total = 0;
};
static CoreTime core_time(const std::string& cpu) {
    std::ifstream f("/proc/stat");
    std::string line, want = "cpu" + cpu + " ";
    while (std::getline(f, line)) {
        if (line.compare(0, want.size(), want) != 0) continue;
        std::istringstream in(line.substr(want.size()));
        long long v[8] = {}, total = 0;  // user nice system idle iowait irq softirq steal
        for (auto& x : v) in >> x, total += x;
        return {total - v[3] - v[4] - v[7], v[7], total};
    }
    return {};
}

static double own_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------- HTTP/1.1 reading

struct MessageHead {
    int status = 0;              // responses
    std::string_view target;     // requests
    long long length = -1;       // Content-Length, -1 if none
    bool chunked = false, close = false, expect_continue = false;
};

static bool iequals_prefix(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}
static bool icontains(std::string_view s, std::string_view word) {
    for (size_t i = 0; i + word.size() <= s.size(); ++i)
        if (strncasecmp(s.data() + i, word.data(), word.size()) == 0) return true;
    return false;
}

// head = start line and header lines, without the blank line
static MessageHead parse_head(std::string_view head) {
    MessageHead m;
    size_t eol = std::min(head.find("\r\n"), head.size());
    std::string_view start = head.substr(0, eol);
    if (iequals_prefix(start, "HTTP/")) {
        if (start.size() >= 12) m.status = std::atoi(start.data() + 9);
    } else {
        size_t a = start.find(' '), b = start.rfind(' ');
        if (a != std::string_view::npos && b > a) m.target = start.substr(a + 1, b - a - 1);
    }
    while (eol < head.size()) {
        size_t from = eol + 2;
        eol = std::min(head.find("\r\n", from), head.size());
        std::string_view line = head.substr(from, eol - from);
        if (iequals_prefix(line, "content-length:")) m.length = std::atoll(line.data() + 15);
        else if (iequals_prefix(line, "transfer-encoding:")) m.chunked = icontains(line, "chunked");
        else if (iequals_prefix(line, "connection:")) m.close = icontains(line, "close");
        else if (iequals_prefix(line, "expect:")) m.expect_continue = icontains(line, "100-continue");
    }
    return m;
}

// Buffered reader over any Asio stream. Views it returns are valid until its next call.
template <class Stream>
class Reader {
public:
    Reader(Stream& s, size_t capacity) : s_(s), buf_(capacity) {}

    net::awaitable<std::optional<std::string_view>> head() { co_return co_await until("\r\n\r\n"); }
    net::awaitable<std::optional<std::string_view>> line() { co_return co_await until("\r\n"); }

    net::awaitable<bool> skip(long long n) {
        while (n > 0) {
            if (begin_ == end_ && !co_await fill()) co_return false;
            size_t take = size_t(std::min<long long>(n, (long long)(end_ - begin_)));
            begin_ += take;
            n -= (long long)take;
        }
        co_return true;
    }

    // the body that follows a head (Content-Length, chunked, or none)
    net::awaitable<bool> skip_body(const MessageHead& m) {
        if (!m.chunked) co_return co_await skip(std::max(0LL, m.length));
        for (;;) {
            auto size_line = co_await line();
            if (!size_line) co_return false;
            long long n = std::strtoll(std::string(*size_line).c_str(), nullptr, 16);
            if (n == 0) break;
            if (!co_await skip(n + 2)) co_return false;
        }
        for (;;) {  // trailer section, ends with an empty line
            auto t = co_await line();
            if (!t) co_return false;
            if (t->empty()) co_return true;
        }
    }

    // consumes up to n bytes that are already buffered; returns how many
    size_t take_buffered(long long n) {
        size_t take = size_t(std::min<long long>(n, (long long)(end_ - begin_)));
        begin_ += take;
        return take;
    }

private:
    net::awaitable<std::optional<std::string_view>> until(std::string_view delim) {
        size_t from = 0;  // offset from begin_ where the search resumes (fill() keeps it valid)
        for (;;) {
            std::string_view have(buf_.data() + begin_, end_ - begin_);
            size_t at = have.find(delim, from);
            if (at != std::string_view::npos) {
                begin_ += at + delim.size();
                co_return have.substr(0, at);
            }
            from = have.size() >= delim.size() ? have.size() - delim.size() + 1 : 0;
            if (!co_await fill()) co_return std::nullopt;
        }
    }
    net::awaitable<bool> fill() {
        if (begin_ == end_) begin_ = end_ = 0;
        if (end_ == buf_.size()) {
            if (begin_ == 0) co_return false;  // a head larger than the buffer
            std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        auto [ec, n] = co_await s_.async_read_some(net::buffer(buf_.data() + end_, buf_.size() - end_), use_tuple);
        if (ec) co_return false;
        end_ += n;
        co_return true;
    }

    Stream& s_;
    std::vector<char> buf_;
    size_t begin_ = 0, end_ = 0;
};

// ---------------------------------------------------------------- the client

struct Run {
    Options opt;
    net::io_context io{1};
    std::optional<tls::context> tls_ctx;
    tcp::endpoint endpoint;
    std::string request;                          // request line + headers + blank line
    std::vector<char> chunk = std::vector<char>(256 * 1024, 'x');  // upload body source
    std::vector<SSL_SESSION*> sessions;           // resume: last session per slot
    int slot_index = -1;                          // SSL ex_data index holding slot + 1

    bool measuring = false;
    Clock::time_point measure_start;
    double own_cpu0 = 0;
    std::vector<double> watched0;
    std::vector<CoreTime> cores0;
    Counters c;
    Histogram latency;
    std::string tls_info, first_error;
    int held = 0, hold_attempts_done = 0, dropped = 0, next_hold = 0;
    bool holding_printed = false;

    void start_measuring();
    [[noreturn]] void finish();
    void error(const std::string& what) {
        if (measuring || opt.mode == Mode::hold) ++c.errors;
        if (first_error.empty()) first_error = what;
    }
    void hold_attempt_done() {
        ++hold_attempts_done;
        if (!holding_printed && hold_attempts_done == opt.hold) {
            holding_printed = true;
            std::printf("HOLDING %d errors=%lld\n", held, c.errors);
            std::fflush(stdout);
        }
    }
};
static Run* R;

void Run::start_measuring() {
    c = Counters{};
    latency = Histogram{};
    measure_start = Clock::now();
    own_cpu0 = own_cpu_seconds();
    watched0.clear();
    for (auto& w : opt.watch) watched0.push_back(watched_cpu_seconds(w.second));
    cores0.clear();
    for (auto& cpu : opt.cpus) cores0.push_back(core_time(cpu));
    measuring = true;
}

static std::string json_escape(std::string_view s) {
    std::string out;
    for (char ch : s) {
        if (ch == '"' || ch == '\\') out += '\\';
        if (static_cast<unsigned char>(ch) >= 0x20) out += ch;
    }
    return out;
}

void Run::finish() {
    double secs = std::chrono::duration<double>(Clock::now() - measure_start).count();
    double own = own_cpu_seconds() - own_cpu0;
    static const char* names[] = {"keepalive", "handshake", "resume", "hold", "upload"};
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(3);
    o << "RESULT {";
    for (auto& [k, v] : opt.tags) o << '"' << json_escape(k) << "\":\"" << json_escape(v) << "\",";
    o << "\"mode\":\"" << names[int(opt.mode)] << "\",\"conns\":" << opt.conns << ",\"secs\":" << secs
      << ",\"reqs\":" << c.reqs << ",\"rps\":" << double(c.reqs) / secs << ",\"non2xx\":" << c.non2xx
      << ",\"errors\":" << c.errors << ",\"handshakes\":" << c.handshakes
      << ",\"hs_per_s\":" << double(c.handshakes) / secs << ",\"resumed\":" << c.resumed
      << ",\"p50_ms\":" << latency.quantile_ms(0.50) << ",\"p90_ms\":" << latency.quantile_ms(0.90)
      << ",\"p99_ms\":" << latency.quantile_ms(0.99) << ",\"max_ms\":" << latency.max_ms()
      << ",\"body_bytes\":" << c.body_bytes << ",\"mibps\":" << double(c.body_bytes) / 1048576.0 / secs
      << ",\"loadgen_cpu_pct\":" << 100.0 * own / secs;
    o << ",\"loadgen_cpu_s\":" << own;
    for (size_t i = 0; i < opt.watch.size(); ++i)
        o << ",\"" << json_escape(opt.watch[i].first) << "_cpu_s\":" << watched_cpu_seconds(opt.watch[i].second) - watched0[i];
    for (size_t i = 0; i < opt.cpus.size(); ++i) {
        CoreTime now = core_time(opt.cpus[i]);
        double total = double(std::max(1LL, now.total - cores0[i].total));
        o << ",\"cpu" << opt.cpus[i] << "_busy_pct\":" << 100.0 * double(now.busy - cores0[i].busy) / total
          << ",\"cpu" << opt.cpus[i] << "_steal_pct\":" << 100.0 * double(now.steal - cores0[i].steal) / total;
    }
    if (opt.mode == Mode::hold) o << ",\"held\":" << held << ",\"dropped\":" << dropped;
    o << ",\"tls\":\"" << json_escape(tls_info) << "\",\"first_error\":\"" << json_escape(first_error) << "\"}\n";
    std::fputs(o.str().c_str(), stdout);
    std::fflush(stdout);
    _exit(c.reqs > 0 || held > 0 ? 0 : 1);  // open connections and coroutines just end with us
}

// OpenSSL hands every new TLS 1.3 ticket here; the slot keeps the latest one.
static int remember_session(SSL* ssl, SSL_SESSION* session) {
    auto slot = reinterpret_cast<intptr_t>(SSL_get_ex_data(ssl, R->slot_index)) - 1;
    if (slot < 0) return 0;
    if (R->sessions[slot]) SSL_SESSION_free(R->sessions[slot]);
    R->sessions[slot] = session;
    return 1;  // we keep the reference
}

template <class S>
struct Connection {
    explicit Connection(Run& r) : stream(make(r)), reader(stream, 64 * 1024) {}
    static S make(Run& r) {
        if constexpr (std::is_same_v<S, TlsStream>) return S(r.io, *r.tls_ctx);
        else return S(r.io);
    }
    S stream;
    Reader<S> reader;
};

template <class S>
static tcp::socket& socket_of(S& s) {
    if constexpr (std::is_same_v<S, TlsStream>) return s.next_layer();
    else return s;
}

// Close without close_notify, but marked as shut down: otherwise OpenSSL flags the session
// as not resumable when the SSL object is freed.
template <class S>
static void drop(S& s) {
    if constexpr (std::is_same_v<S, TlsStream>)
        SSL_set_shutdown(s.native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    boost::system::error_code ignored;
    socket_of(s).close(ignored);
}

template <class S>
static net::awaitable<bool> connect(Connection<S>& conn, int slot) {
    auto [ec] = co_await socket_of(conn.stream).async_connect(R->endpoint, use_tuple);
    if (ec) { R->error("connect: " + ec.message()); co_return false; }
    socket_of(conn.stream).set_option(tcp::no_delay(true), ec);
    if constexpr (std::is_same_v<S, TlsStream>) {
        SSL* ssl = conn.stream.native_handle();
        if (R->opt.mode == Mode::resume) {
            SSL_set_ex_data(ssl, R->slot_index, reinterpret_cast<void*>(intptr_t(slot) + 1));
            if (R->sessions[slot]) SSL_set_session(ssl, R->sessions[slot]);
        }
        auto [hec] = co_await conn.stream.async_handshake(tls::stream_base::client, use_tuple);
        if (hec) { R->error("handshake: " + hec.message()); co_return false; }
        if (R->measuring) {
            ++R->c.handshakes;
            if (SSL_session_reused(ssl)) ++R->c.resumed;
        }
        if (R->tls_info.empty()) {
            int group = SSL_get_negotiated_group(ssl);
            R->tls_info = std::string(SSL_get_version(ssl)) + "/" + SSL_get_cipher_name(ssl) + "/" +
                          (group > 0 ? OBJ_nid2sn(group & 0xffff) : "?");
        }
    }
    co_return true;
}

// one request and its response; false if the connection failed
template <class S>
static net::awaitable<bool> exchange(Connection<S>& conn, Clock::time_point started, bool& server_closes) {
    auto [ec, n] = co_await net::async_write(conn.stream, net::buffer(R->request), use_tuple);
    if (ec) { R->error("write: " + ec.message()); co_return false; }
    for (long long left = R->opt.body_bytes; left > 0;) {
        size_t part = size_t(std::min<long long>(left, (long long)R->chunk.size()));
        auto [wec, wn] = co_await net::async_write(conn.stream, net::buffer(R->chunk.data(), part), use_tuple);
        if (wec) { R->error("write body: " + wec.message()); co_return false; }
        left -= (long long)wn;
        if (R->measuring) R->c.body_bytes += (long long)wn;
    }
    auto head = co_await conn.reader.head();
    if (!head) { R->error("read: no response head"); co_return false; }
    MessageHead m = parse_head(*head);
    if (m.status == 100) {  // interim response: the real one follows
        head = co_await conn.reader.head();
        if (!head) { R->error("read: no response head after 100"); co_return false; }
        m = parse_head(*head);
    }
    if (!m.chunked && m.length < 0) { R->error("response without Content-Length"); co_return false; }
    if (!co_await conn.reader.skip_body(m)) { R->error("read: response body cut"); co_return false; }
    server_closes = m.close;
    if (R->measuring) {
        ++R->c.reqs;
        if (m.status < 200 || m.status > 299) ++R->c.non2xx;
        R->latency.add(Clock::now() - started);
        if (R->opt.requests > 0 && R->c.reqs >= R->opt.requests) R->finish();
    }
    co_return true;
}

// keepalive / handshake / resume / upload: one slot of the closed loop
template <class S>
static net::awaitable<void> slot_loop(int slot) {
    net::steady_timer backoff(R->io);
    bool per_request = R->opt.mode == Mode::handshake || R->opt.mode == Mode::resume;
    for (;;) {
        auto conn = std::make_unique<Connection<S>>(*R);
        Clock::time_point opened = Clock::now();
        bool ok = co_await connect(*conn, slot);
        for (bool closes = false; ok && !closes;) {
            ok = co_await exchange(*conn, per_request ? opened : Clock::now(), closes);
            closes = closes || per_request;
        }
        drop(conn->stream);
        if (!ok) {  // do not spin on a refusing server
            backoff.expires_after(std::chrono::milliseconds(20));
            co_await backoff.async_wait(use_tuple);
        }
    }
}

// hold: after its one request a connection waits here until the server drops it
template <class S>
static net::awaitable<void> idle(std::unique_ptr<Connection<S>> conn) {
    char byte;
    co_await conn->stream.async_read_some(net::buffer(&byte, 1), use_tuple);
    --R->held;
    ++R->dropped;
    drop(conn->stream);
}

template <class S>
static net::awaitable<void> hold_opener() {
    while (R->next_hold < R->opt.hold) {
        ++R->next_hold;
        auto conn = std::make_unique<Connection<S>>(*R);
        bool closes = false;
        if (co_await connect(*conn, 0) && co_await exchange(*conn, Clock::now(), closes) && !closes) {
            ++R->held;
            net::co_spawn(R->io, idle(std::move(conn)), net::detached);
        } else if (closes) {
            R->error("server closed a held connection");
        }
        R->hold_attempt_done();
    }
}

template <class S>
static void start_client(Run& r) {
    if (r.opt.mode == Mode::hold) {
        for (int i = 0; i < std::min(r.opt.conns, r.opt.hold); ++i) net::co_spawn(r.io, hold_opener<S>(), net::detached);
    } else {
        for (int i = 0; i < r.opt.conns; ++i) net::co_spawn(r.io, slot_loop<S>(i), net::detached);
    }
}

// ---------------------------------------------------------------- the sink

// Discards n body bytes without copying them to user space: socket -> pipe -> /dev/null.
static net::awaitable<bool> discard(tcp::socket& s, Reader<tcp::socket>& reader, long long n) {
    static const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    n -= (long long)reader.take_buffered(n);
    if (n <= 0) co_return true;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) co_return false;
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    s.native_non_blocking(true);
    bool ok = true;
    while (n > 0 && ok) {
        ssize_t got = splice(s.native_handle(), nullptr, p[1], nullptr, size_t(std::min<long long>(n, 1 << 20)),
                             SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (got > 0) {
            n -= got;
            while (got > 0) {
                ssize_t out = splice(p[0], nullptr, devnull, nullptr, size_t(got), SPLICE_F_MOVE);
                if (out <= 0) { ok = false; break; }
                got -= out;
            }
        } else if (got < 0 && errno == EAGAIN) {
            auto [ec] = co_await s.async_wait(tcp::socket::wait_read, use_tuple);
            ok = !ec;
        } else {
            ok = false;  // end of stream or error
        }
    }
    close(p[0]);
    close(p[1]);
    co_return ok;
}

static net::awaitable<void> sink_connection(tcp::socket s) {
    Reader<tcp::socket> reader(s, 256 * 1024);
    for (;;) {
        auto head = co_await reader.head();
        if (!head) co_return;
        MessageHead m = parse_head(*head);
        std::string body = m.target.starts_with("/echo") ? std::string(*head) + "\r\n" : "ok\n";
        if (m.expect_continue) {
            static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
            auto [ec, n] = co_await net::async_write(s, net::buffer(cont), use_tuple);
            if (ec) co_return;
        }
        // every body byte is read before answering
        bool whole = m.chunked ? co_await reader.skip_body(m) : co_await discard(s, reader, std::max(0LL, m.length));
        if (!whole) co_return;
        std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
        auto [ec, n] = co_await net::async_write(s, net::buffer(reply), use_tuple);
        if (ec || m.close) co_return;
    }
}

static net::awaitable<void> sink_accept(tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, s] = co_await acceptor.async_accept(use_tuple);
        if (ec) continue;
        s.set_option(tcp::no_delay(true), ec);
        net::co_spawn(acceptor.get_executor(), sink_connection(std::move(s)), net::detached);
    }
}

// ---------------------------------------------------------------- main

[[noreturn]] static void usage() {
    std::fputs(
        "usage: cg-loadgen --url http[s]://HOST:PORT[/path] [options]\n"
        "       cg-loadgen --sink PORT                (upload sink on 127.0.0.1:PORT)\n"
        "  --mode keepalive|handshake|resume|hold|upload   (default keepalive)\n"
        "  --cert F --key F      client certificate and key    --ca F   verify the server against F\n"
        "  --conns N=64          connection slots (hold: connections opened at a time)\n"
        "  --duration S=4 --warmup S=1     measured seconds, after the warm-up\n"
        "  --requests N          stop after N measured requests    --hold N   connections to hold\n"
        "  --body-bytes B        request body size (upload)        --header 'K: V' (repeatable)\n"
        "  --watch NAME=P,P,...  CPU seconds of these processes in the window, as NAME_cpu_s\n"
        "                        (repeatable)    --cpus 0,1   busy and steal % of these cores\n"
        "  --tag key=value       copied into the RESULT line (repeatable)\n",
        stderr);
    std::exit(2);
}

static std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string part; std::getline(in, part, ',');)
        if (!part.empty()) out.push_back(part);
    return out;
}

static Options parse_args(int argc, char** argv) {
    Options o;
    std::string url;
    static const std::map<std::string, Mode> modes = {{"keepalive", Mode::keepalive}, {"handshake", Mode::handshake},
                                                      {"resume", Mode::resume}, {"hold", Mode::hold},
                                                      {"upload", Mode::upload}};
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--url") url = value();
        else if (a == "--sink") o.sink_port = std::stoi(value());
        else if (a == "--mode") {
            auto it = modes.find(value());
            if (it == modes.end()) usage();
            o.mode = it->second;
        } else if (a == "--cert") o.cert = value();
        else if (a == "--key") o.key = value();
        else if (a == "--ca") o.ca = value();
        else if (a == "--conns") o.conns = std::stoi(value());
        else if (a == "--duration") o.duration = std::stod(value());
        else if (a == "--warmup") o.warmup = std::stod(value());
        else if (a == "--requests") o.requests = std::stoll(value());
        else if (a == "--hold") o.hold = std::stoi(value());
        else if (a == "--body-bytes") o.body_bytes = std::stoll(value());
        else if (a == "--header") o.headers.push_back(value());
        else if (a == "--watch") {
            std::string nv = value();
            auto eq = nv.find('=');
            if (eq == std::string::npos) usage();
            o.watch.emplace_back(nv.substr(0, eq), split_commas(nv.substr(eq + 1)));
        }
        else if (a == "--cpus") o.cpus = split_commas(value());
        else if (a == "--tag") {
            std::string kv = value();
            auto eq = kv.find('=');
            if (eq == std::string::npos) usage();
            o.tags.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        } else usage();
    }
    if (o.sink_port) return o;
    if (url.starts_with("https://")) o.use_tls = true, url.erase(0, 8);
    else if (url.starts_with("http://")) url.erase(0, 7);
    else usage();
    if (auto slash = url.find('/'); slash != std::string::npos) o.path = url.substr(slash), url.resize(slash);
    auto colon = url.rfind(':');
    if (colon == std::string::npos) usage();
    o.host = url.substr(0, colon);
    o.port = url.substr(colon + 1);
    if (o.mode == Mode::hold && o.hold <= 0) usage();
    if (o.mode == Mode::upload && o.body_bytes <= 0) usage();
    if (o.mode != Mode::upload) o.body_bytes = 0;
    if (o.mode == Mode::hold) o.warmup = 0;
    return o;
}

int main(int argc, char** argv) {
    Run run;
    R = &run;
    run.opt = parse_args(argc, argv);
    Options& o = run.opt;

    rlimit nofile{};  // holding thousands of connections needs descriptors
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    if (o.sink_port) {
        tcp::acceptor acceptor(run.io);
        tcp::endpoint ep(net::ip::make_address("127.0.0.1"), (unsigned short)o.sink_port);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen(1024);
        net::co_spawn(run.io, sink_accept(acceptor), net::detached);
        run.io.run();
        return 0;
    }

    try {
        run.endpoint = *tcp::resolver(run.io).resolve(o.host, o.port).begin();
        if (o.use_tls) {
            run.tls_ctx.emplace(tls::context::tls_client);
            SSL_CTX* ctx = run.tls_ctx->native_handle();
            if (!o.ca.empty()) {
                run.tls_ctx->load_verify_file(o.ca);
                run.tls_ctx->set_verify_mode(tls::verify_peer);
                X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);  // the server must be HOST
                boost::system::error_code not_ip;
                net::ip::make_address(o.host, not_ip);
                if (not_ip) X509_VERIFY_PARAM_set1_host(param, o.host.c_str(), 0);
                else X509_VERIFY_PARAM_set1_ip_asc(param, o.host.c_str());
            }
            if (!o.cert.empty()) run.tls_ctx->use_certificate_chain_file(o.cert);
            if (!o.key.empty()) run.tls_ctx->use_private_key_file(o.key, tls::context::pem);
            if (o.mode == Mode::resume) {
                run.sessions.assign(size_t(o.conns), nullptr);
                run.slot_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
                SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
                SSL_CTX_sess_set_new_cb(ctx, remember_session);
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "cg-loadgen: setup failed: %s\n", e.what());
        return 2;
    }

    run.request = std::string(o.mode == Mode::upload ? "POST " : "GET ") + o.path + " HTTP/1.1\r\nHost: " + o.host +
                  ":" + o.port + "\r\nUser-Agent: cg-loadgen\r\n";
    if (o.mode == Mode::upload)
        run.request += "Content-Type: application/octet-stream\r\nContent-Length: " + std::to_string(o.body_bytes) + "\r\n";
    if (o.mode == Mode::handshake || o.mode == Mode::resume) run.request += "Connection: close\r\n";
    for (auto& h : o.headers) run.request += h + "\r\n";
    run.request += "\r\n";

    auto seconds = [](double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); };
    net::steady_timer warm(run.io), stop(run.io);
    if (o.warmup > 0) {
        warm.expires_after(seconds(o.warmup));
        warm.async_wait([](boost::system::error_code) { R->start_measuring(); });
    } else {
        run.start_measuring();
    }
    stop.expires_after(seconds(o.warmup + o.duration));
    stop.async_wait([](boost::system::error_code) { R->finish(); });

    if (o.use_tls) start_client<TlsStream>(run);
    else start_client<tcp::socket>(run);
    run.io.run();
    run.finish();
}
