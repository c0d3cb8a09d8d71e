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

}  // namespace
}  // namespace certgate::policies
