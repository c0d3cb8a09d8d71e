#include "proxy/session_cache.hpp"

#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "proxy/tls_context.hpp"

namespace certgate::proxy {

namespace {

constexpr std::size_t kMaxSessions = 20480;

class SessionCache {
public:
    void put(SSL* ssl, SSL_SESSION* session) {
        unsigned int id_size = 0;
        const unsigned char* id = SSL_SESSION_get_id(session, &id_size);
        const int size = i2d_SSL_SESSION(session, nullptr);
        if (id_size == 0 || size <= 0) return;
        Entry entry;
        entry.der.resize(static_cast<std::size_t>(size));
        auto* p = reinterpret_cast<unsigned char*>(entry.der.data());
        if (i2d_SSL_SESSION(session, &p) != size) return;
        entry.expires = static_cast<std::time_t>(SSL_SESSION_get_time(session) +
                                                 SSL_SESSION_get_timeout(session));
        entry.verdict = session_verdict(ssl, session);
        std::string key(reinterpret_cast<const char*>(id), id_size);
        const std::lock_guard lock(mutex_);
        while (entries_.size() >= kMaxSessions && !order_.empty()) drop_oldest();
        order_.emplace_back(entry.expires, key);
        entries_.insert_or_assign(std::move(key), std::move(entry));
    }

    SSL_SESSION* get(const unsigned char* id, int id_size) {
        Entry entry;
        {
            const std::lock_guard lock(mutex_);
            auto it = entries_.find(std::string(reinterpret_cast<const char*>(id),
                                                static_cast<std::size_t>(id_size)));
            if (it == entries_.end()) return nullptr;
            if (it->second.expires <= std::time(nullptr)) {
                entries_.erase(it);
                return nullptr;
            }
            entry = it->second;
        }
        const auto* p = reinterpret_cast<const unsigned char*>(entry.der.data());
        SSL_SESSION* session = d2i_SSL_SESSION(nullptr, &p, static_cast<long>(entry.der.size()));
        if (session != nullptr) restore_session_verdict(session, entry.verdict);
        return session;
    }

    void remove(SSL_SESSION* session) {
        unsigned int id_size = 0;
        const unsigned char* id = SSL_SESSION_get_id(session, &id_size);
        const std::lock_guard lock(mutex_);
        entries_.erase(std::string(reinterpret_cast<const char*>(id), id_size));
    }

    std::size_t sweep(std::time_t now) {
        const std::lock_guard lock(mutex_);
        const std::size_t before = entries_.size();
        while (!order_.empty() && order_.front().first <= now) drop_oldest();
        return before - entries_.size();
    }

    std::size_t size() {
        const std::lock_guard lock(mutex_);
        return entries_.size();
    }

private:
    struct Entry {
        std::string der;
        std::time_t expires = 0;
        long verdict = 0;
    };

    // Sessions all live the context's timeout, so the order of arrival is the order of expiry.
    // An id already removed, or stored again since, is skipped.
    void drop_oldest() {
        auto& [expires, key] = order_.front();
        auto it = entries_.find(key);
        if (it != entries_.end() && it->second.expires == expires) entries_.erase(it);
        order_.pop_front();
    }

    std::mutex mutex_;  // the workers' handshakes share the context
    std::unordered_map<std::string, Entry> entries_;
    std::deque<std::pair<std::time_t, std::string>> order_;
};

void free_cache(void*, void* cache, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<SessionCache*>(cache);
}

int cache_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_cache);
    return index;
}

SessionCache* cache_of(SSL_CTX* context) {
    return static_cast<SessionCache*>(SSL_CTX_get_ex_data(context, cache_index()));
}

int on_new(SSL* ssl, SSL_SESSION* session) {
    if (SessionCache* cache = cache_of(SSL_get_SSL_CTX(ssl))) cache->put(ssl, session);
    return 0;  // the session's reference stays OpenSSL's
}

SSL_SESSION* on_get(SSL* ssl, const unsigned char* id, int id_size, int* copy) {
    *copy = 0;  // a fresh object, handed over with its one reference
    SessionCache* cache = cache_of(SSL_get_SSL_CTX(ssl));
    return cache ? cache->get(id, id_size) : nullptr;
}

void on_remove(SSL_CTX* context, SSL_SESSION* session) {
    if (SessionCache* cache = cache_of(context)) cache->remove(session);
}

}  // namespace

void install_session_cache(SSL_CTX* context) {
    SSL_CTX_set_ex_data(context, cache_index(), new SessionCache);
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(context, on_new);
    SSL_CTX_sess_set_get_cb(context, on_get);
    SSL_CTX_sess_set_remove_cb(context, on_remove);
}

std::size_t sweep_session_cache(SSL_CTX* context, std::time_t now) {
    SessionCache* cache = cache_of(context);
    return cache ? cache->sweep(now) : 0;
}

std::size_t session_cache_size(SSL_CTX* context) {
    SessionCache* cache = cache_of(context);
    return cache ? cache->size() : 0;
}

}  // namespace certgate::proxy
