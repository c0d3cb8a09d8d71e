// The listening sockets of the proxy port and the HTTP redirect port: one per worker, all on
// the same address with SO_REUSEPORT, so that the kernel spreads connections over workers.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "config/config.hpp"

namespace certgate::proxy {

// Throws std::runtime_error naming the address when anything listens there already. With
// SO_REUSEPORT a second process of the same user could otherwise bind beside us (a second
// certgate, an old one still running): the kernel would then split new connections between
// two processes and two configurations, silently. Checked once at start, before the workers
// bind (a socket without SO_REUSEPORT cannot bind next to any listener).
void refuse_if_taken(const config::Endpoint& endpoint);

// Opens, binds and listens `acceptor` on `endpoint` as one of the workers' shared sockets.
void listen_shared(boost::asio::ip::tcp::acceptor& acceptor, const config::Endpoint& endpoint);

}  // namespace certgate::proxy
