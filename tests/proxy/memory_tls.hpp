// A real OpenSSL client and server talking through memory BIOs, for unit tests of proxy/
// pieces that sit on TLS without needing sockets (record layer, session cache).
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace certgate::testing {

using Bytes = std::basic_string<unsigned char>;

// Everything `bio` holds.
inline Bytes drain(BIO* bio) {
    Bytes out;
    unsigned char buf[4096];
    int n = 0;
    while ((n = BIO_read(bio, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
}

inline bool feed(BIO* bio, const Bytes& bytes) {
    return bytes.empty() ||
           BIO_write(bio, bytes.data(), static_cast<int>(bytes.size())) ==
               static_cast<int>(bytes.size());
}

// One connection between `client` and `server` (fresh SSL objects on the two contexts).
struct MemoryConnection {
    MemoryConnection(SSL_CTX* server_ctx, SSL_CTX* client_ctx)
        : server(SSL_new(server_ctx)), client(SSL_new(client_ctx)) {
        s_in = BIO_new(BIO_s_mem());
        s_out = BIO_new(BIO_s_mem());
        c_in = BIO_new(BIO_s_mem());
        c_out = BIO_new(BIO_s_mem());
        SSL_set_bio(server, s_in, s_out);
        SSL_set_bio(client, c_in, c_out);
        SSL_set_accept_state(server);
        SSL_set_connect_state(client);
    }
    ~MemoryConnection() {
        SSL_free(server);
        SSL_free(client);
    }
    MemoryConnection(const MemoryConnection&) = delete;
    MemoryConnection& operator=(const MemoryConnection&) = delete;

    // Runs both sides until both finished (false if they did not within a few rounds);
    // `last_server_step` gets what the server wrote in its last step (the session ticket,
    // which the client takes in with its next read).
    bool handshake(Bytes* last_server_step = nullptr) {
        Bytes last;
        for (int round = 0; round < 10; ++round) {
            if (SSL_is_init_finished(server) && SSL_is_init_finished(client)) break;
            SSL_do_handshake(client);
            if (!feed(s_in, drain(c_out))) return false;
            SSL_do_handshake(server);
            last = drain(s_out);
            if (!feed(c_in, last)) return false;
        }
        if (last_server_step) *last_server_step = last;
        return SSL_is_init_finished(server) && SSL_is_init_finished(client);
    }

    SSL* server;
    SSL* client;
    BIO* s_in;
    BIO* s_out;
    BIO* c_in;
    BIO* c_out;
};

}  // namespace certgate::testing
