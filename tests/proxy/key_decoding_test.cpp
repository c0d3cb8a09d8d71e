// The EC engine of proxy/key_decoding: certificates' EC keys decode through OpenSSL's built-in
// method, and every signature check still holds (forged and altered signatures refused), while
// RSA keys keep the provider path.
#include "proxy/key_decoding.hpp"

#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "support/test_pki.hpp"

namespace certgate::testing {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, PKeyDeleter>;
using CertPtr = std::unique_ptr<X509, X509Deleter>;

CertPtr parse(const std::string& der) {
    auto p = reinterpret_cast<const unsigned char*>(der.data());
    return CertPtr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

std::string sign(EVP_PKEY* key, const std::string& message) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::size_t n = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) return "";
    auto m = reinterpret_cast<const unsigned char*>(message.data());
    if (EVP_DigestSign(ctx.get(), nullptr, &n, m, message.size()) != 1) return "";
    std::string sig(n, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, m,
                       message.size()) != 1)
        return "";
    sig.resize(n);
    return sig;
}

bool verifies(EVP_PKEY* key, const std::string& message, const std::string& sig) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(message.data()),
                            message.size()) == 1;
}

class KeyDecodingTest : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string outcome = proxy::install_ec_key_engine();
        if ((OpenSSL_version_num() >> 20) != 0x300) GTEST_SKIP() << outcome;
        ASSERT_EQ(outcome, "") << "OpenSSL 3.0 refused the engine";
        ASSERT_EQ(proxy::install_ec_key_engine(), "") << "a second call must change nothing";
    }
};

TEST_F(KeyDecodingTest, EcCertificateKeysDecodeThroughTheBuiltInMethod) {
    const TestCert ca = make_ca("decoding CA");
    const TestCert leaf = issue(ca, CertSpec{});
    auto parsed = parse(leaf.der());
    ASSERT_TRUE(parsed);
    EVP_PKEY* key = X509_get0_pubkey(parsed.get());
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
    EXPECT_EQ(EVP_PKEY_get0_provider(key), nullptr) << "decoded by a provider's decoder context";
    EXPECT_EQ(EVP_PKEY_get_bits(key), 256);
    EXPECT_EQ(EVP_PKEY_eq(key, leaf.key()), 1) << "not the key the certificate was made with";
}

TEST_F(KeyDecodingTest, CertificateSignaturesAreCheckedAndForgeriesRefused) {
    const TestCert ca = make_ca("decoding CA");
    const TestCert impostor = make_ca("decoding CA");  // same name, other key
    auto ca_parsed = parse(ca.der());
    ASSERT_TRUE(ca_parsed);
    EVP_PKEY* ca_key = X509_get0_pubkey(ca_parsed.get());

    auto good = parse(issue(ca, CertSpec{}).der());
    ASSERT_TRUE(good);
    EXPECT_EQ(X509_verify(good.get(), ca_key), 1);

    auto forged = parse(issue(impostor, CertSpec{}).der());
    ASSERT_TRUE(forged);
    EXPECT_NE(X509_verify(forged.get(), ca_key), 1);

    // The same certificate with one byte of its signature changed.
    std::string der = issue(ca, CertSpec{}).der();
    der[der.size() - 4] ^= 0x01;
    auto altered = parse(der);
    ASSERT_TRUE(altered);
    EXPECT_NE(X509_verify(altered.get(), ca_key), 1);
}

TEST_F(KeyDecodingTest, SignaturesByTheCertificatesKeyVerifyAndAlteredOnesDoNot) {
    const TestCert leaf = issue(make_ca("decoding CA"), CertSpec{});
    auto parsed = parse(leaf.der());
    ASSERT_TRUE(parsed);
    EVP_PKEY* public_key = X509_get0_pubkey(parsed.get());
    const std::string message = "CertificateVerify transcript stand-in";
    const std::string sig = sign(leaf.key(), message);
    ASSERT_FALSE(sig.empty());
    EXPECT_TRUE(verifies(public_key, message, sig));
    EXPECT_FALSE(verifies(public_key, message + "!", sig));
    std::string bad = sig;
    bad[bad.size() / 2] ^= 0x40;
    EXPECT_FALSE(verifies(public_key, message, bad));
    // And the other way round: a key decoded the built-in way signs for a provider key to check.
    auto other = issue(make_ca("second CA"), CertSpec{});
    EXPECT_FALSE(verifies(public_key, message, sign(other.key(), message)));
}

TEST_F(KeyDecodingTest, EcdheOnP256StillAgreesOnOneSecret) {
    auto generate = [] {
        std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
            EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
        EVP_PKEY* key = nullptr;
        if (ctx && EVP_PKEY_keygen_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_group_name(ctx.get(), "prime256v1") == 1)
            EVP_PKEY_keygen(ctx.get(), &key);
        return KeyPtr(key);
    };
    auto derive = [](EVP_PKEY* mine, EVP_PKEY* peer) {
        std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
            EVP_PKEY_CTX_new(mine, nullptr), EVP_PKEY_CTX_free);
        std::size_t n = 0;
        std::string secret;
        if (ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
            EVP_PKEY_derive_set_peer(ctx.get(), peer) == 1 &&
            EVP_PKEY_derive(ctx.get(), nullptr, &n) == 1) {
            secret.resize(n);
            if (EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(secret.data()), &n) != 1)
                secret.clear();
            secret.resize(n);
        }
        return secret;
    };
    auto a = generate();
    auto b = generate();
    ASSERT_TRUE(a && b);
    const std::string ab = derive(a.get(), b.get());
    EXPECT_EQ(ab.size(), 32u);
    EXPECT_EQ(ab, derive(b.get(), a.get()));
}

TEST_F(KeyDecodingTest, RsaKeysKeepTheProviderPath) {
    CertSpec spec;
    spec.key_type = KeyType::rsa_2048;
    const TestCert leaf = issue(make_ca("decoding CA"), spec);
    auto parsed = parse(leaf.der());
    ASSERT_TRUE(parsed);
    EVP_PKEY* key = X509_get0_pubkey(parsed.get());
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_RSA);
    EXPECT_NE(EVP_PKEY_get0_provider(key), nullptr);
    const std::string sig = sign(leaf.key(), "rsa");
    EXPECT_TRUE(verifies(key, "rsa", sig));
    EXPECT_FALSE(verifies(key, "rsA", sig));
}

}  // namespace
}  // namespace certgate::testing
