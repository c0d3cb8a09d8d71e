#include "policies/path.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace certgate::policies {
namespace {

std::string normalized(std::string_view target) {
    const auto r = normalize_target(target);
    EXPECT_FALSE(r.refusal) << target << " refused: " << (r.refusal ? r.refusal->rule : "");
    return r.target ? r.target->path : "<refused>";
}

std::string refusal_rule(std::string_view target) {
    const auto r = normalize_target(target);
    EXPECT_FALSE(r.target) << target << " accepted as " << (r.target ? r.target->path : "");
    if (!r.refusal) return "<accepted>";
    EXPECT_EQ(r.refusal->status, 400);
    EXPECT_FALSE(r.refusal->reason.empty());
    return r.refusal->rule;
}

TEST(NormalizeTargetTest, LeavesCleanPathsAlone) {
    EXPECT_EQ(normalized("/"), "/");
    EXPECT_EQ(normalized("/a/b"), "/a/b");
    EXPECT_EQ(normalized("/Admin/X"), "/Admin/X");  // case kept for the app; routing folds it
}

TEST(NormalizeTargetTest, PreservesTrailingSlash) {
    EXPECT_EQ(normalized("/a/b/"), "/a/b/");
    EXPECT_EQ(normalized("/a/b//"), "/a/b/");
}

TEST(NormalizeTargetTest, MergesRepeatedSlashes) {
    EXPECT_EQ(normalized("//"), "/");
    EXPECT_EQ(normalized("//admin"), "/admin");
    EXPECT_EQ(normalized("/a///b////c"), "/a/b/c");
}

TEST(NormalizeTargetTest, ResolvesDotSegments) {
    EXPECT_EQ(normalized("/a/./b"), "/a/b");
    EXPECT_EQ(normalized("/a/b/../c"), "/a/c");
    EXPECT_EQ(normalized("/public/../admin"), "/admin");
    EXPECT_EQ(normalized("/a/.."), "/");
    EXPECT_EQ(normalized("/a/b/.."), "/a/");  // RFC 3986 5.2.4: the folder remains
    EXPECT_EQ(normalized("/a/."), "/a/");
    EXPECT_EQ(normalized("/./"), "/");
    EXPECT_EQ(normalized("/a/.../b"), "/a/.../b");  // three dots are a name
    EXPECT_EQ(normalized("/a/..b/c."), "/a/..b/c.");
}

TEST(NormalizeTargetTest, ResolvesDotSegmentsFormedByDecoding) {
    EXPECT_EQ(normalized("/public/%2e%2e/admin"), "/admin");
    EXPECT_EQ(normalized("/public/%2E./admin"), "/admin");
    EXPECT_EQ(normalized("/public/.%2e/admin"), "/admin");
    EXPECT_EQ(normalized("/a/%2e/b"), "/a/b");
}

TEST(NormalizeTargetTest, DecodesUnreservedEscapesInAnyHexCase) {
    EXPECT_EQ(normalized("/%61dmin"), "/admin");
    EXPECT_EQ(normalized("/%41%44MIN"), "/ADMIN");
    EXPECT_EQ(normalized("/%7e%7E%2d%5f%30"), "/~~-_0");
}

TEST(NormalizeTargetTest, KeepsOtherEscapesWithUpperCaseHex) {
    EXPECT_EQ(normalized("/a%20b"), "/a%20b");
    EXPECT_EQ(normalized("/a%3fb%3Bc"), "/a%3Fb%3Bc");
    EXPECT_EQ(normalized("/%25"), "/%25");  // never double-decoded
    EXPECT_EQ(normalized("/%252e%252e/"), "/%252e%252e/");
    EXPECT_EQ(normalized("/caf%c3%a9"), "/caf%C3%A9");
}

TEST(NormalizeTargetTest, PassesTheQueryStringThroughUntouched) {
    const auto r = normalize_target("/a/../b?x=%2F&y=/../..&z=%2e#");
    // '#' is not allowed even in the query: refuse rather than forward a fragment.
    EXPECT_FALSE(r.target);
    const auto ok = normalize_target("/a/./%62?x=%2F&y=/../..&z=%2e%5C?");
    ASSERT_TRUE(ok.target);
    EXPECT_EQ(ok.target->path, "/a/b");
    EXPECT_EQ(ok.target->query, "?x=%2F&y=/../..&z=%2e%5C?");
}

TEST(NormalizeTargetTest, EmptyQueryKeepsItsQuestionMark) {
    const auto r = normalize_target("/a?");
    ASSERT_TRUE(r.target);
    EXPECT_EQ(r.target->path, "/a");
    EXPECT_EQ(r.target->query, "?");
    EXPECT_EQ(normalize_target("/a").target->query, "");
}

TEST(NormalizeTargetTest, RefusesEncodedSlashInAnyCase) {
    EXPECT_EQ(refusal_rule("/a%2Fb"), "path.encoded_slash");
    EXPECT_EQ(refusal_rule("/a%2fb"), "path.encoded_slash");
    EXPECT_EQ(refusal_rule("/public%2F..%2Fadmin"), "path.encoded_slash");
}

TEST(NormalizeTargetTest, RefusesEncodedBackslashInAnyCase) {
    EXPECT_EQ(refusal_rule("/a%5Cb"), "path.encoded_backslash");
    EXPECT_EQ(refusal_rule("/a%5cb"), "path.encoded_backslash");
}

TEST(NormalizeTargetTest, RefusesEncodedNul) {
    EXPECT_EQ(refusal_rule("/a%00b"), "path.encoded_nul");
}

TEST(NormalizeTargetTest, RefusesRawBackslash) {
    EXPECT_EQ(refusal_rule("/a\\b"), "path.backslash");
    EXPECT_EQ(refusal_rule("/public\\..\\admin"), "path.backslash");
}

TEST(NormalizeTargetTest, RefusesBadPercentEscapes) {
    for (const char* t : {"/%", "/a%", "/a%4", "/%G1", "/%1G", "/%%41", "/% 1"}) {
        const auto rule = normalize_target(t).refusal;
        ASSERT_TRUE(rule) << t;
        EXPECT_TRUE(rule->rule == "path.bad_escape" || rule->rule == "path.invalid_char") << t;
    }
    EXPECT_EQ(refusal_rule("/%G1"), "path.bad_escape");
    EXPECT_EQ(refusal_rule("/a%"), "path.bad_escape");
}

TEST(NormalizeTargetTest, RefusesClimbingAboveTheRoot) {
    EXPECT_EQ(refusal_rule("/.."), "path.above_root");
    EXPECT_EQ(refusal_rule("/../etc/passwd"), "path.above_root");
    EXPECT_EQ(refusal_rule("/a/../../b"), "path.above_root");
    EXPECT_EQ(refusal_rule("/%2e%2e/a"), "path.above_root");
    EXPECT_EQ(refusal_rule("//../a"), "path.above_root");
}

TEST(NormalizeTargetTest, RefusesTargetsThatAreNotOriginForm) {
    EXPECT_EQ(refusal_rule(""), "path.not_origin_form");
    EXPECT_EQ(refusal_rule("*"), "path.not_origin_form");
    EXPECT_EQ(refusal_rule("http://a.example/admin"), "path.not_origin_form");
    EXPECT_EQ(refusal_rule("a/b"), "path.not_origin_form");
}

TEST(NormalizeTargetTest, RefusesControlCharactersAndSpaceInTheRawTarget) {
    for (const char* t : {"/a b", "/a\tb", "/a\rb", "/a\nb", "/a\x01", "/a\x7F", "/a?q=1 2"})
        EXPECT_EQ(refusal_rule(t), "path.invalid_char") << t;
    EXPECT_EQ(refusal_rule(std::string_view("/a\0b", 4)), "path.invalid_char");
}

TEST(NormalizeTargetTest, AcceptsEveryRfc3986PathAndQueryCharacter) {
    const auto r = normalize_target("/a-._~!$&'()*+,;=:@/B9?q=/?:@-._~!$&'()*+,;=%41%c3%A9");
    ASSERT_TRUE(r.target) << r.refusal->rule;
    EXPECT_EQ(r.target->path, "/a-._~!$&'()*+,;=:@/B9");
    EXPECT_EQ(r.target->query, "?q=/?:@-._~!$&'()*+,;=%41%c3%A9");  // the query stays as sent
}

TEST(NormalizeTargetTest, RefusesPathCharactersOutsideRfc3986) {
    EXPECT_EQ(refusal_rule("/a<b>\"{}|^`[]"), "path.invalid_char");
    for (char c : std::string_view("<>\"{}|^`[]"))
        EXPECT_EQ(refusal_rule(std::string("/a") + c + "b"), "path.invalid_char") << c;
    EXPECT_EQ(refusal_rule("/caf\xC3\xA9"), "path.invalid_char");  // raw UTF-8: encode it
    EXPECT_EQ(refusal_rule("/\x80"), "path.invalid_char");
    EXPECT_EQ(refusal_rule("/\xFF/admin"), "path.invalid_char");
}

TEST(NormalizeTargetTest, RefusesQueryCharactersOutsideRfc3986) {
    // '[' and ']' too: RFC 3986 keeps them for IP literals, and PHP/Rails-style "a[]=1" is
    // read differently by different parsers. A client percent-encodes them (%5B, %5D).
    for (char c : std::string_view("<>\"{}|^`[]\\"))
        EXPECT_EQ(refusal_rule(std::string("/a?x=") + c), "path.invalid_char") << c;
    EXPECT_EQ(refusal_rule("/a?filter[status]=open"), "path.invalid_char");
    EXPECT_EQ(refusal_rule("/a?q=caf\xC3\xA9"), "path.invalid_char");
    EXPECT_EQ(refusal_rule("/a?q=\x80"), "path.invalid_char");
    EXPECT_TRUE(normalize_target("/a?filter%5Bstatus%5D=open").target);
}

TEST(NormalizeTargetTest, RefusesBadPercentEscapesInTheQuery) {
    for (const char* t : {"/a?x=%", "/a?x=%4", "/a?x=%G1", "/a?x=%1G", "/a?100%", "/a?%%41"})
        EXPECT_EQ(refusal_rule(t), "path.bad_escape") << t;
    EXPECT_TRUE(normalize_target("/a?x=%25%2F%00").target);  // well-formed escapes pass as sent
}

// --- routing ---------------------------------------------------------------------------

TEST(PathMatchesTest, PrefixWithoutSlashMatchesExactPathAndFolderBelow) {
    EXPECT_TRUE(path_matches("/api", "/api"));
    EXPECT_TRUE(path_matches("/api", "/api/"));
    EXPECT_TRUE(path_matches("/api", "/api/x/y"));
    EXPECT_FALSE(path_matches("/api", "/apix"));
    EXPECT_FALSE(path_matches("/api", "/ap"));
    EXPECT_FALSE(path_matches("/api", "/"));
}

TEST(PathMatchesTest, PrefixWithSlashMatchesOnlyTheFolder) {
    EXPECT_TRUE(path_matches("/api/", "/api/"));
    EXPECT_TRUE(path_matches("/api/", "/api/x"));
    EXPECT_FALSE(path_matches("/api/", "/api"));
    EXPECT_FALSE(path_matches("/api/", "/apix/"));
}

TEST(PathMatchesTest, RootMatchesEverything) {
    for (const char* p : {"/", "/a", "/a/b/", "/ADMIN"}) EXPECT_TRUE(path_matches("/", p)) << p;
}

TEST(PathMatchesTest, MatchesCaseInsensitively) {
    EXPECT_TRUE(path_matches("/admin", "/ADMIN"));
    EXPECT_TRUE(path_matches("/admin", "/Admin/users"));
    EXPECT_TRUE(path_matches("/ADMIN/", "/admin/x"));
}

TEST(PathMatchesTest, EmptyPrefixMatchesNothing) { EXPECT_FALSE(path_matches("", "/a")); }

std::vector<config::Policy> policies(std::vector<std::vector<std::string>> paths) {
    std::vector<config::Policy> out;
    for (auto& p : paths) {
        config::Policy policy;
        policy.name = "p" + std::to_string(out.size());
        policy.paths = std::move(p);
        out.push_back(std::move(policy));
    }
    return out;
}

TEST(RouteTest, FirstMatchingPolicyWins) {
    const auto ps = policies({{"/public", "/health"}, {"/admin"}, {"/"}});
    EXPECT_EQ(route(ps, "/public/x"), 0u);
    EXPECT_EQ(route(ps, "/health"), 0u);
    EXPECT_EQ(route(ps, "/admin"), 1u);
    EXPECT_EQ(route(ps, "/adminx"), 2u);
    EXPECT_EQ(route(ps, "/"), 2u);
}

TEST(RouteTest, UpperCasePathDoesNotDodgeItsPolicy) {
    const auto ps = policies({{"/admin"}, {"/"}});
    EXPECT_EQ(route(ps, normalized("/ADMIN/users")), 0u);
    EXPECT_EQ(route(ps, normalized("/%41dmin")), 0u);
    EXPECT_EQ(route(ps, normalized("/public/%2e%2e/Admin")), 0u);
}

TEST(RouteTest, NoMatchingPolicyIsNullopt) {
    const auto ps = policies({{"/api/"}, {"/static"}});
    EXPECT_FALSE(route(ps, "/api"));
    EXPECT_FALSE(route(ps, "/other"));
    EXPECT_FALSE(route({}, "/"));
}

}  // namespace
}  // namespace certgate::policies
