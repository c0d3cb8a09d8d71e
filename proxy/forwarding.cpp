// ClientSession, second half: the exchange with the app. Bodies go buffer to buffer in
// both directions, one piece at a time, so memory stays bounded whatever their size.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include "policies/cookies.hpp"
#include "policies/request_sanitizer.hpp"
#include "policies/response_decorator.hpp"
#include "proxy/client_session.hpp"
#include "proxy/http_writer.hpp"
#include "proxy/worker.hpp"

namespace certgate::proxy {

namespace net = boost::asio;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
namespace {
constexpr auto nothrow = net::as_tuple(net::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;
// Request bodies move in pieces of up to four TLS records: a quarter of the writes to the
// app, and of the wake-ups they cost it.
constexpr std::size_t kBodyChunk = 64 * 1024;
constexpr std::size_t kMaxChunkHeaderBytes = 16 * 1024;
constexpr std::uint32_t kMaxResponseHeaderBytes = 64 * 1024;
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

net::awaitable<ClientSession::Io> ClientSession::write_upstream(
    UpstreamConnection& up, const std::array<net::const_buffer, 4>& buffers) {
    arm(snapshot_->config.limits.body_idle_timeout);
    const error_code ec = co_await up.write(buffers);
    if (!ec) co_return Io::ok;
    co_return timed_out_ ? Io::timed_out : Io::failed;
}

net::awaitable<ClientSession::Send> ClientSession::send_request(Request& r, RequestParser& parser,
                                                                UpstreamConnection& up,
                                                                bool chunked) {
    const auto limit = snapshot_->config.limits.max_request_body_bytes;
    net::const_buffer head = net::buffer(request_out_);
    if (r.body_read) {
        const std::array<net::const_buffer, 4> buffers1{head};
        Io w = co_await write_upstream(up, buffers1);
        co_return w == Io::ok ? Send::ok
        : w == Io::failed     ? Send::upstream_failed
                              : Send::upstream_timeout;
    }
    while (!parser.complete()) {
        std::string_view piece;
        std::size_t used = 0;
        if (in_.size() > 0) {
            error_code ec;
            used = parser.put_body(in_.data(), ec);
            if (ec == http::error::need_more) ec = {};
            if (ec) co_return Send::bad_body;
            piece = parser.take_body_piece();
        }
        if (!piece.empty()) {
            r.bytes_in += piece.size();
            if (limit > 0 && r.bytes_in > limit) co_return Send::too_large;
            std::size_t hn = chunked ? format_chunk_header(chunk_header_, piece.size()) : 0;
            const std::array<net::const_buffer, 4> buffers2{
                head, net::buffer(chunk_header_, hn), net::buffer(piece),
                net::buffer(kCrlf.data(), chunked ? 2 : 0)};
            Io w = co_await write_upstream(up, buffers2);
            if (w != Io::ok)
                co_return w == Io::failed ? Send::upstream_failed : Send::upstream_timeout;
            head = {};
        }
        in_.consume(used);
        if (used > 0 || parser.complete()) continue;
        if (in_.size() > kMaxChunkHeaderBytes) co_return Send::bad_body;
        arm(snapshot_->config.limits.body_idle_timeout);
        const net::mutable_buffer space = in_.prepare(kBodyChunk);
        auto [ec, n] = co_await stream_.read_available(space);
        in_.commit(n);
        if (ec) co_return timed_out_ ? Send::client_timeout : Send::client_gone;
    }
    r.body_read = true;
    if (chunked || head.size() > 0) {
        const std::array<net::const_buffer, 4> buffers3{
            head, net::buffer(kLastChunk.data(), chunked ? kLastChunk.size() : 0)};
        Io w = co_await write_upstream(up, buffers3);
        if (w != Io::ok) co_return w == Io::failed ? Send::upstream_failed : Send::upstream_timeout;
    }
    co_return Send::ok;
}

net::awaitable<ClientSession::Io> ClientSession::read_response_head(
    UpstreamConnection& up, std::optional<ResponseParser>& rp, bool head_request, bool& got_bytes) {
    arm(snapshot_->config.upstream.response_timeout);
    for (;;) {
        response_.clear();
        rp.emplace(response_);
        rp->header_limit(kMaxResponseHeaderBytes);
        rp->body_limit(boost::none);
        rp->eager(false);
        if (head_request) rp->skip(true);
        // Beast's header_limit bounds what one put() looks at, and put() consumes whole
        // fields as it goes: the head's total is bounded here, or an app could send
        // header fields without end.
        std::size_t head_bytes = 0;
        while (!rp->is_header_done()) {
            if (up.buffer.size() > 0) {
                error_code ec;
                std::size_t used = rp->put(up.buffer.data(), ec);
                up.buffer.consume(used);
                head_bytes += used;
                if (ec && ec != http::error::need_more) co_return Io::failed;
                if (head_bytes > kMaxResponseHeaderBytes) co_return Io::failed;
                if (rp->is_header_done()) break;
            }
            const net::mutable_buffer space = up.buffer.prepare(kReadChunk);
            auto [ec, n] = co_await up.read_some(space);
            up.buffer.commit(n);
            if (n > 0) got_bytes = true;
            if (ec) co_return timed_out_ ? Io::timed_out : Io::failed;
        }
        // Interim responses (100, 102, 103) are not relayed: certgate answered any
        // Expect itself. 101 is refused: Upgrade is never forwarded.
        if (response_.status >= 100 && response_.status < 200 && response_.status != 101) continue;
        co_return Io::ok;
    }
}

net::awaitable<bool> ClientSession::relay_response(Request& r, UpstreamConnection& up,
                                                   ResponseParser& rp, bool head_request,
                                                   bool& reusable) {
    const int status = response_.status;
    const bool no_body = head_request || status == 204 || status == 304;
    BodyFraming framing = BodyFraming::none;
    std::uint64_t length = 0;
    if (!no_body) {
        if (rp.chunked() || !rp.content_length())
            framing = head_.version >= 11 ? BodyFraming::chunked : BodyFraming::close_delimited;
        else {
            framing = BodyFraming::length;
            length = *rp.content_length();
        }
    }
    if (framing == BodyFraming::close_delimited) close_after_response_ = true;
    const bool keep_alive_token = head_.version == 10 && !close_after_response_;

    policies::strip_hop_by_hop(response_.headers);
    response_.headers.remove("Transfer-Encoding");
    if (!no_body) response_.headers.remove("Content-Length");
    policies::decorate_response(response_.headers, snapshot_->rules_for(r.policy));
    if (r.policy) {
        if (const auto& cookies = snapshot_->config.policies[*r.policy].cookies)
            policies::rewrite_cookies(response_.headers, *cookies);
    }
    r.status = status;
    out_.clear();
    std::string_view reason = response_.reason;
    if (reason.empty()) reason = http::obsolete_reason(static_cast<http::status>(status));
    serialize_response_head(out_, response_, reason, framing, length, close_after_response_,
                            keep_alive_token);

    const bool chunked = framing == BodyFraming::chunked;
    net::const_buffer head = net::buffer(out_);
    bool upstream_eof = false;
    while (!rp.complete()) {
        std::string_view piece;
        std::size_t used = 0;
        if (up.buffer.size() > 0) {
            error_code ec;
            used = rp.put_body(up.buffer.data(), ec);
            if (ec == http::error::need_more) ec = {};
            if (ec) co_return false;  // malformed body from the app: cut the client off
            piece = rp.take_body_piece();
        }
        if (!piece.empty()) {
            std::size_t hn = chunked ? format_chunk_header(chunk_header_, piece.size()) : 0;
            const std::array<net::const_buffer, 4> buffers0{
                head, net::buffer(chunk_header_, hn), net::buffer(piece),
                net::buffer(kCrlf.data(), chunked ? 2 : 0)};
            Io w = co_await write_client(buffers0);
            if (w != Io::ok) co_return false;
            r.bytes_out += piece.size();
            head = {};
        }
        up.buffer.consume(used);
        if (used > 0 || rp.complete()) continue;
        if (upstream_eof) {
            if (!rp.need_eof()) co_return false;  // shorter than announced: truncate the client
            error_code ec;
            rp.put_eof(ec);
            if (ec) co_return false;
            break;
        }
        if (up.buffer.size() > kMaxChunkHeaderBytes) co_return false;
        arm(snapshot_->config.upstream.response_timeout);
        const net::mutable_buffer space = up.buffer.prepare(kReadChunk);
        auto [ec, n] = co_await up.read_some(space);
        up.buffer.commit(n);
        if (ec == net::error::eof)
            upstream_eof = true;
        else if (ec)
            co_return false;
    }
    if (chunked || head.size() > 0) {
        const std::array<net::const_buffer, 4> last{
            head, net::buffer(kLastChunk.data(), chunked ? kLastChunk.size() : 0)};
        Io w = co_await write_client(last);
        if (w != Io::ok) co_return false;
    }
    reusable = !upstream_eof && rp.keep_alive() && !rp.need_eof() && up.buffer.size() == 0;
    co_return true;
}

net::awaitable<bool> ClientSession::forward(Request& r, RequestParser& parser) {
    const bool chunked = parser.chunked();
    const auto length = parser.content_length();
    const bool has_body = chunked || length.value_or(0) > 0;
    const bool head_request = head_.method == "HEAD";
    // Only a request that cannot have changed anything is retried on a fresh connection.
    const bool retriable =
        !has_body && (head_.method == "GET" || head_request || head_.method == "OPTIONS");
    bool expect_continue = false;
    if (auto expect = head_.headers.get("Expect"))
        expect_continue =
            head_.version >= 11 && has_body && policies::iequals(trim(*expect), "100-continue");
    head_.headers.remove("Content-Length");
    head_.headers.remove("Transfer-Encoding");
    head_.headers.remove("Expect");  // certgate answers the expectation itself
    request_out_.clear();
    serialize_request_head(request_out_, head_, r.path, r.query,
                           chunked  ? BodyFraming::chunked
                           : length ? BodyFraming::length
                                    : BodyFraming::none,
                           length.value_or(0));

    // Held for the whole exchange: a reload may replace the worker's pool meanwhile.
    const std::shared_ptr<UpstreamPool> pool = worker_.shared_pool();
    for (int attempt = 0; attempt < 2; ++attempt) {
        AcquireError acquire_error;
        auto up = co_await pool->acquire(acquire_error, attempt > 0, retriable);
        if (!up) {
            co_await respond_local(r, 502, "upstream unavailable",
                                   acquire_error == AcquireError::connect_timeout
                                       ? "upstream.connect_timeout"
                                       : "upstream.connect",
                                   !r.body_read);
            co_return r.body_read;
        }
        active_upstream_ = up.get();
        struct Detach {
            UpstreamConnection*& p;
            ~Detach() { p = nullptr; }
        } detach{active_upstream_};
        const auto upstream_start = Clock::now();

        if (expect_continue && attempt == 0 && in_.size() == 0) {
            expect_continue = false;
            const std::array<net::const_buffer, 4> buffers1{
                net::buffer(kContinue.data(), kContinue.size())};
            if (co_await write_client(buffers1) != Io::ok) co_return false;
        }
        Send sent = co_await send_request(r, parser, *up, chunked);
        if (sent == Send::upstream_failed && retriable && up->reused && attempt == 0) continue;
        switch (sent) {
            case Send::ok:
                break;
            case Send::client_gone:
                co_return false;
            case Send::client_timeout:
                co_await respond_local(r, 408, "request timeout", "limits.body_idle_timeout", true);
                co_return false;
            case Send::too_large:
                co_await respond_local(r, 413, "request body too large",
                                       "limits.max_request_body_bytes", true);
                co_return false;
            case Send::bad_body:
                co_await respond_local(r, 400, "bad request", "framing.body", true);
                co_return false;
            case Send::upstream_timeout:
                co_await respond_local(r, 504, "upstream timed out", "upstream.write_timeout",
                                       !r.body_read);
                co_return false;
            case Send::upstream_failed:
                co_await respond_local(r, 502, "upstream connection failed", "upstream.write",
                                       !r.body_read);
                co_return r.body_read && !closed_;
        }

        std::optional<ResponseParser> rp;
        bool got_bytes = false;
        Io got = co_await read_response_head(*up, rp, head_request, got_bytes);
        if (got == Io::failed && !got_bytes && retriable && up->reused && attempt == 0) continue;
        if (got == Io::timed_out) {
            co_await respond_local(r, 504, "upstream timed out", "upstream.response_timeout",
                                   false);
            co_return !closed_;
        }
        if (got == Io::failed || response_.status == 101 || has_ambiguous_framing(response_)) {
            co_await respond_local(r, 502, "bad gateway", "upstream.response", false);
            co_return !closed_;
        }
        r.upstream_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - upstream_start).count();
        bool reusable = false;
        bool ok = co_await relay_response(r, *up, *rp, head_request, reusable);
        if (reusable) pool->release(std::move(up));
        // A cut body must not end like a whole one: for a body delimited by the close, the
        // missing close_notify is the client's only sign (RFC 9112 section 9.8).
        if (!ok) response_cut_ = true;
        co_return ok;
    }
    co_return false;
}

}  // namespace certgate::proxy
