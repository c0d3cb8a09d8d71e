#include "policies/request_sanitizer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace certgate::policies {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

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

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// --- compile_spoof_rules ---------------------------------------------------------------

TEST(SpoofRulesTest, ExactNamesAreFoldedIdentityHeadersAndStripEntries) {
    const auto rules = compile_spoof_rules(config::Identity{});
    EXPECT_TRUE(contains(rules.exact, "x-ssl-client-verify"));
    EXPECT_TRUE(contains(rules.exact, "x-ssl-client-san-uri"));
    EXPECT_TRUE(contains(rules.exact, "client-cert-chain"));
    EXPECT_TRUE(contains(rules.exact, "x-forwarded-client-cert"));
    EXPECT_EQ(rules.prefixes, std::vector<std::string>{"x-ssl-client-"});
    EXPECT_FALSE(rules.allow_underscores);
    // Null names (certificate, rfc9440_*) add nothing; 9 identity + 5 strip, no duplicates.
    EXPECT_EQ(rules.exact.size(), 14u);
}

TEST(SpoofRulesTest, CustomNamesAreFoldedWithUnderscoreAsDash) {
    config::Identity id;
    id.headers.subject = "My_Client_DN";
    id.headers.rfc9440_cert = "Client-Cert";  // also in strip: listed once
    id.strip = {"X_Extra"};
    id.strip_prefixes = {"X_Cert_", ""};
    id.allow_underscores_in_headers = true;
    const auto rules = compile_spoof_rules(id);
    EXPECT_TRUE(contains(rules.exact, "my-client-dn"));
    EXPECT_TRUE(contains(rules.exact, "client-cert"));
    EXPECT_TRUE(contains(rules.exact, "x-extra"));
    EXPECT_EQ(rules.prefixes, std::vector<std::string>{"x-cert-"});  // "" would strip everything
    EXPECT_TRUE(rules.allow_underscores);
}

// --- strip_spoofable -------------------------------------------------------------------

class StripSpoofableTest : public ::testing::Test {
protected:
    SpoofRules rules = compile_spoof_rules(config::Identity{});
    std::size_t strip(HeaderList& h) { return strip_spoofable(h, rules); }
};

TEST_F(StripSpoofableTest, DropsExactIdentityHeader) {
    auto h = list_of({{"X-SSL-Client-Verify", "SUCCESS"}, {"Accept", "*/*"}});
    EXPECT_EQ(strip(h), 1u);
    EXPECT_EQ(fields_of(h), (Fields{{"Accept", "*/*"}}));
}

TEST_F(StripSpoofableTest, DropsMixedCaseVariantOfIdentityHeader) {
    auto h = list_of({{"x-ssl-CLIENT-dn", "CN=admin"}, {"X-SSL-CLIENT-VERIFY", "SUCCESS"}});
    EXPECT_EQ(strip(h), 2u);
    EXPECT_TRUE(h.empty());
}

TEST_F(StripSpoofableTest, DropsUnderscoreVariantOfIdentityHeaderEvenWhenUnderscoresAllowed) {
    rules.allow_underscores = true;
    auto h = list_of({{"X_SSL_Client_DN", "CN=admin"},
                      {"x-ssl_client-verify", "SUCCESS"},
                      {"Client_Cert", ":AAAA:"},
                      {"My_Header", "kept"}});
    EXPECT_EQ(strip(h), 3u);
    EXPECT_EQ(fields_of(h), (Fields{{"My_Header", "kept"}}));
}

TEST_F(StripSpoofableTest, DropsEveryHeaderStartingWithAPrefix) {
    auto h = list_of({{"X-SSL-Client-Anything-New", "1"},
                      {"x_ssl_client_s_dn", "2"},
                      {"X-SSL-Clients", "kept: no dash after Client"}});
    EXPECT_EQ(strip(h), 2u);
    EXPECT_EQ(h.count("X-SSL-Clients"), 1u);
}

TEST_F(StripSpoofableTest, DropsEveryDuplicatedCopy) {
    auto h = list_of({{"X-SSL-Client-DN", "CN=a"},
                      {"Host", "h"},
                      {"X-SSL-Client-DN", "CN=b"},
                      {"x-ssl-client-dn", "CN=c"}});
    EXPECT_EQ(strip(h), 3u);
    EXPECT_EQ(fields_of(h), (Fields{{"Host", "h"}}));
}

TEST_F(StripSpoofableTest, DropsEveryStripListEntryInAnySpelling) {
    auto h = list_of({{"X-Forwarded-Client-Cert", "By=x"},
                      {"client-cert", ":AA:"},
                      {"CLIENT-CERT-CHAIN", ":AA:"},
                      {"X-Client-Cert", "pem"},
                      {"ssl-client-cert", "pem"},
                      {"Client-Certificate", "kept"}});
    EXPECT_EQ(strip(h), 5u);
    EXPECT_EQ(fields_of(h), (Fields{{"Client-Certificate", "kept"}}));
}

TEST_F(StripSpoofableTest, DropsConfiguredCustomIdentityNames) {
    config::Identity id;
    id.headers.subject = "X-Client-Subject";
    id.headers.certificate = "X-Client-PEM";
    id.strip_prefixes = {};
    rules = compile_spoof_rules(id);
    auto h = list_of(
        {{"x-client-subject", "CN=a"}, {"X-Client_PEM", "p"}, {"X-SSL-Client-Foo", "kept"}});
    EXPECT_EQ(strip(h), 2u);
    EXPECT_EQ(fields_of(h), (Fields{{"X-SSL-Client-Foo", "kept"}}));
}

TEST_F(StripSpoofableTest, DropsEveryUnderscoreHeaderUnlessAllowed) {
    auto h = list_of({{"My_Header", "x"}, {"_", "y"}, {"Normal-Header", "z"}});
    EXPECT_EQ(strip(h), 2u);
    EXPECT_EQ(fields_of(h), (Fields{{"Normal-Header", "z"}}));
    rules.allow_underscores = true;
    auto allowed = list_of({{"My_Header", "x"}});
    EXPECT_EQ(strip(allowed), 0u);
    EXPECT_EQ(allowed.size(), 1u);
}

TEST_F(StripSpoofableTest, KeepsOrdinaryHeadersUntouchedAndInOrder) {
    const Fields in{{"Host", "a"}, {"Accept", "x"}, {"Cookie", "c=1"}, {"X-SSL", "y"}};
    auto h = list_of(in);
    EXPECT_EQ(strip(h), 0u);
    EXPECT_EQ(fields_of(h), in);
}

// --- strip_hop_by_hop ------------------------------------------------------------------

TEST(HopByHopTest, RemovesTheFixedHopByHopHeadersInAnyCase) {
    auto h = list_of({{"Connection", "keep-alive"},
                      {"keep-alive", "timeout=5"},
                      {"Proxy-Connection", "x"},
                      {"te", "trailers"},
                      {"TRAILER", "X"},
                      {"Upgrade", "websocket"},
                      {"Accept", "a"}});
    strip_hop_by_hop(h);
    EXPECT_EQ(fields_of(h), (Fields{{"Accept", "a"}}));
}

TEST(HopByHopTest, RemovesHeadersNamedInConnectionAcrossFields) {
    auto h = list_of({{"Connection", " X-Foo ,x-bar"},
                      {"connection", "X-Baz"},
                      {"x-foo", "1"},
                      {"X-Bar", "2"},
                      {"X-BAZ", "3"},
                      {"X-Kept", "4"}});
    strip_hop_by_hop(h);
    EXPECT_EQ(fields_of(h), (Fields{{"X-Kept", "4"}}));
}

// Past the first few nominated names the lookup changes (a hash set); every name counts.
TEST(HopByHopTest, EveryOneOfManyNominatedNamesIsRemovedInAnyCase) {
    std::string first, second;
    HeaderList h;
    for (int i = 0; i < 20; ++i) {  // two Connection fields, names in mixed case
        auto& list = i % 2 ? first : second;
        if (!list.empty()) list += ", ";
        list += (i % 3 ? "X-Tok-" : "x-TOK-") + std::to_string(i);
    }
    h.add("Connection", first);
    h.add("Connection", second);
    for (int i = 0; i < 20; ++i) h.add("X-TOK-" + std::to_string(i), "gone");
    h.add("X-Tok-20", "kept");
    strip_hop_by_hop(h);
    EXPECT_EQ(fields_of(h), (Fields{{"X-Tok-20", "kept"}}));
}

TEST(HopByHopTest, NeverRemovesHostOrFramingHeadersNamedInConnection) {
    auto h = list_of({{"Connection", "Host, Content-Length, transfer-encoding"},
                      {"Host", "a"},
                      {"Content-Length", "3"}});
    strip_hop_by_hop(h);
    EXPECT_EQ(fields_of(h), (Fields{{"Host", "a"}, {"Content-Length", "3"}}));
}

TEST(HopByHopTest, LeavesEndToEndHeadersAlone) {
    const Fields in{{"Host", "a"}, {"X-Connection", "close"}, {"Trailers", "x"}};
    auto h = list_of(in);
    strip_hop_by_hop(h);
    EXPECT_EQ(fields_of(h), in);
}

// 1 MiB of header (the largest limit the config allows) holds ~100,000 Connection tokens and
// ~100,000 fields; matching each field against each token was 10^10 steps, a worker stalled
// for many seconds by one request.
TEST(HopByHopTest, ManyConnectionTokensAndFieldsAreHandledInLinearTime) {
    std::string tokens = "keep-alive";
    for (int i = 0; i < 40000; ++i) tokens += ",T" + std::to_string(i % 1000);
    HeaderList h;
    h.add("Connection", tokens);
    for (int i = 0; i < 100000; ++i) h.add("f" + std::to_string(i % 1000), "");
    h.add("t7", "nominated");
    h.add("X-Kept", "1");
    const auto t0 = std::chrono::steady_clock::now();
    strip_hop_by_hop(h);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
    EXPECT_LT(ms, 1000) << "quadratic in tokens x fields";
    EXPECT_EQ(h.size(), 100001u);
    EXPECT_FALSE(h.get("t7"));
    EXPECT_EQ(h.get("X-Kept"), "1");
}

// --- request id and forwarding headers ------------------------------------------------

TEST(RequestIdTest, AcceptsOneTo128SafeCharacters) {
    EXPECT_TRUE(is_acceptable_request_id("a"));
    EXPECT_TRUE(is_acceptable_request_id("Req-1.2_3:4"));
    EXPECT_TRUE(is_acceptable_request_id(std::string(128, 'x')));
    EXPECT_FALSE(is_acceptable_request_id(""));
    EXPECT_FALSE(is_acceptable_request_id(std::string(129, 'x')));
    for (const char* bad : {"a b", "a,b", "a\"b", "a/b", "<x>", "a\tb", "caf\xC3\xA9", "a;b"})
        EXPECT_FALSE(is_acceptable_request_id(bad)) << bad;
}

TEST(ForwardingTest, ReplaceModeSetsOnlyTheClientAddress) {
    auto h = list_of({{"X-Forwarded-For", "6.6.6.6"}, {"x-forwarded-for", "7.7.7.7"}});
    set_forwarding_headers(h, config::Forwarded{}, "10.1.2.3", "gen");
    EXPECT_EQ(h.count("X-Forwarded-For"), 1u);
    EXPECT_EQ(*h.get("X-Forwarded-For"), "10.1.2.3");
}

TEST(ForwardingTest, AppendModeJoinsEveryCopyThenTheClientAddress) {
    config::Forwarded f;
    f.x_forwarded_for = config::XffMode::append;
    auto h = list_of({{"X-Forwarded-For", "1.1.1.1, 2.2.2.2"}, {"x-forwarded-for", " 3.3.3.3 "}});
    set_forwarding_headers(h, f, "10.1.2.3", "gen");
    EXPECT_EQ(h.count("X-Forwarded-For"), 1u);
    EXPECT_EQ(*h.get("X-Forwarded-For"), "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.1.2.3");

    auto none = list_of({});
    set_forwarding_headers(none, f, "::1", "gen");
    EXPECT_EQ(*none.get("X-Forwarded-For"), "::1");
}

TEST(ForwardingTest, OffModeSendsNoXffNotEvenTheClients) {
    config::Forwarded f;
    f.x_forwarded_for = config::XffMode::off;
    auto h = list_of({{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-For", "7.7.7.7"}});
    set_forwarding_headers(h, f, "10.1.2.3", "gen");
    EXPECT_EQ(h.count("X-Forwarded-For"), 0u);
    auto empty = list_of({});
    set_forwarding_headers(empty, f, "10.1.2.3", "gen");
    EXPECT_EQ(empty.count("X-Forwarded-For"), 0u);
}

TEST(ForwardingTest, ProtoAndRealIpReplaceTheClientsCopies) {
    auto h = list_of({{"X-Forwarded-Proto", "http"}, {"x-real-ip", "6.6.6.6"}, {"X-Real-IP", "7"}});
    set_forwarding_headers(h, config::Forwarded{}, "10.1.2.3", "gen");
    EXPECT_EQ(h.count("X-Forwarded-Proto"), 1u);
    EXPECT_EQ(*h.get("X-Forwarded-Proto"), "https");
    EXPECT_EQ(h.count("X-Real-IP"), 1u);
    EXPECT_EQ(*h.get("X-Real-IP"), "10.1.2.3");
}

TEST(ForwardingTest, DisabledProtoAndRealIpSendNoneNotEvenTheClients) {
    config::Forwarded f;
    f.x_forwarded_proto = false;
    f.x_real_ip = false;
    auto h = list_of({{"X-Forwarded-Proto", "http"}, {"X-Real-IP", "6.6.6.6"}, {"x_real_ip", "7"}});
    set_forwarding_headers(h, f, "10.1.2.3", "gen");
    EXPECT_FALSE(h.get("X-Forwarded-Proto"));
    EXPECT_FALSE(h.get("X-Real-IP"));
    EXPECT_FALSE(h.get("x_real_ip"));
}

// Apps act on more of these than certgate sets: Django's USE_X_FORWARDED_HOST and
// SECURE_PROXY_SSL_HEADER, Rack's X-Forwarded-Ssl, Spring's X-Forwarded-Prefix.
TEST(ForwardingTest, RemovesEveryClientForwardingHeaderInAnySpelling) {
    const Fields client = {{"X-Forwarded-Host", "evil.example"},
                           {"x-forwarded-port", "80"},
                           {"X-FORWARDED-SSL", "on"},
                           {"X-Forwarded-Prefix", "/admin"},
                           {"X_Forwarded_Host", "evil.example"},
                           {"X-Forwarded_Scheme", "http"},
                           {"Forwarded", "for=6.6.6.6;proto=http;host=evil.example"},
                           {"forwarded", "for=7.7.7.7"},
                           {"X-Real-IP", "6.6.6.6"},
                           {"X-Forwarded-For", "6.6.6.6"},
                           {"X-Forwarded-Proto", "http"},
                           {"Accept", "*/*"},
                           {"X-Forwardedness", "kept: not a forwarding header"},
                           {"Forwarded-By", "kept"}};
    auto h = list_of(client);
    set_forwarding_headers(h, config::Forwarded{}, "10.0.0.1", "gen");
    EXPECT_EQ(fields_of(h), (Fields{{"Accept", "*/*"},
                                    {"X-Forwardedness", "kept: not a forwarding header"},
                                    {"Forwarded-By", "kept"},
                                    {"X-Forwarded-For", "10.0.0.1"},
                                    {"X-Forwarded-Proto", "https"},
                                    {"X-Real-IP", "10.0.0.1"},
                                    {"X-Request-Id", "gen"}}));

    config::Forwarded off;
    off.x_forwarded_for = config::XffMode::off;
    off.x_forwarded_proto = false;
    off.x_real_ip = false;
    off.request_id = std::nullopt;
    auto bare = list_of(client);
    EXPECT_EQ(set_forwarding_headers(bare, off, "10.0.0.1", "gen"), "");
    EXPECT_EQ(fields_of(bare), (Fields{{"Accept", "*/*"},
                                       {"X-Forwardedness", "kept: not a forwarding header"},
                                       {"Forwarded-By", "kept"}}));
}

TEST(ForwardingTest, AppendModeStillChainsTheClientsXffButDropsTheRest) {
    config::Forwarded f;
    f.x_forwarded_for = config::XffMode::append;
    auto h = list_of({{"X-Forwarded-For", "1.1.1.1"},
                      {"X-Forwarded-Host", "evil.example"},
                      {"X_Forwarded_For", "6.6.6.6"},  // an '_' spelling is not part of the chain
                      {"Forwarded", "for=6.6.6.6"}});
    set_forwarding_headers(h, f, "10.1.2.3", "gen");
    EXPECT_EQ(fields_of(h), (Fields{{"X-Forwarded-For", "1.1.1.1, 10.1.2.3"},
                                    {"X-Forwarded-Proto", "https"},
                                    {"X-Real-IP", "10.1.2.3"},
                                    {"X-Request-Id", "gen"}}));
}

TEST(ForwardingTest, RequestIdHeaderNamedLikeAForwardingHeaderIsJudgedByItsOwnRule) {
    config::Forwarded f;
    f.request_id = "X-Forwarded-Request-Id";
    auto h = list_of({{"X-Forwarded-Request-Id", "abc-1"}, {"X-Forwarded-Host", "evil"}});
    EXPECT_EQ(set_forwarding_headers(h, f, "10.0.0.1", "gen"), "abc-1");
    EXPECT_EQ(*h.get("X-Forwarded-Request-Id"), "abc-1");
    EXPECT_FALSE(h.get("X-Forwarded-Host"));
}

TEST(ForwardingTest, SetHeadersAlsoReplaceTheirUnderscoreSpellings) {
    auto h = list_of({{"X_Forwarded_For", "6.6.6.6"},
                      {"x_real_ip", "6.6.6.6"},
                      {"X_Forwarded-Proto", "http"},
                      {"X_Request_Id", "spoofed"}});
    EXPECT_EQ(set_forwarding_headers(h, config::Forwarded{}, "10.0.0.1", "gen"), "gen");
    EXPECT_EQ(fields_of(h), (Fields{{"X-Forwarded-For", "10.0.0.1"},
                                    {"X-Forwarded-Proto", "https"},
                                    {"X-Real-IP", "10.0.0.1"},
                                    {"X-Request-Id", "gen"}}));
}

TEST(ForwardingTest, KeepsOneAcceptableClientRequestId) {
    auto h = list_of({{"x-request-id", "abc-123"}});
    EXPECT_EQ(set_forwarding_headers(h, config::Forwarded{}, "10.0.0.1", "generated"), "abc-123");
    EXPECT_EQ(h.count("X-Request-Id"), 1u);
    EXPECT_EQ(*h.get("X-Request-Id"), "abc-123");
}

TEST(ForwardingTest, ReplacesMissingDuplicatedOrUnacceptableRequestId) {
    for (const Fields& in : {Fields{}, Fields{{"X-Request-Id", "a"}, {"X-Request-Id", "b"}},
                             Fields{{"X-Request-Id", "bad id"}}, Fields{{"X-Request-Id", ""}},
                             Fields{{"X-Request-Id", std::string(129, 'a')}}}) {
        auto h = list_of(in);
        EXPECT_EQ(set_forwarding_headers(h, config::Forwarded{}, "10.0.0.1", "gen-1"), "gen-1");
        EXPECT_EQ(h.count("X-Request-Id"), 1u);
        EXPECT_EQ(*h.get("X-Request-Id"), "gen-1");
    }
}

TEST(ForwardingTest, CustomRequestIdHeaderName) {
    config::Forwarded f;
    f.request_id = "X-Correlation-Id";
    auto h = list_of({{"X-Request-Id", "other"}});
    EXPECT_EQ(set_forwarding_headers(h, f, "10.0.0.1", "gen"), "gen");
    EXPECT_EQ(*h.get("X-Correlation-Id"), "gen");
    EXPECT_EQ(*h.get("X-Request-Id"), "other");
}

TEST(ForwardingTest, RequestIdOffReturnsEmptyAndLeavesHeadersAlone) {
    config::Forwarded f;
    f.request_id = std::nullopt;
    auto h = list_of({{"X-Request-Id", "bad id"}});
    EXPECT_EQ(set_forwarding_headers(h, f, "10.0.0.1", "gen"), "");
    EXPECT_EQ(*h.get("X-Request-Id"), "bad id");
}

}  // namespace
}  // namespace certgate::policies
