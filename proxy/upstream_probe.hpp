// /readyz's question "can the app be reached?", answered by a real connect within the
// upstream's connect_timeout. The answer is kept for a second and shared by concurrent asks,
// so frequent health checks cannot hammer the app.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string>

#include "config/config.hpp"

namespace certgate::proxy {

class UpstreamProbe {
public:
    explicit UpstreamProbe(boost::asio::io_context& ioc) : done_(ioc) {}
    // Empty when a connection could be opened, else why not. Single-threaded: call from
    // `ioc`'s thread only.
    boost::asio::awaitable<std::string> check(const config::Upstream& upstream);

private:
    static constexpr std::chrono::seconds kRememberFor{1};

    boost::asio::steady_timer done_;  // cancelled when the probe in flight finishes
    bool probing_ = false;
    std::chrono::steady_clock::time_point checked_at_;
    std::string checked_url_;
    std::string last_;
};

}  // namespace certgate::proxy
