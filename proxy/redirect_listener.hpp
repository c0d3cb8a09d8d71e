// redirect_http: a plain-HTTP listener that answers every request with 308 to its https URL,
// carrying the default policy's security headers. It never forwards anything.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "proxy/snapshot.hpp"

namespace certgate::proxy {

class RedirectListener {
public:
    using SnapshotSource = std::function<std::shared_ptr<const Snapshot>()>;
    // Binds `endpoint` with SO_REUSEPORT (throws std::system_error on failure).
    RedirectListener(boost::asio::io_context& ioc, const config::Endpoint& endpoint);
    void start(SnapshotSource current);
    void close();

private:
    boost::asio::io_context& ioc_;
    boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace certgate::proxy
