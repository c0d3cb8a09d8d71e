// TLS 1.3 record protection (RFC 8446 section 5) for a connection whose handshake OpenSSL
// has finished. Once the traffic secrets are known, a record is an AEAD seal or open with a
// nonce made from the sequence number: this class does that, and the two post-handshake
// messages a server must handle (KeyUpdate, alerts), so that the connection can drop its
// OpenSSL object (~10 KiB with cipher contexts and key share) for ~250 bytes of keys.
//
// Pure computation over byte arrays: no sockets. TlsStream feeds it what it reads and sends
// what it seals. Cipher contexts exist only while the connection is busy (release_contexts).
#pragma once

#include <openssl/evp.h>

#include <array>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace certgate::proxy {

// Why a record could not be opened; also the alert that answers it.
enum class RecordError {
    bad_record_mac = 20,
    record_overflow = 22,
    unexpected_message = 10,
    decode_error = 50,
    illegal_parameter = 47,
    peer_alert = 256,       // the peer sent a fatal alert
    sequence_exhausted,     // 2^64 records under one key: never in practice
    crypto_failure,         // OpenSSL could not set up a cipher context
};
const boost::system::error_category& record_category();
boost::system::error_code make_error_code(RecordError e);

class Tls13Records {
public:
    static constexpr std::size_t kHeader = 5;
    static constexpr std::size_t kTag = 16;
    static constexpr std::size_t kMaxPlain = 16384;              // 2^14
    static constexpr std::size_t kMaxCipher = kMaxPlain + 256;   // TLSCiphertext.length bound
    static constexpr std::size_t kMaxRecord = kHeader + kMaxCipher;
    static constexpr std::size_t kSealOverhead = kHeader + 1 + kTag;  // + content type, tag
    // A key is replaced after this many records it protected (RFC 8446 5.5: AES-GCM is safe
    // for ~2^24.5 full records).
    static constexpr std::uint64_t kRekeyAfter = std::uint64_t{1} << 24;

    struct Secret {
        std::array<unsigned char, 48> bytes{};
        std::size_t size = 0;
    };

    Tls13Records() = default;
    ~Tls13Records();
    Tls13Records(const Tls13Records&) = delete;
    Tls13Records& operator=(const Tls13Records&) = delete;

    // `suite` is the IANA cipher suite (0x1301 AES-128-GCM-SHA256, 0x1302 AES-256-GCM-SHA384,
    // 0x1303 CHACHA20-POLY1305-SHA256); false for any other, or a secret of the wrong size.
    // `read` is the peer's (client's) application traffic secret, `write` ours.
    bool start(std::uint16_t suite, const Secret& read, const Secret& write,
               std::uint64_t read_seq, std::uint64_t write_seq);
    bool started() const { return cipher_ != nullptr; }
    // Back to the state before start(), keys wiped.
    void reset();

    // Length of the record at the front of `in` (header included) once its header is there:
    // nullopt while fewer than 5 bytes are; 0 when the header announces more than a record
    // may hold (record_overflow).
    static std::optional<std::size_t> record_size(const unsigned char* in, std::size_t n);

    struct Opened {
        enum class Kind { data, control, closed, failed };
        Kind kind = Kind::failed;
        std::size_t size = 0;  // application bytes written to `out` (kind data)
        boost::system::error_code error;
    };
    // Opens the whole record `record` (record_size() bytes) into `out`, which must have room
    // for size - kHeader - kTag bytes; `out` may be record + kHeader (in place). `control`:
    // a KeyUpdate was applied, or a warning alert ignored; `closed`: close_notify.
    Opened open(unsigned char* record, std::size_t size, unsigned char* out);

    // Seals the concatenation of `pieces` (at most kMaxPlain bytes in all) as one record of
    // content type `type` into `out` (room for the bytes plus kSealOverhead); returns its size,
    // 0 on failure.
    std::size_t seal(unsigned char* out, std::span<const std::span<const unsigned char>> pieces,
                     unsigned char type = 23);
    // The peer asked for our KeyUpdate, or our key protected kRekeyAfter records: the next
    // record sent must be seal_key_update()'s.
    bool owes_key_update() const { return owe_update_ || write_.seq >= kRekeyAfter; }
    // Seals a KeyUpdate (update_not_requested) and moves to the next write key; 0 on failure.
    std::size_t seal_key_update(unsigned char* out);
    static constexpr std::size_t kAlertRecord = kSealOverhead + 2;
    // Seals a fatal alert, or close_notify (0, warning level); 0 on failure.
    std::size_t seal_alert(unsigned char* out, unsigned char description);

    // True if `record` (a whole record) is what our write key sealed with sequence `seq`:
    // used once, to check where OpenSSL left the write sequence.
    bool sealed_by_us(const unsigned char* record, std::size_t size, std::uint64_t seq);

    // Frees the cipher contexts (an idle connection); the keys stay and the next record
    // recreates them.
    void release_contexts();

private:
    struct Direction {
        Secret secret;
        std::array<unsigned char, 32> key{};
        std::array<unsigned char, 12> iv{};
        std::uint64_t seq = 0;
        EVP_CIPHER_CTX* ctx = nullptr;
    };
    bool derive(Direction& d);
    bool next_generation(Direction& d);
    EVP_CIPHER_CTX* context(Direction& d, bool encrypt);
    static void nonce(const std::array<unsigned char, 12>& iv, std::uint64_t seq,
                      unsigned char out[12]);
    static bool unseal(EVP_CIPHER_CTX* ctx, const std::array<unsigned char, 12>& iv,
                       std::uint64_t seq, const unsigned char* record, std::size_t size,
                       unsigned char* out);

    const EVP_CIPHER* cipher_ = nullptr;
    const EVP_MD* digest_ = nullptr;
    std::size_t key_size_ = 0;
    Direction read_;
    Direction write_;
    bool owe_update_ = false;
};

}  // namespace certgate::proxy

template <>
struct boost::system::is_error_code_enum<certgate::proxy::RecordError> : std::true_type {};
