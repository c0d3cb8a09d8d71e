#include "proxy/client_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/err.h>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include "policies/allow_list.hpp"
#include "policies/csrf.hpp"
#include "policies/path.hpp"
#include "policies/request_sanitizer.hpp"
#include "policies/response_decorator.hpp"
#include "proxy/coarse_clock.hpp"
#include "proxy/http_writer.hpp"
#include "proxy/worker.hpp"

namespace certgate::proxy {

namespace net = boost::asio;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;
// A chunk header or trailer section longer than this is refused (a chunk extension flood).
constexpr std::size_t kMaxChunkHeaderBytes = 16 * 1024;
// A deadline noticed this long after it passed means the worker was stalled (busy with one
// huge head, a CPU-throttled container, a paused VM): see ClientSession::watch.
constexpr auto kStallGrace = std::chrono::milliseconds(100);

static void append_der(std::string& out, X509* cert) {
    const int size = i2d_X509(cert, nullptr);
    if (size <= 0) return;
    const std::size_t at = out.size();
    out.resize(at + static_cast<std::size_t>(size));
    auto* p = reinterpret_cast<unsigned char*>(out.data() + at);
    if (i2d_X509(cert, &p) != size) out.resize(at);
}

ClientSession::ClientSession(Worker& worker, net::ip::tcp::socket socket)
    : worker_(worker),
      snapshot_(worker.snapshot()),
      stream_(std::move(socket), snapshot_->tls.context.get(), worker.buffers()),
      timer_(worker.io()),
      in_(worker.buffers()) {
    error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) {
        client_ip_ = ep.address().to_string();
        client_address_ = (ep.address().is_v6() ? "[" + client_ip_ + "]" : client_ip_) + ":" +
                          std::to_string(ep.port());
    }
    stream_.socket().set_option(net::ip::tcp::no_delay(true), ec);
    worker_.session_started(this);
}

ClientSession::~ClientSession() { worker_.session_ended(this); }

void ClientSession::drain() {
    close_after_response_ = true;
    if (idle_) {
        error_code ec;
        stream_.socket().cancel(ec);
    }
}

// Deadlines are lazy: arm() only moves a time point; the timer is re-armed when it fires
// early. A passed deadline cancels (never closes) the sockets, so a 408 can still be sent.
void ClientSession::arm(config::Duration d) {
    timed_out_ = false;
    stall_graced_ = false;
    deadline_ = coarse_now() + d;
    if (deadline_ < timer_.expiry()) timer_.expires_at(deadline_);
}

void ClientSession::disarm() {
    timed_out_ = false;
    stall_graced_ = false;
    deadline_ = Clock::time_point::max();
}

void ClientSession::watch(const error_code&) {
    if (closed_) return;
    const auto now = Clock::now();
    if (now >= deadline_ && !stall_graced_ && now - deadline_ > kStallGrace) {
        // Noticed long after it passed: this worker was stalled (the timer cannot fire late
        // otherwise), and the client may have been waiting on certgate all that time, its
        // bytes queued behind this handler or its answer to our late handshake flight on the
        // way. Timeouts are for slow clients, not a slow proxy: the stall is given back,
        // once per deadline; a client that really was late is then timed out as usual.
        stall_graced_ = true;
        deadline_ = now + (now - deadline_);
        timer_.expires_at(deadline_);
        timer_.async_wait([self = shared_from_this()](const error_code& e) { self->watch(e); });
        return;
    }
    if (now >= deadline_) {
        timed_out_ = true;
        deadline_ = Clock::time_point::max();
        error_code ec;
        stream_.socket().cancel(ec);
        if (active_upstream_) active_upstream_->stream.socket().cancel(ec);
    }
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](const error_code& e) { self->watch(e); });
}

net::awaitable<void> ClientSession::run() {
    auto self = shared_from_this();
    const auto& limits = snapshot_->config.limits;
    timer_.expires_at(Clock::time_point::max());
    arm(limits.header_timeout);  // from accept, handshake included
    timer_.async_wait([self = shared_from_this()](const error_code& e) { self->watch(e); });

    const error_code hec = co_await stream_.handshake();
    if (hec) {
        long verify_error = recorded_verify_error(stream_.native_handle());
        std::string reason = timed_out_ ? "handshake timed out" : hec.message();
        std::string rule = "tls";
        if (verify_error != X509_V_OK) {
            reason = std::string("client certificate rejected: ") +
                     X509_verify_cert_error_string(verify_error);
            rule = std::string("verify: ") + X509_verify_cert_error_string(verify_error);
            worker_.metrics().count_verify_failure(X509_verify_cert_error_string(verify_error));
        } else if (ERR_GET_REASON(hec.value()) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
            reason = "client certificate required";
            rule = "verify.missing";
            worker_.metrics().count_verify_failure("no certificate");
        }
        worker_.metrics().count_handshake(false);
        worker_.log().event("info", "handshake_failed",
                            {{"client", client_address_}, {"reason", reason}, {"rule", rule}});
    } else {
        handshake_done_ = true;
        worker_.metrics().count_handshake(true);
        SSL* ssl = stream_.native_handle();
        X509* leaf = SSL_get0_peer_certificate(ssl);
        STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
        if (leaf != nullptr) {
            append_der(peer_der_, leaf);
            for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i)
                append_der(peer_der_, sk_X509_value(chain, i));
        }
        set_identity(peer_verification(ssl), leaf, chain);
        // Counted once per full handshake: a resumed session carries the old verdict.
        if (identity_.status == policies::ClientIdentity::Status::failed && !SSL_session_reused(ssl))
            worker_.metrics().count_verify_failure(identity_.failure_reason);
        // From here on TLS 1.3 records are certgate's own (tls13_records.hpp).
        stream_.offload();
        while (!closed_ && co_await serve_one()) {
            first_request_ = false;
            // Asked here rather than inside serve_one: while it waits, only this frame lives.
            if (!co_await await_next_request()) break;
        }
    }
    co_await close_connection();
}

net::awaitable<bool> ClientSession::await_next_request() {
    if (in_.size() > 0 || stream_.has_pending()) co_return true;  // pipelined: read on
    if (close_after_response_ || worker_.draining()) co_return false;
    in_.release();  // back to the worker's pool, from where the next read takes it cheaply
    if (next_request_.fired() && !next_request_.result())
        co_return true;  // the next request's first bytes came during the exchange
    idle_ = true;
    arm(snapshot_->config.limits.idle_timeout);
    // Only during this wait may the worker's sweep free the heads (nothing refers to them).
    holding_idle_memory_ = true;
    idle_epoch_ = worker_.idle_epoch();
    worker_.note_idle_memory();
    // OpenSSL's record buffers (~34 KiB) are kept through the wait only by a connection whose
    // last wait was short (it is busy: its next exchange reuses them); any other frees them
    // now, so a client that asked once and went quiet holds none.
    if (!busy_) stream_.release_buffers();
    // Queued behind an armed latch, the wait costs no system call.
    auto [ec] = co_await stream_.socket().async_wait(net::socket_base::wait_read, nothrow);
    idle_ = false;
    busy_ = holding_idle_memory_;  // not swept yet: the wait lasted under 0.1-0.2 s
    holding_idle_memory_ = false;
    co_return !ec;  // idle timeout, drain or a dead socket: close quietly
}

bool ClientSession::release_memory_if_idle_since(std::uint64_t epoch) {
    if (!holding_idle_memory_) return false;
    if (idle_epoch_ >= epoch) return true;
    release_idle_memory();
    holding_idle_memory_ = false;
    return false;
}

// What the last exchange grew (heads, serialized heads) goes back to the allocator, and the
// input block to the worker's pool: an idle connection keeps only its TLS state and identity.
// Only while await_next_request waits: nothing refers to these then.
void ClientSession::release_idle_memory() {
    stream_.release_buffers();
    head_ = policies::RequestHead{};
    response_ = ResponseHead{};
    std::string().swap(request_out_);
    std::string().swap(out_);
    std::string().swap(local_body_);
}

PeerCertificates ClientSession::decode_peer() const {
    PeerCertificates out;
    const auto* p = reinterpret_cast<const unsigned char*>(peer_der_.data());
    const auto* end = p + peer_der_.size();
    out.leaf.reset(d2i_X509(nullptr, &p, end - p));
    while (out.leaf && p < end) {
        X509* next = d2i_X509(nullptr, &p, end - p);
        if (next == nullptr) break;
        if (!out.chain) out.chain.reset(sk_X509_new_null());
        if (!out.chain || sk_X509_push(out.chain.get(), next) == 0) {
            X509_free(next);
            break;
        }
    }
    return out;
}

void ClientSession::set_identity(const PeerVerification& v, X509* leaf, STACK_OF(X509) * chain) {
    identity_ = {};
    verify_error_ = v.error;
    if (v.presented) {
        std::optional<std::string> failure;
        if (v.error != X509_V_OK) failure = X509_verify_cert_error_string(v.error);
        identity_ = policies::describe_certificate(leaf, chain, failure,
                                                   snapshot_->identity_needs_encodings);
    }
    verify_value_ = policies::verify_header_value(identity_);
}

// SPEC: open connections move to the new set at their next request, and one whose client
// trust changed is re-judged, so a revoked certificate cannot ride an old connection.
bool ClientSession::adopt_current_snapshot() {
    auto next = worker_.snapshot();
    const bool trust_changed = next->tls.trust_id != snapshot_->tls.trust_id;
    const bool encodings_changed =
        next->identity_needs_encodings != snapshot_->identity_needs_encodings;
    snapshot_ = std::move(next);
    if (!trust_changed) {
        if (encodings_changed) {
            const PeerCertificates peer = decode_peer();
            PeerVerification kept;
            kept.presented = peer.leaf != nullptr;
            kept.error = verify_error_;
            set_identity(kept, peer.leaf.get(), peer.chain.get());
        }
        return true;
    }
    const PeerCertificates peer = decode_peer();
    const bool was_verified = identity_.status == policies::ClientIdentity::Status::verified;
    // Without client_ca, a new connection would not even be asked for a certificate.
    set_identity(snapshot_->config.tls.client_ca
                     ? reverify_peer(peer.leaf.get(), peer.chain.get(), snapshot_->tls)
                     : PeerVerification{},
                 peer.leaf.get(), peer.chain.get());
    return !(was_verified && identity_.status == policies::ClientIdentity::Status::failed);
}

net::awaitable<void> ClientSession::close_connection() {
    if (closed_) co_return;
    auto& sock = stream_.socket();
    error_code ec;
    if (handshake_done_ && !response_cut_) {
        // close_notify tells the client the response was not truncated; the wait for its own
        // close_notify is bounded. Marking the session shut down keeps it resumable: OpenSSL
        // drops a session from the cache when its connection is freed without one.
        arm(std::chrono::milliseconds(1000));
        co_await stream_.shutdown();
    }
    // Lingering close: stop sending, then discard what the client still sends for a moment,
    // so that unread request bytes do not turn our last response into a connection reset.
    sock.shutdown(net::socket_base::shutdown_send, ec);
    if (!ec) {
        arm(std::chrono::milliseconds(1000));
        std::size_t drained = 0;
        char scratch[4096];
        while (drained < 256 * 1024) {
            auto [rec, n] = co_await sock.async_read_some(net::buffer(scratch), nothrow);
            if (rec) break;
            drained += n;
        }
    }
    closed_ = true;
    timer_.cancel();
    sock.close(ec);
}

net::awaitable<ClientSession::Io> ClientSession::write_client(
    const std::array<net::const_buffer, 4>& buffers) {
    arm(snapshot_->config.limits.body_idle_timeout);
    const error_code ec = co_await stream_.write(buffers);
    if (!ec) co_return Io::ok;
    co_return timed_out_ ? Io::timed_out : Io::failed;
}

net::awaitable<ClientSession::HeadOutcome> ClientSession::read_head(Request& r,
                                                                    RequestParser& parser) {
    const auto& limits = snapshot_->config.limits;
    std::size_t scanned = 0;
    // The first request's header is on the clock from accept; a later one waits up to
    // idle_timeout for its first byte, then has header_timeout for the rest.
    idle_ = in_.size() == 0;
    if (!first_request_) arm(idle_ ? limits.idle_timeout : limits.header_timeout);
    bool just_read = false;  // in this turn of the event loop
    for (;;) {
        auto bytes = std::string_view(static_cast<const char*>(in_.data().data()), in_.size());
        auto scan = policies::scan_request_head(bytes, limits.max_request_header_bytes, scanned);
        using S = policies::HeadScan::Status;
        if (scan.status == S::malformed) {
            co_await respond_local(r, 400, "bad request", scan.rule, true);
            co_return HeadOutcome::refused;
        }
        if (scan.status == S::too_large) {
            co_await respond_local(r, 431, "request header fields too large",
                                   "limits.max_request_header_bytes", true);
            co_return HeadOutcome::refused;
        }
        if (scan.status == S::complete) {
            // Watched from now on for the client's next bytes; only from a drained socket,
            // with no turn of the event loop since the read, can no edge have been missed.
            if (just_read && stream_.drained()) next_request_.arm(stream_.socket());
            error_code ec;
            auto head = net::buffer(in_.data() + scan.leading_empty_lines,
                                    scan.head_end - scan.leading_empty_lines);
            parser.put(head, ec);
            in_.consume(scan.head_end);
            if (ec || !parser.is_header_done()) {
                co_await respond_local(r, 400, "bad request", "framing.parse", true);
                co_return HeadOutcome::refused;
            }
            if (auto refusal = policies::check_request_framing(head_)) {
                co_await respond_local(r, refusal->status, refusal->reason, refusal->rule, true);
                co_return HeadOutcome::refused;
            }
            co_return HeadOutcome::ready;
        }
        scanned = scan.scanned;
        if (idle_ && (close_after_response_ || worker_.draining())) co_return HeadOutcome::closed;
        if (first_request_ && idle_ && in_.size() == 0 && !stream_.has_pending()) {
            // After the handshake, the first request is awaited holding no buffer (later
            // ones were awaited by await_next_request: the socket is readable already).
            stream_.release_buffers();
            if (co_await stream_.wait_readable()) co_return HeadOutcome::closed;
        }
        const net::mutable_buffer space = in_.prepare(kReadChunk);
        auto [ec, n] = co_await stream_.read_some(space);
        in_.commit(n);
        just_read = true;
        if (ec) {
            bool partial = in_.size() > 0 && !idle_;
            idle_ = false;
            if (timed_out_ && partial) {
                co_await respond_local(r, 408, "request timeout", "limits.header_timeout", true);
                co_return HeadOutcome::refused;
            }
            co_return HeadOutcome::closed;
        }
        if (idle_) {  // the first byte of the request: its header is now on the clock
            idle_ = false;
            if (!first_request_) arm(limits.header_timeout);
        }
    }
}

net::awaitable<bool> ClientSession::serve_one() {
    Request r;
    head_.clear();
    RequestParser parser(head_);
    parser.header_limit(
        static_cast<std::uint32_t>(snapshot_->config.limits.max_request_header_bytes + 1024));
    parser.body_limit(boost::none);  // certgate enforces max_request_body_bytes itself
    parser.eager(false);

    auto outcome = co_await read_head(r, parser);
    if (outcome == HeadOutcome::closed) co_return false;
    if (outcome == HeadOutcome::refused) {
        finish_log(r);
        co_return false;
    }
    // The request was read under the old snapshot's limits; it is judged under the new one.
    const bool trusted = worker_.snapshot() == snapshot_ || adopt_current_snapshot();
    const auto& cfg = snapshot_->config;
    const bool has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
    r.body_read = !has_body;
    if (policies::is_last_request(head_)) close_after_response_ = true;

    auto normalized = policies::normalize_target(head_.target);
    if (normalized.refusal) {
        r.path = head_.target;
        co_await respond_local(r, normalized.refusal->status, normalized.refusal->reason,
                               normalized.refusal->rule, true);
        finish_log(r);
        co_return false;
    }
    r.path = std::move(normalized.target->path);
    r.query = std::move(normalized.target->query);
    r.policy = policies::route(cfg.policies, r.path);

    policies::strip_hop_by_hop(head_.headers);
    policies::strip_spoofable(head_.headers, snapshot_->spoof_rules);
    // An id is generated only when request ids are on (32 characters: a heap string).
    const std::string generated_id =
        cfg.forwarded.request_id ? worker_.request_ids().next() : std::string();
    r.request_id =
        policies::set_forwarding_headers(head_.headers, cfg.forwarded, client_ip_, generated_id);

    std::optional<policies::Refusal> refusal;
    if (!trusted) {
        close_after_response_ = true;  // the client must reconnect and be judged afresh
        refusal = policies::Refusal{403, "client certificate rejected: " + identity_.failure_reason,
                                    "verify: " + identity_.failure_reason};
    } else if (!r.policy) {
        refusal = policies::Refusal{404, "no policy for this path", "route"};
    } else {
        const auto& policy = cfg.policies[*r.policy];
        refusal = policies::check_certificate_requirement(policy.client_certificate, identity_);
        if (!refusal &&
            policies::allow_list_applies(policy.allow, policy.client_certificate, identity_))
            refusal = policies::check_allow_list(policy.allow, identity_);
        if (!refusal && policy.csrf)
            refusal = policies::check_csrf(*policy.csrf, head_.method, head_.headers);
        if (!refusal && cfg.limits.max_request_body_bytes > 0 &&
            parser.content_length().value_or(0) > cfg.limits.max_request_body_bytes)
            refusal =
                policies::Refusal{413, "request body too large", "limits.max_request_body_bytes"};
        if (!refusal)
            policies::write_identity_headers(head_.headers, cfg.identity.headers,
                                             policy.client_certificate, identity_);
    }
    if (refusal) {
        co_await respond_local(r, refusal->status, refusal->reason, refusal->rule,
                               has_body || close_after_response_);
        finish_log(r);
        co_return !closed_ && !has_body && !close_after_response_;
    }

    bool keep = co_await forward(r, parser);
    finish_log(r);
    co_return keep && !close_after_response_ && !closed_;
}

net::awaitable<void> ClientSession::respond_local(Request& r, int status, std::string_view reason,
                                                  std::string_view rule, bool close) {
    r.status = status;
    r.reason = reason;
    r.rule = rule;
    if (close) close_after_response_ = true;
    response_.clear();
    response_.status = status;
    response_.headers.add("Content-Type", "text/plain; charset=utf-8");
    policies::decorate_response(response_.headers, snapshot_->rules_for(r.policy));
    local_body_.assign(reason);
    local_body_ += '\n';
    out_.clear();
    serialize_response_head(out_, response_,
                            http::obsolete_reason(static_cast<http::status>(status)),
                            BodyFraming::length, local_body_.size(), close_after_response_, false);
    // RFC 9110 9.3.2: a response to HEAD has no content (the Content-Length stays the GET's);
    // body bytes would be read as the start of the next response on this connection.
    const std::size_t body_size = head_.method == "HEAD" ? 0 : local_body_.size();
    r.bytes_out = body_size;
    const std::array<net::const_buffer, 4> buffers{net::buffer(out_),
                                                   net::buffer(local_body_.data(), body_size)};
    co_await write_client(buffers);
}

void ClientSession::finish_log(Request& r) {
    RequestLogEntry e;
    e.time = r.time;
    e.client = client_address_;
    e.method = head_.method;
    e.path = r.path.empty() ? std::string_view(head_.target) : std::string_view(r.path);
    e.status = r.status;
    e.bytes_in = r.bytes_in;
    e.bytes_out = r.bytes_out;
    e.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - r.start).count();
    e.upstream_ms = r.upstream_ms;
    e.policy = snapshot_->policy_name(r.policy);
    e.verify = verify_value_;
    e.subject = identity_.subject;
    e.fingerprint = identity_.fingerprint;
    e.request_id = r.request_id;
    e.reason = r.reason;
    e.rule = r.rule;
    worker_.log_request(e);
    worker_.metrics().count_request(e.policy, e.status, e.duration_ms / 1000);
    if (r.rule.starts_with("upstream.")) worker_.metrics().count_upstream_error(r.rule);
}

}  // namespace certgate::proxy
