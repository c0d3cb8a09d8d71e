#include "proxy/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <thread>

#include "proxy/access_log.hpp"
#include "proxy/admin_listener.hpp"
#include "proxy/worker.hpp"

namespace certgate::proxy {

namespace net = boost::asio;

Server::Server(std::string config_path, std::shared_ptr<const Snapshot> snapshot)
    : config_path_(std::move(config_path)), snapshot_(std::move(snapshot)), status_(snapshot_) {}

Server::~Server() = default;

void Server::reload() {
    try {
        auto next = load_snapshot(config_path_);
        for (auto& w : workers_) w->replace_snapshot(next);
        snapshot_ = std::move(next);
        status_.reloaded(snapshot_);
        process_log().event("info", "reload", {{"result", "ok"}, {"config", config_path_}});
        for (const auto& warning : snapshot_warnings(*snapshot_))
            process_log().event("warning", "config_warning", {{"message", warning}});
    } catch (const std::exception& e) {
        status_.reload_failed();
        process_log().event("error", "reload",
                            {{"result", "failed"}, {"config", config_path_}, {"error", e.what()}});
    }
}

int Server::run() {
    std::signal(SIGPIPE, SIG_IGN);
    const auto& cfg = snapshot_->config;
    unsigned n = cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
    try {
        for (unsigned i = 0; i < n; ++i) {
            workers_.push_back(std::make_unique<Worker>(i, snapshot_));
            workers_.back()->listen();
        }
    } catch (const std::exception& e) {
        process_log().event("error", "listen_failed",
                            {{"address", cfg.listen.text}, {"error", e.what()}});
        return 1;
    }
    for (const auto& warning : snapshot_warnings(*snapshot_))
        process_log().event("warning", "config_warning", {{"message", warning}});
    if (cfg.admin && !(admin_ = AdminListener::open(*cfg.admin, workers_, status_))) return 1;
    for (auto& w : workers_) w->start();
    if (admin_) admin_->start();
    process_log().event("info", "listening",
                        {{"address", cfg.listen.text},
                         {"upstream", cfg.upstream.url},
                         {"workers", std::to_string(n)},
                         {"client_certificates", snapshot_->handshake_requires_certificate
                                                     ? "required at handshake"
                                                     : "requested, judged per request"}});

    net::io_context main_ioc(1);
    net::signal_set signals(main_ioc, SIGINT, SIGTERM, SIGHUP);
    bool stopping = false;
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                reload();
                signals.async_wait(on_signal);
                return;
            }
            stopping = true;
        };
    signals.async_wait(on_signal);
    while (!stopping) main_ioc.run_one();

    const auto timeout = snapshot_->config.limits.shutdown_timeout;
    // Every listening socket is closed before "draining" is logged: from then on no new
    // connection is accepted.
    status_.begin_drain();  // /readyz answers 503 from now on
    std::vector<std::future<void>> closed;
    for (auto& w : workers_) closed.push_back(w->begin_drain());
    for (auto& c : closed) c.wait_for(timeout);
    process_log().event("info", "shutdown",
                        {{"phase", "draining"}, {"timeout_ms", std::to_string(timeout.count())}});
    // Workers' io_contexts run out of work once their last connection has closed.
    net::steady_timer deadline(main_ioc, timeout);
    std::thread killer;
    bool forced = false;
    deadline.async_wait([&](const boost::system::error_code& ec) {
        if (ec) return;
        forced = true;
        for (auto& w : workers_) w->stop();
    });
    killer = std::thread([&] {
        main_ioc.restart();
        main_ioc.run();
    });
    for (auto& w : workers_) w->join();
    if (admin_) admin_->stop();
    net::post(main_ioc, [&] { deadline.cancel(); });
    killer.join();
    process_log().event("info", "shutdown",
                        {{"phase", "done"}, {"forced", forced ? "true" : "false"}});
    return 0;
}

}  // namespace certgate::proxy
