#include "proxy/redirect_listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/status.hpp>

#include "policies/redirect.hpp"
#include "policies/request_head.hpp"
#include "policies/response_decorator.hpp"
#include "proxy/http_writer.hpp"
#include "proxy/listen_socket.hpp"
#include "proxy/plain_http.hpp"

namespace certgate::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);

net::awaitable<void> serve_redirect(beast::tcp_stream stream,
                                    std::shared_ptr<const Snapshot> snap) {
    beast::flat_buffer in;
    policies::RequestHead head;
    stream.expires_after(snap->config.limits.header_timeout);
    int refusal = co_await read_plain_head(stream, in, head, *snap);
    if (refusal < 0) co_return;
    // A Host that is no host name or address would make a Location that is no URL.
    if (refusal == 0 && !policies::is_valid_host(*head.headers.get("Host"))) refusal = 400;

    ResponseHead response;
    response.status = refusal ? refusal : 308;
    std::string body;
    if (refusal == 0) {
        std::string location = policies::https_redirect_location(*head.headers.get("Host"),
                                                                 snap->config.listen.port,
                                                                 head.target);
        response.headers.add("Location", location);
        body = "use " + location + "\n";
    } else {
        body = std::string(http::obsolete_reason(static_cast<http::status>(refusal))) + "\n";
    }
    response.headers.add("Content-Type", "text/plain; charset=utf-8");
    policies::decorate_response(response.headers, snap->fallback_rules);
    std::string out;
    serialize_response_head(out, response,
                            http::obsolete_reason(static_cast<http::status>(response.status)),
                            BodyFraming::length, body.size(), true, false);
    if (head.method != "HEAD") out += body;  // RFC 9110 9.3.2: a response to HEAD has no content
    co_await write_and_close(stream, out, snap->config.limits.body_idle_timeout);
}

net::awaitable<void> accept_loop(net::ip::tcp::acceptor& acceptor,
                                 RedirectListener::SnapshotSource current) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(nothrow);
        if (ec) {
            if (!acceptor.is_open() || ec == net::error::operation_aborted) co_return;
            continue;
        }
        net::co_spawn(acceptor.get_executor(),
                      serve_redirect(beast::tcp_stream(std::move(socket)), current()),
                      net::detached);
    }
}

}  // namespace

RedirectListener::RedirectListener(net::io_context& ioc, const config::Endpoint& endpoint)
    : ioc_(ioc), acceptor_(ioc) {
    listen_shared(acceptor_, endpoint);
}

void RedirectListener::start(SnapshotSource current) {
    net::co_spawn(ioc_, accept_loop(acceptor_, std::move(current)), net::detached);
}

void RedirectListener::close() {
    boost::system::error_code ec;
    acceptor_.close(ec);
}

}  // namespace certgate::proxy
