// The process: worker threads, reloads (SIGHUP, or a watched file changing), daily expiry
// warnings, and shutdown (SIGTERM/SIGINT drain).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/server_status.hpp"
#include "proxy/snapshot.hpp"

namespace certgate::proxy {

class AdminListener;
class Worker;
class FileWatcher;

class Server {
public:
    Server(std::string config_path, std::shared_ptr<const Snapshot> snapshot);
    ~Server();
    // Binds, serves until SIGTERM/SIGINT, drains. Returns the process exit code.
    int run();

private:
    // The one place a reload happens. `trigger`: "signal" or "file"; `changed_path` is the
    // file seen changing, if known.
    void reload(std::string_view trigger, const std::string& changed_path = "");
    void watch_files();
    void warn_expiring_certificates();
    void schedule_expiry_check();
    void schedule_session_sweep();

    std::string config_path_;
    std::shared_ptr<const Snapshot> snapshot_;
    ServerStatus status_;  // what the admin listener reads
    // Before workers_: destroyed after them, as their queues may hold a scrape's request.
    std::unique_ptr<AdminListener> admin_;
    std::vector<std::unique_ptr<Worker>> workers_;
    // Signals, file watching and the expiry timer run here, on the thread that calls run().
    boost::asio::io_context main_ioc_{1};
    std::unique_ptr<FileWatcher> watcher_;
    boost::asio::steady_timer expiry_timer_{main_ioc_};
    boost::asio::steady_timer session_sweep_timer_{main_ioc_};
};

}  // namespace certgate::proxy
