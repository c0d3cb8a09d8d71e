// admin: a plain-HTTP listener for operators and orchestrators. GET /healthz (the process is
// up), /readyz (configuration loaded, app reachable, not shutting down) and /metrics
// (Prometheus text). It runs on its own thread and io_context, so a busy worker never
// stalls a health check, and it reads the workers' counters only by asking them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "policies/request_head.hpp"
#include "proxy/metrics.hpp"
#include "proxy/server_status.hpp"
#include "proxy/upstream_probe.hpp"

namespace certgate::proxy {

class Worker;

class AdminListener {
public:
    // Binds `endpoint`; on failure logs why and returns null. `workers` and `status` must
    // outlive the listener's thread (stop() ends it).
    static std::unique_ptr<AdminListener> open(const config::Endpoint& endpoint,
                                               const std::vector<std::unique_ptr<Worker>>& workers,
                                               const ServerStatus& status);
    AdminListener(const config::Endpoint& endpoint, std::vector<Worker*> workers,
                  const ServerStatus& status);  // throws std::system_error
    ~AdminListener();

    void start();  // serves on a new thread
    void stop();   // stops serving and joins the thread; requests in flight are dropped

private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve(boost::beast::tcp_stream stream);
    boost::asio::awaitable<std::string> answer(const policies::RequestHead& head,
                                               const ServerStatus::View& view);
    boost::asio::awaitable<MetricsScrape> gather(const ServerStatus::View& view);

    // Destroyed explicitly, I/O objects first, while the members that unfinished
    // connections refer to are still alive.
    std::unique_ptr<boost::asio::io_context> ioc_;
    std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
    std::optional<UpstreamProbe> probe_;
    std::vector<Worker*> workers_;
    const ServerStatus& status_;
    std::size_t connections_ = 0;
    std::thread thread_;
};

}  // namespace certgate::proxy
