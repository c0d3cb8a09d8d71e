#include "proxy/tls_stream.hpp"

#include <openssl/err.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <string_view>

namespace certgate::proxy {

namespace net = boost::asio;
using boost::system::error_code;
namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);
// A piece at least this large is written from the caller's memory rather than copied.
constexpr std::size_t kWriteDirect = BufferPool::kBlockSize / 2;
// Offloaded: two records' room to read into (a burst, or one record behind a partial one);
// at most four records sealed per send.
constexpr std::size_t kReadRoom = 2 * Tls13Records::kMaxRecord;
constexpr std::size_t kSealedPerSend = 4;
// What the handshake's last step writes (one session ticket, ~100 bytes) is far below this;
// more is unexpected, and the connection then stays on OpenSSL.
constexpr std::size_t kMaxLastFlight = 4096;

int stream_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// OpenSSL's error queue is per thread and other connections of this worker run between
// our calls: each call starts with an empty queue, so that SSL_get_error reads our own.
void begin_call() {
    ERR_clear_error();
    errno = 0;
}

error_code failure(int ssl_error) {
    error_code ec;
    if (ssl_error == SSL_ERROR_ZERO_RETURN) {
        ec = net::error::eof;
    } else if (unsigned long e = ERR_get_error(); e != 0) {
        ec = error_code(static_cast<int>(e), net::error::get_ssl_category());
    } else if (ssl_error == SSL_ERROR_SYSCALL && errno != 0) {
        ec = error_code(errno, boost::system::system_category());
    } else if (ssl_error == SSL_ERROR_SYSCALL) {
        ec = net::error::eof;  // the peer closed the TCP connection
    } else {
        ec = net::error::fault;
    }
    ERR_clear_error();
    return ec;
}

}  // namespace

TlsStream::TlsStream(net::ip::tcp::socket socket, SSL_CTX* context, BufferPool& pool)
    : socket_(std::move(socket)), ssl_(SSL_new(context)), pool_(pool) {
    error_code ec;
    socket_.non_blocking(true, ec);
    if (ssl_ == nullptr) return;  // out of memory: handshake() reports it
    SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle()));
    SSL_set_accept_state(ssl_);
    BIO* bio = SSL_get_rbio(ssl_);
    BIO_set_callback_arg(bio, reinterpret_cast<char*>(this));
    BIO_set_callback_ex(bio, &TlsStream::on_socket_io);
    // During the handshake OpenSSL reads exactly one record at a time, so that when it ends,
    // the client's first application records are still in the kernel, for offload() to read.
    // (Read-ahead is back on if the connection stays with OpenSSL.)
    SSL_set_read_ahead(ssl_, 0);
    capture_ = std::make_unique<Capture>();
    SSL_set_ex_data(ssl_, stream_index(), this);
}

void TlsStream::enable_offload(SSL_CTX* context) {
    SSL_CTX_set_keylog_callback(context, &TlsStream::on_keylog);
}

// OpenSSL reports each secret of a handshake as an NSS key log line; the two application
// traffic secrets are kept for offload(), the rest ignored.
void TlsStream::on_keylog(const SSL* ssl, const char* line) {
    auto* self = static_cast<TlsStream*>(SSL_get_ex_data(ssl, stream_index()));
    if (self == nullptr || !self->capture_) return;
    const std::string_view text(line);
    Tls13Records::Secret* target = nullptr;
    if (text.starts_with("CLIENT_TRAFFIC_SECRET_0 "))
        target = &self->capture_->client;
    else if (text.starts_with("SERVER_TRAFFIC_SECRET_0 "))
        target = &self->capture_->server;
    else
        return;
    // The secret is the line's last field, in hex.
    std::size_t size = 0;
    if (OPENSSL_hexstr2buf_ex(target->bytes.data(), target->bytes.size(), &size,
                              line + text.rfind(' ') + 1, '\0') != 1)
        size = 0;
    target->size = size;
}

// Called by the socket BIO around each of its operations: notes how each read() ended, and
// keeps what the current handshake step writes.
long TlsStream::on_socket_io(BIO* bio, int operation, const char* data, std::size_t length, int,
                             long, int ret, std::size_t* processed) {
    auto* self = reinterpret_cast<TlsStream*>(BIO_get_callback_arg(bio));
    if (operation == (BIO_CB_READ | BIO_CB_RETURN)) {
        self->drained_ = ret <= 0 || (processed != nullptr && *processed < length);
    } else if (operation == (BIO_CB_WRITE | BIO_CB_RETURN) && self->capture_ && ret > 0 &&
               processed != nullptr) {
        auto& flight = self->capture_->last_flight;
        if (flight.size() + *processed > kMaxLastFlight)
            self->capture_->overflow = true;
        else
            flight.append(reinterpret_cast<const unsigned char*>(data), *processed);
    }
    return ret;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

// OpenSSL's server writes its session ticket in the handshake step that reads the client's
// Finished, under the new write key: those records are the only ones sealed with it so far,
// so their count is the write sequence. That the last of them opens with our key at that
// sequence confirms it; the read sequence is 0, since read-ahead was off and OpenSSL read
// nothing past the Finished.
bool TlsStream::offload() {
    const std::unique_ptr<Capture> capture = std::move(capture_);
    if (ssl_ == nullptr || !capture) return false;
    bool ok = !capture->overflow && SSL_version(ssl_) == TLS1_3_VERSION &&
              SSL_has_pending(ssl_) == 0;
    const auto& flight = capture->last_flight;
    std::uint64_t sent = 0;
    std::size_t at = 0;
    std::size_t last = 0;
    while (ok && at < flight.size()) {
        const auto size = Tls13Records::record_size(flight.data() + at, flight.size() - at);
        ok = size && *size > 0 && at + *size <= flight.size();
        if (!ok) break;
        last = at;
        at += *size;
        ++sent;
    }
    const SSL_CIPHER* cipher = ok ? SSL_get_current_cipher(ssl_) : nullptr;
    ok = cipher != nullptr &&
         records_.start(SSL_CIPHER_get_protocol_id(cipher), capture->client, capture->server, 0,
                        sent) &&
         (sent == 0 || records_.sealed_by_us(flight.data() + last, at - last, sent - 1));
    if (!ok) {
        records_.reset();
        SSL_set_read_ahead(ssl_, 1);
        return false;
    }
    // Shut down as far as OpenSSL knows, so that freeing the connection keeps its session in
    // the cache for resumption.
    SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(ssl_);
    ssl_ = nullptr;
    return true;
}

bool TlsStream::has_pending() const {
    if (ssl_ != nullptr) return SSL_has_pending(ssl_) == 1;
    return plain_end_ > plain_begin_ || rx_end_ > rx_begin_;
}

void TlsStream::release_buffers() {
    if (ssl_ != nullptr) {
        SSL_free_buffers(ssl_);
        return;
    }
    if (plain_end_ == plain_begin_ && rx_end_ == rx_begin_) {
        rx_.reset();
        rx_begin_ = rx_end_ = plain_begin_ = plain_end_ = 0;
    }
    if (!writing_) {
        tx_.reset();
        tx_capacity_ = 0;
    }
    records_.release_contexts();
}

net::awaitable<error_code> TlsStream::wait_or_fail(int ret) {
    const int ssl_error = SSL_get_error(ssl_, ret);
    if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
        const auto what = ssl_error == SSL_ERROR_WANT_READ ? net::socket_base::wait_read
                                                           : net::socket_base::wait_write;
        auto [ec] = co_await socket_.async_wait(what, nothrow);
        co_return ec;
    }
    co_return failure(ssl_error);
}

net::awaitable<error_code> TlsStream::handshake() {
    if (ssl_ == nullptr) co_return net::error::no_memory;
    for (;;) {
        if (capture_) {
            capture_->last_flight.clear();
            capture_->overflow = false;
        }
        begin_call();
        const int ret = SSL_do_handshake(ssl_);
        if (ret == 1) co_return error_code{};
        if (error_code ec = co_await wait_or_fail(ret)) co_return ec;
    }
}

net::awaitable<std::pair<error_code, std::size_t>> TlsStream::read_some(
    net::mutable_buffer buffer) {
    if (ssl_ == nullptr) {
        for (;;) {
            const Step step = read_step(buffer);
            if (!step.would_block) co_return std::pair(step.ec, step.size);
            auto [ec] = co_await socket_.async_wait(net::socket_base::wait_read, nothrow);
            if (ec) co_return std::pair(ec, std::size_t{0});
        }
    }
    for (;;) {
        begin_call();
        std::size_t n = 0;
        const int ret = SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);
        if (ret == 1) co_return std::pair(error_code{}, n);
        if (error_code ec = co_await wait_or_fail(ret)) co_return std::pair(ec, std::size_t{0});
    }
}

net::awaitable<std::pair<error_code, std::size_t>> TlsStream::read_available(
    net::mutable_buffer buffer) {
    auto [ec, total] = co_await read_some(buffer);
    auto* p = static_cast<char*>(buffer.data());
    while (ssl_ == nullptr && !ec && total < buffer.size()) {
        const Step step = read_step(net::mutable_buffer(p + total, buffer.size() - total));
        if (step.would_block || step.ec) break;  // an error: the next read reports it
        total += step.size;
    }
    while (ssl_ != nullptr && !ec && total < buffer.size()) {
        begin_call();
        std::size_t n = 0;
        if (SSL_read_ex(ssl_, p + total, buffer.size() - total, &n) != 1) {
            ERR_clear_error();  // would block, or an error the next read reports again
            break;
        }
        total += n;
    }
    co_return std::pair(ec, total);
}

// Without SSL_MODE_ENABLE_PARTIAL_WRITE a successful SSL_write_ex wrote everything; a retry
// after WANT_WRITE passes the same bytes, as OpenSSL requires.
net::awaitable<error_code> TlsStream::write_all(const char* data, std::size_t size) {
    while (size > 0) {
        begin_call();
        std::size_t n = 0;
        const int ret = SSL_write_ex(ssl_, data, size, &n);
        if (ret == 1) {
            data += n;
            size -= n;
            continue;
        }
        if (error_code ec = co_await wait_or_fail(ret)) co_return ec;
    }
    co_return error_code{};
}

net::awaitable<error_code> TlsStream::write(const std::array<net::const_buffer, 4>& buffers) {
    if (ssl_ == nullptr) co_return co_await write_records(buffers);
    // A response head and a small body leave as one record and one system call.
    BufferPool::Block stage;
    std::size_t staged = 0;
    error_code ec;
    for (const auto& b : buffers) {
        if (b.size() == 0) continue;
        const bool fits = staged + b.size() <= BufferPool::kBlockSize;
        if (staged > 0 && (!fits || b.size() >= kWriteDirect)) {
            ec = co_await write_all(stage.get(), staged);
            staged = 0;
            if (ec) break;
        }
        if (b.size() >= kWriteDirect) {
            ec = co_await write_all(static_cast<const char*>(b.data()), b.size());
            if (ec) break;
            continue;
        }
        if (!stage) stage = pool_.acquire();
        std::memcpy(stage.get() + staged, b.data(), b.size());
        staged += b.size();
    }
    if (!ec && staged > 0) {
        // The answer waits for the rest of this turn of the event loop, so that the answers
        // of one turn leave back to back: a client process that serves many connections is
        // woken once for all of them, not once each (BENCHMARKS.md, "Requests and answers leave
        // in a burst").
        auto executor = socket_.get_executor();
        co_await net::post(executor, net::use_awaitable);
        ec = co_await write_all(stage.get(), staged);
    }
    pool_.release(std::move(stage));
    co_return ec;
}

net::awaitable<void> TlsStream::shutdown() {
    if (ssl_ == nullptr) {
        if (writing_ || write_failed_ || !records_.started()) co_return;
        unsigned char alert[Tls13Records::kAlertRecord];
        const std::size_t n = records_.seal_alert(alert, 0);  // close_notify
        write_failed_ = true;                                  // nothing may follow it
        if (n > 0) co_await send_all(alert, n);
        co_return;
    }
    for (int attempt = 0; attempt < 4; ++attempt) {
        begin_call();
        const int ret = SSL_shutdown(ssl_);
        if (ret >= 0 || SSL_get_error(ssl_, ret) != SSL_ERROR_WANT_WRITE) break;
        auto [ec] = co_await socket_.async_wait(net::socket_base::wait_write, nothrow);
        if (ec) break;
    }
    ERR_clear_error();
    // Marked shut down both ways, the connection's session stays resumable when it is freed.
    SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

net::awaitable<error_code> TlsStream::wait_readable() {
    auto [ec] = co_await socket_.async_wait(net::socket_base::wait_read, nothrow);
    co_return ec;
}

// One step of an offloaded read, without waiting: plaintext already opened, else the next
// whole record, else what the socket holds now.
TlsStream::Step TlsStream::read_step(net::mutable_buffer buffer) {
    auto* dest = static_cast<unsigned char*>(buffer.data());
    for (;;) {
        if (plain_end_ > plain_begin_) {
            const std::size_t n = std::min(buffer.size(), plain_end_ - plain_begin_);
            std::memcpy(dest, rx_.get() + plain_begin_, n);
            plain_begin_ += n;
            return {{}, n, false};
        }
        if (read_error_) return {read_error_, 0, false};
        if (buffer.size() == 0) return {{}, 0, false};
        const std::size_t held = rx_end_ - rx_begin_;
        const auto size = Tls13Records::record_size(rx_.get() + rx_begin_, held);
        if (size && *size == 0) {
            read_error_ = make_error_code(RecordError::record_overflow);
            send_alert_now(static_cast<unsigned char>(RecordError::record_overflow));
            continue;
        }
        if (size && *size <= held) {
            unsigned char* record = rx_.get() + rx_begin_;
            // Opened straight into the caller's buffer when it has room for the largest
            // content the record may hold; in place otherwise, and handed out from there.
            const std::size_t room = *size - Tls13Records::kHeader - Tls13Records::kTag;
            const bool direct = buffer.size() >= room;
            unsigned char* out = direct ? dest : record + Tls13Records::kHeader;
            const Tls13Records::Opened opened = records_.open(record, *size, out);
            rx_begin_ += *size;
            switch (opened.kind) {
                case Tls13Records::Opened::Kind::data:
                    if (opened.size == 0) continue;
                    if (direct) return {{}, opened.size, false};
                    plain_begin_ = static_cast<std::size_t>(out - rx_.get());
                    plain_end_ = plain_begin_ + opened.size;
                    continue;
                case Tls13Records::Opened::Kind::control:
                    continue;
                case Tls13Records::Opened::Kind::closed:
                    read_error_ = net::error::eof;
                    continue;
                case Tls13Records::Opened::Kind::failed:
                    read_error_ = opened.error;
                    if (opened.error.value() < 256)
                        send_alert_now(static_cast<unsigned char>(opened.error.value()));
                    continue;
            }
        }
        // Read more: what is held moves to the front, the rest of the room is offered.
        if (!rx_) {
            rx_.reset(new unsigned char[kReadRoom]);
            rx_begin_ = rx_end_ = 0;
        } else if (rx_begin_ > 0) {
            std::memmove(rx_.get(), rx_.get() + rx_begin_, held);
            rx_begin_ = 0;
            rx_end_ = held;
        }
        plain_begin_ = plain_end_ = 0;
        const std::size_t ask = kReadRoom - rx_end_;
        const ssize_t got = ::recv(socket_.native_handle(), rx_.get() + rx_end_, ask, 0);
        if (got > 0) {
            rx_end_ += static_cast<std::size_t>(got);
            drained_ = static_cast<std::size_t>(got) < ask;
            continue;
        }
        drained_ = true;
        if (got == 0) {
            // The client closed without close_notify (most do): the end of the stream, as
            // with OpenSSL's SSL_OP_IGNORE_UNEXPECTED_EOF. HTTP framing says whether a
            // message was cut.
            read_error_ = net::error::eof;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {{}, 0, true};
        read_error_ = error_code(errno, boost::system::system_category());
    }
}

// An alert that ends the connection, sent if the write side is free; best effort.
void TlsStream::send_alert_now(unsigned char description) {
    if (writing_ || write_failed_) return;
    write_failed_ = true;
    unsigned char alert[Tls13Records::kAlertRecord];
    const std::size_t n = records_.seal_alert(alert, description);
    if (n > 0) (void)::send(socket_.native_handle(), alert, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

net::awaitable<error_code> TlsStream::send_all(const unsigned char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(socket_.native_handle(), data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            data += n;
            size -= static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            auto [ec] = co_await socket_.async_wait(net::socket_base::wait_write, nothrow);
            if (ec) co_return ec;
            continue;
        }
        co_return error_code(errno, boost::system::system_category());
    }
    co_return error_code{};
}

// Seals the pieces into records of up to 16 KiB straight from the caller's memory (a record
// may gather several pieces), four records to a send.
net::awaitable<error_code> TlsStream::write_records(
    const std::array<net::const_buffer, 4>& buffers) {
    if (write_failed_) co_return net::error::broken_pipe;
    std::size_t total = 0;
    for (const auto& b : buffers) total += b.size();
    const std::size_t records =
        std::min((total + Tls13Records::kMaxPlain - 1) / Tls13Records::kMaxPlain, kSealedPerSend);
    const std::size_t need = std::min(total, kSealedPerSend * Tls13Records::kMaxPlain) +
                             (records + 1) * Tls13Records::kSealOverhead + 8;  // + a KeyUpdate
    if (tx_capacity_ < need) {
        tx_.reset(new unsigned char[need]);
        tx_capacity_ = need;
    }
    writing_ = true;
    error_code ec;
    std::size_t used = 0;
    std::size_t index = 0;
    std::size_t offset = 0;
    std::size_t left = total;
    for (;;) {
        if (records_.owes_key_update()) {
            if (tx_capacity_ - used < Tls13Records::kSealOverhead + 8) {
                ec = co_await send_all(tx_.get(), used);
                used = 0;
                if (ec) break;
            }
            const std::size_t n = records_.seal_key_update(tx_.get() + used);
            if (n == 0) {
                ec = make_error_code(RecordError::crypto_failure);
                break;
            }
            used += n;
        }
        if (left == 0) break;
        const std::size_t chunk = std::min(left, Tls13Records::kMaxPlain);
        if (tx_capacity_ - used < chunk + Tls13Records::kSealOverhead) {
            ec = co_await send_all(tx_.get(), used);
            used = 0;
            if (ec) break;
        }
        std::array<std::span<const unsigned char>, 4> pieces;
        std::size_t count = 0;
        for (std::size_t take = chunk; take > 0;) {
            const auto& b = buffers[index];
            if (offset == b.size()) {
                ++index;
                offset = 0;
                continue;
            }
            const std::size_t t = std::min(b.size() - offset, take);
            pieces[count++] = {static_cast<const unsigned char*>(b.data()) + offset, t};
            offset += t;
            take -= t;
        }
        const std::size_t n = records_.seal(tx_.get() + used, std::span(pieces.data(), count));
        if (n == 0) {
            ec = make_error_code(RecordError::crypto_failure);
            break;
        }
        used += n;
        left -= chunk;
    }
    if (!ec && used > 0) {
        // A small answer waits for the rest of this turn of the event loop, so that the
        // answers of one turn leave back to back: a client process that serves many
        // connections is woken once for all of them, not once each (BENCHMARKS.md, "Requests
        // and answers leave in a burst").
        if (total <= BufferPool::kBlockSize) {
            auto executor = socket_.get_executor();
            co_await net::post(executor, net::use_awaitable);
        }
        ec = co_await send_all(tx_.get(), used);
    }
    writing_ = false;
    if (ec) write_failed_ = true;
    co_return ec;
}

}  // namespace certgate::proxy
