// How a refused configuration is reported: unknown and duplicate keys, wrong types,
// missing keys, optional features, YAML syntax, and every error at once.
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

TEST(UnknownKeys, TopLevelTypoSuggestsTheClosestKnownKey) {
    EXPECT_EQ(errors_of(kBase + "lisen: \"0.0.0.0:8443\"\n"),
              Errors{"t.yaml:7:1: lisen: unknown key \"lisen\" (did you mean \"listen\"?)"});
}

TEST(UnknownKeys, NestedKeyIsReportedAtTheKeyWithItsFullPath) {
    EXPECT_EQ(
        errors_of(kBase + "limits:\n  header_timout: 5s\n"),
        Errors{"t.yaml:8:3: limits.header_timout: unknown key \"header_timout\" (did you mean "
               "\"header_timeout\"?)"});
}

TEST(UnknownKeys, KeyUnlikeAnyKnownKeyGetsNoSuggestion) {
    EXPECT_EQ(errors_of(kBase + "colour: blue\n"),
              Errors{"t.yaml:7:1: colour: unknown key \"colour\""});
}

TEST(UnknownKeys, TypoInsidePolicyIsRejected) {
    EXPECT_EQ(
        errors_of(kBase + "policies:\n  - name: x\n    path: [\"/\"]\n"),
        Errors{"t.yaml:9:5: policies[0].path: unknown key \"path\" (did you mean \"paths\"?)"});
}

TEST(DuplicateKeys, SecondOccurrenceIsReportedNamingTheFirst) {
    EXPECT_EQ(
        errors_of(kBase + "limits:\n  idle_timeout: 5s\n  idle_timeout: 6s\n"),
        Errors{
            "t.yaml:9:3: limits.idle_timeout: duplicate key \"idle_timeout\" (first at line 8)"});
}

TEST(DuplicateKeys, RepeatedTopLevelSectionIsRejected) {
    EXPECT_EQ(errors_of(kBase + "upstream:\n  url: http://127.0.0.1:9000\n"),
              Errors{"t.yaml:7:1: upstream: duplicate key \"upstream\" (first at line 5)"});
}

TEST(DuplicateKeys, FlowMappingDuplicateIsRejected) {
    EXPECT_EQ(
        errors_of(kBase + "forwarded: {x_real_ip: true, x_real_ip: false}\n"),
        Errors{"t.yaml:7:30: forwarded.x_real_ip: duplicate key \"x_real_ip\" (first at line 7)"});
}

TEST(WrongTypes, MappingWhereAStringBelongs) {
    EXPECT_EQ(errors_of("tls:\n  certificate: /c\n  private_key: /k\n  client_ca: /ca\n"
                        "upstream:\n  url: {host: x}\n"),
              Errors{"t.yaml:6:8: upstream.url: expected a string, found a mapping"});
}

TEST(WrongTypes, ListWhereAMappingBelongs) {
    EXPECT_EQ(errors_of(kBase + "limits: [1, 2]\n"),
              Errors{"t.yaml:7:9: limits: expected a mapping, found a list"});
}

TEST(WrongTypes, StringWhereAListBelongs) {
    EXPECT_EQ(errors_of(kBase + "identity:\n  strip: X-Client-Cert\n"),
              Errors{"t.yaml:8:10: identity.strip: expected a list, found \"X-Client-Cert\""});
}

TEST(WrongTypes, VerifyDepthMustBeAnInteger) {
    EXPECT_EQ(
        errors_of("tls:\n  certificate: /c\n  private_key: /k\n  client_ca: /ca\n"
                  "  verify_depth: abc\nupstream: {url: \"http://a:1\"}\n"),
        Errors{"t.yaml:5:17: tls.verify_depth: expected an integer from 1 to 10, found \"abc\""});
}

TEST(WrongTypes, VerifyDepthOutsideOneToTenIsRejected) {
    const std::string head = "tls:\n  certificate: /c\n  private_key: /k\n  client_ca: /ca\n";
    const std::string tail = "upstream: {url: \"http://a:1\"}\n";
    EXPECT_EQ(
        errors_of(head + "  verify_depth: 11\n" + tail),
        Errors{"t.yaml:5:17: tls.verify_depth: expected an integer from 1 to 10, found \"11\""});
    EXPECT_EQ(
        errors_of(head + "  verify_depth: 0\n" + tail),
        Errors{"t.yaml:5:17: tls.verify_depth: expected an integer from 1 to 10, found \"0\""});
}

TEST(WrongTypes, BooleanMustBeTrueOrFalse) {
    EXPECT_EQ(errors_of(kBase + "forwarded:\n  x_real_ip: yes\n"),
              Errors{"t.yaml:8:14: forwarded.x_real_ip: expected true or false, found \"yes\""});
}

TEST(WrongTypes, DocumentThatIsNotAMappingIsRejectedAlone) {
    EXPECT_EQ(errors_of("- tls\n- upstream\n"),
              Errors{"t.yaml:1:1: : expected a mapping of configuration keys, found a list"});
}

TEST(RequiredKeys, MissingKeysAreReportedAtTheirParentMapping) {
    EXPECT_EQ(
        errors_of("tls:\n  certificate: /tls/server.crt\nupstream:\n  connect_timeout: 1s\n"),
        (Errors{"t.yaml:2:3: tls.private_key: required key is missing",
                "t.yaml:2:3: tls.client_ca: required key is missing (needed unless every policy "
                "has client_certificate: none)",
                "t.yaml:4:3: upstream.url: required key is missing"}));
}

TEST(RequiredKeys, MissingSectionsAreReportedAtTheDocumentStart) {
    const Errors expected{"t.yaml:1:1: tls.certificate: required key is missing",
                          "t.yaml:1:1: tls.private_key: required key is missing",
                          "t.yaml:1:1: tls.client_ca: required key is missing (needed unless every "
                          "policy has client_certificate: none)",
                          "t.yaml:1:1: upstream.url: required key is missing"};
    EXPECT_EQ(errors_of("workers: 2\n"), expected);
    EXPECT_EQ(errors_of(""), expected);
}

TEST(RequiredKeys, EmptyRequiredValueIsReportedAtItsKey) {
    EXPECT_EQ(errors_of("tls:\n  certificate:\n  private_key: /k\n  client_ca: /ca\n"
                        "upstream: {url: \"http://a:1\"}\n"),
              Errors{"t.yaml:2:3: tls.certificate: a value is required"});
}

TEST(RequiredKeys, ClientCaIsRequiredWhenAnyPolicyAcceptsACertificate) {
    EXPECT_EQ(
        errors_of("tls: {certificate: /c, private_key: /k}\nupstream: {url: \"http://a:1\"}\n"
                  "policies:\n  - {name: a, paths: [/a], client_certificate: none}\n"
                  "  - {name: b, paths: [/b], client_certificate: optional}\n"),
        Errors{"t.yaml:1:6: tls.client_ca: required key is missing (needed unless every policy "
               "has client_certificate: none)"});
}

TEST(OptionalFeatures, RedirectHttpIsAccepted) {
    EXPECT_EQ(errors_of(kBase + "redirect_http: \"0.0.0.0:8080\"\n"), Errors{});
}

TEST(OptionalFeatures, AdminIsAccepted) {
    EXPECT_EQ(errors_of(kBase + "admin: \"127.0.0.1:9901\"\n"), Errors{});
}

TEST(OptionalFeatures, AllowListsCsrfAndCookiesAreAccepted) {
    EXPECT_EQ(errors_of(kBase + "policies:\n  - name: a\n"
                                "    allow: {san_uri: [\"spiffe://example.org/sa/*\"]}\n"
                                "    csrf: {allow_missing_origin: true}\n"
                                "    cookies: {same_site: Strict}\n"),
              Errors{});
}

TEST(YamlSyntax, ParserErrorIsLocatedWithAnEmptyKeyPath) {
    EXPECT_EQ(errors_of(kBase + "workers: 2\nlisten: 0.0.0.0: 8443\nadmin: null\n"),
              Errors{"t.yaml:8:16: : illegal map value"});
}

TEST(YamlSyntax, SecondDocumentIsRejected) {
    EXPECT_EQ(errors_of(kBase + "---\nworkers: 2\n"),
              Errors{"t.yaml:8:1: : only one YAML document is allowed"});
}

TEST(YamlSyntax, EmptyDocumentsAroundTheConfigAreFine) {
    EXPECT_EQ(errors_of("---\n" + kBase + "...\n---\n...\n"), Errors{});
}

// Found by tests/fuzz/fuzz_config: yaml-cpp 0.7's LoadAll looped forever, allocating, on
// these (a stray flow indicator at the top level). Each must now be a located error.
TEST(YamlSyntax, InputsThatHungYamlCppAreLocatedErrors) {
    for (const std::string text : {",", ",\x08'`", ",`", "\n,\n", "]", "}"}) {
        const auto errors = errors_of(text);
        ASSERT_EQ(errors.size(), 1u) << text;
        EXPECT_TRUE(errors[0].starts_with("t.yaml:")) << errors[0];
    }
}

TEST(AllErrors, EveryProblemIsReportedTogetherInFileOrder) {
    const std::string yaml =
        "policies:\n"
        "  - name: a\n"
        "    frame_ancestors: [\"https//x.example\"]\n"
        "tls:\n"
        "  certificate: /c\n"
        "  verify_depth: 20\n"
        "upstream:\n"
        "  url: https://app:8443\n"
        "listen: \"0.0.0.0\"\n";
    const Errors expected{
        "t.yaml:3:23: policies[0].frame_ancestors[0]: \"https//x.example\" is not a valid origin",
        "t.yaml:5:3: tls.private_key: required key is missing",
        "t.yaml:5:3: tls.client_ca: required key is missing (needed unless every policy has "
        "client_certificate: none)",
        "t.yaml:6:17: tls.verify_depth: expected an integer from 1 to 10, found \"20\"",
        "t.yaml:8:8: upstream.url: https upstreams are not supported (planned)",
        "t.yaml:9:9: listen: \"0.0.0.0\" is not a valid address: use IPv4:port, [IPv6]:port or "
        "localhost:port"};
    try {
        parse_config(yaml, "t.yaml");
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& error) {
        EXPECT_EQ(error.messages(), expected);
        std::string joined;
        for (const std::string& line : expected) joined += (joined.empty() ? "" : "\n") + line;
        EXPECT_EQ(error.what(), joined);
    }
}

}  // namespace
}  // namespace certgate::config
