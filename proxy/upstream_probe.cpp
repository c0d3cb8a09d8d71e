#include "proxy/upstream_probe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace certgate::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
using Clock = std::chrono::steady_clock;
namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);

std::string describe(const boost::system::error_code& ec) {
    return ec == beast::error::timeout ? "connect timed out" : ec.message();
}

// Opens and closes one connection; nothing is sent, so the app sees an empty connection.
net::awaitable<std::string> connect_once(const config::Upstream& upstream) {
    auto ex = co_await net::this_coro::executor;
    if (upstream.kind == config::Upstream::Kind::unix_socket) {
        beast::basic_stream<net::local::stream_protocol> stream(ex);
        stream.expires_after(upstream.connect_timeout);
        const net::local::stream_protocol::endpoint endpoint(upstream.socket_path);
        auto [ec] = co_await stream.async_connect(endpoint, nothrow);
        co_return ec ? describe(ec) : std::string();
    }
    net::ip::tcp::resolver resolver(ex);
    const std::string port = std::to_string(upstream.port);
    auto [rec, endpoints] = co_await resolver.async_resolve(upstream.host, port, nothrow);
    if (rec) co_return "cannot resolve " + upstream.host + ": " + rec.message();
    beast::tcp_stream stream(ex);
    stream.expires_after(upstream.connect_timeout);
    auto [ec, endpoint] = co_await stream.async_connect(endpoints, nothrow);
    co_return ec ? describe(ec) : std::string();
}

}  // namespace

net::awaitable<std::string> UpstreamProbe::check(const config::Upstream& upstream) {
    if (probing_) co_await done_.async_wait(nothrow);  // share the answer of the probe in flight
    const bool fresh = checked_url_ == upstream.url && Clock::now() - checked_at_ < kRememberFor;
    if (probing_ || fresh) co_return last_;
    probing_ = true;
    done_.expires_at(Clock::time_point::max());
    std::string result = co_await connect_once(upstream);
    last_ = result;
    checked_at_ = Clock::now();
    checked_url_ = upstream.url;
    probing_ = false;
    done_.cancel();
    co_return result;
}

}  // namespace certgate::proxy
