#include "proxy/server.hpp"

#include <openssl/ssl.h>
#include <pthread.h>

#include <ctime>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <thread>

#include "proxy/access_log.hpp"
#include "proxy/admin_listener.hpp"
#include "proxy/allocator.hpp"
#include "proxy/file_watcher.hpp"
#include "proxy/listen_socket.hpp"
#include "proxy/session_cache.hpp"
#include "proxy/worker.hpp"

namespace certgate::proxy {

namespace net = boost::asio;

namespace {

// Settings bound once at start (sockets, threads, per-worker connection slots): a reload
// takes everything else, and says which of these wait for a restart.
std::string restart_only_changes(const config::Config& running, const config::Config& next) {
    std::string changed;
    auto note = [&](bool differs, const char* key) {
        if (differs) changed += (changed.empty() ? "" : ", ") + std::string(key);
    };
    auto text = [](const std::optional<config::Endpoint>& e) { return e ? e->text : ""; };
    note(running.listen.text != next.listen.text, "listen");
    note(text(running.redirect_http) != text(next.redirect_http), "redirect_http");
    note(text(running.admin) != text(next.admin), "admin");
    note(running.workers != next.workers, "workers");
    note(running.limits.max_connections != next.limits.max_connections, "limits.max_connections");
    return changed;
}

// SIGINT, SIGTERM and SIGHUP are the control thread's: threads started while this is alive
// inherit a mask that blocks them, so the kernel hands these signals to the main thread only
// (a worker's system calls are never interrupted by one). A signal that arrives meanwhile
// waits, pending, until the destructor unblocks it here.
class ControlSignalsStayOnThisThread {
public:
    ControlSignalsStayOnThisThread() {
        sigset_t control;
        sigemptyset(&control);
        for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&control, sig);
        pthread_sigmask(SIG_BLOCK, &control, &previous_);
    }
    ~ControlSignalsStayOnThisThread() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
    ControlSignalsStayOnThisThread(const ControlSignalsStayOnThisThread&) = delete;
    ControlSignalsStayOnThisThread& operator=(const ControlSignalsStayOnThisThread&) = delete;

private:
    sigset_t previous_{};
};

}  // namespace

Server::Server(std::string config_path, std::shared_ptr<const Snapshot> snapshot)
    : config_path_(std::move(config_path)), snapshot_(std::move(snapshot)), status_(snapshot_) {}

Server::~Server() = default;

void Server::reload(std::string_view trigger, const std::string& changed_path) {
    std::vector<std::pair<std::string_view, std::string>> about{{"config", config_path_},
                                                                {"trigger", std::string(trigger)}};
    if (!changed_path.empty()) about.emplace_back("path", changed_path);
    try {
        auto next = load_snapshot(config_path_);
        const std::string needs_restart = restart_only_changes(snapshot_->config, next->config);
        for (auto& w : workers_) w->replace_snapshot(next);
        snapshot_ = std::move(next);
        status_.reloaded(snapshot_);
        about.emplace(about.begin(), "result", "ok");
        process_log().event("info", "reload", about);
        if (!needs_restart.empty())
            process_log().event("warning", "restart_needed",
                                {{"settings", needs_restart},
                                 {"message", "these keep their running values until restart"}});
        for (const auto& warning : snapshot_warnings(*snapshot_, false))
            process_log().event("warning", "config_warning", {{"message", warning}});
        warn_expiring_certificates();
    } catch (const std::exception& e) {
        status_.reload_failed();
        about.emplace(about.begin(), "result", "failed");
        about.emplace_back("error", e.what());
        process_log().event("error", "reload", about);
    }
    // The new config may name other files; after a failure, a half-written set's next write
    // brings the next attempt.
    watch_files();
}

void Server::watch_files() {
    if (!watcher_) return;
    auto files = source_files(snapshot_->config);
    files.push_back(config_path_);
    watcher_->watch(files);
}

void Server::warn_expiring_certificates() {
    for (const auto& e : expiring_certificates(*snapshot_, std::chrono::system_clock::now()))
        process_log().event("warning", "certificate_expiring",
                            {{"role", e.certificate->role},
                             {"subject", e.certificate->subject},
                             {"not_after", e.certificate->not_after},
                             {"days_left", std::to_string(e.days_left)}});
}

void Server::schedule_expiry_check() {
    expiry_timer_.expires_after(std::chrono::hours(24));
    expiry_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        warn_expiring_certificates();
        schedule_expiry_check();
    });
}

// Expired sessions are found only when a client offers one: after a burst they would stay
// resident until then. Swept here every minute, and the memory handed back.
void Server::schedule_session_sweep() {
    session_sweep_timer_.expires_after(std::chrono::minutes(1));
    session_sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        SSL_CTX* ctx = snapshot_->tls.context.get();
        const std::size_t dropped = sweep_session_cache(ctx, std::time(nullptr));
        if (dropped > 0) release_free_memory();
        schedule_session_sweep();
    });
}

int Server::run() {
    std::signal(SIGPIPE, SIG_IGN);
    // Caught from here on (queued until waited for): a SIGHUP right after "listening" must
    // not meet the default action, which ends the process.
    net::signal_set signals(main_ioc_, SIGINT, SIGTERM, SIGHUP);
    const auto& cfg = snapshot_->config;
    unsigned n = cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
    try {
        refuse_if_taken(cfg.listen);
        if (cfg.redirect_http) refuse_if_taken(*cfg.redirect_http);
        for (unsigned i = 0; i < n; ++i) {
            workers_.push_back(std::make_unique<Worker>(i, snapshot_));
            workers_.back()->listen();
        }
    } catch (const std::exception& e) {
        process_log().event("error", "listen_failed",
                            {{"address", cfg.listen.text}, {"error", e.what()}});
        return 1;
    }
    for (const auto& warning : snapshot_warnings(*snapshot_, false))
        process_log().event("warning", "config_warning", {{"message", warning}});
    if (cfg.admin && !(admin_ = AdminListener::open(*cfg.admin, workers_, status_))) return 1;
    warn_expiring_certificates();
    schedule_expiry_check();
    schedule_session_sweep();
    try {
        watcher_ = std::make_unique<FileWatcher>(
            main_ioc_, [this](const std::string& path) { reload("file", path); });
        watch_files();
    } catch (const std::exception& e) {
        process_log().event("warning", "file_watch_unavailable",
                            {{"error", e.what()}, {"consequence", "reload with SIGHUP only"}});
    }
    {
        ControlSignalsStayOnThisThread control_signals;
        for (auto& w : workers_) w->start();
        if (admin_) admin_->start();
    }
    process_log().event("info", "listening",
                        {{"address", cfg.listen.text},
                         {"upstream", cfg.upstream.url},
                         {"workers", std::to_string(n)},
                         {"client_certificates", snapshot_->handshake_requires_certificate
                                                     ? "required at handshake"
                                                     : "requested, judged per request"}});

    auto& main_ioc = main_ioc_;
    bool stopping = false;
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer holds back a signal that lands outside an intercepted blocking call
    // until the thread's next intercepted call, which an idle main loop may not make for a
    // minute (google/sanitizers#1179; seen as a SIGHUP never acted on in CI). A short
    // wake-up keeps signals prompt in the TSan build; every other build compiles this out.
    net::steady_timer tsan_wakeup(main_ioc);
    std::function<void(const boost::system::error_code&)> wake =
        [&](const boost::system::error_code& ec) {
            if (ec || stopping) return;
            tsan_wakeup.expires_after(std::chrono::milliseconds(50));
            tsan_wakeup.async_wait(wake);
        };
    wake({});
#endif
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                reload("signal");
                signals.async_wait(on_signal);
                return;
            }
            stopping = true;
        };
    signals.async_wait(on_signal);
    while (!stopping) main_ioc.run_one();
    // Nothing reloads during the drain; these must not keep main_ioc busy below either.
    signals.cancel();
#if defined(__SANITIZE_THREAD__)
    tsan_wakeup.cancel();
#endif
    if (watcher_) watcher_->stop();
    expiry_timer_.cancel();
    session_sweep_timer_.cancel();

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
