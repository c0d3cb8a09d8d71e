#include "policies/cookies.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace certgate::policies {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;
using config::SameSite;

HeaderList list_of(const Fields& fields) {
    HeaderList h;
    for (const auto& [n, v] : fields) h.add(n, v);
    return h;
}

Fields fields_of(const HeaderList& h) {
    Fields out;
    h.for_each([&](std::string_view n, std::string_view v) { out.emplace_back(n, v); });
    return out;
}

const config::Cookies kStrict{.secure = true, .same_site = SameSite::strict};
const config::Cookies kLax{.secure = true, .same_site = SameSite::lax};
const config::Cookies kNone{.secure = true, .same_site = SameSite::none};
const config::Cookies kSecureOnly{.secure = true, .same_site = std::nullopt};
const config::Cookies kNothing{.secure = false, .same_site = std::nullopt};

// --- rewrite_set_cookie -----------------------------------------------------------------

TEST(CookieRewriteTest, CookieWithoutAttributesGetsOurs) {
    EXPECT_EQ(rewrite_set_cookie("sid=abc", kStrict), "sid=abc; Secure; SameSite=Strict");
    EXPECT_EQ(rewrite_set_cookie("sid=abc", kLax), "sid=abc; Secure; SameSite=Lax");
    EXPECT_EQ(rewrite_set_cookie("sid=abc", kNone), "sid=abc; Secure; SameSite=None");
    EXPECT_EQ(rewrite_set_cookie("sid=abc", kSecureOnly), "sid=abc; Secure");
    EXPECT_EQ(rewrite_set_cookie("sid=", kStrict), "sid=; Secure; SameSite=Strict");
}

TEST(CookieRewriteTest, SameSiteNoneIsRewrittenToThePolicys) {
    EXPECT_EQ(rewrite_set_cookie("sid=abc; Path=/; SameSite=None; Secure", kStrict),
              "sid=abc; Path=/; Secure; SameSite=Strict");
}

TEST(CookieRewriteTest, ExistingAttributesInAnyCaseAreReplacedNotDuplicated) {
    EXPECT_EQ(rewrite_set_cookie("sid=abc; samesite=lax; secure", kStrict),
              "sid=abc; Secure; SameSite=Strict");
    EXPECT_EQ(rewrite_set_cookie("sid=abc;SECURE;SameSite=STRICT;HttpOnly", kLax),
              "sid=abc;HttpOnly; Secure; SameSite=Lax");
    EXPECT_EQ(rewrite_set_cookie("sid=abc; Secure ; SameSite ; Secure=1; SameSite = None", kStrict),
              "sid=abc; Secure; SameSite=Strict");
    EXPECT_EQ(rewrite_set_cookie("sid=abc;\tSecure\t; \tsamesite=none", kNone),
              "sid=abc; Secure; SameSite=None");
}

TEST(CookieRewriteTest, OtherAttributesAreKeptInOrder) {
    EXPECT_EQ(
        rewrite_set_cookie("sid=abc; HttpOnly; Path=/app; Expires=Wed, 21 Oct 2026 07:28:00 GMT; "
                           "Max-Age=3600; Domain=example.com; Partitioned",
                           kStrict),
        "sid=abc; HttpOnly; Path=/app; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Max-Age=3600; "
        "Domain=example.com; Partitioned; Secure; SameSite=Strict");
}

TEST(CookieRewriteTest, AttributesWhoseNamesOnlyStartLikeOursAreKept) {
    EXPECT_EQ(rewrite_set_cookie("sid=abc; SecureX=1; SameSiteMode=x; Path=/secure", kStrict),
              "sid=abc; SecureX=1; SameSiteMode=x; Path=/secure; Secure; SameSite=Strict");
}

TEST(CookieRewriteTest, QuotedValueIsKeptByteForByte) {
    EXPECT_EQ(
        rewrite_set_cookie("sid=\"a;b; SameSite=None; Secure\"; Path=/; SameSite=None", kStrict),
        "sid=\"a;b; SameSite=None; Secure\"; Path=/; Secure; SameSite=Strict");
    EXPECT_EQ(rewrite_set_cookie("sid= \"x;y\"", kLax), "sid= \"x;y\"; Secure; SameSite=Lax");
    EXPECT_EQ(rewrite_set_cookie("sid=\"\"; Secure", kLax), "sid=\"\"; Secure; SameSite=Lax");
}

TEST(CookieRewriteTest, UnterminatedQuoteEndsAtTheFirstSemicolon) {
    // A browser reads "SameSite=None" here as an attribute: it is replaced like one.
    EXPECT_EQ(rewrite_set_cookie("sid=\"abc; SameSite=None", kStrict),
              "sid=\"abc; Secure; SameSite=Strict");
}

TEST(CookieRewriteTest, QuotesInsideAnUnquotedValueAreOrdinaryBytes) {
    EXPECT_EQ(rewrite_set_cookie("sid=a\"b; SameSite=None; x=\"c", kStrict),
              "sid=a\"b; x=\"c; Secure; SameSite=Strict");
}

TEST(CookieRewriteTest, NameValuePairIsNeverTreatedAsAnAttribute) {
    EXPECT_EQ(rewrite_set_cookie("Secure=1", kStrict), "Secure=1; Secure; SameSite=Strict");
    EXPECT_EQ(rewrite_set_cookie("SameSite=None", kStrict),
              "SameSite=None; Secure; SameSite=Strict");
    EXPECT_EQ(rewrite_set_cookie("token", kLax), "token; Secure; SameSite=Lax");
}

TEST(CookieRewriteTest, EmptyAttributesAreDropped) {
    EXPECT_EQ(rewrite_set_cookie("sid=abc;; Path=/; ;", kSecureOnly), "sid=abc; Path=/; Secure");
}

TEST(CookieRewriteTest, AttributesCertgateDoesNotSetAreLeftAlone) {
    EXPECT_EQ(rewrite_set_cookie("sid=abc; SameSite=Lax; Secure", kSecureOnly),
              "sid=abc; SameSite=Lax; Secure");
    EXPECT_EQ(rewrite_set_cookie("sid=abc; secure; SameSite=Strict", kNothing),
              "sid=abc; secure; SameSite=Strict");
    EXPECT_EQ(rewrite_set_cookie("sid=abc", kNothing), "sid=abc");
    const config::Cookies lax_only{.secure = false, .same_site = SameSite::lax};
    EXPECT_EQ(rewrite_set_cookie("sid=abc; Secure; SameSite=None", lax_only),
              "sid=abc; Secure; SameSite=Lax");
}

TEST(CookieRewriteTest, SameSiteNoneAlwaysCarriesSecure) {
    const config::Cookies none_without_secure{.secure = false, .same_site = SameSite::none};
    EXPECT_EQ(rewrite_set_cookie("sid=abc; secure", none_without_secure),
              "sid=abc; Secure; SameSite=None");
}

TEST(CookieRewriteTest, BlankValueIsReturnedUnchanged) {
    EXPECT_EQ(rewrite_set_cookie("", kStrict), "");
    EXPECT_EQ(rewrite_set_cookie("  ", kStrict), "  ");
}

TEST(CookieRewriteTest, RewritingTwiceChangesNothingMore) {
    const auto once = rewrite_set_cookie("sid=abc; SameSite=None; Path=/; Secure", kLax);
    EXPECT_EQ(rewrite_set_cookie(once, kLax), once);
}

// --- rewrite_cookies --------------------------------------------------------------------

TEST(CookieHeadersTest, RewritesEverySetCookieKeepingEveryFieldInPlace) {
    auto h = list_of({{"Content-Type", "text/html"},
                      {"Set-Cookie", "a=1; SameSite=None"},
                      {"X-Other", "Secure"},
                      {"set-cookie", "b=2"},
                      {"SET-COOKIE", "c=\"x;y\"; secure"},
                      {"Content-Length", "0"}});
    rewrite_cookies(h, kStrict);
    EXPECT_EQ(fields_of(h), (Fields{{"Content-Type", "text/html"},
                                    {"Set-Cookie", "a=1; Secure; SameSite=Strict"},
                                    {"X-Other", "Secure"},
                                    {"set-cookie", "b=2; Secure; SameSite=Strict"},
                                    {"SET-COOKIE", "c=\"x;y\"; Secure; SameSite=Strict"},
                                    {"Content-Length", "0"}}));
}

TEST(CookieHeadersTest, ResponseWithoutCookiesIsUntouched) {
    auto h = list_of({{"Content-Type", "text/plain"}, {"Set-Cookie2", "old=1"}});
    rewrite_cookies(h, kStrict);
    EXPECT_EQ(fields_of(h), (Fields{{"Content-Type", "text/plain"}, {"Set-Cookie2", "old=1"}}));
}

TEST(CookieHeadersTest, EmptyListStaysEmpty) {
    HeaderList h;
    rewrite_cookies(h, kStrict);
    EXPECT_TRUE(h.empty());
}

TEST(CookieHeadersTest, RemovedFieldsStayRemoved) {
    auto h = list_of({{"Set-Cookie", "a=1"}, {"X-Gone", "1"}, {"Set-Cookie", "b=2"}});
    h.remove("x-gone");
    rewrite_cookies(h, kSecureOnly);
    EXPECT_EQ(fields_of(h), (Fields{{"Set-Cookie", "a=1; Secure"}, {"Set-Cookie", "b=2; Secure"}}));
}

}  // namespace
}  // namespace certgate::policies
