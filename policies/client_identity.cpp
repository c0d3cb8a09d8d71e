#include "policies/client_identity.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace certgate::policies {

namespace {

constexpr char kUpperHex[] = "0123456789ABCDEF";
constexpr char kLowerHex[] = "0123456789abcdef";

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string bio_contents(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

// Last line of defence for anything that becomes a header value: a CR, LF or NUL would let
// a certificate field inject headers into the request the app sees (RFC 9110 5.5).
std::string escape_controls(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (is_control(c)) {
            out.push_back('\\');
            out.push_back(kUpperHex[c >> 4]);
            out.push_back(kUpperHex[c & 0xF]);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    return out;
}

// RFC 3629 section 4 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
        if (c < 0x80)
            len = 1;
        else if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else
            return false;
        if (i + len > s.size()) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return false;
        }
        i += len;
    }
    return true;
}

std::string serial_hex(const ASN1_INTEGER* serial) {
    BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
    if (!bn) return {};
    const bool negative = BN_is_negative(bn);
    BN_set_negative(bn, 0);
    char* hex = BN_bn2hex(bn);
    BN_free(bn);
    if (!hex) return {};
    std::string_view v(hex);
    while (v.size() > 1 && v.front() == '0') v.remove_prefix(1);
    // A negative serial breaks RFC 5280 4.1.2.2 but parses; keep the sign so that it can
    // never be mistaken for the positive serial of another certificate.
    std::string out = negative ? "-" + std::string(v) : std::string(v);
    OPENSSL_free(hex);
    return out;
}

std::string sha256_fingerprint(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!X509_digest(cert, EVP_sha256(), md, &len)) return {};
    std::string out;
    out.reserve(len * 2);
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(kLowerHex[md[i] >> 4]);
        out.push_back(kLowerHex[md[i] & 0xF]);
    }
    return out;
}

std::string rfc3339(const ASN1_TIME* t) {
    std::tm tm{};
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return {};
    char buf[32];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf, n);
}

void read_sans(X509* cert, ClientIdentity& id) {
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (!names) return;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
        const ASN1_IA5STRING* s = nullptr;
        std::vector<std::string>* list = nullptr;
        if (gn->type == GEN_DNS) s = gn->d.dNSName, list = &id.san_dns;
        if (gn->type == GEN_URI) s = gn->d.uniformResourceIdentifier, list = &id.san_uri;
        if (!s || !list) continue;
        list->emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
    GENERAL_NAMES_free(names);
}

std::string der_of(X509* cert) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert, &der);
    if (len <= 0) return {};
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

// RFC 9440 2.1: an RFC 8941 byte sequence, ":" base64(DER) ":".
std::string byte_sequence(X509* cert) {
    const std::string der = der_of(cert);
    if (der.empty()) return {};
    std::string b64(4 * ((der.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                  reinterpret_cast<const unsigned char*>(der.data()),
                                  static_cast<int>(der.size()));
    b64.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return ":" + b64 + ":";
}

// nginx's $ssl_client_escaped_cert: every byte but RFC 3986 unreserved as %XX.
std::string pem_urlencoded(X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || !PEM_write_bio_X509(bio.get(), cert)) return {};
    const std::string pem = bio_contents(bio.get());
    std::string out;
    out.reserve(pem.size() * 3 / 2);
    for (unsigned char c : pem) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kUpperHex[c >> 4]);
            out.push_back(kUpperHex[c & 0xF]);
        }
    }
    return out;
}

std::string chain_list(X509* leaf, STACK_OF(X509) * sent_chain) {
    std::string out;
    if (!sent_chain) return out;
    for (int i = 0; i < sk_X509_num(sent_chain); ++i) {
        X509* cert = sk_X509_value(sent_chain, i);
        // A client-side chain (SSL_get_peer_cert_chain) starts with the leaf; RFC 9440
        // Client-Cert-Chain holds only what follows it.
        if (i == 0 && X509_cmp(cert, leaf) == 0) continue;
        if (!out.empty()) out += ", ";
        out += byte_sequence(cert);
    }
    return out;
}

void put(HeaderList& headers, const std::optional<std::string>& name, const std::string& value) {
    if (name && !value.empty()) headers.add(*name, value);
}

}  // namespace

std::string format_dn(const X509_NAME* name) {
    if (!name) return {};
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return {};
    // RFC 2253/4514 escaping with control characters as \XX, but UTF-8 passed through
    // rather than escaped byte by byte (SPEC: non-ASCII passed as UTF-8).
    const unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    if (X509_NAME_print_ex(bio.get(), name, 0, flags) < 0 ||
        !is_valid_utf8(bio_contents(bio.get()))) {
        // OpenSSL copies a UTF8String's bytes unchecked: when they are not UTF-8, or a
        // string does not decode at all, escape every non-ASCII byte as \XX instead.
        bio.reset(BIO_new(BIO_s_mem()));
        if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
    }
    std::string dn = escape_controls(bio_contents(bio.get()));
    // RFC 4514 escapes a trailing space as "\ ", but HTTP strips trailing whitespace from a
    // field value (RFC 9110 5.5); "\20" is the equivalent escape that survives.
    if (dn.size() >= 2 && dn.back() == ' ' && dn[dn.size() - 2] == '\\') {
        dn.pop_back();
        dn += "20";
    }
    return dn;
}

std::string format_san_list(const std::vector<std::string>& values) {
    std::string out;
    for (const auto& v : values) {
        if (!out.empty()) out.push_back(',');
        for (unsigned char c : v) {
            if (is_control(c) || c == ' ' || c == ',' || c == '%') {
                out.push_back('%');
                out.push_back(kUpperHex[c >> 4]);
                out.push_back(kUpperHex[c & 0xF]);
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
    }
    return out;
}

ClientIdentity describe_certificate(X509* leaf, STACK_OF(X509) * sent_chain,
                                    std::optional<std::string> failure, bool with_encodings) {
    ClientIdentity id;
    if (!leaf) return id;  // OpenSSL reports "ok" when nothing was sent: that is NONE
    if (failure) {
        id.status = ClientIdentity::Status::failed;
        id.failure_reason = escape_controls(*failure);
    } else {
        id.status = ClientIdentity::Status::verified;
    }
    id.subject = format_dn(X509_get_subject_name(leaf));
    id.issuer = format_dn(X509_get_issuer_name(leaf));
    id.serial = serial_hex(X509_get0_serialNumber(leaf));
    id.fingerprint = sha256_fingerprint(leaf);
    id.not_before = rfc3339(X509_get0_notBefore(leaf));
    id.not_after = rfc3339(X509_get0_notAfter(leaf));
    read_sans(leaf, id);
    if (!with_encodings) return id;
    id.pem_urlencoded = pem_urlencoded(leaf);
    id.rfc9440_cert = byte_sequence(leaf);
    id.rfc9440_chain = chain_list(leaf, sent_chain);
    return id;
}

std::string verify_header_value(const ClientIdentity& id) {
    switch (id.status) {
        case ClientIdentity::Status::verified:
            return "SUCCESS";
        case ClientIdentity::Status::failed:
            return "FAILED:" + escape_controls(id.failure_reason);
        case ClientIdentity::Status::none:
            break;
    }
    return "NONE";
}

std::optional<Refusal> check_certificate_requirement(config::CertMode mode,
                                                     const ClientIdentity& id) {
    if (mode != config::CertMode::required) return std::nullopt;
    switch (id.status) {
        case ClientIdentity::Status::verified:
            return std::nullopt;
        case ClientIdentity::Status::none:
            return Refusal{403, "client certificate required", "verify.missing"};
        case ClientIdentity::Status::failed:
            break;
    }
    const auto reason = escape_controls(id.failure_reason);
    return Refusal{403, "client certificate rejected: " + reason, "verify: " + reason};
}

void write_identity_headers(HeaderList& headers, const config::IdentityHeaders& names,
                            config::CertMode mode, const ClientIdentity& id) {
    // Set semantics: whatever slipped past stripping, the app sees only certgate's copy.
    for (const auto* name :
         {&names.verify, &names.subject, &names.issuer, &names.serial, &names.fingerprint,
          &names.not_before, &names.not_after, &names.san_dns, &names.san_uri, &names.certificate,
          &names.rfc9440_cert, &names.rfc9440_chain})
        if (*name) headers.remove(**name);

    if (mode == config::CertMode::none) {
        put(headers, names.verify, "NONE");
        return;
    }
    if (names.verify) put(headers, names.verify, verify_header_value(id));
    // Only a verified certificate is an identity; a failed one's fields are attacker-chosen.
    if (id.status != ClientIdentity::Status::verified) return;
    put(headers, names.subject, id.subject);
    put(headers, names.issuer, id.issuer);
    put(headers, names.serial, id.serial);
    put(headers, names.fingerprint, id.fingerprint);
    put(headers, names.not_before, id.not_before);
    put(headers, names.not_after, id.not_after);
    if (names.san_dns) put(headers, names.san_dns, format_san_list(id.san_dns));
    if (names.san_uri) put(headers, names.san_uri, format_san_list(id.san_uri));
    put(headers, names.certificate, id.pem_urlencoded);
    put(headers, names.rfc9440_cert, id.rfc9440_cert);
    put(headers, names.rfc9440_chain, id.rfc9440_chain);
}

}  // namespace certgate::policies
