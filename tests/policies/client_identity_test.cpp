#include "policies/client_identity.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "support/test_pki.hpp"

namespace certgate::policies {
namespace {

using testing::CertSpec;
using testing::TestCert;

bool header_safe(std::string_view v) {
    return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

TestCert leaf_with_subject(std::vector<std::pair<std::string, std::string>> subject) {
    CertSpec spec;
    spec.subject = std::move(subject);
    return testing::make_self_signed(spec);
}

// --- format_dn ------------------------------------------------------------------------

TEST(FormatDnTest, IsRfc4514MostSpecificFirst) {
    const auto cert = leaf_with_subject({{"C", "US"}, {"O", "Example Corp"}, {"CN", "billing"}});
    EXPECT_EQ(format_dn(X509_get_subject_name(cert.x509())), "CN=billing,O=Example Corp,C=US");
}

TEST(FormatDnTest, EscapesCommaQuoteAndSpecials) {
    const auto cert = leaf_with_subject({{"O", "Example, Inc."}, {"CN", "a\"b+c;d<e>f\\g"}});
    EXPECT_EQ(format_dn(X509_get_subject_name(cert.x509())),
              "CN=a\\\"b\\+c\\;d\\<e\\>f\\\\g,O=Example\\, Inc.");
}

TEST(FormatDnTest, PassesUtf8ThroughUnescaped) {
    const auto cert = leaf_with_subject({{"CN", "Zo\xC3\xAB"}});
    EXPECT_EQ(format_dn(X509_get_subject_name(cert.x509())), "CN=Zo\xC3\xAB");
}

TEST(FormatDnTest, EscapesControlCharactersAsHexOnOneLine) {
    const auto cert = leaf_with_subject(
        {{"O", "Zo\xC3\xAB, \"Q\""}, {"CN", "evil\r\nX-SSL-Client-Verify: SUCCESS"}});
    const auto dn = format_dn(X509_get_subject_name(cert.x509()));
    EXPECT_EQ(dn, "CN=evil\\0D\\0AX-SSL-Client-Verify: SUCCESS,O=Zo\xC3\xAB\\, \\\"Q\\\"");
    EXPECT_TRUE(header_safe(dn));
}

TEST(FormatDnTest, EscapesWhatAHeaderWouldLoseOrMangle) {
    for (const auto& [value, expected] : std::vector<std::pair<std::string, std::string>>{
             {"a\tb\x7F", "CN=a\\09b\\7F"},
             {std::string("a\0b", 3), "CN=a\\00b"},
             // HTTP trims a value's trailing whitespace (RFC 9110 5.5): "\ " would lose its space.
             {" lead and trail ", "CN=\\ lead and trail\\20"}}) {
        const auto cert = leaf_with_subject({{"CN", value}});
        EXPECT_EQ(format_dn(X509_get_subject_name(cert.x509())), expected);
    }
}

TEST(FormatDnTest, MalformedUtf8IsEscapedNotPassedThrough) {
    X509_NAME* name = X509_NAME_new();
    const unsigned char bad[] = {'a', 0xC3, 0x28, 'b'};  // invalid UTF-8 in a UTF8String
    ASSERT_EQ(X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_UTF8STRING, bad, sizeof bad, -1, 0), 1);
    const auto dn = format_dn(name);
    X509_NAME_free(name);
    EXPECT_TRUE(header_safe(dn));
    EXPECT_EQ(dn, "CN=a\\C3(b");
}

TEST(FormatDnTest, EmptyAndNullNamesAreEmpty) {
    X509_NAME* name = X509_NAME_new();
    EXPECT_EQ(format_dn(name), "");
    X509_NAME_free(name);
    EXPECT_EQ(format_dn(nullptr), "");
}

// --- describe_certificate -------------------------------------------------------------

class DescribeTest : public ::testing::Test {
protected:
    TestCert ca = testing::make_ca("Test Root");
};

TEST_F(DescribeTest, NoCertificateIsStatusNoneWithNoFields) {
    const auto id = describe_certificate(nullptr, nullptr, std::nullopt);
    EXPECT_EQ(id.status, ClientIdentity::Status::none);
    EXPECT_EQ(id.subject, "");
    EXPECT_EQ(id.fingerprint, "");
    EXPECT_EQ(verify_header_value(id), "NONE");
}

TEST_F(DescribeTest, VerifiedCertificateCarriesSubjectAndIssuer) {
    CertSpec spec;
    spec.subject = {{"O", "Example"}, {"CN", "billing"}};
    const auto leaf = testing::issue(ca, spec);
    const auto id = describe_certificate(leaf.x509(), nullptr, std::nullopt);
    EXPECT_EQ(id.status, ClientIdentity::Status::verified);
    EXPECT_EQ(id.subject, "CN=billing,O=Example");
    EXPECT_EQ(id.issuer, "CN=Test Root");
    EXPECT_EQ(verify_header_value(id), "SUCCESS");
}

TEST_F(DescribeTest, FailedCertificateKeepsFieldsAndAHeaderSafeReason) {
    const auto leaf = testing::issue(ca, CertSpec{});
    const auto id = describe_certificate(leaf.x509(), nullptr, std::string("bad\r\nthing"));
    EXPECT_EQ(id.status, ClientIdentity::Status::failed);
    EXPECT_EQ(id.subject, "CN=test client");
    EXPECT_EQ(verify_header_value(id), "FAILED:bad\\0D\\0Athing");
}

TEST_F(DescribeTest, SerialIsUpperCaseHexWithoutLeadingZeros) {
    CertSpec spec;
    spec.serial = 0x0ABCDEF;
    EXPECT_EQ(describe_certificate(testing::issue(ca, spec).x509(), nullptr, {}).serial, "ABCDEF");
    spec.serial = 1;
    EXPECT_EQ(describe_certificate(testing::issue(ca, spec).x509(), nullptr, {}).serial, "1");
    spec.serial = 0x100;
    EXPECT_EQ(describe_certificate(testing::issue(ca, spec).x509(), nullptr, {}).serial, "100");
}

TEST_F(DescribeTest, RandomSerialHasNoLeadingZeroOrLowerCase) {
    const auto serial =
        describe_certificate(testing::issue(ca, CertSpec{}).x509(), nullptr, {}).serial;
    ASSERT_FALSE(serial.empty());
    EXPECT_NE(serial.front(), '0');
    EXPECT_LE(serial.size(), 16u);
    EXPECT_EQ(serial.find_first_not_of("0123456789ABCDEF"), std::string::npos) << serial;
}

TEST_F(DescribeTest, ZeroAndNegativeSerials) {
    const auto leaf = testing::issue(ca, CertSpec{});
    ASSERT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(leaf.x509()), 0), 1);
    EXPECT_EQ(describe_certificate(leaf.x509(), nullptr, {}).serial, "0");
    ASSERT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(leaf.x509()), -0x1F), 1);
    EXPECT_EQ(describe_certificate(leaf.x509(), nullptr, {}).serial, "-1F");
}

TEST_F(DescribeTest, FingerprintIsLowerHexSha256OfTheDer) {
    const auto leaf = testing::issue(ca, CertSpec{});
    const std::string der = leaf.der();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ASSERT_EQ(EVP_Digest(der.data(), der.size(), md, &len, EVP_sha256(), nullptr), 1);
    std::string expected;
    char buf[3];
    for (unsigned i = 0; i < len; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", md[i]);
        expected += buf;
    }
    EXPECT_EQ(expected.size(), 64u);
    EXPECT_EQ(describe_certificate(leaf.x509(), nullptr, {}).fingerprint, expected);
}

TEST_F(DescribeTest, DatesAreRfc3339Utc) {
    const auto leaf = testing::issue(ca, CertSpec{});
    ASSERT_EQ(ASN1_TIME_set_string(X509_getm_notBefore(leaf.x509()), "261122100000Z"), 1);
    ASSERT_EQ(ASN1_TIME_set_string(X509_getm_notAfter(leaf.x509()), "20510102030405Z"), 1);
    const auto id = describe_certificate(leaf.x509(), nullptr, {});
    EXPECT_EQ(id.not_before, "2026-11-22T10:00:00Z");
    EXPECT_EQ(id.not_after, "2051-01-02T03:04:05Z");
}

TEST_F(DescribeTest, CollectsDnsAndUriSansInOrderIgnoringIps) {
    CertSpec spec;
    spec.san_dns = {"b.example", "a.example"};
    spec.san_uri = {"spiffe://example.org/ns/prod/sa/billing"};
    spec.san_ip = {"127.0.0.1"};
    const auto id = describe_certificate(testing::issue(ca, spec).x509(), nullptr, {});
    EXPECT_EQ(id.san_dns, (std::vector<std::string>{"b.example", "a.example"}));
    EXPECT_EQ(id.san_uri, (std::vector<std::string>{"spiffe://example.org/ns/prod/sa/billing"}));
}

std::string url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out.push_back(
                static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

TEST_F(DescribeTest, PemIsUrlEncodedKeepingOnlyUnreserved) {
    const auto leaf = testing::issue(ca, CertSpec{});
    const auto id = describe_certificate(leaf.x509(), nullptr, {});
    EXPECT_EQ(id.pem_urlencoded.rfind("-----BEGIN%20CERTIFICATE-----%0A", 0), 0u);
    EXPECT_EQ(id.pem_urlencoded.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%"),
              std::string::npos);
    EXPECT_EQ(url_decode(id.pem_urlencoded), leaf.cert_pem());
}

std::string b64_decode(std::string_view b64) {
    std::string out(b64.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string byte_sequence_der(std::string_view item) {
    EXPECT_GE(item.size(), 2u);
    EXPECT_EQ(item.front(), ':');
    EXPECT_EQ(item.back(), ':');
    return b64_decode(item.substr(1, item.size() - 2));
}

TEST_F(DescribeTest, Rfc9440CertIsColonWrappedBase64OfTheDer) {
    const auto leaf = testing::issue(ca, CertSpec{});
    const auto id = describe_certificate(leaf.x509(), nullptr, {});
    const auto der = byte_sequence_der(id.rfc9440_cert);
    // DecodeBlock keeps the zero bytes of '=' padding: compare the DER's length only.
    EXPECT_EQ(der.substr(0, leaf.der().size()), leaf.der());
    EXPECT_EQ(id.rfc9440_chain, "");
}

TEST_F(DescribeTest, Rfc9440ChainListsWhatFollowsTheLeaf) {
    const auto inter = testing::issue(ca, [] {
        CertSpec s;
        s.is_ca = true;
        s.subject = {{"CN", "Intermediate"}};
        return s;
    }());
    const auto leaf = testing::issue(inter, CertSpec{});
    STACK_OF(X509)* chain = sk_X509_new_null();
    sk_X509_push(chain, leaf.x509());  // client side: leaf first, skipped
    sk_X509_push(chain, inter.x509());
    sk_X509_push(chain, ca.x509());
    const auto id = describe_certificate(leaf.x509(), chain, {});
    const auto comma = id.rfc9440_chain.find(", ");
    ASSERT_NE(comma, std::string::npos) << id.rfc9440_chain;
    const auto first = byte_sequence_der(id.rfc9440_chain.substr(0, comma));
    const auto second = byte_sequence_der(id.rfc9440_chain.substr(comma + 2));
    EXPECT_EQ(first.substr(0, inter.der().size()), inter.der());
    EXPECT_EQ(second.substr(0, ca.der().size()), ca.der());

    sk_X509_shift(chain);  // server side: the leaf is not in the sent chain
    EXPECT_EQ(describe_certificate(leaf.x509(), chain, {}).rfc9440_chain, id.rfc9440_chain);
    sk_X509_free(chain);
}

TEST_F(DescribeTest, SanValuesWithHostileBytesAreEncodedForTheHeader) {
    CertSpec spec;
    spec.san_dns = {"a.example,evil.example", "b example"};
    spec.san_uri = {"spiffe://x/\r\nX-SSL-Client-Verify: SUCCESS"};
    const auto id = describe_certificate(testing::issue(ca, spec).x509(), nullptr, {});
    EXPECT_EQ(format_san_list(id.san_dns), "a.example%2Cevil.example,b%20example");
    EXPECT_EQ(format_san_list(id.san_uri), "spiffe://x/%0D%0AX-SSL-Client-Verify:%20SUCCESS");
}

// --- decision 1 and the headers the app sees ------------------------------------------

TEST_F(DescribeTest, RequiredRefusesMissingAndFailedCertificates) {
    const auto missing =
        check_certificate_requirement(config::CertMode::required, ClientIdentity{});
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 403);
    EXPECT_EQ(missing->reason, "client certificate required");
    EXPECT_EQ(missing->rule, "verify.missing");

    const auto leaf = testing::issue(ca, CertSpec{});
    const auto failed =
        describe_certificate(leaf.x509(), nullptr, std::string("certificate has expired"));
    const auto r = check_certificate_requirement(config::CertMode::required, failed);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_EQ(r->reason, "client certificate rejected: certificate has expired");
    EXPECT_EQ(r->rule, "verify: certificate has expired");
    EXPECT_FALSE(check_certificate_requirement(config::CertMode::required,
                                               describe_certificate(leaf.x509(), nullptr, {})));
}

TEST_F(DescribeTest, OptionalAndNoneNeverRefuse) {
    const auto failed = describe_certificate(testing::issue(ca, CertSpec{}).x509(), nullptr, "x");
    for (auto mode : {config::CertMode::optional, config::CertMode::none}) {
        EXPECT_FALSE(check_certificate_requirement(mode, ClientIdentity{}));
        EXPECT_FALSE(check_certificate_requirement(mode, failed));
    }
}

std::vector<std::pair<std::string, std::string>> fields_of(const HeaderList& h) {
    std::vector<std::pair<std::string, std::string>> out;
    h.for_each([&](std::string_view n, std::string_view v) { out.emplace_back(n, v); });
    return out;
}

TEST_F(DescribeTest, VerifiedIdentityWritesEveryConfiguredFieldOnce) {
    CertSpec spec;
    spec.subject = {{"CN", "billing"}};
    spec.san_uri = {"spiffe://example.org/billing"};
    const auto id = describe_certificate(testing::issue(ca, spec).x509(), nullptr, {});
    HeaderList h;
    h.add("X-SSL-Client-Verify", "SUCCESS");  // anything left over is replaced, not doubled
    h.add("x-ssl-client-dn", "CN=admin");
    config::IdentityHeaders names;
    names.rfc9440_cert = "Client-Cert";
    write_identity_headers(h, names, config::CertMode::required, id);
    EXPECT_EQ(h.count("X-SSL-Client-DN"), 1u);
    EXPECT_EQ(*h.get("X-SSL-Client-DN"), "CN=billing");
    EXPECT_EQ(*h.get("X-SSL-Client-Verify"), "SUCCESS");
    EXPECT_EQ(*h.get("X-SSL-Client-Issuer-DN"), "CN=Test Root");
    EXPECT_EQ(*h.get("X-SSL-Client-Serial"), id.serial);
    EXPECT_EQ(*h.get("X-SSL-Client-Fingerprint"), id.fingerprint);
    EXPECT_EQ(*h.get("X-SSL-Client-Not-Before"), id.not_before);
    EXPECT_EQ(*h.get("X-SSL-Client-Not-After"), id.not_after);
    EXPECT_EQ(*h.get("X-SSL-Client-SAN-URI"), "spiffe://example.org/billing");
    EXPECT_FALSE(h.get("X-SSL-Client-SAN-DNS"));  // empty list: omitted
    EXPECT_EQ(*h.get("Client-Cert"), id.rfc9440_cert);
    EXPECT_EQ(h.size(), 9u);
    for (const auto& [n, v] : fields_of(h)) EXPECT_TRUE(header_safe(v)) << n;
}

TEST_F(DescribeTest, UnverifiedIdentityWritesVerifyOnly) {
    const auto leaf = testing::issue(ca, CertSpec{});
    const auto failed = describe_certificate(leaf.x509(), nullptr,
                                             std::string("unable to get local issuer certificate"));
    HeaderList h;
    h.add("X-SSL-Client-DN", "CN=spoof");
    write_identity_headers(h, config::IdentityHeaders{}, config::CertMode::optional, failed);
    using F = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(fields_of(h),
              (F{{"X-SSL-Client-Verify", "FAILED:unable to get local issuer certificate"}}));

    HeaderList none;
    write_identity_headers(none, config::IdentityHeaders{}, config::CertMode::optional,
                           ClientIdentity{});
    EXPECT_EQ(fields_of(none), (F{{"X-SSL-Client-Verify", "NONE"}}));
}

TEST_F(DescribeTest, ModeNoneSendsVerifyNoneEvenForAVerifiedCertificate) {
    const auto id = describe_certificate(testing::issue(ca, CertSpec{}).x509(), nullptr, {});
    HeaderList h;
    write_identity_headers(h, config::IdentityHeaders{}, config::CertMode::none, id);
    using F = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(fields_of(h), (F{{"X-SSL-Client-Verify", "NONE"}}));
}

TEST_F(DescribeTest, NullHeaderNamesAreNotSent) {
    const auto id = describe_certificate(testing::issue(ca, CertSpec{}).x509(), nullptr, {});
    config::IdentityHeaders names;
    names.verify = std::nullopt;
    names.subject = std::nullopt;
    HeaderList h;
    write_identity_headers(h, names, config::CertMode::required, id);
    EXPECT_FALSE(h.get("X-SSL-Client-Verify"));
    EXPECT_FALSE(h.get("X-SSL-Client-DN"));
    EXPECT_TRUE(h.get("X-SSL-Client-Fingerprint"));
}

// --- the test PKI itself: what the proxy tests rely on --------------------------------

int verify_error(const TestCert& ca, const TestCert& leaf, const std::string& crl_pem = "") {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca.x509());
    if (!crl_pem.empty()) {
        BIO* bio = BIO_new_mem_buf(crl_pem.data(), static_cast<int>(crl_pem.size()));
        X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr);
        BIO_free(bio);
        EXPECT_NE(crl, nullptr);
        X509_STORE_add_crl(store, crl);
        X509_CRL_free(crl);
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf.x509(), nullptr);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    const bool ok = X509_verify_cert(ctx) == 1;
    const int err = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok ? X509_V_OK : (err == X509_V_OK ? -1 : err);
}

TEST_F(DescribeTest, TestPkiLeavesVerifyForClientAuthAndCrlsRevoke) {
    const auto good = testing::issue(ca, CertSpec{});
    CertSpec rsa;
    rsa.key_type = testing::KeyType::rsa_2048;
    rsa.eku = testing::Eku::both;
    EXPECT_EQ(verify_error(ca, good), X509_V_OK);
    EXPECT_EQ(verify_error(ca, testing::issue(ca, rsa)), X509_V_OK);
    const auto revoked = testing::issue(ca, CertSpec{});
    const auto crl = testing::make_crl_pem(ca, {&revoked});
    EXPECT_EQ(verify_error(ca, revoked, crl), X509_V_ERR_CERT_REVOKED);
    EXPECT_EQ(verify_error(ca, good, crl), X509_V_OK);
}

TEST_F(DescribeTest, TestPkiHonoursValidityAndEku) {
    CertSpec expired;
    expired.not_before_offset_seconds = -7200;
    expired.not_after_offset_seconds = -3600;
    EXPECT_EQ(verify_error(ca, testing::issue(ca, expired)), X509_V_ERR_CERT_HAS_EXPIRED);
    CertSpec server;
    server.eku = testing::Eku::server_auth;
    EXPECT_EQ(verify_error(ca, testing::issue(ca, server)), X509_V_ERR_INVALID_PURPOSE);
    EXPECT_EQ(verify_error(testing::make_ca("Other"), testing::issue(ca, CertSpec{})),
              X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(TempDirTest, WritesFilesAndRemovesEverythingOnDestruction) {
    std::string dir, file;
    {
        testing::TempDir tmp;
        dir = tmp.path();
        file = tmp.write("a.pem", testing::make_ca("x").cert_pem());
        EXPECT_EQ(file, dir + "/a.pem");
        std::FILE* f = std::fopen(file.c_str(), "rb");
        ASSERT_NE(f, nullptr);
        char head[28] = {};
        EXPECT_EQ(std::fread(head, 1, 27, f), 27u);
        std::fclose(f);
        EXPECT_STREQ(head, "-----BEGIN CERTIFICATE-----");
    }
    EXPECT_EQ(std::fopen(file.c_str(), "rb"), nullptr);
}

// --- format_san_list ------------------------------------------------------------------

TEST(FormatSanListTest, JoinsWithCommaAndNoSpace) {
    EXPECT_EQ(format_san_list({"a.example", "b.example"}), "a.example,b.example");
    EXPECT_EQ(format_san_list({}), "");
}

TEST(FormatSanListTest, PercentEncodesControlsSpaceCommaAndPercent) {
    EXPECT_EQ(
        format_san_list({"a b", "a,b", "50%", "x\r\ny", std::string("n\0l", 3), "\x7F", "\t"}),
        "a%20b,a%2Cb,50%25,x%0D%0Ay,n%00l,%7F,%09");
}

TEST(FormatSanListTest, LeavesUriCharactersAlone) {
    EXPECT_EQ(format_san_list({"spiffe://example.org/ns/prod/sa/*?a=b;c#d"}),
              "spiffe://example.org/ns/prod/sa/*?a=b;c#d");
}

}  // namespace
}  // namespace certgate::policies
