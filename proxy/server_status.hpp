// What the admin listener reads about the process as a whole: the snapshot in force, how
// reloads went, whether shutdown has begun. Written on the main thread, read on the admin
// thread; the lock is never taken on the request path.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "proxy/snapshot.hpp"

namespace certgate::proxy {

class ServerStatus {
public:
    struct View {
        std::shared_ptr<const Snapshot> snapshot;
        std::uint64_t reloads_ok = 0;
        std::uint64_t reloads_failed = 0;
        bool draining = false;
    };

    explicit ServerStatus(std::shared_ptr<const Snapshot> snapshot) {
        view_.snapshot = std::move(snapshot);
    }
    void reloaded(std::shared_ptr<const Snapshot> snapshot) {
        std::lock_guard lock(mu_);
        view_.snapshot = std::move(snapshot);
        ++view_.reloads_ok;
    }
    void reload_failed() {
        std::lock_guard lock(mu_);
        ++view_.reloads_failed;
    }
    void begin_drain() {
        std::lock_guard lock(mu_);
        view_.draining = true;
    }
    View view() const {
        std::lock_guard lock(mu_);
        return view_;
    }

private:
    mutable std::mutex mu_;
    View view_;
};

}  // namespace certgate::proxy
