// Tls13Records against a real OpenSSL 3 TLS 1.3 client: a full handshake over memory BIOs
// with OpenSSL on both sides, then the server's records are taken over exactly as TlsStream
// does (traffic secrets from the key log, the write sequence from the ticket records), and
// every byte the client sends or reads afterwards goes through the class under test.
#include "proxy/tls13_records.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <memory>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/memory_tls.hpp"
#include "support/test_pki.hpp"

namespace certgate::proxy {
namespace {

using testing::Bytes;
using testing::drain;
using Span = std::span<const unsigned char>;

Tls13Records::Secret g_client_secret;
Tls13Records::Secret g_server_secret;

void keylog(const SSL*, const char* line) {
    const std::string_view text(line);
    Tls13Records::Secret* target = nullptr;
    if (text.starts_with("CLIENT_TRAFFIC_SECRET_0 ")) target = &g_client_secret;
    if (text.starts_with("SERVER_TRAFFIC_SECRET_0 ")) target = &g_server_secret;
    if (target == nullptr) return;
    const std::string hex(text.substr(text.rfind(' ') + 1));
    target->size = hex.size() / 2;
    for (std::size_t i = 0; i < target->size; ++i)
        target->bytes[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
}

void feed(BIO* bio, const Bytes& bytes) { ASSERT_TRUE(testing::feed(bio, bytes)); }

// Splits a byte stream into whole records.
std::vector<Bytes> records_of(const Bytes& stream) {
    std::vector<Bytes> out;
    std::size_t at = 0;
    while (at < stream.size()) {
        const auto size = Tls13Records::record_size(stream.data() + at, stream.size() - at);
        if (!size || *size == 0 || at + *size > stream.size()) {
            ADD_FAILURE() << "not whole records";
            break;
        }
        out.push_back(stream.substr(at, *size));
        at += *size;
    }
    return out;
}

struct Opened {
    Tls13Records::Opened result;
    std::string data;
};

class Tls13RecordsTest : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        testing::CertSpec spec;
        spec.subject = {{"CN", "localhost"}};
        spec.eku = testing::Eku::server_auth;
        const auto ca = testing::make_ca("records test CA");
        const auto server_cert = testing::issue(ca, spec);
        server_ctx_ = SSL_CTX_new(TLS_server_method());
        client_ctx_ = SSL_CTX_new(TLS_client_method());
        ASSERT_TRUE(server_ctx_ && client_ctx_);
        SSL_CTX_set_min_proto_version(server_ctx_, TLS1_3_VERSION);
        SSL_CTX_set_options(server_ctx_, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(server_ctx_, 1);
        SSL_CTX_set_keylog_callback(server_ctx_, keylog);
        ASSERT_EQ(SSL_CTX_use_certificate(server_ctx_, server_cert.x509()), 1);
        ASSERT_EQ(SSL_CTX_use_PrivateKey(server_ctx_, server_cert.key()), 1);
        ASSERT_EQ(SSL_CTX_set_ciphersuites(client_ctx_, GetParam()), 1);
        g_client_secret = {};
        g_server_secret = {};
        connection_ = std::make_unique<testing::MemoryConnection>(server_ctx_, client_ctx_);
        server_ = connection_->server;
        client_ = connection_->client;
        c_in_ = connection_->c_in;
        c_out_ = connection_->c_out;
        // The handshake, OpenSSL on both sides; the server's last step writes the ticket.
        Bytes last_server_step;
        ASSERT_TRUE(connection_->handshake(&last_server_step));
        ASSERT_TRUE(SSL_is_init_finished(server_));
        ASSERT_EQ(SSL_version(server_), TLS1_3_VERSION);
        const auto tickets = records_of(last_server_step);
        ASSERT_EQ(tickets.size(), 1u);  // one stateful ticket
        const auto suite = SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(server_));
        ASSERT_TRUE(records_.start(suite, g_client_secret, g_server_secret, 0, tickets.size()));
        ASSERT_TRUE(records_.sealed_by_us(tickets[0].data(), tickets[0].size(), 0));
        ASSERT_FALSE(records_.sealed_by_us(tickets[0].data(), tickets[0].size(), 1));
        // The server side is ours from here: OpenSSL's object is no longer used.
    }

    void TearDown() override {
        connection_.reset();
        SSL_CTX_free(server_ctx_);
        SSL_CTX_free(client_ctx_);
    }

    // The client's bytes since the last call.
    Bytes from_client() { return drain(c_out_); }

    Opened open(Bytes record) {
        Opened o;
        Bytes out(record.size(), 0);
        o.result = records_.open(record.data(), record.size(), out.data());
        if (o.result.kind == Tls13Records::Opened::Kind::data)
            o.data.assign(reinterpret_cast<const char*>(out.data()), o.result.size);
        return o;
    }

    Bytes seal(std::string_view text, unsigned char type = 23) {
        Bytes out(text.size() + Tls13Records::kSealOverhead, 0);
        const Span piece(reinterpret_cast<const unsigned char*>(text.data()), text.size());
        const std::size_t n = records_.seal(out.data(), std::span(&piece, 1), type);
        EXPECT_GT(n, 0u);
        out.resize(n);
        return out;
    }

    // What the client reads from `bytes`.
    std::string client_reads(const Bytes& bytes) {
        feed(c_in_, bytes);
        std::string got;
        char buf[20000];
        std::size_t n = 0;
        while (SSL_read_ex(client_, buf, sizeof buf, &n) == 1) got.append(buf, n);
        ERR_clear_error();
        return got;
    }

    void client_writes(std::string_view text) {
        std::size_t n = 0;
        ASSERT_EQ(SSL_write_ex(client_, text.data(), text.size(), &n), 1);
    }

    SSL_CTX* server_ctx_ = nullptr;
    SSL_CTX* client_ctx_ = nullptr;
    std::unique_ptr<testing::MemoryConnection> connection_;
    SSL* server_ = nullptr;
    SSL* client_ = nullptr;
    BIO* c_in_ = nullptr;
    BIO* c_out_ = nullptr;
    Tls13Records records_;
};

TEST_P(Tls13RecordsTest, OpensWhatTheClientSendsAndTheClientReadsWhatItSeals) {
    client_writes("GET / HTTP/1.1\r\n\r\n");
    const auto records = records_of(from_client());
    ASSERT_EQ(records.size(), 1u);
    const Opened o = open(records[0]);
    ASSERT_EQ(o.result.kind, Tls13Records::Opened::Kind::data) << o.result.error.message();
    EXPECT_EQ(o.data, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(client_reads(seal("HTTP/1.1 200 OK\r\n\r\n")), "HTTP/1.1 200 OK\r\n\r\n");
    // Sequence numbers advance on both sides.
    for (int i = 0; i < 5; ++i) {
        client_writes("ping " + std::to_string(i));
        EXPECT_EQ(open(records_of(from_client()).at(0)).data, "ping " + std::to_string(i));
        EXPECT_EQ(client_reads(seal("pong " + std::to_string(i))), "pong " + std::to_string(i));
    }
}

TEST_P(Tls13RecordsTest, FullSizeRecordsBothWaysAndOneRecordGatheredFromPieces) {
    const std::string big(Tls13Records::kMaxPlain, 'b');
    client_writes(big);
    const auto records = records_of(from_client());
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(open(records[0]).data, big);
    EXPECT_EQ(client_reads(seal(big)), big);

    const std::string head = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";
    const std::array<Span, 3> pieces{
        Span(reinterpret_cast<const unsigned char*>(head.data()), head.size()), Span(),
        Span(reinterpret_cast<const unsigned char*>("hello"), 5)};
    Bytes out(head.size() + 5 + Tls13Records::kSealOverhead, 0);
    out.resize(records_.seal(out.data(), pieces));
    EXPECT_EQ(out.size(), head.size() + 5 + Tls13Records::kSealOverhead);
    EXPECT_EQ(client_reads(out), head + "hello");

    Bytes too_big(Tls13Records::kMaxPlain + 1 + Tls13Records::kSealOverhead, 0);
    const std::string over(Tls13Records::kMaxPlain + 1, 'x');
    const Span one(reinterpret_cast<const unsigned char*>(over.data()), over.size());
    EXPECT_EQ(records_.seal(too_big.data(), std::span(&one, 1)), 0u);
}

TEST_P(Tls13RecordsTest, OpensInPlace) {
    client_writes("in place");
    Bytes record = records_of(from_client()).at(0);
    const auto r =
        records_.open(record.data(), record.size(), record.data() + Tls13Records::kHeader);
    ASSERT_EQ(r.kind, Tls13Records::Opened::Kind::data);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(record.data()) + 5, r.size), "in place");
}

TEST_P(Tls13RecordsTest, KeyUpdateFromTheClientIsFollowedAndAnsweredWhenRequested) {
    ASSERT_EQ(SSL_key_update(client_, SSL_KEY_UPDATE_REQUESTED), 1);
    client_writes("after update");
    auto records = records_of(from_client());
    ASSERT_EQ(records.size(), 2u);  // KeyUpdate, then data under the new key
    EXPECT_EQ(open(records[0]).result.kind, Tls13Records::Opened::Kind::control);
    EXPECT_TRUE(records_.owes_key_update());
    EXPECT_EQ(open(records[1]).data, "after update");

    // Our KeyUpdate goes first, then data under our new key; the client follows both.
    Bytes update(64, 0);
    update.resize(records_.seal_key_update(update.data()));
    ASSERT_FALSE(update.empty());
    EXPECT_FALSE(records_.owes_key_update());
    EXPECT_EQ(client_reads(update + seal("answer")), "answer");

    // Not requested: followed, nothing owed.
    ASSERT_EQ(SSL_key_update(client_, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    client_writes("second");
    records = records_of(from_client());
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(open(records[0]).result.kind, Tls13Records::Opened::Kind::control);
    EXPECT_FALSE(records_.owes_key_update());
    EXPECT_EQ(open(records[1]).data, "second");
    EXPECT_EQ(client_reads(seal("still")), "still");
}

TEST_P(Tls13RecordsTest, PaddingIsRemoved) {
    SSL_set_block_padding(client_, 512);
    client_writes("x");
    const auto record = records_of(from_client()).at(0);
    EXPECT_EQ(record.size(), Tls13Records::kHeader + 512 + Tls13Records::kTag);
    EXPECT_EQ(open(record).data, "x");
}

TEST_P(Tls13RecordsTest, CloseNotifyEndsTheStream) {
    ASSERT_GE(SSL_shutdown(client_), 0);
    EXPECT_EQ(open(records_of(from_client()).at(0)).result.kind,
              Tls13Records::Opened::Kind::closed);
    // And the client takes ours.
    Bytes alert(Tls13Records::kAlertRecord, 0);
    alert.resize(records_.seal_alert(alert.data(), 0));
    feed(c_in_, alert);
    char c;
    std::size_t n = 0;
    EXPECT_EQ(SSL_read_ex(client_, &c, 1, &n), 0);
    EXPECT_EQ(SSL_get_error(client_, 0), SSL_ERROR_ZERO_RETURN);
    ERR_clear_error();
}

TEST_P(Tls13RecordsTest, AnyChangedByteFailsTheRecord) {
    client_writes("integrity");
    const auto record = records_of(from_client()).at(0);
    for (std::size_t i = 0; i < record.size(); ++i) {
        if (i == 3 || i == 4) continue;  // the length: another record size, tested below
        Tls13Records copy;
        // A fresh instance per try: a failed record ends a connection for good.
        ASSERT_TRUE(copy.start(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(server_)),
                               g_client_secret, g_server_secret, 0, 1));
        Bytes bad = record;
        bad[i] ^= 0x01;
        Bytes out(bad.size(), 0);
        const auto r = copy.open(bad.data(), bad.size(), out.data());
        EXPECT_EQ(r.kind, Tls13Records::Opened::Kind::failed) << "byte " << i;
        EXPECT_EQ(r.error, i == 0 ? make_error_code(RecordError::unexpected_message)
                                  : make_error_code(RecordError::bad_record_mac))
            << "byte " << i;
    }
    // Replayed: the sequence number moved on.
    EXPECT_EQ(open(record).data, "integrity");
    EXPECT_EQ(open(record).result.error, make_error_code(RecordError::bad_record_mac));
}

TEST_P(Tls13RecordsTest, RecordSizeLimits) {
    const unsigned char small[] = {23, 3, 3, 0};
    EXPECT_FALSE(Tls13Records::record_size(small, sizeof small).has_value());
    const unsigned char largest[] = {23, 3, 3, 0x41, 0x00};  // 2^14 + 256
    EXPECT_EQ(Tls13Records::record_size(largest, 5), Tls13Records::kMaxRecord);
    const unsigned char over[] = {23, 3, 3, 0x41, 0x01};
    EXPECT_EQ(Tls13Records::record_size(over, 5), std::size_t{0});
}

// What no OpenSSL client sends, sealed by a peer built from the same secrets.
class Tls13RecordsProtocolTest : public Tls13RecordsTest {
protected:
    void SetUp() override {
        Tls13RecordsTest::SetUp();
        ASSERT_TRUE(peer_.start(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(server_)),
                                g_server_secret, g_client_secret, 1, 0));
    }
    Tls13Records::Opened peer_sends(const Bytes& content, unsigned char type) {
        Bytes record(content.size() + Tls13Records::kSealOverhead, 0);
        const Span piece(content.data(), content.size());
        record.resize(peer_.seal(record.data(), std::span(&piece, 1), type));
        Bytes out(record.size(), 0);
        return records_.open(record.data(), record.size(), out.data());
    }
    Tls13Records peer_;
};

TEST_P(Tls13RecordsProtocolTest, OnlyAWholeKeyUpdateIsAcceptedAsAHandshakeMessage) {
    using K = Tls13Records::Opened::Kind;
    auto r = peer_sends({4, 0, 0, 1, 0}, 22);  // NewSessionTicket from a client
    EXPECT_EQ(r.kind, K::failed);
    EXPECT_EQ(r.error, make_error_code(RecordError::unexpected_message));
}

TEST_P(Tls13RecordsProtocolTest, KeyUpdateWithAnUnknownValueIsIllegal) {
    auto r = peer_sends({24, 0, 0, 1, 2}, 22);
    EXPECT_EQ(r.error, make_error_code(RecordError::illegal_parameter));
}

TEST_P(Tls13RecordsProtocolTest, KeyUpdateNotEndingTheRecordIsUnexpected) {
    auto r = peer_sends({24, 0, 0, 1, 0, 23}, 22);
    EXPECT_EQ(r.error, make_error_code(RecordError::unexpected_message));
}

TEST_P(Tls13RecordsProtocolTest, KeyUpdateOfTheWrongLengthIsADecodeError) {
    auto r = peer_sends({24, 0, 0, 2, 0, 0}, 22);
    EXPECT_EQ(r.error, make_error_code(RecordError::decode_error));
}

TEST_P(Tls13RecordsProtocolTest, EmptyHandshakeRecordIsUnexpected) {
    auto r = peer_sends({}, 22);
    EXPECT_EQ(r.error, make_error_code(RecordError::unexpected_message));
}

TEST_P(Tls13RecordsProtocolTest, FatalAlertEndsWithAnError) {
    auto r = peer_sends({2, 40}, 21);  // handshake_failure
    EXPECT_EQ(r.kind, Tls13Records::Opened::Kind::failed);
    EXPECT_EQ(r.error, make_error_code(RecordError::peer_alert));
}

TEST_P(Tls13RecordsProtocolTest, UnknownInnerContentTypeIsUnexpected) {
    auto r = peer_sends({1, 2, 3}, 99);
    EXPECT_EQ(r.error, make_error_code(RecordError::unexpected_message));
}

TEST_P(Tls13RecordsProtocolTest, ZeroLengthApplicationDataIsAllowed) {
    auto r = peer_sends({}, 23);
    EXPECT_EQ(r.kind, Tls13Records::Opened::Kind::data);
    EXPECT_EQ(r.size, 0u);
}

TEST(Tls13RecordsKeyLimit, OwnKeyIsReplacedAfterTwoToThe24Records) {
    Tls13Records::Secret a;
    Tls13Records::Secret b;
    a.size = b.size = 32;
    a.bytes.fill(1);
    b.bytes.fill(2);
    Tls13Records records;
    ASSERT_TRUE(records.start(0x1301, a, b, 0, Tls13Records::kRekeyAfter - 1));
    EXPECT_FALSE(records.owes_key_update());
    Bytes out(64, 0);
    const Span none;
    ASSERT_GT(records.seal(out.data(), std::span(&none, 1)), 0u);
    EXPECT_TRUE(records.owes_key_update());  // the next record must be a KeyUpdate
    ASSERT_GT(records.seal_key_update(out.data()), 0u);
    EXPECT_FALSE(records.owes_key_update());  // a new key, counting from 0
    // A suite certgate does not offer, or a secret of the wrong size, is refused.
    Tls13Records other;
    EXPECT_FALSE(other.start(0x1304, a, b, 0, 0));
    EXPECT_FALSE(other.start(0x1302, a, b, 0, 0));  // SHA-384 wants 48-byte secrets
    EXPECT_FALSE(other.started());
}

INSTANTIATE_TEST_SUITE_P(Suites, Tls13RecordsTest,
                         ::testing::Values("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                           "TLS_CHACHA20_POLY1305_SHA256"));
INSTANTIATE_TEST_SUITE_P(Suites, Tls13RecordsProtocolTest,
                         ::testing::Values("TLS_AES_128_GCM_SHA256",
                                           "TLS_CHACHA20_POLY1305_SHA256"));

}  // namespace
}  // namespace certgate::proxy
