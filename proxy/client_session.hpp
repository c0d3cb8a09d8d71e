// One client connection: TLS handshake, then a keep-alive loop of requests, each going
// framing checks -> hop-by-hop -> strip identity -> route -> authorize -> add identity ->
// forward -> decorate response. Every response, the app's and certgate's own, leaves through
// the same decorate step.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "policies/client_identity.hpp"
#include "policies/refusal.hpp"
#include "policies/request_head.hpp"
#include "proxy/http_parsers.hpp"
#include "proxy/io_buffer.hpp"
#include "proxy/snapshot.hpp"
#include "proxy/read_latch.hpp"
#include "proxy/tls_stream.hpp"
#include "proxy/upstream_pool.hpp"

namespace certgate::proxy {

class Worker;

inline void free_chain(STACK_OF(X509) * chain) { sk_X509_pop_free(chain, X509_free); }

// A client's certificate and the chain it sent after it (none: null).
struct PeerCertificates {
    std::unique_ptr<X509, decltype(&X509_free)> leaf{nullptr, X509_free};
    std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> chain{nullptr, free_chain};
};

class ClientSession : public std::enable_shared_from_this<ClientSession> {
public:
    ClientSession(Worker& worker, boost::asio::ip::tcp::socket socket);
    ~ClientSession();

    boost::asio::awaitable<void> run();
    // Shutdown: an idle connection closes now, a busy one after its current response.
    void drain();
    // The worker's idle sweep: a connection that has waited for its next request since
    // before the sweep `epoch` gives back what its last exchange grew. True while it still
    // holds such memory.
    bool release_memory_if_idle_since(std::uint64_t epoch);

private:
    struct Request {
        std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
        std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
        std::optional<std::size_t> policy;
        std::string path;
        std::string query;
        std::string request_id;
        int status = 0;
        std::uint64_t bytes_in = 0;
        std::uint64_t bytes_out = 0;
        double upstream_ms = -1;
        std::string reason;
        std::string rule;
        bool body_read = true;  // the request body, if any, has been consumed from the client
    };
    enum class HeadOutcome { ready, closed, refused };
    enum class Io { ok, failed, timed_out };
    enum class Send {
        ok,
        upstream_failed,
        upstream_timeout,
        client_gone,
        client_timeout,
        too_large,
        bad_body
    };

    // The deadline's watcher: a plain timer callback, not a coroutine, so that an idle
    // connection keeps no second coroutine frame.
    void watch(const boost::system::error_code& ec);
    // Between two requests: waits for the next one's first byte holding no buffer and no
    // nested frame. False when the connection should close instead.
    boost::asio::awaitable<bool> await_next_request();
    void release_idle_memory();
    void arm(config::Duration d);
    void disarm();

    boost::asio::awaitable<bool> serve_one();
    void set_identity(const PeerVerification& v, X509* leaf, STACK_OF(X509) * chain);
    PeerCertificates decode_peer() const;
    // Moves the connection to the worker's current snapshot (after a reload). False when the
    // certificate it verified with no longer does under the new client trust.
    bool adopt_current_snapshot();
    boost::asio::awaitable<HeadOutcome> read_head(Request& r, RequestParser& parser);
    boost::asio::awaitable<bool> forward(Request& r, RequestParser& parser);
    boost::asio::awaitable<Send> send_request(Request& r, RequestParser& parser,
                                              UpstreamConnection& up, bool chunked);
    boost::asio::awaitable<Io> write_upstream(UpstreamConnection& up,
                                              const std::array<boost::asio::const_buffer, 4>& b);
    boost::asio::awaitable<Io> read_response_head(UpstreamConnection& up,
                                                  std::optional<ResponseParser>& rp, bool head,
                                                  bool& got_bytes);
    boost::asio::awaitable<bool> relay_response(Request& r, UpstreamConnection& up,
                                                ResponseParser& rp, bool head_request,
                                                bool& upstream_reusable);
    // Plain parameters on purpose: GCC 12 destroys class-type temporaries of a co_await
    // expression twice (seen as a crash), so callers pass no braced temporaries here.
    boost::asio::awaitable<void> respond_local(Request& r, int status, std::string_view reason,
                                               std::string_view rule, bool close);
    boost::asio::awaitable<Io> write_client(const std::array<boost::asio::const_buffer, 4>& b);
    boost::asio::awaitable<void> close_connection();
    void finish_log(Request& r);

    Worker& worker_;
    std::shared_ptr<const Snapshot> snapshot_;
    TlsStream stream_;
    // The client's certificate, then the chain it sent after it, as DER: kept past the
    // handshake (the SSL object is freed by offload) for a reload that re-judges or
    // re-describes them, ~0.5 KiB where the decoded objects take ~7 KiB.
    std::string peer_der_;
    long verify_error_ = 0;  // X509_V_OK, or what the last judgement of them found
    // Armed when a request head is read off a drained socket: the wait for the next request
    // then costs no system call (read_latch.hpp).
    ReadLatch next_request_;
    boost::asio::steady_timer timer_;
    std::chrono::steady_clock::time_point deadline_;
    UpstreamConnection* active_upstream_ = nullptr;  // cancelled too when a deadline passes
    bool timed_out_ = false;
    bool stall_graced_ = false;  // this deadline was already extended once (watch)
    bool closed_ = false;
    bool handshake_done_ = false;
    bool idle_ = false;  // waiting for the next request, nothing received yet
    // In await_next_request's wait, with the last exchange's heads still allocated (kept
    // for a moment: a busy client's next request reuses them).
    bool holding_idle_memory_ = false;
    std::uint64_t idle_epoch_ = 0;  // the worker's sweep epoch when that wait began
    bool busy_ = false;  // the last wait for a request ended before the sweep came
    bool close_after_response_ = false;
    bool response_cut_ = false;  // a response was cut short: close without close_notify
    bool first_request_ = true;

    std::string client_address_;  // "ip:port"
    std::string client_ip_;
    policies::ClientIdentity identity_;
    std::string verify_value_;

    InputBuffer in_;  // bytes from the client not yet consumed
    policies::RequestHead head_;
    ResponseHead response_;
    std::string request_out_;  // serialized request head toward the app
    std::string out_;          // serialized response head toward the client
    std::string local_body_;   // body of certgate's own responses
    char chunk_header_[24];
};

}  // namespace certgate::proxy
