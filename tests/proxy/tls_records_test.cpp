// After a TLS 1.3 handshake certgate reads and writes the records itself (tls13_records.hpp).
// These run real OpenSSL clients through the real proxy over loopback: every suite, key
// updates both ways, records split and packed every way, corrupted records, large bodies.
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

using namespace std::chrono_literals;

class TlsRecordsTest : public ProxyTest {
protected:
    // Counts the KeyUpdate messages and alerts the client receives.
    struct Seen {
        int key_updates = 0;
        int last_alert = -1;
    };
    static void watch(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*,
                      void* arg) {
        auto* seen = static_cast<Seen*>(arg);
        const auto* b = static_cast<const unsigned char*>(buf);
        if (write_p != 0 || len < 2) return;
        if (content_type == SSL3_RT_HANDSHAKE && b[0] == 24) ++seen->key_updates;
        if (content_type == SSL3_RT_ALERT) seen->last_alert = b[1];
    }
    // A client connected with the good certificate, whose received KeyUpdates and alerts are
    // counted in `seen`; null if the handshake failed.
    std::unique_ptr<TlsClient> watched_client(Seen& seen) {
        auto c = std::make_unique<TlsClient>(port(), good_client());
        if (!c->connect()) {
            ADD_FAILURE() << c->error();
            return nullptr;
        }
        SSL_set_msg_callback(c->ssl(), &TlsRecordsTest::watch);
        SSL_set_msg_callback_arg(c->ssl(), &seen);
        return c;
    }
    void expect_ok(TlsClient& c, const std::string& path) {
        ASSERT_TRUE(c.send(get_request(path))) << path;
        auto r = c.read_response();
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200) << path;
    }
};

TEST_F(TlsRecordsTest, EverySuiteServesSeveralRequestsOnOneConnection) {
    start();
    for (const char* suite :
         {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
        ClientOptions o = good_client();
        o.ciphersuites = suite;
        TlsClient c(port(), o);
        ASSERT_TRUE(c.connect()) << suite << ": " << c.error();
        EXPECT_STREQ(SSL_CIPHER_standard_name(SSL_get_current_cipher(c.ssl())), suite);
        for (int i = 0; i < 3; ++i)
            expect_ok(c, "/" + std::string(suite) + "/" + std::to_string(i));
    }
    ASSERT_TRUE(upstream->wait_for_requests(9));
    for (const auto& seen : upstream->requests())
        EXPECT_EQ(seen.header("X-SSL-Client-Verify"), "SUCCESS") << seen.target;
}

TEST_F(TlsRecordsTest, KeyUpdateFromTheClientIsFollowedAndAnsweredWhenRequested) {
    start();
    Seen seen;
    auto client = watched_client(seen);
    ASSERT_TRUE(client);
    TlsClient& c = *client;
    expect_ok(c, "/before");
    EXPECT_EQ(seen.key_updates, 0);
    // Requested: the client's next write carries its KeyUpdate, and certgate must send one
    // back before its answer, which the client can then only read under the new key.
    ASSERT_EQ(SSL_key_update(c.ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
    expect_ok(c, "/after-requested");
    EXPECT_EQ(seen.key_updates, 1);
    ASSERT_EQ(SSL_key_update(c.ssl(), SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    expect_ok(c, "/after-not-requested");
    EXPECT_EQ(seen.key_updates, 1);  // nothing owed
    ASSERT_EQ(SSL_key_update(c.ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
    expect_ok(c, "/after-second");
    EXPECT_EQ(seen.key_updates, 2);
    EXPECT_EQ(upstream->request_count(), 4u);
}

TEST_F(TlsRecordsTest, RequestSplitIntoOneByteRecordsAndRequestsPackedIntoOneRecord) {
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    for (char ch : get_request("/split")) ASSERT_TRUE(c.send(std::string(1, ch)));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(c.send(get_request("/one") + get_request("/two") + get_request("/three")));
    for (const char* path : {"/one", "/two", "/three"}) {
        auto p = c.read_response();
        ASSERT_TRUE(p) << path;
        EXPECT_EQ(p->status, 200) << path;
    }
    ASSERT_TRUE(upstream->wait_for_requests(4));
    EXPECT_EQ(upstream->requests().at(0).target, "/split");
    EXPECT_EQ(upstream->requests().at(3).target, "/three");
}

TEST_F(TlsRecordsTest, CorruptedRecordEndsTheConnectionWithBadRecordMacAndReachesNothing) {
    start();
    Seen seen;
    auto client = watched_client(seen);
    ASSERT_TRUE(client);
    TlsClient& c = *client;
    expect_ok(c, "/first");
    // A record that is not the client's: right header, garbage ciphertext.
    std::string bogus = {23, 3, 3, 0, 64};
    bogus += std::string(64, '\x5a');
    ASSERT_EQ(::send(SSL_get_fd(c.ssl()), bogus.data(), bogus.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bogus.size()));
    EXPECT_TRUE(c.wait_closed(5s));
    EXPECT_EQ(seen.last_alert, SSL_AD_BAD_RECORD_MAC);
    EXPECT_EQ(upstream->request_count(), 1u);
    // The proxy serves on.
    TlsClient next(port(), good_client());
    ASSERT_TRUE(next.connect()) << next.error();
    expect_ok(next, "/next");
}

TEST_F(TlsRecordsTest, RecordLongerThanTheProtocolAllowsIsRefusedWithRecordOverflow) {
    start();
    Seen seen;
    auto client = watched_client(seen);
    ASSERT_TRUE(client);
    TlsClient& c = *client;
    const std::string header = {23, 3, 3, 0x41, 0x01};  // 2^14 + 257 bytes announced
    ASSERT_EQ(::send(SSL_get_fd(c.ssl()), header.data(), header.size(), MSG_NOSIGNAL), 5);
    EXPECT_TRUE(c.wait_closed(5s));
    EXPECT_EQ(seen.last_alert, SSL_AD_RECORD_OVERFLOW);
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(TlsRecordsTest, CloseNotifyFromTheClientEndsTheConnectionCleanly) {
    start();
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    expect_ok(c, "/only");
    ASSERT_GE(SSL_shutdown(c.ssl()), 0);
    // certgate answers with its own close_notify and closes.
    EXPECT_TRUE(c.wait_closed(5s));
    EXPECT_EQ(SSL_get_shutdown(c.ssl()) & SSL_RECEIVED_SHUTDOWN, SSL_RECEIVED_SHUTDOWN);
}

TEST_F(TlsRecordsTest, LargeBodiesBothWaysArriveIntactOverEverySuite) {
    upstream->set_handler([](const SeenRequest& seen, Reply& reply) {
        reply.body = seen.body_sha256;
        if (seen.target == "/download") reply.generated_bytes = (3ull << 20) + 5;
    });
    start();
    std::string data(2 * 1024 * 1024 + 3, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) >> 3);
    for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}) {
        ClientOptions o = good_client();
        o.ciphersuites = suite;
        TlsClient c(port(), o);
        ASSERT_TRUE(c.connect()) << c.error();
        ASSERT_TRUE(c.send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                           std::to_string(data.size()) + "\r\n\r\n" + data));
        auto up = c.read_response();
        ASSERT_TRUE(up) << suite;
        EXPECT_EQ(up->status, 200);
        EXPECT_EQ(up->body, sha256_hex(data)) << suite;
        ASSERT_TRUE(c.send(get_request("/download")));
        auto down = c.read_response();
        ASSERT_TRUE(down) << suite;
        EXPECT_EQ(down->body.size(), (3ull << 20) + 5) << suite;
        EXPECT_EQ(down->body.find_first_not_of('x'), std::string::npos);
    }
}

}  // namespace
}  // namespace certgate::testing
