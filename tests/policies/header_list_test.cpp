#include "policies/header_list.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace certgate::policies {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields fields_of(const HeaderList& h) {
    Fields out;
    h.for_each([&](std::string_view n, std::string_view v) { out.emplace_back(n, v); });
    return out;
}

TEST(HeaderListTest, KeepsOriginalSpellingAndEveryDuplicateInOrder) {
    HeaderList h;
    h.add("X-Thing", "1");
    h.add("host", "a.example");
    h.add("x-THING", "2");
    EXPECT_EQ(fields_of(h), (Fields{{"X-Thing", "1"}, {"host", "a.example"}, {"x-THING", "2"}}));
    EXPECT_EQ(h.size(), 3u);
    EXPECT_FALSE(h.empty());
}

TEST(HeaderListTest, GetIsCaseInsensitiveAndReturnsFirstValue) {
    HeaderList h;
    h.add("Accept", "a");
    h.add("ACCEPT", "b");
    ASSERT_TRUE(h.get("accept"));
    EXPECT_EQ(*h.get("accept"), "a");
    EXPECT_EQ(h.count("aCcEpT"), 2u);
    EXPECT_FALSE(h.get("Accept-Language"));
    EXPECT_EQ(h.count("Accept-Language"), 0u);
}

TEST(HeaderListTest, SetReplacesEveryCaseVariantWithOneField) {
    HeaderList h;
    h.add("X-Real-IP", "1.1.1.1");
    h.add("Other", "o");
    h.add("x-real-ip", "2.2.2.2");
    h.set("X-Real-IP", "10.0.0.1");
    EXPECT_EQ(fields_of(h), (Fields{{"Other", "o"}, {"X-Real-IP", "10.0.0.1"}}));
}

TEST(HeaderListTest, RemoveCountsRemovedFieldsAndLeavesOthers) {
    HeaderList h;
    h.add("A", "1");
    h.add("a", "2");
    h.add("AB", "3");
    EXPECT_EQ(h.remove("A"), 2u);
    EXPECT_EQ(h.remove("A"), 0u);
    EXPECT_EQ(fields_of(h), (Fields{{"AB", "3"}}));
    EXPECT_EQ(h.size(), 1u);
}

TEST(HeaderListTest, RemoveIfSeesOnlyLiveFieldsAndKeepsSizeRight) {
    HeaderList h;
    h.add("A", "x");
    h.add("B", "y");
    h.add("C", "x");
    EXPECT_EQ(h.remove_if([](std::string_view, std::string_view v) { return v == "x"; }), 2u);
    EXPECT_EQ(h.remove_if([](std::string_view, std::string_view v) { return v == "x"; }), 0u);
    EXPECT_EQ(h.size(), 1u);
    EXPECT_EQ(fields_of(h), (Fields{{"B", "y"}}));
}

TEST(HeaderListTest, ClearEmptiesTheListForReuse) {
    HeaderList h;
    h.add("A", "1");
    h.clear();
    EXPECT_TRUE(h.empty());
    EXPECT_FALSE(h.get("A"));
    h.add("B", "2");
    EXPECT_EQ(fields_of(h), (Fields{{"B", "2"}}));
}

TEST(HeaderListTest, AddingItsOwnValueSurvivesArenaGrowth) {
    HeaderList h;
    h.add("Seed", std::string(40, 's'));
    for (int i = 0; i < 200; ++i) h.add("Copy", *h.get("Seed"));  // forces reallocations
    EXPECT_EQ(h.count("Copy"), 200u);
    h.for_each(
        [](std::string_view n, std::string_view v) { EXPECT_EQ(v, std::string(40, 's')) << n; });
}

TEST(HeaderListTest, SetWithTheValueItReplacesKeepsTheValue) {
    HeaderList h;
    h.add("X", "keep-me");
    h.set("X", *h.get("X"));
    EXPECT_EQ(fields_of(h), (Fields{{"X", "keep-me"}}));
}

TEST(HeaderListTest, EmptyValuesAreFieldsToo) {
    HeaderList h;
    h.add("Empty", "");
    ASSERT_TRUE(h.get("empty"));
    EXPECT_EQ(*h.get("empty"), "");
}

TEST(CaseInsensitiveTest, ComparesAsciiLettersOnly) {
    EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
    EXPECT_FALSE(iequals("Content-Length", "Content-Lengt"));
    EXPECT_FALSE(iequals("a", "b"));
    // Latin-1 'À' and 'à' must not fold: only ASCII names exist in HTTP.
    EXPECT_FALSE(iequals("\xC0", "\xE0"));
    EXPECT_FALSE(iequals("[", "{"));  // 0x5B vs 0x7B differ by 32 but are not letters
}

TEST(CaseInsensitiveTest, StartsWithIsCaseInsensitive) {
    EXPECT_TRUE(istarts_with("X-SSL-Client-DN", "x-ssl-"));
    EXPECT_TRUE(istarts_with("abc", ""));
    EXPECT_FALSE(istarts_with("x-ss", "x-ssl-"));
    EXPECT_FALSE(istarts_with("y-ssl-client", "x-ssl-"));
}

}  // namespace
}  // namespace certgate::policies
