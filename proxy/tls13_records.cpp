#include "proxy/tls13_records.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace certgate::proxy {

namespace {

constexpr unsigned char kApplicationData = 23;
constexpr unsigned char kHandshake = 22;
constexpr unsigned char kAlert = 21;
constexpr unsigned char kKeyUpdate = 24;

class RecordCategory : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "tls13-record"; }
    std::string message(int value) const override {
        switch (static_cast<RecordError>(value)) {
            case RecordError::bad_record_mac: return "bad record MAC";
            case RecordError::record_overflow: return "record overflow";
            case RecordError::unexpected_message: return "unexpected message";
            case RecordError::decode_error: return "decode error";
            case RecordError::illegal_parameter: return "illegal parameter";
            case RecordError::peer_alert: return "fatal alert from the peer";
            case RecordError::sequence_exhausted: return "record sequence exhausted";
            case RecordError::crypto_failure: return "cipher setup failed";
        }
        return "TLS record error";
    }
};

// Fetched once: an implicit fetch on every cipher initialisation costs a lock and a lookup.
struct Algorithms {
    EVP_CIPHER* aes128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
    EVP_CIPHER* aes256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    EVP_CIPHER* chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
};
const Algorithms& algorithms() {
    static const Algorithms a;
    return a;
}

// HMAC over OpenSSL's digest (a secret is never longer than the digest's block).
bool hmac(const EVP_MD* md, const unsigned char* key, std::size_t key_size,
          const unsigned char* message, std::size_t size, unsigned char* out) {
    const auto block = static_cast<std::size_t>(EVP_MD_get_block_size(md));
    std::array<unsigned char, 128> pad{};
    std::array<unsigned char, EVP_MAX_MD_SIZE> inner{};
    if (key_size > block || block > pad.size()) return false;
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    if (c == nullptr) return false;
    unsigned int n = 0;
    for (std::size_t i = 0; i < block; ++i) pad[i] = (i < key_size ? key[i] : 0) ^ 0x36;
    bool ok =
        EVP_DigestInit_ex2(c, md, nullptr) == 1 && EVP_DigestUpdate(c, pad.data(), block) == 1 &&
        EVP_DigestUpdate(c, message, size) == 1 && EVP_DigestFinal_ex(c, inner.data(), &n) == 1;
    for (std::size_t i = 0; i < block; ++i) pad[i] = (i < key_size ? key[i] : 0) ^ 0x5c;
    ok = ok && EVP_DigestInit_ex2(c, md, nullptr) == 1 &&
         EVP_DigestUpdate(c, pad.data(), block) == 1 && EVP_DigestUpdate(c, inner.data(), n) == 1 &&
         EVP_DigestFinal_ex(c, out, &n) == 1;
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(pad.data(), pad.size());
    OPENSSL_cleanse(inner.data(), inner.size());
    return ok;
}

// HKDF-Expand-Label(secret, label, "", length) for a length of at most one digest: the
// first block of HKDF-Expand, HMAC(secret, HkdfLabel || 0x01).
bool expand_label(const EVP_MD* md, const Tls13Records::Secret& secret, const char* label,
                  unsigned char* out, std::size_t length) {
    std::array<unsigned char, 32> info{};
    const std::size_t label_size = std::strlen(label);
    std::size_t n = 0;
    info[n++] = static_cast<unsigned char>(length >> 8);
    info[n++] = static_cast<unsigned char>(length);
    info[n++] = static_cast<unsigned char>(6 + label_size);
    std::memcpy(info.data() + n, "tls13 ", 6);
    n += 6;
    std::memcpy(info.data() + n, label, label_size);
    n += label_size;
    info[n++] = 0;  // empty context
    info[n++] = 1;  // block counter
    std::array<unsigned char, EVP_MAX_MD_SIZE> block{};
    if (length > static_cast<std::size_t>(EVP_MD_get_size(md)) ||
        !hmac(md, secret.bytes.data(), secret.size, info.data(), n, block.data()))
        return false;
    std::memcpy(out, block.data(), length);
    OPENSSL_cleanse(block.data(), block.size());
    return true;
}

Tls13Records::Opened failed(RecordError e) {
    return {Tls13Records::Opened::Kind::failed, 0, make_error_code(e)};
}

}  // namespace

const boost::system::error_category& record_category() {
    static const RecordCategory category;
    return category;
}

boost::system::error_code make_error_code(RecordError e) {
    return {static_cast<int>(e), record_category()};
}

Tls13Records::~Tls13Records() { reset(); }

void Tls13Records::reset() {
    release_contexts();
    OPENSSL_cleanse(&read_, sizeof read_);
    OPENSSL_cleanse(&write_, sizeof write_);
    cipher_ = nullptr;
    owe_update_ = false;
}

bool Tls13Records::start(std::uint16_t suite, const Secret& read, const Secret& write,
                         std::uint64_t read_seq, std::uint64_t write_seq) {
    const Algorithms& a = algorithms();
    switch (suite) {
        case 0x1301: cipher_ = a.aes128, digest_ = a.sha256, key_size_ = 16; break;
        case 0x1302: cipher_ = a.aes256, digest_ = a.sha384, key_size_ = 32; break;
        case 0x1303: cipher_ = a.chacha, digest_ = a.sha256, key_size_ = 32; break;
        default: cipher_ = nullptr;
    }
    const auto hash_size = digest_ ? static_cast<std::size_t>(EVP_MD_get_size(digest_)) : 0;
    if (cipher_ == nullptr || digest_ == nullptr || read.size != hash_size ||
        write.size != hash_size) {
        cipher_ = nullptr;
        return false;
    }
    read_.secret = read;
    write_.secret = write;
    read_.seq = read_seq;
    write_.seq = write_seq;
    if (!derive(read_) || !derive(write_)) {
        cipher_ = nullptr;
        return false;
    }
    return true;
}

bool Tls13Records::derive(Direction& d) {
    if (d.ctx != nullptr) {
        EVP_CIPHER_CTX_free(d.ctx);
        d.ctx = nullptr;
    }
    return expand_label(digest_, d.secret, "key", d.key.data(), key_size_) &&
           expand_label(digest_, d.secret, "iv", d.iv.data(), d.iv.size());
}

// RFC 8446 7.2: application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd").
bool Tls13Records::next_generation(Direction& d) {
    Secret next;
    next.size = d.secret.size;
    if (!expand_label(digest_, d.secret, "traffic upd", next.bytes.data(), next.size)) return false;
    d.secret = next;
    OPENSSL_cleanse(&next, sizeof next);
    d.seq = 0;
    return derive(d);
}

EVP_CIPHER_CTX* Tls13Records::context(Direction& d, bool encrypt) {
    if (d.ctx != nullptr) return d.ctx;
    d.ctx = EVP_CIPHER_CTX_new();
    if (d.ctx == nullptr) return nullptr;
    if (EVP_CipherInit_ex2(d.ctx, cipher_, d.key.data(), nullptr, encrypt ? 1 : 0, nullptr) != 1) {
        EVP_CIPHER_CTX_free(d.ctx);
        d.ctx = nullptr;
    }
    return d.ctx;
}

void Tls13Records::release_contexts() {
    EVP_CIPHER_CTX_free(read_.ctx);
    EVP_CIPHER_CTX_free(write_.ctx);
    read_.ctx = write_.ctx = nullptr;
}

// RFC 8446 5.3: the 64-bit sequence number, big-endian and left-padded, XORed into the IV.
void Tls13Records::nonce(const std::array<unsigned char, 12>& iv, std::uint64_t seq,
                         unsigned char out[12]) {
    std::memcpy(out, iv.data(), 12);
    for (int i = 0; i < 8; ++i) out[4 + i] ^= static_cast<unsigned char>(seq >> (56 - 8 * i));
}

std::optional<std::size_t> Tls13Records::record_size(const unsigned char* in, std::size_t n) {
    if (n < kHeader) return std::nullopt;
    const std::size_t length = (std::size_t{in[3]} << 8) | in[4];
    if (length > kMaxCipher) return 0;
    return kHeader + length;
}

Tls13Records::Opened Tls13Records::open(unsigned char* record, std::size_t size,
                                        unsigned char* out) {
    // After the handshake every record is protected and says application_data outside
    // (a change_cipher_spec or a plaintext alert is no longer allowed).
    if (record[0] != kApplicationData) return failed(RecordError::unexpected_message);
    if (size - kHeader > kMaxCipher) return failed(RecordError::record_overflow);
    if (((std::size_t{record[3]} << 8) | record[4]) != size - kHeader)
        return failed(RecordError::decode_error);
    if (size < kHeader + kTag + 1) return failed(RecordError::bad_record_mac);
    if (read_.seq == UINT64_MAX) return failed(RecordError::sequence_exhausted);
    EVP_CIPHER_CTX* ctx = context(read_, false);
    if (ctx == nullptr) return failed(RecordError::crypto_failure);
    if (!unseal(ctx, read_.iv, read_.seq, record, size, out))
        return failed(RecordError::bad_record_mac);
    ++read_.seq;
    const std::size_t inner = size - kHeader - kTag;
    // TLSInnerPlaintext: content, then the real content type, then zero padding.
    std::size_t end = inner;
    while (end > 0 && out[end - 1] == 0) --end;
    if (end == 0) return failed(RecordError::unexpected_message);
    const unsigned char type = out[end - 1];
    const std::size_t length = end - 1;
    if (length > kMaxPlain) return failed(RecordError::record_overflow);
    if (type == kApplicationData) return {Opened::Kind::data, length, {}};
    if (type == kAlert) {
        if (length != 2) return failed(RecordError::decode_error);
        if (out[1] == 0) return {Opened::Kind::closed, 0, {}};  // close_notify
        if (out[1] == 90) return {Opened::Kind::control, 0, {}};  // user_canceled: close follows
        return failed(RecordError::peer_alert);
    }
    if (type == kHandshake) {
        // The only handshake message a client may send now is KeyUpdate, and the key change
        // after it must fall on a record boundary: exactly one whole message per record.
        if (length < 4 || out[0] != kKeyUpdate) return failed(RecordError::unexpected_message);
        const std::size_t body = (std::size_t{out[1]} << 16) | (std::size_t{out[2]} << 8) | out[3];
        if (body != 1) return failed(RecordError::decode_error);
        if (length != 5) return failed(RecordError::unexpected_message);
        if (out[4] > 1) return failed(RecordError::illegal_parameter);
        if (!next_generation(read_)) return failed(RecordError::crypto_failure);
        if (out[4] == 1) owe_update_ = true;
        return {Opened::Kind::control, 0, {}};
    }
    return failed(RecordError::unexpected_message);
}

std::size_t Tls13Records::seal(unsigned char* out,
                               std::span<const std::span<const unsigned char>> pieces,
                               unsigned char type) {
    std::size_t length = 0;
    for (const auto& p : pieces) length += p.size();
    if (length > kMaxPlain || write_.seq == UINT64_MAX) return 0;
    EVP_CIPHER_CTX* ctx = context(write_, true);
    if (ctx == nullptr) return 0;
    const std::size_t body = length + 1 + kTag;
    out[0] = kApplicationData;
    out[1] = 0x03;
    out[2] = 0x03;
    out[3] = static_cast<unsigned char>(body >> 8);
    out[4] = static_cast<unsigned char>(body);
    unsigned char iv[12];
    nonce(write_.iv, write_.seq, iv);
    int n = 0;
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, 1, nullptr) != 1 ||
        EVP_CipherUpdate(ctx, nullptr, &n, out, kHeader) != 1)
        return 0;
    unsigned char* p = out + kHeader;
    for (const auto& piece : pieces) {
        if (piece.empty()) continue;
        if (EVP_CipherUpdate(ctx, p, &n, piece.data(), static_cast<int>(piece.size())) != 1)
            return 0;
        p += n;
    }
    if (EVP_CipherUpdate(ctx, p, &n, &type, 1) != 1) return 0;
    p += n;
    if (EVP_CipherFinal_ex(ctx, p, &n) != 1) return 0;
    p += n;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTag, p) != 1) return 0;
    ++write_.seq;
    return kHeader + body;
}

std::size_t Tls13Records::seal_key_update(unsigned char* out) {
    static constexpr unsigned char message[] = {kKeyUpdate, 0, 0, 1, 0};
    const std::span<const unsigned char> piece(message);
    const std::size_t n = seal(out, std::span(&piece, 1), kHandshake);
    if (n == 0 || !next_generation(write_)) return 0;
    owe_update_ = false;
    return n;
}

std::size_t Tls13Records::seal_alert(unsigned char* out, unsigned char description) {
    const unsigned char alert[2] = {static_cast<unsigned char>(description == 0 ? 1 : 2),
                                    description};
    const std::span<const unsigned char> piece(alert);
    return seal(out, std::span(&piece, 1), kAlert);
}

bool Tls13Records::sealed_by_us(const unsigned char* record, std::size_t size, std::uint64_t seq) {
    if (size < kHeader + kTag + 1 || record[0] != kApplicationData) return false;
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    if (ctx == nullptr) return false;
    std::basic_string<unsigned char> plain(size, 0);
    const bool ok = EVP_CipherInit_ex2(ctx, cipher_, write_.key.data(), nullptr, 0, nullptr) == 1 &&
                    unseal(ctx, write_.iv, seq, record, size, plain.data());
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(plain.data(), plain.size());
    return ok;
}

// AEAD-opens a whole record (header as additional data, tag at the end) with a context keyed
// for decryption, at sequence `seq`; `out` takes size - kHeader - kTag bytes.
bool Tls13Records::unseal(EVP_CIPHER_CTX* ctx, const std::array<unsigned char, 12>& iv,
                          std::uint64_t seq, const unsigned char* record, std::size_t size,
                          unsigned char* out) {
    unsigned char n_once[12];
    nonce(iv, seq, n_once);
    std::array<unsigned char, kTag> tag{};  // copied: `out` may overlap the record
    std::memcpy(tag.data(), record + size - kTag, kTag);
    int n = 0;
    int tail = 0;
    return EVP_CipherInit_ex2(ctx, nullptr, nullptr, n_once, 0, nullptr) == 1 &&
           EVP_CipherUpdate(ctx, nullptr, &n, record, kHeader) == 1 &&
           EVP_CipherUpdate(ctx, out, &n, record + kHeader,
                            static_cast<int>(size - kHeader - kTag)) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTag, tag.data()) == 1 &&
           EVP_CipherFinal_ex(ctx, out + n, &tail) == 1;
}

}  // namespace certgate::proxy
