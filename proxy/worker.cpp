#include "proxy/worker.hpp"

#include <openssl/rand.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/allocator.hpp"
#include "proxy/client_session.hpp"
#include "proxy/listen_socket.hpp"

namespace certgate::proxy {

namespace net = boost::asio;
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

RequestIdGenerator::RequestIdGenerator() {
    std::uint64_t seed[2] = {0x9E3779B97F4A7C15ull, 0xD1B54A32D192ED03ull};
    RAND_bytes(reinterpret_cast<unsigned char*>(seed), sizeof seed);
    s0_ = seed[0] | 1;
    s1_ = seed[1];
}

std::string RequestIdGenerator::next() {
    static const char hex[] = "0123456789abcdef";
    std::string id(32, '0');
    for (int half = 0; half < 2; ++half) {
        std::uint64_t x = s0_, y = s1_;  // xorshift128+
        s0_ = y;
        x ^= x << 23;
        s1_ = x ^ y ^ (x >> 17) ^ (y >> 26);
        std::uint64_t v = s1_ + y;
        for (int i = 0; i < 16; ++i) id[half * 16 + i] = hex[(v >> (i * 4)) & 15];
    }
    return id;
}

Worker::Worker(unsigned index, std::shared_ptr<const Snapshot> snapshot)
    : index_(index),
      // Only this worker's thread touches its sockets and timers; other threads reach it by
      // post (scheduler, still locked). So the reactor's per-socket locks can go.
      ioc_(std::make_unique<net::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO)),
      snapshot_(std::move(snapshot)),
      pool_(UpstreamPool::create(*ioc_, snapshot_->config.upstream)),
      log_("worker-" + std::to_string(index)),
      slot_free_(std::in_place, *ioc_),
      log_flush_(std::in_place, *ioc_),
      idle_sweep_(std::in_place, *ioc_) {
    const auto& cfg = snapshot_->config;
    unsigned workers =
        cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
    max_sessions_ = std::max<std::size_t>(1, (cfg.limits.max_connections + workers - 1) / workers);
}

Worker::~Worker() {
    join();
    pool_.reset();
    acceptor_.reset();
    redirect_.reset();
    // Every I/O object goes before its io_context: a timer destroyed after the context
    // would reach into the context's freed timer service.
    slot_free_.reset();
    log_flush_.reset();
    idle_sweep_.reset();
    ioc_.reset();  // destroys unfinished sessions while sessions_ is still alive
}

void Worker::listen() {
    acceptor_.emplace(*ioc_);
    listen_shared(*acceptor_, snapshot_->config.listen);
    if (const auto& redirect = snapshot_->config.redirect_http) redirect_.emplace(*ioc_, *redirect);
}

void Worker::start() {
    net::co_spawn(*ioc_, accept_loop(), net::detached);
    if (redirect_) redirect_->start([this] { return snapshot_; });
    thread_ = std::thread([this] { ioc_->run(); });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

std::future<void> Worker::begin_drain() {
    auto closed = std::make_shared<std::promise<void>>();
    auto future = closed->get_future();
    net::post(*ioc_, [this, closed] {
        draining_ = true;
        boost::system::error_code ec;
        if (acceptor_) acceptor_->close(ec);
        if (redirect_) redirect_->close();
        slot_free_->cancel();
        idle_sweep_->cancel();
        pool_->close_all();
        for (auto* s : sessions_) s->drain();
        closed->set_value();
    });
    return future;
}

void Worker::replace_snapshot(std::shared_ptr<const Snapshot> snapshot) {
    net::post(*ioc_, [this, snapshot = std::move(snapshot)]() mutable {
        // Idle connections to the old app address close now; those in use finish their
        // exchange and are dropped. A draining worker keeps its closed pool: a fresh one
        // would keep the io_context busy.
        if (!draining_ && !(snapshot->config.upstream == snapshot_->config.upstream)) {
            pool_->close_all();
            pool_ = UpstreamPool::create(*ioc_, snapshot->config.upstream);
        }
        snapshot_ = std::move(snapshot);
    });
}

void Worker::stop() { ioc_->stop(); }

void Worker::log_request(const RequestLogEntry& e) {
    if (!log_.request(e)) return;  // a flush is due already
    log_flush_->expires_after(kLogFlushDelay);
    log_flush_->async_wait([this](const boost::system::error_code&) { log_.flush(); });
}

void Worker::note_idle_memory() {
    if (idle_sweep_armed_ || draining_) return;
    idle_sweep_armed_ = true;
    idle_sweep_->expires_after(kIdleSweep);
    idle_sweep_->async_wait([this](const boost::system::error_code&) { sweep_idle_memory(); });
}

void Worker::sweep_idle_memory() {
    idle_sweep_armed_ = false;
    if (draining_) return;
    bool holding = false;
    for (auto* s : sessions_) holding |= s->release_memory_if_idle_since(idle_epoch_);
    ++idle_epoch_;
    if (holding) note_idle_memory();
}

void Worker::session_ended(ClientSession* s) {
    sessions_.erase(s);
    slot_free_->cancel();
    release_memory_after_burst();
}

// An allocator keeps what it was given back: once a burst of connections (tens of KiB each)
// is over, what they freed would stay resident. After a burst of some size, it is handed
// back to the system each time the open connections fall to half of their last level,
// down to none: one release per halving.
void Worker::release_memory_after_burst() {
    constexpr std::size_t kBurst = 128;
    if (peak_sessions_ >= kBurst) after_burst_ = true;
    if (!after_burst_ || sessions_.size() > peak_sessions_ / 2) return;
    peak_sessions_ = sessions_.size();
    after_burst_ = !sessions_.empty();
    release_free_memory();
}

net::awaitable<void> Worker::accept_loop() {
    net::steady_timer backoff(*ioc_);
    while (!draining_) {
        while (sessions_.size() >= max_sessions_ && !draining_) {
            // At max_connections: leave further connections in the kernel's backlog.
            slot_free_->expires_at(net::steady_timer::time_point::max());
            co_await slot_free_->async_wait(nothrow);
        }
        if (draining_) break;
        auto [ec, socket] = co_await acceptor_->async_accept(nothrow);
        if (draining_) break;  // accepted just before the drain began: the socket closes unused
        if (ec) {
            if (draining_ || ec == net::error::operation_aborted) break;
            log_.event("error", "accept_failed", {{"error", ec.message()}});
            backoff.expires_after(std::chrono::milliseconds(50));  // e.g. out of descriptors
            co_await backoff.async_wait(nothrow);
            continue;
        }
        auto session = std::make_shared<ClientSession>(*this, std::move(socket));
        net::co_spawn(*ioc_, session->run(), net::detached);
    }
}

}  // namespace certgate::proxy
