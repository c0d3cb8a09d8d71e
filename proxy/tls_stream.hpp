// The server side of one TLS connection, driven straight on its socket: OpenSSL reads and
// writes the non-blocking descriptor itself and the coroutine waits for readiness only when
// OpenSSL asks to. Unlike asio::ssl::stream there is no memory BIO pair and no buffer of its
// own: an idle connection holds no record buffer at all (release_buffers), and a
// record goes from the kernel to OpenSSL to the caller's buffer with no copy in between.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <utility>

#include "proxy/io_buffer.hpp"

namespace certgate::proxy {

class TlsStream {
public:
    using error_code = boost::system::error_code;

    // `pool` lends the staging block that gathers a write's small pieces into one record.
    TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* context, BufferPool& pool);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    boost::asio::ip::tcp::socket& socket() { return socket_; }
    SSL* native_handle() { return ssl_; }

    // Errors: net::error::eof when the peer closed (with or without close_notify),
    // operation_aborted when the socket was cancelled, OpenSSL's reason in the
    // asio::error::get_ssl_category() otherwise.
    boost::asio::awaitable<error_code> handshake();
    boost::asio::awaitable<std::pair<error_code, std::size_t>> read_some(
        boost::asio::mutable_buffer buffer);
    // Like read_some, then goes on reading what has already arrived (several records, up to
    // the buffer's size) without waiting again: one large piece instead of many small ones.
    boost::asio::awaitable<std::pair<error_code, std::size_t>> read_available(
        boost::asio::mutable_buffer buffer);
    // Writes every byte of `buffers`; pieces smaller than a record are sent together.
    boost::asio::awaitable<error_code> write(const std::array<boost::asio::const_buffer, 4>& buffers);
    // Sends close_notify (does not wait for the peer's).
    boost::asio::awaitable<void> shutdown();
    // Decrypted bytes are waiting inside OpenSSL: a read would not block.
    bool has_pending() const { return SSL_has_pending(ssl_) == 1; }
    // Resumes once the socket is readable (or cancelled), holding no buffer meanwhile.
    boost::asio::awaitable<error_code> wait_readable();
    // The last read from the socket took less than it asked for, or found nothing: the
    // kernel held no more bytes at that moment, so any later byte comes with a new readiness
    // edge (an EOF that came with those bytes does not: the next read reports it).
    bool drained() const { return drained_; }
    // Frees OpenSSL's record buffers (~17 KiB each way) while the connection is idle; they are
    // kept while it is busy, so a keep-alive exchange allocates none. A no-op when bytes of a
    // record wait in them.
    void release_buffers() { SSL_free_buffers(ssl_); }

private:
    // After an SSL_* call returned `ret` <= 0: waits as asked and returns {} to retry, or
    // returns the error that ends the operation.
    boost::asio::awaitable<error_code> wait_or_fail(int ret);
    boost::asio::awaitable<error_code> write_all(const char* data, std::size_t size);
    static long on_socket_io(BIO* bio, int operation, const char* data, std::size_t length,
                             int argi, long argl, int ret, std::size_t* processed);

    boost::asio::ip::tcp::socket socket_;
    SSL* ssl_;
    BufferPool& pool_;
    bool drained_ = false;
};

}  // namespace certgate::proxy
