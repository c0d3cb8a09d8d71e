// The server side of one TLS connection, driven straight on its socket. OpenSSL runs the
// handshake, reading and writing the non-blocking descriptor itself; the coroutine waits for
// readiness only when OpenSSL asks to. Then, for TLS 1.3, offload() hands the record layer to
// Tls13Records and frees the OpenSSL object: records are read into a buffer of the stream's
// own, opened into the caller's buffer, and sealed straight from the caller's pieces. TLS 1.2
// stays on OpenSSL. Either way an idle connection holds no record buffer (release_buffers).
#pragma once

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "proxy/io_buffer.hpp"
#include "proxy/tls13_records.hpp"

namespace certgate::proxy {

class TlsStream {
public:
    using error_code = boost::system::error_code;

    // `pool` lends the staging block that gathers a write's small pieces into one record.
    TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* context, BufferPool& pool);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    // Installs the callback through which handshakes hand their traffic secrets to offload().
    static void enable_offload(SSL_CTX* context);

    boost::asio::ip::tcp::socket& socket() { return socket_; }
    // Null once offloaded.
    SSL* native_handle() { return ssl_; }

    // Errors: net::error::eof when the peer closed (with or without close_notify),
    // operation_aborted when the socket was cancelled, OpenSSL's reason in the
    // asio::error::get_ssl_category() otherwise.
    boost::asio::awaitable<error_code> handshake();
    // After a successful TLS 1.3 handshake: takes the record layer over and frees the SSL
    // object (read everything needed from native_handle() first). False, and nothing changes,
    // for TLS 1.2, or when the point where OpenSSL left the record sequence cannot be confirmed.
    bool offload();
    boost::asio::awaitable<std::pair<error_code, std::size_t>> read_some(
        boost::asio::mutable_buffer buffer);
    // Like read_some, then goes on reading what has already arrived (several records, up to
    // the buffer's size) without waiting again: one large piece instead of many small ones.
    boost::asio::awaitable<std::pair<error_code, std::size_t>> read_available(
        boost::asio::mutable_buffer buffer);
    // Writes every byte of `buffers`; pieces smaller than a record are sent together.
    boost::asio::awaitable<error_code> write(
        const std::array<boost::asio::const_buffer, 4>& buffers);
    // Sends close_notify (does not wait for the peer's).
    boost::asio::awaitable<void> shutdown();
    // Bytes of a record are waiting inside the stream: a read may not block.
    bool has_pending() const;
    // Resumes once the socket is readable (or cancelled), holding no buffer meanwhile.
    boost::asio::awaitable<error_code> wait_readable();
    // The last read from the socket took less than it asked for, or found nothing: the
    // kernel held no more bytes at that moment, so any later byte comes with a new readiness
    // edge (an EOF that came with those bytes does not: the next read reports it).
    bool drained() const { return drained_; }
    // Frees the record buffers (OpenSSL's ~17 KiB each way, or the offloaded stream's read and
    // send buffers and cipher contexts) while the connection is idle; they are kept while it is
    // busy, so a keep-alive exchange allocates none. A buffer holding bytes of a record stays.
    void release_buffers();

private:
    // After an SSL_* call returned `ret` <= 0: waits as asked and returns {} to retry, or
    // returns the error that ends the operation.
    boost::asio::awaitable<error_code> wait_or_fail(int ret);
    boost::asio::awaitable<error_code> write_all(const char* data, std::size_t size);
    static long on_socket_io(BIO* bio, int operation, const char* data, std::size_t length,
                             int argi, long argl, int ret, std::size_t* processed);
    static void on_keylog(const SSL* ssl, const char* line);

    // The offloaded record layer.
    struct Step {
        error_code ec;
        std::size_t size = 0;
        bool would_block = false;
    };
    Step read_step(boost::asio::mutable_buffer buffer);
    boost::asio::awaitable<error_code> write_records(
        const std::array<boost::asio::const_buffer, 4>& buffers);
    boost::asio::awaitable<error_code> send_all(const unsigned char* data, std::size_t size);
    void send_alert_now(unsigned char description);

    boost::asio::ip::tcp::socket socket_;
    SSL* ssl_;
    BufferPool& pool_;
    bool drained_ = false;

    // What the handshake tells offload(): the application traffic secrets (from OpenSSL's key
    // log callback) and the bytes written by the last handshake step (the session ticket,
    // already under the new write key). Freed by offload().
    struct Capture {
        ~Capture() {
            OPENSSL_cleanse(&client, sizeof client);
            OPENSSL_cleanse(&server, sizeof server);
        }
        Tls13Records::Secret client;
        Tls13Records::Secret server;
        std::basic_string<unsigned char> last_flight;
        bool overflow = false;
    };
    std::unique_ptr<Capture> capture_;

    Tls13Records records_;
    std::unique_ptr<unsigned char[]> rx_;  // ciphertext read, and plaintext opened in place
    std::size_t rx_begin_ = 0, rx_end_ = 0;
    std::size_t plain_begin_ = 0, plain_end_ = 0;
    std::unique_ptr<unsigned char[]> tx_;  // records sealed, waiting to be sent
    std::size_t tx_capacity_ = 0;
    error_code read_error_;  // sticky: eof or the failure that ended reading
    bool writing_ = false;
    bool write_failed_ = false;
};

}  // namespace certgate::proxy
