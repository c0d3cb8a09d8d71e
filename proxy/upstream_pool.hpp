// Keep-alive connections to the app, one pool per worker thread (no locks). TCP or a unix
// socket behind one generic stream type.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "proxy/read_latch.hpp"

namespace certgate::proxy {

using UpstreamStream =
    boost::beast::basic_stream<boost::asio::generic::stream_protocol, boost::asio::any_io_executor,
                               boost::beast::unlimited_rate_policy>;

struct UpstreamConnection {
    explicit UpstreamConnection(boost::asio::any_io_executor ex) : stream(ex) {}
    // Reads what has arrived, waiting for it if nothing has. Errors: net::error::eof when the
    // app closed, operation_aborted when the socket was cancelled.
    boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
        boost::asio::mutable_buffer buffer);
    // Writes all of `buffers`. What the socket takes at once goes without a round through the
    // event loop; only a remainder waits for room.
    boost::asio::awaitable<boost::system::error_code> write(
        const std::array<boost::asio::const_buffer, 4>& buffers);

    UpstreamStream stream;
    boost::beast::flat_buffer buffer;  // response bytes read but not yet parsed
    // Armed whenever a read leaves the socket empty: while it has not fired, no byte has
    // arrived since, so a wait costs no system call and the pool knows, without asking the
    // kernel, that an idle connection has no stray bytes (read_latch.hpp).
    ReadLatch latch;
    // The last read left nothing behind, not even an EOF: the kernel said so (TCP_INQ, TCP
    // upstreams only; it does not count a reset that came with the bytes).
    bool drained = false;
    // A write just went through, so no reset was there before it (the write would have
    // failed). With the socket drained and the latch waiting since, nothing has come at all,
    // and the read that follows waits for the edge without asking the kernel first.
    bool just_written = false;
    std::chrono::steady_clock::time_point idle_since;
    bool reused = false;  // taken from the pool rather than freshly connected
};

enum class AcquireError { none, connect_failed, connect_timeout };

// Shared ownership: a reload that changes `upstream` replaces a worker's pool while sessions
// may still be inside acquire() on the old one or hold a connection from it; they keep the
// old pool alive, and release() to a closed pool just drops the connection.
class UpstreamPool : public std::enable_shared_from_this<UpstreamPool> {
public:
    static std::shared_ptr<UpstreamPool> create(boost::asio::io_context& ioc,
                                                config::Upstream upstream);
    UpstreamPool(boost::asio::io_context& ioc, config::Upstream upstream);  // use create()
    ~UpstreamPool();

    // A pooled connection still open and idle for less than idle_timeout, or a new one.
    // `fresh_only` skips the pool (the retry after a reused connection failed); `retriable`
    // says the request may be sent again on a fresh connection if this one turns out closed.
    boost::asio::awaitable<std::unique_ptr<UpstreamConnection>> acquire(AcquireError& error,
                                                                        bool fresh_only = false,
                                                                        bool retriable = false);
    // Returns a connection whose last exchange ended cleanly (dropped once closed).
    void release(std::unique_ptr<UpstreamConnection> connection);
    // Closes every idle connection and keeps no more (shutdown, or replaced by a reload).
    void close_all();
    std::size_t idle_count() const { return idle_.size(); }

private:
    boost::asio::awaitable<void> sweep_loop();
    bool still_usable(UpstreamConnection& c, bool retriable) const;

    boost::asio::io_context& ioc_;
    config::Upstream upstream_;
    std::vector<std::unique_ptr<UpstreamConnection>> idle_;  // most recently used last
    boost::asio::steady_timer sweep_timer_;
    bool stopped_ = false;
};

}  // namespace certgate::proxy
