#include "policies/request_head.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace certgate::policies {
namespace {

using namespace std::string_literals;
using Status = HeadScan::Status;
const std::string kHead = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";

TEST(ScanRequestHeadTest, CompleteHeadEndsJustPastTheBlankLine) {
    const auto s = scan_request_head(kHead + "BODY", 1024);
    EXPECT_EQ(s.status, Status::complete);
    EXPECT_EQ(s.head_end, kHead.size());
    EXPECT_EQ(s.leading_empty_lines, 0u);
}

TEST(ScanRequestHeadTest, NeedsMoreUntilTheBlankLineArrives) {
    EXPECT_EQ(scan_request_head("GET / HTTP/1.1\r\nHost: a\r\n", 1024).status, Status::need_more);
    EXPECT_EQ(scan_request_head("GET / HTTP/1.1\r\nHost: a\r\n\r", 1024).status, Status::need_more);
    EXPECT_EQ(scan_request_head("", 1024).status, Status::need_more);
}

TEST(ScanRequestHeadTest, ByteByByteFeedWithResumeFindsTheSameEnd) {
    std::string buf;
    HeadScan s;
    for (char c : kHead) {
        ASSERT_NE(s.status, Status::complete);
        buf.push_back(c);
        s = scan_request_head(buf, 1024, s.scanned);
        ASSERT_NE(s.status, Status::malformed) << s.rule;
    }
    EXPECT_EQ(s.status, Status::complete);
    EXPECT_EQ(s.head_end, kHead.size());
}

TEST(ScanRequestHeadTest, SkipsLeadingEmptyLinesAndCountsTheirBytes) {
    const auto s = scan_request_head("\r\n\r\n" + kHead, 1024);
    EXPECT_EQ(s.status, Status::complete);
    EXPECT_EQ(s.leading_empty_lines, 4u);
    EXPECT_EQ(s.head_end, 4 + kHead.size());
}

TEST(ScanRequestHeadTest, RejectsBareLfAnywhereInTheHead) {
    for (std::string raw : {"GET / HTTP/1.1\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\n\r\n",
                            "GET / HTTP/1.1\r\nHost: a\r\n\n", "\nGET / HTTP/1.1\r\n\r\n"}) {
        const auto s = scan_request_head(raw, 1024);
        EXPECT_EQ(s.status, Status::malformed) << raw;
        EXPECT_EQ(s.rule, "framing.bare_lf") << raw;
    }
}

TEST(ScanRequestHeadTest, RejectsCrNotFollowedByLf) {
    for (std::string raw :
         {"GET / HTTP/1.1\r\nX: a\rb\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nX: a\rb"}) {
        const auto s = scan_request_head(raw, 1024);
        EXPECT_EQ(s.status, Status::malformed) << raw;
        EXPECT_EQ(s.rule, "framing.bare_cr");
    }
}

TEST(ScanRequestHeadTest, CrAtTheEndOfTheBufferAwaitsItsLf) {
    const std::string part = "GET / HTTP/1.1\r";
    auto s = scan_request_head(part, 1024);
    EXPECT_EQ(s.status, Status::need_more);
    s = scan_request_head(part + "X", 1024, s.scanned);
    EXPECT_EQ(s.status, Status::malformed);
    EXPECT_EQ(s.rule, "framing.bare_cr");
}

TEST(ScanRequestHeadTest, RejectsNulInCompleteAndPartialLines) {
    for (std::string raw :
         {"GET / HTTP/1.1\r\nX: a\0b\r\nHost: a\r\n\r\n"s, "GET / HTTP/1.1\r\nX: a\0"s}) {
        const auto s = scan_request_head(raw, 1024);
        EXPECT_EQ(s.status, Status::malformed);
        EXPECT_EQ(s.rule, "framing.nul");
    }
}

TEST(ScanRequestHeadTest, RejectsObsFoldWithSpaceOrTab) {
    for (std::string raw : {"GET / HTTP/1.1\r\nX: a\r\n b\r\nHost: a\r\n\r\n",
                            "GET / HTTP/1.1\r\nX: a\r\n\tb\r\nHost: a\r\n\r\n",
                            "GET / HTTP/1.1\r\n Host: a\r\n\r\n", "GET / HTTP/1.1\r\nX: a\r\n "}) {
        const auto s = scan_request_head(raw, 1024);
        EXPECT_EQ(s.status, Status::malformed) << raw;
        EXPECT_EQ(s.rule, "framing.obs_fold") << raw;
    }
}

TEST(ScanRequestHeadTest, RejectsWhitespaceBetweenFieldNameAndColon) {
    for (std::string raw :
         {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
          "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
          "GET / HTTP/1.1\r\n: empty-name\r\n\r\n"}) {
        const auto s = scan_request_head(raw, 1024);
        EXPECT_EQ(s.status, Status::malformed) << raw;
        EXPECT_EQ(s.rule, "framing.header_name") << raw;
    }
    EXPECT_EQ(scan_request_head("GET / HTTP/1.1\r\nHost:\r\nX:y\r\n\r\n", 1024).status,
              Status::complete);
}

TEST(ScanRequestHeadTest, RejectsWhitespaceBeforeTheRequestLine) {
    const auto s = scan_request_head(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1024);
    EXPECT_EQ(s.status, Status::malformed);
    EXPECT_EQ(s.rule, "framing.request_line");
}

TEST(ScanRequestHeadTest, ResumingMidLineStillSeesTheWholeLine) {
    const std::string raw = "GET / HTTP/1.1\r\nX: a\r\n bcd\r\n";
    // A resume offset pointing past the fold's first byte must not hide it.
    const auto s = scan_request_head(raw, 1024, raw.size() - 2);
    EXPECT_EQ(s.status, Status::malformed);
    EXPECT_EQ(s.rule, "framing.obs_fold");
}

TEST(ScanRequestHeadTest, IgnoresBodyBytesAfterTheHead) {
    const auto s = scan_request_head(kHead + "\0\n\r x"s, 1024);
    EXPECT_EQ(s.status, Status::complete);
    EXPECT_EQ(s.head_end, kHead.size());
}

TEST(ScanRequestHeadTest, HeadOfExactlyTheLimitIsAccepted) {
    EXPECT_EQ(scan_request_head(kHead, kHead.size()).status, Status::complete);
    EXPECT_EQ(scan_request_head(kHead, kHead.size() - 1).status, Status::too_large);
}

TEST(ScanRequestHeadTest, TooLargeWhenTheLimitIsReachedWithoutAnEnd) {
    const std::string raw = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a');
    EXPECT_EQ(scan_request_head(raw, 64).status, Status::too_large);
    EXPECT_EQ(scan_request_head(raw, raw.size()).status, Status::too_large);
    EXPECT_EQ(scan_request_head(raw, raw.size() + 1).status, Status::need_more);
}

TEST(ScanRequestHeadTest, LeadingEmptyLinesDoNotCountTowardTheLimit) {
    const auto s = scan_request_head("\r\n\r\n\r\n" + kHead, kHead.size());
    EXPECT_EQ(s.status, Status::complete);
    EXPECT_EQ(s.head_end, 6 + kHead.size());
}

TEST(ScanRequestHeadTest, EndlessEmptyLinesAreStillBounded) {
    std::string raw;
    for (int i = 0; i < 100; ++i) raw += "\r\n";
    EXPECT_EQ(scan_request_head(raw, 64).status, Status::too_large);
}

// --- check_request_framing --------------------------------------------------------------

RequestHead make_head(std::vector<std::pair<std::string, std::string>> headers,
                      std::string method = "GET", std::string target = "/", unsigned version = 11) {
    RequestHead h;
    h.method = std::move(method);
    h.target = std::move(target);
    h.version = version;
    for (const auto& [n, v] : headers) h.headers.add(n, v);
    return h;
}

std::string rule_of(const RequestHead& h) {
    const auto r = check_request_framing(h);
    if (!r) return "";
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->reason.rfind("bad request: ", 0), 0u) << r->reason;
    return r->rule;
}

TEST(RequestFramingTest, AcceptsOrdinaryRequests) {
    EXPECT_EQ(rule_of(make_head({{"Host", "a.example"}})), "");
    EXPECT_EQ(rule_of(make_head({{"Host", "a.example:8443"}, {"Content-Length", "42"}}, "POST")),
              "");
    EXPECT_EQ(
        rule_of(make_head({{"host", "[::1]:8443"}, {"Transfer-Encoding", " Chunked "}}, "PUT")),
        "");
    EXPECT_EQ(rule_of(make_head({{"Host", "a"}, {"Transfer-Encoding", "CHUNKED"}}, "M-SEARCH")),
              "");
    EXPECT_EQ(rule_of(make_head({{"Host", "a"}, {"Content-Length", "0"}}, "GET", "/a?b=c", 10)),
              "");
}

TEST(RequestFramingTest, RejectsMethodThatIsNotAnUpperCaseToken) {
    for (std::string m : {"get", "Get", "", "GE T", "GET\r", "GE(T"})
        EXPECT_EQ(rule_of(make_head({{"Host", "a"}}, m)), "framing.method") << m;
}

TEST(RequestFramingTest, RejectsHeaderNameThatIsNotAToken) {
    for (std::string n : {"", "X Y", "X:Y", "X\x01", "X(Y)", "X\"", "X\xC3\xA9"})
        EXPECT_EQ(rule_of(make_head({{"Host", "a"}, {n, "v"}})), "framing.header_name") << n;
}

TEST(RequestFramingTest, RejectsCrLfOrNulInHeaderValue) {
    for (std::string v : {std::string("a\rb"), std::string("a\nb"), "a\0b"s})
        EXPECT_EQ(rule_of(make_head({{"Host", "a"}, {"X", v}})), "framing.header_value");
}

TEST(RequestFramingTest, RejectsMissingDuplicateOrMalformedHost) {
    EXPECT_EQ(rule_of(make_head({})), "framing.host");
    EXPECT_EQ(rule_of(make_head({{"Host", "a"}, {"host", "a"}})), "framing.host");
    for (std::string v : {"", "a/b", "user@a", "a b", "a\\b", "a.example, b.example", "a;b"})
        EXPECT_EQ(rule_of(make_head({{"Host", v}})), "framing.host") << v;
}

TEST(RequestFramingTest, RejectsContentLengthWithTransferEncoding) {
    EXPECT_EQ(
        rule_of(make_head(
            {{"Host", "a"}, {"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}, "POST")),
        "framing.cl_and_te");
    EXPECT_EQ(
        rule_of(make_head(
            {{"Host", "a"}, {"transfer-encoding", "chunked"}, {"content-length", "0"}}, "POST")),
        "framing.cl_and_te");
}

TEST(RequestFramingTest, RejectsDuplicateContentLengthEvenWhenIdentical) {
    EXPECT_EQ(rule_of(make_head({{"Host", "a"}, {"Content-Length", "5"}, {"Content-Length", "5"}},
                                "POST")),
              "framing.content_length");
    EXPECT_EQ(rule_of(make_head({{"Host", "a"}, {"Content-Length", "5"}, {"content-length", "6"}},
                                "POST")),
              "framing.content_length");
}

TEST(RequestFramingTest, RejectsContentLengthThatIsNotPlainDigits) {
    for (std::string v : {"", "5,5", "+5", "-1", "0x10", "5 5", "1e3", "99999999999999999999999"})
        EXPECT_EQ(rule_of(make_head({{"Host", "a"}, {"Content-Length", v}}, "POST")),
                  "framing.content_length")
            << v;
    EXPECT_EQ(
        rule_of(make_head({{"Host", "a"}, {"Content-Length", "18446744073709551615"}}, "POST")),
        "");
}

TEST(RequestFramingTest, RejectsTransferEncodingOtherThanExactlyChunked) {
    for (std::string v : {"chunked, identity", "xchunked", "identity", "gzip, chunked",
                          "chunked;q=1", "chunked,", "", "\"chunked\""})
        EXPECT_EQ(rule_of(make_head({{"Host", "a"}, {"Transfer-Encoding", v}}, "POST")),
                  "framing.transfer_encoding")
            << v;
}

TEST(RequestFramingTest, RejectsTwoTransferEncodingHeaders) {
    EXPECT_EQ(
        rule_of(make_head(
            {{"Host", "a"}, {"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}},
            "POST")),
        "framing.transfer_encoding");
}

TEST(RequestFramingTest, RejectsAnyTransferEncodingOnHttp10) {
    EXPECT_EQ(
        rule_of(make_head({{"Host", "a"}, {"Transfer-Encoding", "chunked"}}, "POST", "/", 10)),
        "framing.te_on_http10");
}

TEST(RequestFramingTest, RejectsTargetThatIsNotOriginForm) {
    for (std::string t : {"http://a.example/", "*", "", "a/b", "/a b", "/a\tb", "/a#frag", "/\x7F"})
        EXPECT_EQ(rule_of(make_head({{"Host", "a"}}, "GET", t)), "framing.target") << t;
}

TEST(RequestFramingTest, RejectsUnknownHttpVersion) {
    EXPECT_EQ(rule_of(make_head({{"Host", "a"}}, "GET", "/", 9)), "framing.version");
    EXPECT_EQ(rule_of(make_head({{"Host", "a"}}, "GET", "/", 20)), "framing.version");
}

// --- is_last_request --------------------------------------------------------------------

TEST(LastRequestTest, ConnectionCloseAmongOtherTokensAnyCaseEndsTheConnection) {
    EXPECT_TRUE(is_last_request(make_head({{"Connection", "close"}})));
    EXPECT_TRUE(is_last_request(make_head({{"connection", "keep-alive, CLOSE"}})));
    EXPECT_TRUE(is_last_request(make_head({{"Connection", "foo ,  Close  "}})));
    EXPECT_TRUE(
        is_last_request(make_head({{"Connection", "keep-alive"}, {"Connection", "close"}})));
}

TEST(LastRequestTest, Http11StaysOpenWithoutClose) {
    EXPECT_FALSE(is_last_request(make_head({})));
    EXPECT_FALSE(is_last_request(make_head({{"Connection", "closed, xclose"}})));
    EXPECT_FALSE(is_last_request(make_head({{"X-Connection", "close"}})));
}

TEST(LastRequestTest, Http10IsLastUnlessItAsksForKeepAlive) {
    EXPECT_TRUE(is_last_request(make_head({}, "GET", "/", 10)));
    EXPECT_FALSE(is_last_request(make_head({{"Connection", "Keep-Alive"}}, "GET", "/", 10)));
    EXPECT_TRUE(is_last_request(make_head({{"Connection", "keep-alive, close"}}, "GET", "/", 10)));
}

}  // namespace
}  // namespace certgate::policies
