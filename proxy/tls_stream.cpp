#include "proxy/tls_stream.hpp"

#include <openssl/err.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>

namespace certgate::proxy {

namespace net = boost::asio;
using boost::system::error_code;
namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);
// A piece at least this large is written from the caller's memory rather than copied.
constexpr std::size_t kWriteDirect = BufferPool::kBlockSize / 2;

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
}

// Called by the socket BIO around each of its operations; notes how each read() ended.
long TlsStream::on_socket_io(BIO* bio, int operation, const char*, std::size_t length, int, long,
                             int ret, std::size_t* processed) {
    if (operation == (BIO_CB_READ | BIO_CB_RETURN)) {
        auto* self = reinterpret_cast<TlsStream*>(BIO_get_callback_arg(bio));
        self->drained_ = ret <= 0 || (processed != nullptr && *processed < length);
    }
    return ret;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

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
        begin_call();
        const int ret = SSL_do_handshake(ssl_);
        if (ret == 1) co_return error_code{};
        if (error_code ec = co_await wait_or_fail(ret)) co_return ec;
    }
}

net::awaitable<std::pair<error_code, std::size_t>> TlsStream::read_some(net::mutable_buffer buffer) {
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
    while (!ec && total < buffer.size()) {
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
    for (int attempt = 0; attempt < 4; ++attempt) {
        begin_call();
        const int ret = SSL_shutdown(ssl_);
        if (ret >= 0 || SSL_get_error(ssl_, ret) != SSL_ERROR_WANT_WRITE) break;
        auto [ec] = co_await socket_.async_wait(net::socket_base::wait_write, nothrow);
        if (ec) break;
    }
    ERR_clear_error();
}

net::awaitable<error_code> TlsStream::wait_readable() {
    auto [ec] = co_await socket_.async_wait(net::socket_base::wait_read, nothrow);
    co_return ec;
}

}  // namespace certgate::proxy
