// The syntax of single values, independent of YAML: what is accepted, what it becomes.
#include "config/value_syntax.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/address_syntax.hpp"

namespace certgate::config::detail {
namespace {

using namespace std::chrono_literals;

TEST(DurationSyntax, AcceptsIntegersWithMsSecondsMinutesHours) {
    EXPECT_EQ(parse_duration("500ms").value(), 500ms);
    EXPECT_EQ(parse_duration("10s").value(), 10s);
    EXPECT_EQ(parse_duration("5m").value(), 5min);
    EXPECT_EQ(parse_duration("1h").value(), 1h);
    EXPECT_EQ(parse_duration("0s").value(), 0s);
}

TEST(DurationSyntax, RejectsMissingOrUnknownUnitsFractionsAndSigns) {
    for (const char* text : {"10", "10sec", "1.5s", "-1s", "s", "", " 10s", "10 s", "1d", "10S"}) {
        EXPECT_FALSE(parse_duration(text).ok()) << text;
    }
    EXPECT_EQ(
        parse_duration("10").error(),
        "\"10\" is not a valid duration: use an integer with a unit (ms, s, m or h), e.g. \"10s\"");
}

TEST(DurationSyntax, RejectsDurationsLongerThanAYear) {
    EXPECT_TRUE(parse_duration("8760h").ok());
    EXPECT_EQ(parse_duration("8761h").error(), "\"8761h\" is too long (at most 8760h)");
    EXPECT_FALSE(parse_duration("99999999999999999999999h").ok());
}

TEST(SizeSyntax, AcceptsBytesKibibytesAndMebibytes) {
    EXPECT_EQ(parse_size("0").value(), 0U);
    EXPECT_EQ(parse_size("16384").value(), 16384U);
    EXPECT_EQ(parse_size("12KiB").value(), 12U * 1024);
    EXPECT_EQ(parse_size("1MiB").value(), 1024U * 1024);
}

TEST(SizeSyntax, RejectsDecimalUnitsAndOtherSpellings) {
    for (const char* text : {"12KB", "12kb", "12K", "1GiB", "1.5MiB", "-1", "MiB", "", "12 KiB"}) {
        EXPECT_FALSE(parse_size(text).ok()) << text;
    }
}

TEST(HeaderNameSyntax, AcceptsRfc9110TokensOnly) {
    EXPECT_TRUE(is_token("X-SSL-Client-DN"));
    EXPECT_TRUE(is_token("!#$%&'*+-.^_`|~09azAZ"));
    for (const char* text : {"", "X Client", "X-A:", "X(A)", "X\"A", "X/A", "X@A", "X\tA", "Ä"}) {
        EXPECT_FALSE(is_token(text)) << text;
    }
}

TEST(HeaderValueSyntax, RejectsControlCharactersButAllowsTabs) {
    EXPECT_TRUE(parse_header_value("max-age=60; includeSubDomains").ok());
    EXPECT_TRUE(parse_header_value("a\tb").ok());
    for (const std::string& text :
         {std::string("a\rb"), std::string("a\nb"), std::string("a\0b", 3), std::string("a\x7f")}) {
        EXPECT_FALSE(parse_header_value(text).ok());
    }
}

TEST(EndpointSyntax, AcceptsIpv4BracketedIpv6AndLocalhost) {
    const Endpoint v4 = parse_endpoint("0.0.0.0:8443").value();
    EXPECT_EQ(v4.host, "0.0.0.0");
    EXPECT_EQ(v4.port, 8443);
    const Endpoint v6 = parse_endpoint("[::]:8443").value();
    EXPECT_EQ(v6.host, "::");
    EXPECT_EQ(v6.text, "[::]:8443");
    EXPECT_EQ(parse_endpoint("localhost:9901").value().host, "127.0.0.1");
    EXPECT_EQ(parse_endpoint("127.0.0.1:65535").value().port, 65535);
}

TEST(EndpointSyntax, RejectsNamesMissingPortsAndPortsOutOfRange) {
    for (const char* text :
         {"0.0.0.0", "example.com:80", "::1:80", "[::1]", "[::1]80", "0.0.0.0:", "0.0.0.0:0",
          "0.0.0.0:65536", "0.0.0.0:80a", "256.0.0.1:80", ":8443", "[example]:80", "0.0.0.0:+80"}) {
        EXPECT_FALSE(parse_endpoint(text).ok()) << text;
    }
}

TEST(UpstreamUrlSyntax, AcceptsHttpHostPortAndUnixSockets) {
    const UpstreamTarget tcp = parse_upstream_url("http://127.0.0.1:8000").value();
    EXPECT_EQ(tcp.kind, Upstream::Kind::tcp);
    EXPECT_EQ(tcp.host, "127.0.0.1");
    EXPECT_EQ(tcp.port, 8000);
    EXPECT_EQ(parse_upstream_url("http://app.internal/").value().port, 80);
    EXPECT_EQ(parse_upstream_url("http://[fd00::1]:81").value().host, "fd00::1");
    const UpstreamTarget unix_socket = parse_upstream_url("unix:/run/app.sock").value();
    EXPECT_EQ(unix_socket.kind, Upstream::Kind::unix_socket);
    EXPECT_EQ(unix_socket.socket_path, "/run/app.sock");
}

TEST(UpstreamUrlSyntax, RejectsPathsOtherSchemesAndBadHosts) {
    for (const char* text :
         {"http://a:8000/api", "http://a:8000?x", "http://a:8000#f", "http://u@a:80", "ftp://a",
          "127.0.0.1:8000", "http://", "http://a:0", "http://-a-:80", "unix:", "unix:relative.sock",
          "unix://host/x", "http://a b:80"}) {
        EXPECT_FALSE(parse_upstream_url(text).ok()) << text;
    }
    EXPECT_EQ(parse_upstream_url("https://app:8443").error(),
              "https upstreams are not supported (planned)");
    EXPECT_FALSE(parse_upstream_url("unix:/" + std::string(107, 'a')).ok());
}

TEST(FrameAncestorSyntax, AcceptsKeywordsSchemesAndOrigins) {
    const std::vector<std::pair<std::string, std::string>> accepted = {
        {"'none'", "'none'"},
        {"'self'", "'self'"},
        {"'SELF'", "'self'"},
        {"https:", "https:"},
        {"http:", "http:"},
        {"https://app.example.com", "https://app.example.com"},
        {"https://app.example.com:8443", "https://app.example.com:8443"},
        {"https://*.Example.com", "https://*.example.com"},
        {"http://127.0.0.1:3000", "http://127.0.0.1:3000"},
        {"https://app.example.com:*", "https://app.example.com:*"}};
    for (const auto& [text, normalized] : accepted) {
        const auto parsed = parse_frame_ancestor(text);
        ASSERT_TRUE(parsed.ok()) << text;
        EXPECT_EQ(parsed.value(), normalized);
    }
}

TEST(FrameAncestorSyntax, RejectsEverythingThatIsNotASourceExpression) {
    for (const char* text :
         {"https//x.example", "x.example", "*", "https://*", "https://a.example/path",
          "'unsafe-inline'", "none", "self", "https://a.example; script-src *",
          "https://a.example,https://b.example", "https://a .example", "\"https://a.example\"",
          "https://a.*.example", "ftp://a.example", "https://[::1]", "https://a.example:99999",
          "data:", ""}) {
        EXPECT_FALSE(parse_frame_ancestor(text).ok()) << text;
    }
    EXPECT_EQ(parse_frame_ancestor("https//x.example").error(),
              "\"https//x.example\" is not a valid origin");
}

TEST(OriginSyntax, NormalizesCaseAndDefaultPorts) {
    EXPECT_EQ(parse_origin("HTTPS://App.Example.com:443").value(), "https://app.example.com");
    EXPECT_EQ(parse_origin("http://app.example.com:80").value(), "http://app.example.com");
    EXPECT_EQ(parse_origin("https://app.example.com:8443").value(), "https://app.example.com:8443");
    EXPECT_EQ(parse_origin("http://[::1]:3000").value(), "http://[::1]:3000");
}

TEST(OriginSyntax, RejectsPathsWildcardsAndOtherSchemes) {
    for (const char* text :
         {"https://app.example.com/", "https://app.example.com/x", "app.example.com",
          "https://*.example.com", "null", "ftp://a.example", "https://a:0", ""}) {
        EXPECT_FALSE(parse_origin(text).ok()) << text;
    }
}

TEST(FingerprintSyntax, NormalizesToLowerCaseWithoutColons) {
    const std::string colons =
        "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
        "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    const std::string plain = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
    EXPECT_EQ(parse_fingerprint(colons).value(), plain);
    EXPECT_EQ(parse_fingerprint(plain).value(), plain);
    EXPECT_FALSE(parse_fingerprint(plain.substr(1)).ok());
    EXPECT_FALSE(parse_fingerprint(plain.substr(1) + "g").ok());
    EXPECT_FALSE(parse_fingerprint("").ok());
}

TEST(IdentityPatternSyntax, DnsPatternsAllowWholeLabelWildcards) {
    EXPECT_EQ(parse_dns_pattern("*.Billing.internal").value(), "*.billing.internal");
    EXPECT_TRUE(parse_dns_pattern("api.*.internal").ok());
    for (const char* text : {"", "api-*.internal", "a..b", ".a", "a b", "*."}) {
        EXPECT_FALSE(parse_dns_pattern(text).ok()) << text;
    }
}

TEST(IdentityPatternSyntax, UriPatternsNeedASchemeAndNoSpaces) {
    EXPECT_TRUE(parse_uri_pattern("spiffe://example.org/ns/prod/sa/*").ok());
    EXPECT_TRUE(parse_uri_pattern("spiffe://example.org/**").ok());
    for (const char* text : {"", "example.org/sa", "://x", "spiffe://a b", "spiffe://a\nb"}) {
        EXPECT_FALSE(parse_uri_pattern(text).ok()) << text;
    }
}

TEST(IdentityPatternSyntax, SubjectsAreDistinguishedNames) {
    EXPECT_TRUE(parse_subject("CN=billing,O=Example Corp,C=US").ok());
    EXPECT_FALSE(parse_subject("billing").ok());
    EXPECT_FALSE(parse_subject("CN=a\nO=b").ok());
}

TEST(PathPrefixSyntax, MustStartWithSlashWithoutQueryOrFragment) {
    EXPECT_TRUE(parse_path_prefix("/").ok());
    EXPECT_TRUE(parse_path_prefix("/api/v1/").ok());
    for (const char* text : {"", "api", "/a b", "/a?x=1", "/a#top", "*"}) {
        EXPECT_FALSE(parse_path_prefix(text).ok()) << text;
    }
}

TEST(Messages, QuoteEscapesControlCharactersAndShortensLongValues) {
    EXPECT_EQ(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(quote("a\r\nb"), "\"a\\x0D\\x0Ab\"");
    EXPECT_EQ(quote(std::string(100, 'x')), "\"" + std::string(80, 'x') + "...\"");
}

TEST(Messages, ClosestMatchSuggestsOnlyLikelyTypos) {
    const std::vector<std::string_view> keys = {"listen", "tls", "upstream", "policies"};
    EXPECT_EQ(closest_match("lisen", keys), "listen");
    EXPECT_EQ(closest_match("Listen", keys), "listen");
    EXPECT_EQ(closest_match("policy", keys), "policies");
    EXPECT_EQ(closest_match("colour", keys), std::nullopt);
    EXPECT_EQ(closest_match("x", keys), std::nullopt);
}

}  // namespace
}  // namespace certgate::config::detail
