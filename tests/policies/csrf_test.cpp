#include "policies/csrf.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/address_syntax.hpp"

namespace certgate::policies {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

HeaderList list_of(const Fields& fields) {
    HeaderList h;
    for (const auto& [n, v] : fields) h.add(n, v);
    return h;
}

class CsrfCheckTest : public ::testing::Test {
protected:
    config::Csrf csrf{
        .trusted_origins = {"https://app.example.com", "https://admin.example.com:8443"},
        .allow_missing_origin = false};

    // The rule of the refusal, or "" when the request passes.
    std::string judge(const Fields& fields, std::string_view method = "POST") const {
        auto headers = list_of(fields);
        const auto refusal = check_csrf(csrf, method, headers);
        if (!refusal) return "";
        EXPECT_EQ(refusal->status, 403);
        EXPECT_EQ(refusal->reason, "origin not allowed");
        return refusal->rule;
    }
};

// --- normalize_origin -------------------------------------------------------------------

TEST(CsrfNormalizeOriginTest, LowerCasesAndDropsDefaultPorts) {
    EXPECT_EQ(normalize_origin("HTTPS://App.Example.COM"), "https://app.example.com");
    EXPECT_EQ(normalize_origin("https://app.example.com:443"), "https://app.example.com");
    EXPECT_EQ(normalize_origin("http://app.example.com:80"), "http://app.example.com");
    EXPECT_EQ(normalize_origin("http://app.example.com:443"), "http://app.example.com:443");
    EXPECT_EQ(normalize_origin("https://app.example.com:80"), "https://app.example.com:80");
    EXPECT_EQ(normalize_origin("https://app.example.com:8443"), "https://app.example.com:8443");
    EXPECT_EQ(normalize_origin("https://127.0.0.1:8443"), "https://127.0.0.1:8443");
    EXPECT_EQ(normalize_origin("https://[::1]:443"), "https://[::1]");
    EXPECT_EQ(normalize_origin("https://[FE80::1]:8443"), "https://[fe80::1]:8443");
}

TEST(CsrfNormalizeOriginTest, AcceptsAnEmptyOrRootPathOnly) {
    EXPECT_EQ(normalize_origin("https://app.example.com/"), "https://app.example.com");
    EXPECT_EQ(normalize_origin("https://app.example.com/x"), std::nullopt);
    EXPECT_EQ(normalize_origin("https://app.example.com?x"), std::nullopt);
    EXPECT_EQ(normalize_origin("https://app.example.com/#x"), std::nullopt);
}

TEST(CsrfNormalizeOriginTest, RefusesWhatIsNotAnHttpOrigin) {
    for (const char* origin :
         {"null", "", "app.example.com", "//app.example.com", "https://", "https:///x",
          "ftp://app.example.com", "chrome-extension://abc", "https://user@app.example.com",
          "https://app.example.com@evil.example",
          "https://app.example.com:", "https://app.example.com:0", "https://app.example.com:65536",
          "https://app.example.com:+443", "https://app.example.com:443x", "https://app example.com",
          "https://[::1", "https://[evil.example]", " https://app.example.com"}) {
        EXPECT_EQ(normalize_origin(origin), std::nullopt) << origin;
    }
}

TEST(CsrfNormalizeOriginTest, AgreesWithTheConfigLoadersFormOfTrustedOrigins) {
    for (const char* origin :
         {"https://App.Example.com:443", "http://x.example:80", "http://x.example:8080",
          "https://[::1]:8443", "HTTPS://10.0.0.1:443", "https://a.example:0443"}) {
        const auto loaded = config::detail::parse_origin(origin);
        ASSERT_TRUE(loaded.ok()) << origin;
        EXPECT_EQ(normalize_origin(origin), loaded.value()) << origin;
    }
}

// --- referer_origin ---------------------------------------------------------------------

TEST(CsrfRefererOriginTest, TakesSchemeHostAndPortOnly) {
    EXPECT_EQ(referer_origin("https://App.Example.com/a/b?c=d#e"), "https://app.example.com");
    EXPECT_EQ(referer_origin("https://app.example.com:8443/x"), "https://app.example.com:8443");
    EXPECT_EQ(referer_origin("https://app.example.com:443?x"), "https://app.example.com");
    EXPECT_EQ(referer_origin("https://app.example.com"), "https://app.example.com");
}

TEST(CsrfRefererOriginTest, RefusesRelativeOrOddReferers) {
    for (const char* referer : {"/a/b", "app.example.com/x", "", "about:blank",
                                "https://app.example.com@evil.example/", "https:///x"}) {
        EXPECT_EQ(referer_origin(referer), std::nullopt) << referer;
    }
}

// --- check_csrf -------------------------------------------------------------------------

TEST_F(CsrfCheckTest, SafeMethodsPassWithoutAnyOriginCheck) {
    for (const char* method : {"GET", "HEAD", "OPTIONS"}) {
        EXPECT_EQ(judge({{"Host", "app.example.com"}, {"Origin", "https://evil.example"}}, method),
                  "");
        EXPECT_EQ(judge({{"Host", "app.example.com"}, {"Origin", "null"}}, method), "");
        EXPECT_EQ(judge({{"Host", "app.example.com"}}, method), "");
    }
}

TEST_F(CsrfCheckTest, EveryOtherMethodIsChecked) {
    for (const char* method : {"POST", "PUT", "PATCH", "DELETE", "PROPFIND", "get"}) {
        EXPECT_EQ(judge({{"Host", "app.example.com"}, {"Origin", "https://evil.example"}}, method),
                  "csrf.origin_mismatch")
            << method;
    }
}

TEST_F(CsrfCheckTest, TrustedOriginPasses) {
    EXPECT_EQ(judge({{"Host", "api.internal"}, {"Origin", "https://app.example.com"}}), "");
    EXPECT_EQ(judge({{"Host", "api.internal"}, {"Origin", "HTTPS://APP.example.com:443"}}), "");
    EXPECT_EQ(judge({{"Host", "api.internal"}, {"Origin", "https://admin.example.com:8443"}}), "");
}

TEST_F(CsrfCheckTest, WrongOriginIsRefused) {
    for (const char* origin :
         {"https://evil.example", "http://app.example.com", "https://app.example.com:8443",
          "https://admin.example.com", "https://app.example.com.evil.example",
          "https://sub.app.example.com", "https://app.example.com@evil.example", "", "garbage"}) {
        EXPECT_EQ(judge({{"Host", "api.internal"}, {"Origin", origin}}), "csrf.origin_mismatch")
            << origin;
    }
}

TEST_F(CsrfCheckTest, OwnHostIsTrustedOverHttpsOnly) {
    EXPECT_EQ(judge({{"Host", "shop.example"}, {"Origin", "https://shop.example"}}), "");
    EXPECT_EQ(judge({{"Host", "Shop.Example"}, {"Origin", "https://shop.example"}}), "");
    EXPECT_EQ(judge({{"Host", "shop.example:443"}, {"Origin", "https://shop.example"}}), "");
    EXPECT_EQ(judge({{"Host", "shop.example:8443"}, {"Origin", "https://shop.example:8443"}}), "");
    EXPECT_EQ(judge({{"Host", "[::1]:8443"}, {"Origin", "https://[::1]:8443"}}), "");
    EXPECT_EQ(judge({{"Host", "shop.example"}, {"Origin", "http://shop.example"}}),
              "csrf.origin_mismatch");
    EXPECT_EQ(judge({{"Host", "shop.example:8443"}, {"Origin", "https://shop.example"}}),
              "csrf.origin_mismatch");
    EXPECT_EQ(judge({{"Host", "shop.example"}, {"Origin", "https://shop.example:8443"}}),
              "csrf.origin_mismatch");
}

TEST_F(CsrfCheckTest, NullOriginNeverPasses) {
    csrf.allow_missing_origin = true;
    EXPECT_EQ(judge({{"Host", "app.example.com"}, {"Origin", "null"}}), "csrf.origin_null");
    EXPECT_EQ(
        judge({{"Host", "app.example.com"}, {"Origin", "null"}, {"Sec-Fetch-Site", "same-origin"}}),
        "csrf.origin_null");
}

TEST_F(CsrfCheckTest, TwoOriginFieldsAreRefusedEvenIfOneIsTrusted) {
    EXPECT_EQ(judge({{"Host", "x"},
                     {"Origin", "https://app.example.com"},
                     {"origin", "https://evil.example"}}),
              "csrf.origin_mismatch");
    EXPECT_EQ(judge({{"Host", "x"},
                     {"Origin", "https://app.example.com"},
                     {"Origin", "https://app.example.com"}}),
              "csrf.origin_mismatch");
}

TEST_F(CsrfCheckTest, OriginDecidesBeforeSecFetchSiteAndReferer) {
    EXPECT_EQ(judge({{"Host", "x"},
                     {"Origin", "https://evil.example"},
                     {"Sec-Fetch-Site", "same-origin"},
                     {"Referer", "https://app.example.com/"}}),
              "csrf.origin_mismatch");
    EXPECT_EQ(judge({{"Host", "x"},
                     {"Origin", "https://app.example.com"},
                     {"Sec-Fetch-Site", "cross-site"},
                     {"Referer", "https://evil.example/"}}),
              "");
}

TEST_F(CsrfCheckTest, SecFetchSiteDecidesWithoutOrigin) {
    EXPECT_EQ(judge({{"Host", "x"}, {"Sec-Fetch-Site", "same-origin"}}), "");
    EXPECT_EQ(judge({{"Host", "x"}, {"Sec-Fetch-Site", "none"}}), "");
    for (const char* site : {"same-site", "cross-site", "", "Same-Origin", "same-origin, none"}) {
        EXPECT_EQ(judge({{"Host", "x"}, {"Sec-Fetch-Site", site}}), "csrf.sec_fetch_site") << site;
    }
    EXPECT_EQ(judge({{"Host", "x"},
                     {"Sec-Fetch-Site", "cross-site"},
                     {"Referer", "https://app.example.com/"}}),
              "csrf.sec_fetch_site");
    EXPECT_EQ(
        judge(
            {{"Host", "x"}, {"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Site", "same-origin"}}),
        "csrf.sec_fetch_site");
}

TEST_F(CsrfCheckTest, RefererIsTheLastResort) {
    EXPECT_EQ(judge({{"Host", "x"}, {"Referer", "https://app.example.com/cart?id=1"}}), "");
    EXPECT_EQ(judge({{"Host", "shop.example"}, {"Referer", "https://shop.example/cart"}}), "");
    EXPECT_EQ(judge({{"Host", "x"}, {"Referer", "https://evil.example/https://app.example.com/"}}),
              "csrf.referer_mismatch");
    EXPECT_EQ(judge({{"Host", "x"}, {"Referer", "https://app.example.com.evil.example/"}}),
              "csrf.referer_mismatch");
    EXPECT_EQ(judge({{"Host", "x"}, {"Referer", "https://app.example.com@evil.example/"}}),
              "csrf.referer_mismatch");
}

TEST_F(CsrfCheckTest, UnparsableOrDuplicatedRefererIsRefused) {
    csrf.allow_missing_origin = true;
    for (const char* referer : {"/cart", "", "about:blank", "android-app://com.example"}) {
        EXPECT_EQ(judge({{"Host", "app.example.com"}, {"Referer", referer}}),
                  "csrf.referer_mismatch")
            << referer;
    }
    EXPECT_EQ(judge({{"Host", "x"},
                     {"Referer", "https://app.example.com/"},
                     {"Referer", "https://app.example.com/"}}),
              "csrf.referer_mismatch");
}

TEST_F(CsrfCheckTest, NoneOfTheThreePassesOnlyWhenAllowed) {
    EXPECT_EQ(judge({{"Host", "app.example.com"}}), "csrf.missing_origin");
    csrf.allow_missing_origin = true;
    EXPECT_EQ(judge({{"Host", "app.example.com"}}), "");
}

TEST_F(CsrfCheckTest, HeaderNamesAreCaseInsensitiveAndValuesTrimmed) {
    EXPECT_EQ(judge({{"host", "x"}, {"ORIGIN", " https://app.example.com "}}), "");
    EXPECT_EQ(judge({{"host", "x"}, {"sec-fetch-site", "same-origin\t"}}), "");
    EXPECT_EQ(judge({{"host", "x"}, {"REFERER", "https://app.example.com/ "}}), "");
}

TEST_F(CsrfCheckTest, WithoutTrustedOriginsOnlyTheOwnHostPasses) {
    csrf.trusted_origins.clear();
    EXPECT_EQ(judge({{"Host", "app.example.com"}, {"Origin", "https://app.example.com"}}), "");
    EXPECT_EQ(judge({{"Host", "app.example.com"}, {"Origin", "https://other.example.com"}}),
              "csrf.origin_mismatch");
    EXPECT_EQ(judge({{"Origin", "https://app.example.com"}}), "csrf.origin_mismatch");  // no Host
}

TEST_F(CsrfCheckTest, AnOddHostNeverMakesAnOddOriginTrusted) {
    csrf.trusted_origins.clear();
    EXPECT_EQ(judge({{"Host", ""}, {"Origin", "https://"}}), "csrf.origin_mismatch");
    EXPECT_EQ(judge({{"Host", "a@b"}, {"Origin", "https://a@b"}}), "csrf.origin_mismatch");
}

}  // namespace
}  // namespace certgate::policies
