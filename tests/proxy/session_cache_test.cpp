// certgate's encoded session cache with real OpenSSL 3 TLS 1.3 handshakes (memory BIOs):
// what is stored, what resumes, with which certificate and verdict, and what expires.
#include "proxy/session_cache.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>

#include "proxy/memory_tls.hpp"
#include "proxy/tls_context.hpp"
#include "support/test_pki.hpp"

namespace certgate::proxy {
namespace {

int accept_any(int, X509_STORE_CTX*) { return 1; }

class SessionCacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        ca_ = testing::make_ca("session test CA");
        testing::CertSpec server_spec;
        server_spec.subject = {{"CN", "localhost"}};
        server_spec.eku = testing::Eku::server_auth;
        server_cert_ = testing::issue(ca_, server_spec);
        testing::CertSpec client_spec;
        client_spec.subject = {{"CN", "resuming client"}};
        client_cert_ = testing::issue(ca_, client_spec);
        server_ctx_ = make_server_ctx();
        client_ctx_ = SSL_CTX_new(TLS_client_method());
        ASSERT_EQ(SSL_CTX_use_certificate(client_ctx_, client_cert_.x509()), 1);
        ASSERT_EQ(SSL_CTX_use_PrivateKey(client_ctx_, client_cert_.key()), 1);
    }
    void TearDown() override {
        SSL_SESSION_free(session_);
        SSL_CTX_free(server_ctx_);
        SSL_CTX_free(client_ctx_);
    }

    // As build_tls_context sets it up for sessions; the client's certificate is asked for and
    // every verdict let through (the CA is not trusted: the verdict is an error to carry).
    SSL_CTX* make_server_ctx() {
        SSL_CTX* c = SSL_CTX_new(TLS_server_method());
        SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(c, 1);
        install_session_cache(c);
        SSL_CTX_set_timeout(c, 300);
        const unsigned char sid_ctx[] = "session test";
        SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx);
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, accept_any);
        EXPECT_EQ(SSL_CTX_use_certificate(c, server_cert_.x509()), 1);
        EXPECT_EQ(SSL_CTX_use_PrivateKey(c, server_cert_.key()), 1);
        return c;
    }

    // One connection; offers session_ when there is one. Returns whether it resumed, and
    // keeps the client's session of it in session_.
    bool connect(SSL_CTX* server_ctx, PeerVerification* verdict = nullptr,
                 std::string* peer_der = nullptr) {
        testing::MemoryConnection c(server_ctx, client_ctx_);
        if (session_) SSL_set_session(c.client, session_);
        testing::Bytes last;
        EXPECT_TRUE(c.handshake(&last));
        char byte;
        std::size_t n = 0;
        EXPECT_EQ(SSL_read_ex(c.client, &byte, 1, &n), 0);  // takes the ticket in
        ERR_clear_error();
        if (verdict) *verdict = peer_verification(c.server);
        if (peer_der) {
            X509* peer = SSL_get0_peer_certificate(c.server);
            unsigned char* der = nullptr;
            const int size = peer ? i2d_X509(peer, &der) : 0;
            peer_der->assign(reinterpret_cast<char*>(der), size > 0 ? size : 0);
            OPENSSL_free(der);
        }
        const bool resumed = SSL_session_reused(c.server) == 1;
        SSL_SESSION_free(session_);
        session_ = SSL_get1_session(c.client);
        // Freed as certgate frees an offloaded connection: marked shut down, so OpenSSL does
        // not drop the session (on either side).
        SSL_set_shutdown(c.server, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_set_shutdown(c.client, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        return resumed;
    }

    testing::TestCert ca_, server_cert_, client_cert_;
    SSL_CTX* server_ctx_ = nullptr;
    SSL_CTX* client_ctx_ = nullptr;
    SSL_SESSION* session_ = nullptr;
};

TEST_F(SessionCacheTest, ResumesWithTheSameCertificateAndVerdictFromTheEncodedSession) {
    PeerVerification first;
    std::string first_der;
    EXPECT_FALSE(connect(server_ctx_, &first, &first_der));
    EXPECT_EQ(session_cache_size(server_ctx_), 1u);
    ASSERT_TRUE(first.presented);
    EXPECT_EQ(first.error, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE);
    ASSERT_TRUE(SSL_SESSION_is_resumable(session_));

    PeerVerification second;
    std::string second_der;
    EXPECT_TRUE(connect(server_ctx_, &second, &second_der));
    EXPECT_TRUE(second.presented);
    EXPECT_EQ(second.error, first.error);
    EXPECT_EQ(second_der, first_der);
    // The resumed connection's new ticket is a second entry; the first stays valid until it
    // expires (no early data, so a ticket need not be single-use), as with OpenSSL's cache.
    EXPECT_EQ(session_cache_size(server_ctx_), 2u);
    EXPECT_EQ(first_der, client_cert_.der());
    // The resumed connection got a ticket of its own, which resumes too, verdict and all.
    PeerVerification third;
    EXPECT_TRUE(connect(server_ctx_, &third));
    EXPECT_EQ(third.error, first.error);
}

TEST_F(SessionCacheTest, ExpiredSessionsAreSweptAndNoLongerResume) {
    EXPECT_FALSE(connect(server_ctx_));
    EXPECT_EQ(sweep_session_cache(server_ctx_, std::time(nullptr)), 0u);
    EXPECT_EQ(session_cache_size(server_ctx_), 1u);
    EXPECT_EQ(sweep_session_cache(server_ctx_, std::time(nullptr) + 301), 1u);
    EXPECT_EQ(session_cache_size(server_ctx_), 0u);
    EXPECT_FALSE(connect(server_ctx_));  // a full handshake again
}

TEST_F(SessionCacheTest, AnotherContextNeverResumesThisOnesSessions) {
    EXPECT_FALSE(connect(server_ctx_));
    SSL_CTX* reloaded = make_server_ctx();
    EXPECT_FALSE(connect(reloaded));
    EXPECT_EQ(session_cache_size(reloaded), 1u);
    SSL_CTX_free(reloaded);
}

}  // namespace
}  // namespace certgate::proxy
