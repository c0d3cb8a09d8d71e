#include "proxy/upstream_pool.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <cerrno>
#include <cstring>

#include "proxy/coarse_clock.hpp"

namespace certgate::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
using generic_endpoint = net::generic::stream_protocol::endpoint;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

std::shared_ptr<UpstreamPool> UpstreamPool::create(net::io_context& ioc,
                                                   config::Upstream upstream) {
    auto pool = std::make_shared<UpstreamPool>(ioc, std::move(upstream));
    net::co_spawn(ioc, pool->sweep_loop(), net::detached);
    return pool;
}

UpstreamPool::UpstreamPool(net::io_context& ioc, config::Upstream upstream)
    : ioc_(ioc), upstream_(std::move(upstream)), sweep_timer_(ioc) {}

UpstreamPool::~UpstreamPool() { close_all(); }

void UpstreamPool::close_all() {
    stopped_ = true;
    sweep_timer_.cancel();
    idle_.clear();
}

namespace {

// A non-blocking read that also says whether it left the socket with nothing at all, not even
// an EOF (the kernel's TCP_INQ count, which counts a FIN as 1; never said on a socket without
// TCP_INQ). Not a coroutine: the control buffer must keep its alignment (GCC 12 does not keep
// alignas in coroutine frames).
ssize_t receive(int fd, net::mutable_buffer b, bool& nothing_left) {
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    iovec iov{b.data(), b.size()};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &message, MSG_DONTWAIT);
    nothing_left = false;
    if (n > 0)
        for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c))
            if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ) {
                int left;
                std::memcpy(&left, CMSG_DATA(c), sizeof left);
                nothing_left = left == 0;
            }
    return n;
}

// As much of the buffers as the socket takes now, without waiting: the byte count (0 when it
// takes none), or -1 with errno set. Not a coroutine, like receive().
ssize_t send_now(int fd, const std::array<net::const_buffer, 4>& buffers) {
    std::array<iovec, 4> iov{};
    std::size_t count = 0;
    for (const auto& b : buffers)
        if (b.size() > 0) iov[count++] = {const_cast<void*>(b.data()), b.size()};
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = count;
    ssize_t sent;
    do sent = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return sent;
}

}  // namespace

net::awaitable<std::pair<boost::system::error_code, std::size_t>> UpstreamConnection::read_some(
    net::mutable_buffer b) {
    auto& socket = stream.socket();
    const bool nothing_came = std::exchange(just_written, false) && drained && latch.waiting();
    if (nothing_came) {
        // No read that could only answer EAGAIN. (A latch that fired in this turn of the
        // event loop, its completion not yet run, still reads as waiting; Asio then re-arms
        // the registration, and that reports what came.)
        auto [ec] = co_await socket.async_wait(net::socket_base::wait_read, nothrow);
        if (ec) co_return std::pair(ec, std::size_t{0});
    }
    for (;;) {
        bool nothing_left = false;
        const ssize_t n = receive(socket.native_handle(), b, nothing_left);
        if (n > 0) {
            // Took all there was: the latch now tells of whatever comes next (not of an EOF
            // that came with these bytes, which only the next read reports).
            if (static_cast<std::size_t>(n) < b.size()) latch.arm(socket);
            drained = nothing_left;
            co_return std::pair(boost::system::error_code{}, static_cast<std::size_t>(n));
        }
        drained = false;
        if (n == 0) co_return std::pair(net::error::eof, std::size_t{0});
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            co_return std::pair(boost::system::error_code(errno, boost::system::system_category()),
                                std::size_t{0});
        latch.arm(socket);
        // Queued behind the latch, the wait costs no system call.
        auto [ec] = co_await socket.async_wait(net::socket_base::wait_read, nothrow);
        if (ec) co_return std::pair(ec, std::size_t{0});
    }
}

net::awaitable<boost::system::error_code> UpstreamConnection::write(
    const std::array<net::const_buffer, 4>& buffers) {
    // Like the answers to clients (TlsStream::write), requests wait for the rest of this turn
    // of the event loop and leave back to back: the app is woken once for all of them.
    auto executor = stream.get_executor();
    co_await net::post(executor, net::use_awaitable);
    const ssize_t sent = send_now(stream.socket().native_handle(), buffers);
    if (sent < 0) co_return boost::system::error_code(errno, boost::system::system_category());
    beast::buffers_suffix<std::array<net::const_buffer, 4>> rest(buffers);
    rest.consume(static_cast<std::size_t>(sent));
    if (beast::buffer_bytes(rest) > 0) {
        auto [ec, n] = co_await net::async_write(stream.socket(), rest, nothrow);
        if (ec) co_return ec;
    }
    just_written = true;
    co_return boost::system::error_code{};
}

// A connection the app closed while it sat in the pool reads EOF, or has stray bytes. Bytes
// or a close that came after the last response was read would have fired its latch, so a
// latch still waiting vouches for the connection. It cannot vouch against an EOF that came
// together with that response's last bytes: that is enough only for a request forward()
// may retry on a fresh connection. Otherwise, or when the latch fired (perhaps only on the
// response's own bytes), a non-blocking peek asks the kernel.
bool UpstreamPool::still_usable(UpstreamConnection& c, bool retriable) const {
    if (coarse_now() - c.idle_since >= upstream_.idle_timeout) return false;
    if (retriable && c.latch.waiting()) return true;
    char byte;
    ssize_t n = ::recv(c.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

net::awaitable<std::unique_ptr<UpstreamConnection>> UpstreamPool::acquire(AcquireError& error,
                                                                          bool fresh_only,
                                                                          bool retriable) {
    error = AcquireError::none;
    while (!fresh_only && !idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        if (still_usable(*c, retriable)) {
            c->reused = true;
            co_return c;
        }
    }
    auto c = std::make_unique<UpstreamConnection>(ioc_.get_executor());
    c->stream.expires_after(upstream_.connect_timeout);
    boost::system::error_code ec;
    if (upstream_.kind == config::Upstream::Kind::unix_socket) {
        generic_endpoint ep(net::local::stream_protocol::endpoint(upstream_.socket_path));
        std::tie(ec) = co_await c->stream.async_connect(ep, nothrow);
    } else {
        boost::system::error_code parse_ec;
        auto address = net::ip::make_address(upstream_.host, parse_ec);
        std::vector<net::ip::tcp::endpoint> endpoints;
        if (!parse_ec) {
            endpoints.emplace_back(address, upstream_.port);
        } else {
            net::ip::tcp::resolver resolver(ioc_);
            auto [rec, results] = co_await resolver.async_resolve(
                upstream_.host, std::to_string(upstream_.port), nothrow);
            ec = rec;
            if (!rec)
                for (const auto& r : results) endpoints.push_back(r.endpoint());
        }
        if (endpoints.empty() && !ec) ec = net::error::host_not_found;
        for (const auto& ep : endpoints) {
            c->stream.close();
            std::tie(ec) = co_await c->stream.async_connect(generic_endpoint(ep), nothrow);
            if (!ec || ec == net::error::timed_out) break;
        }
        if (!ec) {
            int one = 1;
            const int fd = c->stream.socket().native_handle();
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            // Each read then says what it left behind (read_some); a kernel without it
            // (before Linux 4.18) just never tells, and every wait is preceded by a read.
            ::setsockopt(fd, IPPROTO_TCP, TCP_INQ, &one, sizeof one);
        }
    }
    if (ec) {
        error = ec == net::error::timed_out ? AcquireError::connect_timeout
                                            : AcquireError::connect_failed;
        co_return nullptr;
    }
    c->stream.expires_never();
    co_return c;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConnection> c) {
    if (stopped_ || idle_.size() >= upstream_.max_idle_connections) return;
    c->stream.expires_never();
    c->idle_since = coarse_now();
    c->buffer.clear();
    idle_.push_back(std::move(c));
}

net::awaitable<void> UpstreamPool::sweep_loop() {
    auto self = shared_from_this();  // the cancelled wait still resumes here after close_all()
    while (!stopped_) {
        sweep_timer_.expires_after(upstream_.idle_timeout / 2 + std::chrono::milliseconds(1));
        co_await sweep_timer_.async_wait(nothrow);
        if (stopped_) break;
        auto now = coarse_now();
        std::erase_if(idle_,
                      [&](const auto& c) { return now - c->idle_since >= upstream_.idle_timeout; });
    }
}

}  // namespace certgate::proxy
