#include "proxy/listen_socket.hpp"

#include <sys/socket.h>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/system/system_error.hpp>
#include <stdexcept>

namespace certgate::proxy {

namespace net = boost::asio;

namespace {

net::ip::tcp::endpoint to_endpoint(const config::Endpoint& e) {
    return {net::ip::make_address(e.host), e.port};
}

// Both: reuse_address (a restart binds while the last run's connections sit in TIME_WAIT) and,
// on an IPv6 address, both families, as in the SPEC's "[::]:8443".
void open_for(net::ip::tcp::acceptor& acceptor, const net::ip::tcp::endpoint& ep) {
    acceptor.open(ep.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    if (ep.address().is_v6()) acceptor.set_option(net::ip::v6_only(false));
}

}  // namespace

void refuse_if_taken(const config::Endpoint& endpoint) {
    const auto ep = to_endpoint(endpoint);
    net::io_context ioc;
    net::ip::tcp::acceptor probe(ioc);
    open_for(probe, ep);
    boost::system::error_code ec;
    probe.bind(ep, ec);  // no SO_REUSEPORT: fails beside any listener on this address
    if (ec == boost::system::errc::address_in_use)
        throw std::runtime_error(endpoint.text +
                                 " is in use by another process (another certgate still "
                                 "running?); two listeners would split its connections");
    if (ec) throw boost::system::system_error(ec, endpoint.text);
}

void listen_shared(net::ip::tcp::acceptor& acceptor, const config::Endpoint& endpoint) {
    const auto ep = to_endpoint(endpoint);
    open_for(acceptor, ep);
    int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        throw boost::system::system_error(errno, boost::system::system_category(),
                                          "SO_REUSEPORT");
    acceptor.bind(ep);
    acceptor.listen(net::socket_base::max_listen_connections);
}

}  // namespace certgate::proxy
