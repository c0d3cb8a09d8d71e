// Certificates made at test time with OpenSSL: CAs, leaves with any subject, SANs, EKU and
// validity, and CRLs. Nothing is read from disk that a test did not write itself.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

namespace certgate::testing {

struct X509Deleter {
    void operator()(X509* x) const { X509_free(x); }
};
struct PKeyDeleter {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

enum class KeyType { ec_p256, rsa_2048, rsa_1024 };
enum class Eku { client_auth, server_auth, both, absent };

struct CertSpec {
    // Subject RDNs in the order they are added (most general first, like "C", "O", "CN");
    // values are UTF-8 and may hold any bytes, control characters included.
    std::vector<std::pair<std::string, std::string>> subject{{"CN", "test client"}};
    std::vector<std::string> san_dns;
    std::vector<std::string> san_uri;
    std::vector<std::string> san_ip;  // "127.0.0.1"
    long not_before_offset_seconds = -3600;       // relative to now
    long not_after_offset_seconds = 30L * 86400;  // relative to now
    bool is_ca = false;
    Eku eku = Eku::client_auth;
    long serial = 0;  // 0: random 64-bit
    KeyType key_type = KeyType::ec_p256;
};

class TestCert {
public:
    TestCert() = default;
    TestCert(std::shared_ptr<X509> cert, std::shared_ptr<EVP_PKEY> key)
        : cert_(std::move(cert)), key_(std::move(key)) {}
    X509* x509() const { return cert_.get(); }
    EVP_PKEY* key() const { return key_.get(); }
    std::string cert_pem() const;
    std::string key_pem() const;
    std::string der() const;

private:
    std::shared_ptr<X509> cert_;
    std::shared_ptr<EVP_PKEY> key_;
};

// A self-signed certificate (a CA when spec.is_ca).
TestCert make_self_signed(const CertSpec& spec);
// A CA with CN `common_name`, self-signed, valid for a year.
TestCert make_ca(const std::string& common_name);
// A certificate for `spec` signed by `issuer`.
TestCert issue(const TestCert& issuer, const CertSpec& spec);
// PEM CRL signed by `ca` listing `revoked`; next update `next_update_offset_seconds` from now.
std::string make_crl_pem(const TestCert& ca, const std::vector<const TestCert*>& revoked,
                         long next_update_offset_seconds = 7L * 86400);

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    // Writes `content` to path()/name and returns the full path.
    std::string write(const std::string& name, const std::string& content) const;

private:
    std::string path_;
};

}  // namespace certgate::testing
