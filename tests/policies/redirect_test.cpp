#include "policies/redirect.hpp"

#include <gtest/gtest.h>

namespace certgate::policies {
namespace {

TEST(HttpsRedirectLocation, DropsTheHostPortAndAddsTheTlsPort) {
    EXPECT_EQ(https_redirect_location("app.example:8080", 8443, "/a?b=c"),
              "https://app.example:8443/a?b=c");
}
TEST(HttpsRedirectLocation, OmitsPort443) {
    EXPECT_EQ(https_redirect_location("app.example", 443, "/"), "https://app.example/");
}
TEST(HttpsRedirectLocation, KeepsBracketedIpv6Host) {
    EXPECT_EQ(https_redirect_location("[::1]:8080", 8443, "/x"), "https://[::1]:8443/x");
}
TEST(HttpsRedirectLocation, KeepsTheTargetAsSent) {
    EXPECT_EQ(https_redirect_location("h", 443, "/a/../b%2F?q=%20"), "https://h/a/../b%2F?q=%20");
}

TEST(RedirectHost, AcceptsNamesIpv4AndBracketedIpv6WithOrWithoutAPort) {
    for (const char* host :
         {"localhost", "app.example", "APP.Example.COM", "a-b.c-d.example", "x1.example:8080",
          "app.example.", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:8080", "[2001:db8::1]:65535",
          "[::ffff:192.0.2.1]", "h:1", "h:00080"})
        EXPECT_TRUE(is_valid_host(host)) << host;
}
TEST(RedirectHost, RefusesUnclosedOrInvalidIpv6Literal) {
    for (const char* host : {"[::1", "[::1:8080", "[]", "[::1]]", "[::1]x", "[::1]:",
                             "[fe80::1%25eth0]", "[v1.x]", "[1.2.3.4]", "::1", "::1:80", "[::g]"})
        EXPECT_FALSE(is_valid_host(host)) << host;
}
TEST(RedirectHost, RefusesAPortThatIsNotOneTo65535) {
    for (const char* host :
         {"localhost:", "localhost:abc", "localhost:0", "localhost:65536", "localhost:123456",
          "localhost:8080:1", "localhost:-1", "127.0.0.1:", "[::1]:99999", ":8080"})
        EXPECT_FALSE(is_valid_host(host)) << host;
}
TEST(RedirectHost, RefusesLabelsStartingOrEndingWithAHyphenAndEmptyLabels) {
    for (const char* host :
         {"-evil-", "-evil", "evil-", "a.-b.c", "a.b-.c", "a..b", ".a", ".", "a.b..", ""})
        EXPECT_FALSE(is_valid_host(host)) << '"' << host << '"';
}
TEST(RedirectHost, RefusesCharactersOutsideLettersDigitsHyphenAndDot) {
    for (const char* host : {"a_b.example", "a~b", "evil.example@app", "a/b", "a b", "a%2eb", "a,b",
                             "user:pw@host", "h\\x", "caf\xc3\xa9.example"})
        EXPECT_FALSE(is_valid_host(host)) << host;
}
TEST(RedirectHost, RefusesNamesLongerThan253CharactersOrWithLabelsOver63) {
    std::string label63(63, 'a');
    std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
    ASSERT_EQ(name253.size(), 253u);
    EXPECT_TRUE(is_valid_host(name253));
    EXPECT_TRUE(is_valid_host(name253 + ":443"));
    EXPECT_FALSE(is_valid_host(name253 + "b"));
    EXPECT_FALSE(is_valid_host(label63 + "a.example"));
}
TEST(RedirectHost, RefusesANameABrowserWouldReadAsAnInvalidIpv4Address) {
    for (const char* host : {"1.2.3.999", "256.0.0.1", "1.2.3", "123", "010.0.0.1", "127.1",
                             "a.0x10", "0x7f.1", "1.2.3.4.5", "1.2.3.4.", "example.0x"})
        EXPECT_FALSE(is_valid_host(host)) << host;
    EXPECT_TRUE(is_valid_host("1.2.3.example"));
    EXPECT_TRUE(is_valid_host("example.0xg"));
}

}  // namespace
}  // namespace certgate::policies
