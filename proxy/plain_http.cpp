#include "proxy/plain_http.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "proxy/http_parsers.hpp"

namespace certgate::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace {
constexpr auto nothrow = net::as_tuple(net::use_awaitable);
}

net::awaitable<int> read_plain_head(beast::tcp_stream& stream, beast::flat_buffer& in,
                                    policies::RequestHead& head, const Snapshot& snap) {
    const auto limit = snap.config.limits.max_request_header_bytes;
    std::size_t scanned = 0;
    for (;;) {
        std::string_view bytes(static_cast<const char*>(in.data().data()), in.size());
        auto scan = policies::scan_request_head(bytes, limit, scanned);
        using S = policies::HeadScan::Status;
        if (scan.status == S::malformed) co_return 400;
        if (scan.status == S::too_large) co_return 431;
        if (scan.status == S::complete) {
            RequestParser parser(head);
            parser.header_limit(static_cast<std::uint32_t>(limit + 1024));
            boost::system::error_code ec;
            parser.put(net::buffer(in.data() + scan.leading_empty_lines,
                                   scan.head_end - scan.leading_empty_lines),
                       ec);
            if (ec || !parser.is_header_done() || policies::check_request_framing(head))
                co_return 400;
            co_return 0;
        }
        scanned = scan.scanned;
        auto [ec, n] = co_await stream.async_read_some(in.prepare(4096), nothrow);
        in.commit(n);
        if (ec) co_return ec == beast::error::timeout && in.size() > 0 ? 408 : -1;
    }
}

net::awaitable<void> write_and_close(beast::tcp_stream& stream, const std::string& response,
                                     config::Duration timeout) {
    stream.expires_after(timeout);
    co_await net::async_write(stream, net::buffer(response), nothrow);
    boost::system::error_code ec;
    stream.socket().shutdown(net::socket_base::shutdown_send, ec);
    stream.expires_after(std::chrono::seconds(1));
    char scratch[4096];
    for (std::size_t drained = 0; drained < 64 * 1024;) {
        auto [rec, n] = co_await stream.async_read_some(net::buffer(scratch), nothrow);
        if (rec) break;
        drained += n;
    }
}

}  // namespace certgate::proxy
