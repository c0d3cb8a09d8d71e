// The two ends of a plain-HTTP exchange shared by the redirect and admin listeners: reading
// one request head under the TLS side's framing rules, and answering then closing politely.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <string>

#include "policies/request_head.hpp"
#include "proxy/snapshot.hpp"

namespace certgate::proxy {

// Reads one request head into `head`. Returns the status to refuse with (400, 408, 431), 0
// when `head` holds a valid request, -1 when the client went away. The caller sets the
// stream's deadline.
boost::asio::awaitable<int> read_plain_head(boost::beast::tcp_stream& stream,
                                            boost::beast::flat_buffer& in,
                                            policies::RequestHead& head, const Snapshot& snap);

// Writes `response` (head and body) within `timeout`, stops sending, then discards what the
// client still sends for up to a second so that unread bytes do not turn it into a reset.
boost::asio::awaitable<void> write_and_close(boost::beast::tcp_stream& stream,
                                             const std::string& response, config::Duration timeout);

}  // namespace certgate::proxy
