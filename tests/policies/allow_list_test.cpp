#include "policies/allow_list.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/test_pki.hpp"

namespace certgate::policies {
namespace {

using Mode = config::CertMode;
using Status = ClientIdentity::Status;

constexpr const char* kProdSa = "spiffe://example.org/ns/prod/sa/*";
const std::string kFingerprint(64, 'a');

using Strings = std::vector<std::string>;
using List = Strings config::AllowList::*;

// One list set (designated initializers would trip -Wmissing-field-initializers).
config::AllowList only(List list, Strings values) {
    config::AllowList allow;
    allow.*list = std::move(values);
    return allow;
}
constexpr List kSubjects = &config::AllowList::subjects;
constexpr List kDns = &config::AllowList::san_dns;
constexpr List kUri = &config::AllowList::san_uri;
constexpr List kFingerprints = &config::AllowList::fingerprints;

ClientIdentity verified() {
    ClientIdentity id;
    id.status = Status::verified;
    id.subject = "CN=billing,O=Example Corp,C=US";
    id.fingerprint = kFingerprint;
    id.san_dns = {"billing-7f9c.billing.internal", "billing.internal"};
    id.san_uri = {"https://billing.example/", "spiffe://example.org/ns/prod/sa/billing"};
    return id;
}

ClientIdentity with_status(Status status) {
    auto id = verified();
    id.status = status;
    return id;
}

// --- dns_pattern_matches ----------------------------------------------------------------

TEST(AllowListDnsTest, WildcardIsExactlyOneLabel) {
    EXPECT_TRUE(dns_pattern_matches("*.billing.internal", "a.billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("*.billing.internal", "billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("*.billing.internal", "a.b.billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("*.billing.internal", ".billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("*.billing.internal", "a.billing.internal.evil"));
    EXPECT_FALSE(dns_pattern_matches("*.billing.internal", "a.billing-internal"));
}

TEST(AllowListDnsTest, WildcardMayStandForAnyLabelNotOnlyTheFirst) {
    EXPECT_TRUE(dns_pattern_matches("api.*.internal", "api.billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("api.*.internal", "api.internal"));
    EXPECT_TRUE(dns_pattern_matches("*.*.internal", "a.b.internal"));
    EXPECT_TRUE(dns_pattern_matches("*", "localhost"));
    EXPECT_FALSE(dns_pattern_matches("*", "a.b"));
}

TEST(AllowListDnsTest, LiteralNamesMatchOnlyThemselvesInAnyCase) {
    EXPECT_TRUE(dns_pattern_matches("*.Billing.INTERNAL", "A.billing.internal"));
    EXPECT_TRUE(dns_pattern_matches("billing.internal", "BILLING.Internal"));
    EXPECT_TRUE(dns_pattern_matches("billing.internal", "billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("billing.internal", "xbilling.internal"));
    EXPECT_FALSE(dns_pattern_matches("billing.internal", "a.billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("billing.internal", "billing.internal."));
}

TEST(AllowListDnsTest, PartialLabelWildcardsNeverMatch) {
    EXPECT_FALSE(dns_pattern_matches("a*.billing.internal", "ab.billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("a*.billing.internal", "a*.billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("**.billing.internal", "a.billing.internal"));
}

TEST(AllowListDnsTest, WildcardMatchesNoWildcardOddOrEmptyLabel) {
    EXPECT_FALSE(dns_pattern_matches("*.billing.internal", "*.billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("*.billing.internal", "a b.billing.internal"));
    EXPECT_FALSE(
        dns_pattern_matches("*.billing.internal", std::string("a\0b.billing.internal", 20)));
    EXPECT_TRUE(dns_pattern_matches("*.billing.internal", "svc_1-a.billing.internal"));
    EXPECT_FALSE(dns_pattern_matches("", ""));
    EXPECT_FALSE(dns_pattern_matches("*", ""));
    EXPECT_FALSE(dns_pattern_matches("a..b", "a..b"));
    EXPECT_FALSE(dns_pattern_matches("*.a", "x..a"));
}

// --- uri_pattern_matches ----------------------------------------------------------------

TEST(AllowListUriTest, StarIsExactlyOneSegment) {
    EXPECT_TRUE(uri_pattern_matches(kProdSa, "spiffe://example.org/ns/prod/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "spiffe://example.org/ns/prod/sa/billing/x"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "spiffe://example.org/ns/prod/sa"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "spiffe://example.org/ns/prod/sa/"));
}

TEST(AllowListUriTest, OtherNamespaceOrTrustDomainNeverMatches) {
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "spiffe://example.org/ns/dev/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "spiffe://evil.org/ns/prod/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "spiffe://example.org.evil/ns/prod/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "spiffe://example.org:1/ns/prod/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "spiffe://x@example.org/ns/prod/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "https://example.org/ns/prod/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "spiffe:example.org/ns/prod/sa/billing"));
}

TEST(AllowListUriTest, DoubleStarIsAnyNumberOfSegmentsAnywhere) {
    const auto p = "spiffe://example.org/ns/**/sa/billing";
    EXPECT_TRUE(uri_pattern_matches(p, "spiffe://example.org/ns/sa/billing"));
    EXPECT_TRUE(uri_pattern_matches(p, "spiffe://example.org/ns/prod/sa/billing"));
    EXPECT_TRUE(uri_pattern_matches(p, "spiffe://example.org/ns/a/b/c/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(p, "spiffe://example.org/ns/prod/sa/payments"));
    EXPECT_FALSE(uri_pattern_matches(p, "spiffe://example.org/x/ns/prod/sa/billing"));

    EXPECT_TRUE(uri_pattern_matches("spiffe://example.org/**", "spiffe://example.org/a/b"));
    EXPECT_TRUE(uri_pattern_matches("spiffe://example.org/**", "spiffe://example.org"));
    EXPECT_TRUE(uri_pattern_matches("spiffe://example.org/ns/**", "spiffe://example.org/ns"));
    EXPECT_FALSE(uri_pattern_matches("spiffe://example.org/ns/**", "spiffe://example.org/nsx"));
}

TEST(AllowListUriTest, SeveralWildcardsTogether) {
    const auto p = "spiffe://example.org/**/sa/*/**/v1";
    EXPECT_TRUE(uri_pattern_matches(p, "spiffe://example.org/sa/x/v1"));
    EXPECT_TRUE(uri_pattern_matches(p, "spiffe://example.org/a/sa/x/b/c/v1"));
    EXPECT_FALSE(uri_pattern_matches(p, "spiffe://example.org/a/sa/v1"));
    EXPECT_TRUE(uri_pattern_matches("spiffe://example.org/*/*", "spiffe://example.org/a/b"));
    EXPECT_FALSE(uri_pattern_matches("spiffe://example.org/*/*", "spiffe://example.org/a"));
}

TEST(AllowListUriTest, ManyDoubleStarsStayFast) {
    std::string pattern = "spiffe://example.org";
    std::string uri = "spiffe://example.org";
    for (int i = 0; i < 40; ++i) {
        pattern += "/**";
        uri += "/a";
    }
    pattern += "/b";
    EXPECT_FALSE(uri_pattern_matches(pattern, uri));  // exponential with naive backtracking
}

TEST(AllowListUriTest, SchemeAndHostAreCaseInsensitivePathIsNot) {
    EXPECT_TRUE(uri_pattern_matches(kProdSa, "SPIFFE://Example.ORG/ns/prod/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "spiffe://example.org/NS/prod/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches("spiffe://example.org/ns/prod/sa/billing",
                                     "spiffe://example.org/ns/prod/sa/Billing"));
}

TEST(AllowListUriTest, LiteralPatternMatchesOnlyTheSameUri) {
    const auto p = "spiffe://example.org/ns/prod/sa/billing";
    EXPECT_TRUE(uri_pattern_matches(p, p));
    EXPECT_TRUE(uri_pattern_matches(p, "spiffe://EXAMPLE.org/ns/prod/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(p, "spiffe://example.org/ns/prod/sa/billing/"));
    EXPECT_FALSE(uri_pattern_matches(p, "spiffe://example.org/ns/prod/sa/billing?x"));
    EXPECT_TRUE(uri_pattern_matches("urn:example:billing", "urn:example:billing"));
    EXPECT_FALSE(uri_pattern_matches("urn:example:billing", "urn://example:billing"));
}

TEST(AllowListUriTest, SegmentsThatMerelyContainAStarAreLiteral) {
    EXPECT_FALSE(
        uri_pattern_matches("spiffe://example.org/sa/bill*", "spiffe://example.org/sa/billing"));
    EXPECT_TRUE(
        uri_pattern_matches("spiffe://example.org/sa/bill*", "spiffe://example.org/sa/bill*"));
    EXPECT_FALSE(uri_pattern_matches("spiffe://*/sa/x", "spiffe://example.org/sa/x"));
}

TEST(AllowListUriTest, AmbiguousUrisNeverMatchAWildcardPattern) {
    for (const char* uri : {
             "spiffe://example.org/ns/prod/sa/..",
             "spiffe://example.org/ns/prod/sa/.",
             "spiffe://example.org/ns/dev/../prod/sa/billing",
             "spiffe://example.org/ns/prod/./sa/billing",
             "spiffe://example.org/ns/prod/sa/a%2Fb",
             "spiffe://example.org/ns/prod/sa/a%2fb",
             "spiffe://example.org/ns/prod/sa/%2E%2E",
             "spiffe://example.org/ns/prod/sa/a\\b",
             "spiffe://example.org/ns/prod/sa/billing?x=1",
             "spiffe://example.org/ns/prod/sa/billing#frag",
             "spiffe://example.org/ns/prod/sa/bill ing",
             "spiffe://example.org/ns//prod/sa/billing",
             "spiffe://example.org/ns/prod/sa/billing/",
         }) {
        EXPECT_FALSE(uri_pattern_matches(kProdSa, uri)) << uri;
        EXPECT_FALSE(uri_pattern_matches("spiffe://example.org/**", uri)) << uri;
    }
}

TEST(AllowListUriTest, AWildcardPatternWithAQueryMatchesNothing) {
    EXPECT_FALSE(uri_pattern_matches("spiffe://example.org/*?x", "spiffe://example.org/a?x"));
}

TEST(AllowListUriTest, UnparsableInputsNeverMatch) {
    EXPECT_FALSE(uri_pattern_matches("", ""));
    EXPECT_FALSE(uri_pattern_matches("not a uri", "not a uri"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, "/ns/prod/sa/billing"));
    EXPECT_FALSE(uri_pattern_matches(kProdSa, ""));
}

// --- check_allow_list -------------------------------------------------------------------

TEST(AllowListCheckTest, EmptyListPassesAnyIdentity) {
    EXPECT_EQ(check_allow_list({}, verified()), std::nullopt);
    EXPECT_EQ(check_allow_list({}, with_status(Status::none)), std::nullopt);
}

TEST(AllowListCheckTest, EachListCanLetAVerifiedIdentityThrough) {
    const auto by_subject = only(kSubjects, {"CN=billing,O=Example Corp,C=US"});
    const auto by_dns = only(kDns, {"*.billing.internal"});
    const auto by_uri = only(kUri, {kProdSa});
    const auto by_fingerprint = only(kFingerprints, {kFingerprint});
    for (const auto* allow : {&by_subject, &by_dns, &by_uri, &by_fingerprint}) {
        EXPECT_EQ(check_allow_list(*allow, verified()), std::nullopt);
    }
}

TEST(AllowListCheckTest, AnyMatchingFieldIsEnough) {
    auto allow = only(kSubjects, {"CN=someone else"});
    allow.san_uri = {"spiffe://example.org/ns/dev/sa/*", kProdSa};
    EXPECT_EQ(check_allow_list(allow, verified()), std::nullopt);
}

TEST(AllowListCheckTest, SubjectIsAnExactStringCompare) {
    for (const char* subject :
         {"CN=billing,O=Example Corp", "cn=billing,O=Example Corp,C=US",
          "CN=billing, O=Example Corp, C=US", "CN=billing,O=Example Corp,C=US "}) {
        const auto refusal = check_allow_list(only(kSubjects, {subject}), verified());
        ASSERT_TRUE(refusal.has_value()) << subject;
        EXPECT_EQ(refusal->rule, "allow.subjects");
    }
}

TEST(AllowListCheckTest, RefusalIs403NamingTheConsultedList) {
    const auto refusal =
        check_allow_list(only(kUri, {"spiffe://example.org/ns/dev/sa/*"}), verified());
    ASSERT_TRUE(refusal.has_value());
    EXPECT_EQ(refusal->status, 403);
    EXPECT_EQ(refusal->reason, "client identity not allowed");
    EXPECT_EQ(refusal->rule, "allow.san_uri");
}

TEST(AllowListCheckTest, RuleNamesEveryConfiguredListInAFixedOrder) {
    config::AllowList allow{.subjects = {"CN=x"},
                            .san_dns = {"x.internal"},
                            .san_uri = {"spiffe://x/y"},
                            .fingerprints = {std::string(64, 'b')}};
    EXPECT_EQ(check_allow_list(allow, verified())->rule,
              "allow.subjects,san_dns,san_uri,fingerprints");
    allow.san_dns.clear();
    allow.fingerprints.clear();
    EXPECT_EQ(check_allow_list(allow, verified())->rule, "allow.subjects,san_uri");
    EXPECT_EQ(check_allow_list(only(kFingerprints, {std::string(64, 'b')}), verified())->rule,
              "allow.fingerprints");
}

TEST(AllowListCheckTest, FailedOrAbsentCertificateNeverPassesWhateverItsFieldsSay) {
    config::AllowList allow{.subjects = {"CN=billing,O=Example Corp,C=US"},
                            .san_dns = {"*.billing.internal"},
                            .san_uri = {kProdSa},
                            .fingerprints = {kFingerprint}};
    for (const auto status : {Status::failed, Status::none}) {
        const auto refusal = check_allow_list(allow, with_status(status));
        ASSERT_TRUE(refusal.has_value());
        EXPECT_EQ(refusal->status, 403);
    }
}

TEST(AllowListCheckTest, IdentityWithoutTheListedFieldIsRefused) {
    ClientIdentity bare;
    bare.status = Status::verified;
    EXPECT_TRUE(check_allow_list(only(kSubjects, {"CN=billing"}), bare).has_value());
    EXPECT_TRUE(check_allow_list(only(kDns, {"*"}), bare).has_value());
    EXPECT_TRUE(check_allow_list(only(kUri, {"spiffe://example.org/**"}), bare).has_value());
    EXPECT_TRUE(check_allow_list(only(kFingerprints, {kFingerprint}), bare).has_value());
    EXPECT_TRUE(check_allow_list(only(kSubjects, {""}), bare).has_value());
}

TEST(AllowListCheckTest, FingerprintMustBeTheWholeDigest) {
    const auto other = std::string(63, 'a') + "b";
    EXPECT_TRUE(check_allow_list(only(kFingerprints, {other}), verified()).has_value());
    EXPECT_TRUE(
        check_allow_list(only(kFingerprints, {std::string(32, 'a')}), verified()).has_value());
}

TEST(AllowListCheckTest, JudgesARealCertificateDescribedByClientIdentity) {
    const auto ca = testing::make_ca("Test Root");
    testing::CertSpec spec;
    spec.subject = {{"O", "Example"}, {"CN", "billing"}};
    spec.san_uri = {"spiffe://example.org/ns/prod/sa/billing"};
    const auto good = describe_certificate(testing::issue(ca, spec).x509(), nullptr, std::nullopt);
    spec.san_uri = {"spiffe://example.org/ns/dev/sa/billing"};
    const auto other = describe_certificate(testing::issue(ca, spec).x509(), nullptr, std::nullopt);
    const auto allow = only(kUri, {kProdSa});
    EXPECT_EQ(check_allow_list(allow, good), std::nullopt);
    EXPECT_TRUE(check_allow_list(allow, other).has_value());
    EXPECT_EQ(check_allow_list(only(kFingerprints, {good.fingerprint}), good), std::nullopt);
    EXPECT_EQ(check_allow_list(only(kSubjects, {"CN=billing,O=Example"}), good), std::nullopt);
}

// --- allow_list_applies -----------------------------------------------------------------

TEST(AllowListAppliesTest, EmptyListNeverApplies) {
    for (const auto mode : {Mode::required, Mode::optional, Mode::none}) {
        EXPECT_FALSE(allow_list_applies({}, mode, verified()));
    }
}

TEST(AllowListAppliesTest, RequiredAlwaysAppliesModeNoneNever) {
    const auto allow = only(kSubjects, {"CN=x"});
    for (const auto status : {Status::verified, Status::failed, Status::none}) {
        EXPECT_TRUE(allow_list_applies(allow, Mode::required, with_status(status)));
        EXPECT_FALSE(allow_list_applies(allow, Mode::none, with_status(status)));
    }
}

TEST(AllowListAppliesTest, OptionalAppliesOnlyWhenACertificateWasPresented) {
    const auto allow = only(kSubjects, {"CN=x"});
    EXPECT_TRUE(allow_list_applies(allow, Mode::optional, with_status(Status::verified)));
    EXPECT_TRUE(allow_list_applies(allow, Mode::optional, with_status(Status::failed)));
    EXPECT_FALSE(allow_list_applies(allow, Mode::optional, with_status(Status::none)));
}

TEST(AllowListAppliesTest, OptionalWithAFailedCertificateIsRefusedNotForwardedAsAbsent) {
    const auto allow = only(kUri, {kProdSa});
    const auto id = with_status(Status::failed);
    ASSERT_TRUE(allow_list_applies(allow, Mode::optional, id));
    EXPECT_TRUE(check_allow_list(allow, id).has_value());
}

}  // namespace
}  // namespace certgate::policies
