#include "support/test_pki.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace certgate::testing {

namespace {

[[noreturn]] void fail(const std::string& what) {
    char buf[256] = "";
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    throw std::runtime_error("test_pki: " + what + ": " + buf);
}

template <class T>
T* check(T* p, const char* what) {
    if (!p) fail(what);
    return p;
}

void check(int ok, const char* what) {
    if (ok <= 0) fail(what);
}

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string bio_string(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::shared_ptr<EVP_PKEY> make_key(KeyType type) {
    EVP_PKEY* key = nullptr;
    switch (type) {
        case KeyType::ec_p256:
            key = EVP_EC_gen("prime256v1");
            break;
        case KeyType::rsa_2048:
            key = EVP_RSA_gen(2048);
            break;
        case KeyType::rsa_1024:  // too weak for security level 2: tests that it is refused
            key = EVP_RSA_gen(1024);
            break;
    }
    return std::shared_ptr<EVP_PKEY>(check(key, "key generation"), PKeyDeleter{});
}

void set_serial(X509* cert, long serial) {
    ASN1_INTEGER* s = X509_get_serialNumber(cert);
    if (serial != 0) {
        check(ASN1_INTEGER_set(s, serial), "serial");
        return;
    }
    // RFC 5280 4.1.2.2: positive, unique per issuer; 63 random bits make clashes moot.
    unsigned char bytes[8];
    check(RAND_bytes(bytes, sizeof bytes), "RAND_bytes");
    bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7F) | 0x01);
    BIGNUM* bn = check(BN_bin2bn(bytes, sizeof bytes, nullptr), "serial bignum");
    const bool ok = BN_to_ASN1_INTEGER(bn, s) != nullptr;
    BN_free(bn);
    check(ok ? 1 : 0, "serial");
}

void set_subject(X509* cert, const CertSpec& spec) {
    X509_NAME* name = X509_get_subject_name(cert);
    for (const auto& [field, value] : spec.subject)
        check(X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.data()),
                                         static_cast<int>(value.size()), -1, 0),
              "subject entry");
}

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
    X509_EXTENSION* ext = check(X509V3_EXT_conf_nid(nullptr, ctx, nid, value), value);
    const int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    check(ok, "add extension");
}

GENERAL_NAME* ia5_name(int type, const std::string& value) {
    ASN1_IA5STRING* s = check(ASN1_IA5STRING_new(), "ia5");
    // Raw bytes on purpose: tests put commas, spaces and control characters in SANs.
    check(ASN1_STRING_set(s, value.data(), static_cast<int>(value.size())), "ia5 set");
    GENERAL_NAME* gn = check(GENERAL_NAME_new(), "general name");
    GENERAL_NAME_set0_value(gn, type, s);
    return gn;
}

void add_sans(X509* cert, const CertSpec& spec) {
    if (spec.san_dns.empty() && spec.san_uri.empty() && spec.san_ip.empty()) return;
    GENERAL_NAMES* names = check(sk_GENERAL_NAME_new_null(), "general names");
    for (const auto& d : spec.san_dns) sk_GENERAL_NAME_push(names, ia5_name(GEN_DNS, d));
    for (const auto& u : spec.san_uri) sk_GENERAL_NAME_push(names, ia5_name(GEN_URI, u));
    for (const auto& ip : spec.san_ip) {
        ASN1_OCTET_STRING* addr = check(a2i_IPADDRESS(ip.c_str()), "IP address SAN");
        GENERAL_NAME* gn = check(GENERAL_NAME_new(), "general name");
        GENERAL_NAME_set0_value(gn, GEN_IPADD, addr);
        sk_GENERAL_NAME_push(names, gn);
    }
    const int ok = X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
    GENERAL_NAMES_free(names);
    check(ok, "subjectAltName");
}

void add_extensions(X509* cert, X509* issuer, const CertSpec& spec, KeyType key_type) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    if (spec.is_ca) {
        add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert, &ctx, NID_basic_constraints, "CA:FALSE");
        add_ext(cert, &ctx, NID_key_usage,
                key_type == KeyType::ec_p256 ? "critical,digitalSignature"
                                             : "critical,digitalSignature,keyEncipherment");
        // OpenSSL checks a CA's EKU against the purpose too, so only leaves carry one.
        switch (spec.eku) {
            case Eku::client_auth:
                add_ext(cert, &ctx, NID_ext_key_usage, "clientAuth");
                break;
            case Eku::server_auth:
                add_ext(cert, &ctx, NID_ext_key_usage, "serverAuth");
                break;
            case Eku::both:
                add_ext(cert, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
                break;
            case Eku::absent:
                break;
        }
    }
    add_ext(cert, &ctx, NID_subject_key_identifier, "hash");
    add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always");
    add_sans(cert, spec);
}

// `issuer` null: self-signed.
TestCert build(const TestCert* issuer, const CertSpec& spec) {
    auto key = make_key(spec.key_type);
    std::shared_ptr<X509> cert(check(X509_new(), "X509_new"), X509Deleter{});
    X509* x = cert.get();
    check(X509_set_version(x, 2), "version");  // v3
    set_serial(x, spec.serial);
    set_subject(x, spec);
    check(X509_set_issuer_name(
              x, issuer ? X509_get_subject_name(issuer->x509()) : X509_get_subject_name(x)),
          "issuer name");
    check(X509_gmtime_adj(X509_getm_notBefore(x), spec.not_before_offset_seconds) ? 1 : 0,
          "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(x), spec.not_after_offset_seconds) ? 1 : 0,
          "notAfter");
    check(X509_set_pubkey(x, key.get()), "pubkey");
    add_extensions(x, issuer ? issuer->x509() : x, spec, spec.key_type);
    check(X509_sign(x, issuer ? issuer->key() : key.get(), EVP_sha256()), "sign");
    return TestCert(std::move(cert), std::move(key));
}

}  // namespace

std::string TestCert::cert_pem() const {
    BioPtr bio(check(BIO_new(BIO_s_mem()), "BIO"));
    check(PEM_write_bio_X509(bio.get(), x509()), "PEM cert");
    return bio_string(bio.get());
}

std::string TestCert::key_pem() const {
    BioPtr bio(check(BIO_new(BIO_s_mem()), "BIO"));
    check(PEM_write_bio_PrivateKey(bio.get(), key(), nullptr, nullptr, 0, nullptr, nullptr),
          "PEM key");
    return bio_string(bio.get());
}

std::string TestCert::der() const {
    unsigned char* der = nullptr;
    const int len = i2d_X509(x509(), &der);
    check(len, "DER");
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

TestCert make_self_signed(const CertSpec& spec) { return build(nullptr, spec); }

TestCert make_ca(const std::string& common_name) {
    CertSpec spec;
    spec.subject = {{"CN", common_name}};
    spec.is_ca = true;
    spec.not_after_offset_seconds = 365L * 86400;
    return build(nullptr, spec);
}

TestCert issue(const TestCert& issuer, const CertSpec& spec) {
    if (!issuer.x509() || !issuer.key()) throw std::invalid_argument("test_pki: empty issuer");
    return build(&issuer, spec);
}

std::string make_crl_pem(const TestCert& ca, const std::vector<const TestCert*>& revoked,
                         long next_update_offset_seconds) {
    static std::atomic<long> crl_number{1};
    std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(check(X509_CRL_new(), "CRL"),
                                                            X509_CRL_free);
    X509_CRL* c = crl.get();
    check(X509_CRL_set_version(c, 1), "CRL version");  // v2: needed for extensions
    check(X509_CRL_set_issuer_name(c, X509_get_subject_name(ca.x509())), "CRL issuer");

    const std::time_t now = std::time(nullptr);
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> last(
        check(ASN1_TIME_adj(nullptr, now, 0, -3600), "lastUpdate"), ASN1_TIME_free);
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> next(
        check(ASN1_TIME_adj(nullptr, now, 0, next_update_offset_seconds), "nextUpdate"),
        ASN1_TIME_free);
    check(X509_CRL_set1_lastUpdate(c, last.get()), "lastUpdate");
    check(X509_CRL_set1_nextUpdate(c, next.get()), "nextUpdate");

    for (const TestCert* cert : revoked) {
        X509_REVOKED* r = check(X509_REVOKED_new(), "revoked");
        if (!X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(cert->x509())) ||
            !X509_REVOKED_set_revocationDate(r, last.get()) || !X509_CRL_add0_revoked(c, r)) {
            X509_REVOKED_free(r);
            fail("revoked entry");
        }
    }
    check(X509_CRL_sort(c), "CRL sort");

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca.x509(), nullptr, nullptr, c, 0);
    X509_EXTENSION* akid =
        check(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"),
              "CRL AKID");
    const int ok = X509_CRL_add_ext(c, akid, -1);
    X509_EXTENSION_free(akid);
    check(ok, "CRL AKID");
    ASN1_INTEGER* number = check(ASN1_INTEGER_new(), "crlNumber");
    ASN1_INTEGER_set(number, crl_number++);
    const int ok2 = X509_CRL_add1_ext_i2d(c, NID_crl_number, number, 0, 0);
    ASN1_INTEGER_free(number);
    check(ok2, "crlNumber");

    check(X509_CRL_sign(c, ca.key(), EVP_sha256()), "CRL sign");
    BioPtr bio(check(BIO_new(BIO_s_mem()), "BIO"));
    check(PEM_write_bio_X509_CRL(bio.get(), c), "PEM CRL");
    return bio_string(bio.get());
}

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/certgate-test-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("test_pki: mkdtemp failed for " + tmpl);
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;  // a destructor must not throw; a leftover temp dir is harmless
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
    const std::string full = path_ + "/" + name;
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) throw std::runtime_error("test_pki: cannot write " + full);
    return full;
}

}  // namespace certgate::testing
