// Values a configuration refuses, each pinned to its exact "file:line:col: key.path:".
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/parse_errors.hpp"

namespace certgate::config {
namespace {

using test_support::Errors;
using test_support::errors_of;
using test_support::kBase;
using test_support::validation_errors_of;

TEST(Durations, NumberWithoutUnitIsRejected) {
    EXPECT_EQ(errors_of(kBase + "limits:\n  header_timeout: 10\n"),
              Errors{"t.yaml:8:19: limits.header_timeout: \"10\" is not a valid duration: use an "
                     "integer with a unit (ms, s, m or h), e.g. \"10s\""});
}

TEST(Durations, ZeroTimeoutIsRejected) {
    EXPECT_EQ(
        errors_of(kBase + "limits:\n  body_idle_timeout: 0s\n"),
        Errors{"t.yaml:8:22: limits.body_idle_timeout: must be greater than 0, found \"0s\""});
}

TEST(Durations, ZeroShutdownTimeoutMeansStopAtOnce) {
    EXPECT_EQ(errors_of(kBase + "limits:\n  shutdown_timeout: 0s\n"), Errors{});
}

TEST(Sizes, DecimalUnitIsRejected) {
    EXPECT_EQ(
        errors_of(kBase + "limits:\n  max_request_body_bytes: 10MB\n"),
        Errors{"t.yaml:8:27: limits.max_request_body_bytes: \"10MB\" is not a valid size: use a "
               "number of bytes, or an integer with KiB or MiB (e.g. \"12KiB\")"});
}

TEST(Sizes, HeaderLimitMustBeBetweenOneKiBAndOneMiB) {
    EXPECT_EQ(errors_of(kBase + "limits:\n  max_request_header_bytes: 512\n"),
              Errors{"t.yaml:8:29: limits.max_request_header_bytes: must be from 1KiB to 1MiB, "
                     "found \"512\""});
    EXPECT_EQ(errors_of(kBase + "limits:\n  max_request_header_bytes: 2MiB\n"),
              Errors{"t.yaml:8:29: limits.max_request_header_bytes: must be from 1KiB to 1MiB, "
                     "found \"2MiB\""});
    EXPECT_EQ(errors_of(kBase + "limits:\n  max_request_header_bytes: 1MiB\n"), Errors{});
}

TEST(Addresses, ListenWithoutPortIsRejected) {
    EXPECT_EQ(errors_of(kBase + "listen: \"0.0.0.0\"\n"),
              Errors{"t.yaml:7:9: listen: \"0.0.0.0\" is not a valid address: use IPv4:port, "
                     "[IPv6]:port or localhost:port"});
}

TEST(Addresses, ListenOnAHostNameIsRejected) {
    EXPECT_EQ(
        errors_of(kBase + "listen: example.com:8443\n"),
        Errors{"t.yaml:7:9: listen: \"example.com:8443\" is not a valid address: use IPv4:port, "
               "[IPv6]:port or localhost:port"});
}

TEST(Addresses, ListenPortOutOfRangeIsRejected) {
    EXPECT_EQ(errors_of(kBase + "listen: \"0.0.0.0:70000\"\n"),
              Errors{"t.yaml:7:9: listen: \"0.0.0.0:70000\" has an invalid port: use 1 to 65535"});
}

TEST(Addresses, HttpsUpstreamIsPlannedNotSupported) {
    EXPECT_EQ(errors_of("tls: {certificate: /c, private_key: /k, client_ca: /ca}\n"
                        "upstream:\n  url: https://127.0.0.1:8443\n"),
              Errors{"t.yaml:3:8: upstream.url: https upstreams are not supported (planned)"});
}

TEST(Addresses, UpstreamUrlWithPathIsRejected) {
    EXPECT_EQ(errors_of("tls: {certificate: /c, private_key: /k, client_ca: /ca}\n"
                        "upstream:\n  url: http://127.0.0.1:8000/app\n"),
              Errors{"t.yaml:3:8: upstream.url: \"http://127.0.0.1:8000/app\" has a path, query or "
                     "fragment: give only http://host:port"});
}

TEST(Addresses, RelativeUnixSocketIsRejected) {
    EXPECT_EQ(
        errors_of("tls: {certificate: /c, private_key: /k, client_ca: /ca}\n"
                  "upstream:\n  url: unix:app.sock\n"),
        Errors{"t.yaml:3:8: upstream.url: \"unix:app.sock\" is not a valid unix socket URL: use "
               "unix:/absolute/path"});
}

TEST(Scalars, WorkersMustBeAutoOrOneTo256) {
    EXPECT_EQ(
        errors_of(kBase + "workers: 0\n"),
        Errors{"t.yaml:7:10: workers: expected \"auto\" or an integer from 1 to 256, found \"0\""});
    EXPECT_EQ(
        errors_of(kBase + "workers: 257\n"),
        Errors{
            "t.yaml:7:10: workers: expected \"auto\" or an integer from 1 to 256, found \"257\""});
}

TEST(Scalars, TlsBelowOnePointTwoIsRejected) {
    const std::string head = "tls:\n  certificate: /c\n  private_key: /k\n  client_ca: /ca\n";
    const std::string tail = "upstream: {url: \"http://a:1\"}\n";
    EXPECT_EQ(errors_of(head + "  min_version: \"1.1\"\n" + tail),
              Errors{"t.yaml:5:16: tls.min_version: expected one of 1.2, 1.3, found \"1.1\""});
    EXPECT_EQ(errors_of(head + "  min_version: 1.0\n" + tail),
              Errors{"t.yaml:5:16: tls.min_version: expected one of 1.2, 1.3, found \"1.0\""});
}

TEST(Scalars, UnknownEnumWordsAreRejected) {
    EXPECT_EQ(
        errors_of(kBase + "forwarded: {x_forwarded_for: prepend}\n"),
        Errors{"t.yaml:7:30: forwarded.x_forwarded_for: expected one of replace, append, off, "
               "found \"prepend\""});
    EXPECT_EQ(
        errors_of(kBase + "policies:\n  - name: a\n    client_certificate: requird\n"
                          "    x_frame_options: ALLOW-FROM\n    csp_mode: replace\n"),
        (Errors{"t.yaml:9:25: policies[0].client_certificate: expected one of required, optional, "
                "none, found \"requird\"",
                "t.yaml:10:22: policies[0].x_frame_options: expected one of auto, DENY, "
                "SAMEORIGIN, off, found \"ALLOW-FROM\"",
                "t.yaml:11:15: policies[0].csp_mode: expected one of merge, override, "
                "if_missing, found \"replace\""}));
}

TEST(HeaderNames, IdentityHeaderMustBeAToken) {
    EXPECT_EQ(errors_of(kBase + "identity:\n  headers:\n    subject: \"X Client DN\"\n"),
              Errors{"t.yaml:9:14: identity.headers.subject: \"X Client DN\" is not a valid header "
                     "name (RFC 9110 token)"});
}

TEST(HeaderNames, TwoIdentityFieldsCannotShareOneHeader) {
    EXPECT_EQ(
        errors_of(kBase + "identity:\n  headers:\n    certificate: x-ssl-client-dn\n"),
        Errors{"t.yaml:9:18: identity.headers.certificate: \"x-ssl-client-dn\" is already used "
               "for identity.headers.subject"});
}

TEST(HeaderNames, StripEntriesMustBeTokens) {
    EXPECT_EQ(errors_of(kBase + "identity:\n  strip: [\"Client Cert\"]\n"),
              Errors{"t.yaml:8:11: identity.strip[0]: \"Client Cert\" is not a valid header name "
                     "(RFC 9110 token)"});
}

TEST(HeaderNames, EmptyStripPrefixIsRejectedBecauseItMatchesEveryHeader) {
    EXPECT_EQ(
        errors_of(kBase + "identity:\n  strip_prefixes: [\"X-SSL-\", \"\"]\n"),
        Errors{"t.yaml:8:30: identity.strip_prefixes[1]: \"\" is not a valid header name prefix "
               "(RFC 9110 token)"});
}

TEST(HeaderNames, RequestIdHeaderMustBeAToken) {
    EXPECT_EQ(
        errors_of(kBase + "forwarded:\n  request_id: \"X-Request-Id:\"\n"),
        Errors{"t.yaml:8:15: forwarded.request_id: \"X-Request-Id:\" is not a valid header name "
               "(RFC 9110 token)"});
}

TEST(ResponseHeaders, NameMustBeAToken) {
    EXPECT_EQ(
        errors_of(kBase + "policies:\n  - name: a\n    response_headers:\n      \"X Bad\": v\n"),
        Errors{"t.yaml:10:7: policies[0].response_headers.X Bad: \"X Bad\" is not a valid header "
               "name (RFC 9110 token)"});
}

TEST(ResponseHeaders, ValueMustNotContainLineBreaks) {
    EXPECT_EQ(
        errors_of(kBase + "policies:\n  - name: a\n    response_headers:\n"
                          "      X-A: \"a\\r\\nSet-Cookie: x=1\"\n"),
        Errors{"t.yaml:10:12: policies[0].response_headers.X-A: \"a\\x0D\\x0ASet-Cookie: x=1\" is "
               "not a valid header value: no CR, LF, NUL or other control characters"});
}

TEST(ResponseHeaders, FramingHeadersCannotBeSet) {
    EXPECT_EQ(
        errors_of(kBase +
                  "policies:\n  - name: a\n    response_headers: {Transfer-Encoding: chunked}\n"),
        Errors{"t.yaml:9:24: policies[0].response_headers.Transfer-Encoding: \"Transfer-Encoding\" "
               "is managed by certgate and cannot be set"});
}

TEST(ResponseHeaders, NamesDifferingOnlyInCaseAreDuplicates) {
    EXPECT_EQ(
        errors_of(kBase +
                  "policies:\n  - name: a\n    response_headers: {X-A: \"1\", x-a: \"2\"}\n"),
        Errors{"t.yaml:9:34: policies[0].response_headers.x-a: header \"x-a\" is already set as "
               "\"X-A\" (header names are case-insensitive)"});
}

TEST(FrameAncestors, SpecExampleIsReportedAtItsListItem) {
    EXPECT_EQ(errors_of(kBase + "policies:\n  - name: api\n    paths: [\"/api\"]\n"
                                "  - name: default\n    paths: [\"/\"]\n    frame_ancestors:\n"
                                "      - \"https//x.example\"\n"),
              Errors{"t.yaml:13:9: policies[1].frame_ancestors[0]: \"https//x.example\" is not a "
                     "valid origin"});
}

TEST(FrameAncestors, BadSourceInFlowListIsReportedAtItsColumn) {
    EXPECT_EQ(
        errors_of(
            kBase +
            "policies:\n  - name: a\n    frame_ancestors: [\"'self'\", \"https://a.example/x\"]\n"),
        Errors{"t.yaml:9:33: policies[0].frame_ancestors[1]: \"https://a.example/x\" is not a "
               "valid origin"});
}

TEST(FrameAncestors, NoneCannotBeCombinedWithOtherSources) {
    EXPECT_EQ(
        errors_of(kBase +
                  "policies:\n  - name: a\n    frame_ancestors: [\"'self'\", \"'none'\"]\n"),
        Errors{"t.yaml:9:33: policies[0].frame_ancestors[1]: 'none' must be the only source"});
}

TEST(FrameAncestors, EmptyListIsRejected) {
    EXPECT_EQ(errors_of(kBase + "policies:\n  - name: a\n    frame_ancestors: []\n"),
              Errors{"t.yaml:9:22: policies[0].frame_ancestors: must list at least one source "
                     "(\"'none'\" forbids all framing)"});
}

TEST(Policies, NameIsRequired) {
    EXPECT_EQ(errors_of(kBase + "policies:\n  - paths: [\"/\"]\n"),
              Errors{"t.yaml:8:5: policies[0].name: required key is missing"});
}

TEST(Policies, NamesMustBeUnique) {
    EXPECT_EQ(
        errors_of(kBase + "policies:\n  - name: app\n    paths: [/a]\n  - name: app\n"),
        Errors{
            "t.yaml:10:11: policies[1].name: policy name \"app\" is already used by policies[0]"});
}

TEST(Policies, PathsMustBeANonEmptyListOfAbsolutePrefixes) {
    EXPECT_EQ(errors_of(kBase + "policies:\n  - name: a\n    paths: []\n"),
              Errors{"t.yaml:9:12: policies[0].paths: must list at least one path prefix"});
    EXPECT_EQ(
        errors_of(kBase + "policies:\n  - name: a\n    paths: [/ok, api]\n"),
        Errors{"t.yaml:9:18: policies[0].paths[1]: \"api\" is not a valid path prefix: it must "
               "start with \"/\""});
}

// SPEC "Routing": prefixes match the normalized request path, so they are normalized the
// same way at load; otherwise "/x//y" or "/%7Euser" would be policies nothing can reach.
TEST(Policies, PathPrefixesAreNormalizedLikeRequestPaths) {
    const auto config = parse_config(
        kBase + "policies:\n  - name: a\n    paths: [\"/%7Euser\", \"/x//y\", \"/p/../q\", "
                "\"/docs/\", \"/a/./b//\", \"/caf%c3%a9\", \"/API/%41\"]\n",
        "t.yaml");
    ASSERT_EQ(config.policies.size(), 1u);
    EXPECT_EQ(config.policies[0].paths,
              (std::vector<std::string>{"/~user", "/x/y", "/q", "/docs/", "/a/b/", "/caf%C3%A9",
                                        "/API/A"}));
}

TEST(Policies, PathPrefixThatRequestNormalizationRefusesIsAnError) {
    const std::string tail = " (a request with such a path gets 400, so the prefix could never match)";
    EXPECT_EQ(errors_of(kBase +
                        "policies:\n"
                        "  - name: a\n"
                        "    paths:\n"
                        "      - /ok\n"
                        "      - \"/a%2Fb\"\n"
                        "      - /../x\n"
                        "      - '/a\\b'\n"
                        "      - \"/%zz\"\n"
                        "      - \"/a%00\"\n"
                        "      - \"/a[b]\"\n"
                        "      - \"/a%5cb\"\n"),
              (Errors{"t.yaml:11:9: policies[0].paths[1]: \"/a%2Fb\" is not a valid path prefix: "
                      "encoded slash in path" + tail,
                      "t.yaml:12:9: policies[0].paths[2]: \"/../x\" is not a valid path prefix: "
                      "path climbs above the root" + tail,
                      "t.yaml:13:9: policies[0].paths[3]: \"/a\\\\b\" is not a valid path prefix: "
                      "backslash in path" + tail,
                      "t.yaml:14:9: policies[0].paths[4]: \"/%zz\" is not a valid path prefix: "
                      "bad percent-encoding in path" + tail,
                      "t.yaml:15:9: policies[0].paths[5]: \"/a%00\" is not a valid path prefix: "
                      "encoded NUL in path" + tail,
                      "t.yaml:16:9: policies[0].paths[6]: \"/a[b]\" is not a valid path prefix: "
                      "a character outside RFC 3986 path characters (percent-encode it)" + tail,
                      "t.yaml:17:9: policies[0].paths[7]: \"/a%5cb\" is not a valid path prefix: "
                      "encoded backslash in path" + tail}));
}

TEST(Policies, EmptyPolicyListIsRejected) {
    const std::string message =
        "must list at least one policy (without the key, one default policy applies)";
    EXPECT_EQ(errors_of(kBase + "policies: []\n"), Errors{"t.yaml:7:11: policies: " + message});
    EXPECT_EQ(errors_of(kBase + "policies:\n"), Errors{"t.yaml:7:1: policies: " + message});
}

TEST(Policies, ListItemThatIsNotAMappingIsRejectedAlone) {
    EXPECT_EQ(errors_of(kBase + "policies:\n  - default\n"),
              Errors{"t.yaml:8:5: policies[0]: expected a mapping, found \"default\""});
}

TEST(Policies, EmptyHstsIsRejected) {
    EXPECT_EQ(
        errors_of(kBase + "policies:\n  - name: a\n    hsts: \"\"\n"),
        Errors{"t.yaml:9:11: policies[0].hsts: must not be empty (null: do not send the header)"});
}

TEST(UnbuiltFeatureValues, TrustedOriginWithPathIsRejected) {
    EXPECT_EQ(validation_errors_of(kBase +
                                   "policies:\n  - name: a\n    csrf:\n"
                                   "      trusted_origins: [\"https://app.example.com/login\"]\n"),
              Errors{"t.yaml:10:25: policies[0].csrf.trusted_origins[0]: "
                     "\"https://app.example.com/login\" is not a valid origin"});
}

TEST(UnbuiltFeatureValues, FingerprintMustBe64HexDigits) {
    EXPECT_EQ(
        validation_errors_of(kBase +
                             "policies:\n  - name: a\n    allow: {fingerprints: [\"ab:cd\"]}\n"),
        Errors{"t.yaml:9:28: policies[0].allow.fingerprints[0]: \"ab:cd\" is not a valid SHA-256 "
               "fingerprint (64 hex digits, colons allowed)"});
}

TEST(UnbuiltFeatureValues, SameSiteNoneRequiresSecureCookies) {
    EXPECT_EQ(
        validation_errors_of(
            kBase + "policies:\n  - name: a\n    cookies: {secure: false, same_site: None}\n"),
        Errors{"t.yaml:9:41: policies[0].cookies.same_site: SameSite=None requires secure: true"});
}

TEST(UnbuiltFeatureValues, SameSiteMustBeStrictLaxOrNone) {
    EXPECT_EQ(
        validation_errors_of(kBase +
                             "policies:\n  - name: a\n    cookies: {same_site: Strictest}\n"),
        Errors{"t.yaml:9:26: policies[0].cookies.same_site: expected one of Strict, Lax, None, "
               "found \"Strictest\""});
}

TEST(UnbuiltFeatureValues, AdminAddressIsValidatedToo) {
    EXPECT_EQ(validation_errors_of(kBase + "admin: \"127.0.0.1\"\n"),
              Errors{"t.yaml:7:8: admin: \"127.0.0.1\" is not a valid address: use IPv4:port, "
                     "[IPv6]:port or localhost:port"});
}

// Two listeners on one address would share its connections (SO_REUSEPORT) or fail at start.
TEST(ListenerAddresses, RedirectOnTheListenAddressIsRejected) {
    EXPECT_EQ(errors_of(kBase + "listen: \"127.0.0.1:8443\"\nredirect_http: \"localhost:8443\"\n"),
              Errors{"t.yaml:8:16: redirect_http: \"localhost:8443\" is also where listen listens "
                     "(\"127.0.0.1:8443\"): each listener needs an address of its own"});
}

TEST(ListenerAddresses, TheDefaultListenAddressCountsAndWildcardsCoverTheirFamily) {
    // listen defaults to 0.0.0.0:8443, which covers every IPv4 address on 8443
    EXPECT_EQ(errors_of(kBase + "admin: \"127.0.0.1:8443\"\n"),
              Errors{"t.yaml:7:8: admin: \"127.0.0.1:8443\" is also where listen listens "
                     "(\"0.0.0.0:8443\"): each listener needs an address of its own"});
    // "[::]" listens on both families
    EXPECT_EQ(errors_of(kBase + "listen: \"[::]:9000\"\nredirect_http: \"10.0.0.1:9000\"\n").size(),
              1u);
    EXPECT_EQ(errors_of(kBase + "redirect_http: \"[::1]:8080\"\nadmin: \"[0:0::1]:8080\"\n"),
              Errors{"t.yaml:8:8: admin: \"[0:0::1]:8080\" is also where redirect_http listens "
                     "(\"[::1]:8080\"): each listener needs an address of its own"});
}

TEST(ListenerAddresses, DistinctAddressesOnOnePortAndOneAddressOnDistinctPortsAreFine) {
    EXPECT_EQ(errors_of(kBase + "listen: \"127.0.0.1:8443\"\nredirect_http: \"127.0.0.2:8443\"\n"
                                "admin: \"127.0.0.1:9901\"\n"),
              Errors{});
    EXPECT_EQ(errors_of(kBase + "listen: \"0.0.0.0:8443\"\nadmin: \"[::1]:8443\"\n"), Errors{});
}

}  // namespace
}  // namespace certgate::config
