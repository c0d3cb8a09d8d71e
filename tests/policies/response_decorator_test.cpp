#include "policies/response_decorator.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace certgate::policies {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;
constexpr const char* kCsp = "Content-Security-Policy";
constexpr const char* kOurs = "frame-ancestors 'none'";

HeaderList list_of(const Fields& fields) {
    HeaderList h;
    for (const auto& [n, v] : fields) h.add(n, v);
    return h;
}

std::vector<std::string> values_of(const HeaderList& h, std::string_view name) {
    std::vector<std::string> out;
    h.for_each([&](std::string_view n, std::string_view v) {
        if (iequals(n, name)) out.emplace_back(v);
    });
    return out;
}

using Values = std::vector<std::string>;

// --- compile_response_rules -----------------------------------------------------------

TEST(ResponseRulesTest, FrameAncestorsJoinsTheSourcesWithSpaces) {
    config::Policy p;
    p.frame_ancestors = {"'self'", "https://a.example", "https://*.b.example"};
    EXPECT_EQ(compile_response_rules(p).frame_ancestors,
              "frame-ancestors 'self' https://a.example https://*.b.example");
    EXPECT_EQ(compile_response_rules(config::Policy{}).frame_ancestors, kOurs);
}

TEST(ResponseRulesTest, EmptySourceListIsSpelledNone) {
    config::Policy p;
    p.frame_ancestors.clear();
    EXPECT_EQ(compile_response_rules(p).frame_ancestors, kOurs);
}

TEST(ResponseRulesTest, AutoFrameOptionsIsSameOriginOnlyWhenSelfIsASource) {
    config::Policy p;
    EXPECT_EQ(compile_response_rules(p).x_frame_options, "DENY");
    p.frame_ancestors = {"https://a.example", "'self'"};
    EXPECT_EQ(compile_response_rules(p).x_frame_options, "SAMEORIGIN");
    p.frame_ancestors = {"https://a.example"};
    EXPECT_EQ(compile_response_rules(p).x_frame_options, "DENY");
}

TEST(ResponseRulesTest, ExplicitFrameOptionsAndOff) {
    config::Policy p;
    p.frame_ancestors = {"'self'"};
    p.x_frame_options = config::FrameOptions::deny;
    EXPECT_EQ(compile_response_rules(p).x_frame_options, "DENY");
    p.frame_ancestors = {"'none'"};
    p.x_frame_options = config::FrameOptions::sameorigin;
    EXPECT_EQ(compile_response_rules(p).x_frame_options, "SAMEORIGIN");
    p.x_frame_options = config::FrameOptions::off;
    EXPECT_FALSE(compile_response_rules(p).x_frame_options);
}

TEST(ResponseRulesTest, CopiesHstsModeAndExtraHeaders) {
    config::Policy p;
    p.hsts = std::nullopt;
    p.csp_mode = config::CspMode::if_missing;
    p.response_headers = {{"X-Content-Type-Options", "nosniff"}};
    const auto r = compile_response_rules(p);
    EXPECT_FALSE(r.hsts);
    EXPECT_EQ(r.csp_mode, config::CspMode::if_missing);
    EXPECT_EQ(r.response_headers, p.response_headers);
    EXPECT_EQ(compile_response_rules(config::Policy{}).hsts, "max-age=31536000; includeSubDomains");
}

// --- replace_frame_ancestors ----------------------------------------------------------

TEST(ReplaceFrameAncestorsTest, ReplacesTheDirectiveAndKeepsTheOthersInOrder) {
    const auto [v, found] =
        replace_frame_ancestors("default-src 'self'; frame-ancestors *; img-src data:", kOurs);
    EXPECT_TRUE(found);
    EXPECT_EQ(v, "default-src 'self'; frame-ancestors 'none'; img-src data:");
}

TEST(ReplaceFrameAncestorsTest, MatchesTheDirectiveNameInAnyCase) {
    const auto [v, found] = replace_frame_ancestors("FRAME-Ancestors https://evil.example", kOurs);
    EXPECT_TRUE(found);
    EXPECT_EQ(v, kOurs);
}

TEST(ReplaceFrameAncestorsTest, ReplacesEveryOccurrenceInEveryCommaJoinedPolicy) {
    const auto [v, found] = replace_frame_ancestors(
        "frame-ancestors *;frame-ancestors a, script-src 'self'; frame-ancestors b "
        ",frame-ancestors",
        kOurs);
    EXPECT_TRUE(found);
    EXPECT_EQ(v,
              "frame-ancestors 'none';frame-ancestors 'none', script-src 'self'; "
              "frame-ancestors 'none' ,frame-ancestors 'none'");
}

TEST(ReplaceFrameAncestorsTest, LeavesPoliciesWithoutTheDirectiveUnchanged) {
    for (const char* csp :
         {"default-src 'self'", "", ";;", "frame-ancestors-x a; xframe-ancestors b",
          "default-src frame-ancestors"}) {
        const auto [v, found] = replace_frame_ancestors(csp, kOurs);
        EXPECT_FALSE(found) << csp;
        EXPECT_EQ(v, csp);
    }
}

// --- decorate_response: CSP -----------------------------------------------------------

ResponseRules rules_for(config::CspMode mode) {
    config::Policy p;
    p.csp_mode = mode;
    return compile_response_rules(p);
}

TEST(DecorateCspTest, MergeAddsOurHeaderWhenTheAppSentNone) {
    auto h = list_of({{"Content-Type", "text/html"}});
    decorate_response(h, rules_for(config::CspMode::merge));
    EXPECT_EQ(values_of(h, kCsp), Values{kOurs});
}

TEST(DecorateCspTest, MergeAppendsToTheAppsPolicyKeepingItsDirectives) {
    for (const auto& [in, out] : std::vector<std::pair<std::string, std::string>>{
             {"default-src 'self'", "default-src 'self'; frame-ancestors 'none'"},
             {"default-src 'self';", "default-src 'self'; frame-ancestors 'none'"},
             {"default-src 'self' ;  ", "default-src 'self' ; frame-ancestors 'none'"},
             {"", "frame-ancestors 'none'"},
             {"a 'self',", "a 'self', frame-ancestors 'none'"}}) {
        auto h = list_of({{kCsp, in}});
        decorate_response(h, rules_for(config::CspMode::merge));
        EXPECT_EQ(values_of(h, kCsp), Values{out}) << in;
    }
}

TEST(DecorateCspTest, MergeReplacesFrameAncestorsInEveryCspHeader) {
    auto h =
        list_of({{"content-security-policy", "default-src 'self'; Frame-Ancestors *"},
                 {kCsp, "script-src 'none'"},
                 {"CONTENT-SECURITY-POLICY", "frame-ancestors https://evil.example, img-src *"}});
    decorate_response(h, rules_for(config::CspMode::merge));
    EXPECT_EQ(values_of(h, kCsp),
              (Values{"default-src 'self'; frame-ancestors 'none'", "script-src 'none'",
                      "frame-ancestors 'none', img-src *"}));
}

TEST(DecorateCspTest, MergeAddsToTheFirstCspHeaderOnlyWhenNoneHadTheDirective) {
    auto h = list_of({{kCsp, "default-src 'self'"}, {kCsp, "script-src 'none'"}});
    decorate_response(h, rules_for(config::CspMode::merge));
    EXPECT_EQ(values_of(h, kCsp),
              (Values{"default-src 'self'; frame-ancestors 'none'", "script-src 'none'"}));
}

TEST(DecorateCspTest, ReportOnlyHeaderIsLeftAlone) {
    for (auto mode :
         {config::CspMode::merge, config::CspMode::override_app, config::CspMode::if_missing}) {
        auto h = list_of({{"Content-Security-Policy-Report-Only", "frame-ancestors *"}});
        decorate_response(h, rules_for(mode));
        EXPECT_EQ(values_of(h, "Content-Security-Policy-Report-Only"), Values{"frame-ancestors *"});
        EXPECT_EQ(values_of(h, kCsp), Values{kOurs});
    }
}

TEST(DecorateCspTest, ReportOnlyDirectiveDoesNotCountAsTheAppsFrameAncestors) {
    auto h = list_of({{"Content-Security-Policy-Report-Only", "frame-ancestors *; report-uri /r"},
                      {kCsp, "default-src 'self'"}});
    decorate_response(h, rules_for(config::CspMode::merge));
    EXPECT_EQ(values_of(h, "Content-Security-Policy-Report-Only"),
              Values{"frame-ancestors *; report-uri /r"});
    EXPECT_EQ(values_of(h, kCsp), Values{"default-src 'self'; frame-ancestors 'none'"});
}

TEST(DecorateCspTest, OverrideReplacesEveryAppCspWithOursAlone) {
    auto h = list_of(
        {{kCsp, "default-src 'self'; frame-ancestors *"}, {"content-security-policy", "x"}});
    decorate_response(h, rules_for(config::CspMode::override_app));
    EXPECT_EQ(values_of(h, kCsp), Values{kOurs});
}

TEST(DecorateCspTest, IfMissingKeepsTheAppsCspUntouched) {
    auto h = list_of({{kCsp, "default-src 'self'; frame-ancestors *"}});
    decorate_response(h, rules_for(config::CspMode::if_missing));
    EXPECT_EQ(values_of(h, kCsp), Values{"default-src 'self'; frame-ancestors *"});
    auto none = list_of({});
    decorate_response(none, rules_for(config::CspMode::if_missing));
    EXPECT_EQ(values_of(none, kCsp), Values{kOurs});
}

TEST(DecorateCspTest, DecoratingTwiceChangesNothingMore) {
    auto h = list_of({{kCsp, "default-src 'self'"}});
    const auto rules = rules_for(config::CspMode::merge);
    decorate_response(h, rules);
    decorate_response(h, rules);
    EXPECT_EQ(values_of(h, kCsp), Values{"default-src 'self'; frame-ancestors 'none'"});
}

// --- decorate_response: other headers -------------------------------------------------

TEST(DecorateHeadersTest, FrameOptionsReplacesTheAppsValue) {
    auto h = list_of({{"x-frame-options", "ALLOWALL"}, {"X-Frame-Options", "ALLOW-FROM x"}});
    decorate_response(h, compile_response_rules(config::Policy{}));
    EXPECT_EQ(values_of(h, "X-Frame-Options"), Values{"DENY"});
}

TEST(DecorateHeadersTest, FrameOptionsOffRemovesTheAppsValue) {
    config::Policy p;
    p.x_frame_options = config::FrameOptions::off;
    auto h = list_of({{"X-Frame-Options", "ALLOWALL"}});
    decorate_response(h, compile_response_rules(p));
    EXPECT_EQ(h.count("X-Frame-Options"), 0u);
}

TEST(DecorateHeadersTest, HstsReplacesTheAppsValue) {
    auto h = list_of({{"strict-transport-security", "max-age=0"}});
    decorate_response(h, compile_response_rules(config::Policy{}));
    EXPECT_EQ(values_of(h, "Strict-Transport-Security"),
              Values{"max-age=31536000; includeSubDomains"});
}

TEST(DecorateHeadersTest, NullHstsPassesTheAppsHeaderThroughAndAddsNone) {
    config::Policy p;
    p.hsts = std::nullopt;
    auto h = list_of({{"Strict-Transport-Security", "max-age=5"}});
    decorate_response(h, compile_response_rules(p));
    EXPECT_EQ(values_of(h, "Strict-Transport-Security"), Values{"max-age=5"});
    auto none = list_of({});
    decorate_response(none, compile_response_rules(p));
    EXPECT_EQ(none.count("Strict-Transport-Security"), 0u);
}

TEST(DecorateHeadersTest, ResponseHeadersReplaceTheAppsValues) {
    config::Policy p;
    p.response_headers = {{"X-Content-Type-Options", "nosniff"},
                          {"Referrer-Policy", "no-referrer"}};
    auto h = list_of({{"x-content-type-options", "sniff-away"}, {"Server", "app"}});
    decorate_response(h, compile_response_rules(p));
    EXPECT_EQ(values_of(h, "X-Content-Type-Options"), Values{"nosniff"});
    EXPECT_EQ(values_of(h, "Referrer-Policy"), Values{"no-referrer"});
    EXPECT_EQ(values_of(h, "Server"), Values{"app"});
}

TEST(DecorateHeadersTest, ResponseHeadersCannotUndoAntiFraming) {
    config::Policy p;
    p.response_headers = {{kCsp, "default-src 'self'; frame-ancestors *"},
                          {"X-Frame-Options", "ALLOWALL"}};
    auto h = list_of({});
    decorate_response(h, compile_response_rules(p));
    EXPECT_EQ(values_of(h, kCsp), Values{"default-src 'self'; frame-ancestors 'none'"});
    EXPECT_EQ(values_of(h, "X-Frame-Options"), Values{"DENY"});
}

TEST(DecorateHeadersTest, UnrelatedHeadersAreKept) {
    auto h = list_of({{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"Content-Length", "3"}});
    decorate_response(h, compile_response_rules(config::Policy{}));
    EXPECT_EQ(values_of(h, "Set-Cookie"), (Values{"a=1", "b=2"}));
    EXPECT_EQ(values_of(h, "Content-Length"), Values{"3"});
}

}  // namespace
}  // namespace certgate::policies
