// One worker thread: its own io_context, acceptor (SO_REUSEPORT), upstream pool, log and
// request-id source. Nothing here is shared with other workers, so the request path takes
// no locks.
#pragma once

#include <algorithm>
#include <chrono>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>

#include "proxy/access_log.hpp"
#include "proxy/io_buffer.hpp"
#include "proxy/metrics.hpp"
#include "proxy/redirect_listener.hpp"
#include "proxy/snapshot.hpp"
#include "proxy/upstream_pool.hpp"

namespace certgate::proxy {

class ClientSession;

// Fast, non-cryptographic request ids: 32 hex characters from a per-worker xorshift.
class RequestIdGenerator {
public:
    RequestIdGenerator();
    std::string next();

private:
    std::uint64_t s0_, s1_;
};

class Worker {
public:
    Worker(unsigned index, std::shared_ptr<const Snapshot> snapshot);
    ~Worker();

    // Binds the listening socket (throws std::system_error on failure).
    void listen();
    void start();  // runs the io_context on a new thread
    void join();
    // Stops accepting; idle connections close, requests in flight finish. Thread-safe; the
    // future is ready once the listening socket is closed.
    std::future<void> begin_drain();
    // New connections use `snapshot` from now on; open ones move to it at their next request.
    // A changed `upstream` section replaces the pool. Thread-safe.
    void replace_snapshot(std::shared_ptr<const Snapshot> snapshot);
    // Forcibly closes everything left. Thread-safe.
    void stop();

    // Used by sessions (worker thread only).
    boost::asio::io_context& io() { return *ioc_; }
    const std::shared_ptr<const Snapshot>& snapshot() const { return snapshot_; }
    UpstreamPool& pool() { return *pool_; }
    // For an exchange that spans co_awaits: a reload may replace the pool meanwhile.
    std::shared_ptr<UpstreamPool> shared_pool() { return pool_; }
    AccessLog& log() { return log_; }
    // Request lines are written together, at most kLogFlushDelay after the first of them
    // (sooner when stdout's buffer fills): not one system call per request.
    void log_request(const RequestLogEntry& e);
    static constexpr std::chrono::milliseconds kLogFlushDelay{20};
    BufferPool& buffers() { return buffers_; }
    RequestIdGenerator& request_ids() { return ids_; }
    WorkerMetrics& metrics() { return metrics_; }
    bool draining() const { return draining_; }
    void session_started(ClientSession* s) {
        sessions_.insert(s);
        peak_sessions_ = std::max(peak_sessions_, sessions_.size());
    }
    void session_ended(ClientSession* s);
    // A session began waiting for its next request still holding its last exchange's
    // memory: a sweep every kIdleSweep gives it back from those idle since the sweep before,
    // so a busy connection reuses it and an idle one (after 0.1-0.2 s) holds none.
    void note_idle_memory();
    std::uint64_t idle_epoch() const { return idle_epoch_; }
    static constexpr std::chrono::milliseconds kIdleSweep{100};
    std::size_t open_sessions() const { return sessions_.size(); }

private:
    boost::asio::awaitable<void> accept_loop();
    void release_memory_after_burst();
    void sweep_idle_memory();

    unsigned index_;
    // Destroyed explicitly after the members its pending handlers refer to are still valid.
    std::unique_ptr<boost::asio::io_context> ioc_;
    std::shared_ptr<const Snapshot> snapshot_;
    std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
    std::optional<RedirectListener> redirect_;
    std::shared_ptr<UpstreamPool> pool_;
    AccessLog log_;
    BufferPool buffers_;  // outlives the sessions: ~Worker destroys them with the io_context
    RequestIdGenerator ids_;
    WorkerMetrics metrics_;  // worker thread only; a scrape asks for a copy (AdminListener)
    std::unordered_set<ClientSession*> sessions_;
    // Wakes the accept loop when under max_connections; optional so that ~Worker can destroy
    // it before the io_context.
    std::optional<boost::asio::steady_timer> slot_free_;
    std::optional<boost::asio::steady_timer> log_flush_;  // likewise
    std::optional<boost::asio::steady_timer> idle_sweep_;  // likewise
    bool idle_sweep_armed_ = false;
    std::uint64_t idle_epoch_ = 1;
    std::size_t max_sessions_;
    std::size_t peak_sessions_ = 0;  // since memory was last handed back
    bool after_burst_ = false;
    bool draining_ = false;
    std::thread thread_;
};

}  // namespace certgate::proxy
