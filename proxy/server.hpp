// The process: worker threads, signals (SIGHUP reload, SIGTERM/SIGINT drain), shutdown.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proxy/server_status.hpp"
#include "proxy/snapshot.hpp"

namespace certgate::proxy {

class AdminListener;
class Worker;

class Server {
public:
    Server(std::string config_path, std::shared_ptr<const Snapshot> snapshot);
    ~Server();
    // Binds, serves until SIGTERM/SIGINT, drains. Returns the process exit code.
    int run();

private:
    void reload();

    std::string config_path_;
    std::shared_ptr<const Snapshot> snapshot_;
    ServerStatus status_;  // what the admin listener reads
    // Before workers_: destroyed after them, as their queues may hold a scrape's request.
    std::unique_ptr<AdminListener> admin_;
    std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace certgate::proxy
