// Issue 4, request side: every request-smuggling and malformed-request shape SPEC step 1 names
// gets 400 and a closed connection, and neither the hostile request, nor bytes hidden in its
// body, nor a request pipelined behind it in the same write, reaches the app. The shapes SPEC
// allows (" chunked " with surrounding spaces, any case) are framed exactly right instead.
#include <string>
#include <vector>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

// Pipelined in the same write right after every hostile request.
const std::string kFollowUp = "GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n";
// Body bytes that form a request of their own if a parser mis-frames the body.
const std::string kHidden = "GET /hidden HTTP/1.1\r\nHost: localhost\r\n\r\n";

std::string chunk(const std::string& data) {
    char size[20];
    std::snprintf(size, sizeof size, "%zx", data.size());
    return std::string(size) + "\r\n" + data + "\r\n";
}

// A POST head with `framing` lines, then `body`.
std::string post(const std::string& framing, const std::string& body,
                 const std::string& version = "HTTP/1.1") {
    return "POST /upload " + version + "\r\nHost: localhost\r\n" + framing + "\r\n" + body;
}
std::string chunked_post(const std::string& te_value, const std::string& body) {
    return post("Transfer-Encoding:" + te_value + "\r\n", body);
}
std::string length_post(const std::string& cl_value, const std::string& body) {
    return post("Content-Length:" + cl_value + "\r\n", body);
}
// A chunked body carrying kHidden in its data, properly terminated.
const std::string kChunkedHidden = chunk(kHidden) + "0\r\n\r\n";
std::string cl(std::size_t n) { return " " + std::to_string(n); }
std::string with_nul(std::string s) {
    for (auto at = s.find("{NUL}"); at != std::string::npos; at = s.find("{NUL}"))
        s.replace(at, 5, 1, '\0');
    return s;
}

struct Rejected {
    std::string name;
    std::string raw;
    // The head is valid and a good chunk precedes the bad one: certgate streams, so the app
    // may see the head and the good bytes, but never a complete request.
    bool head_may_reach_app = false;
};

std::ostream& operator<<(std::ostream& os, const Rejected& c) { return os << c.name; }

std::vector<Rejected> rejected_cases() {
    const std::string body0 = "0\r\n\r\n" + kHidden;  // last-chunk, then a hidden request
    return {
        // Content-Length together with Transfer-Encoding, either order.
        {"ClThenTe", post("Content-Length:" + cl(body0.size()) + "\r\nTransfer-Encoding: chunked\r\n", body0)},
        {"TeThenCl", post("Transfer-Encoding: chunked\r\nContent-Length:" + cl(body0.size()) + "\r\n", body0)},
        {"ClWithTeIdentity", post("Content-Length: 5\r\nTransfer-Encoding: identity\r\n", "hello" + kHidden)},
        // Content-Length shapes.
        {"DuplicateDifferingCl", post("Content-Length: 5\r\nContent-Length:" + cl(5 + kHidden.size()) + "\r\n", "hello" + kHidden)},
        {"DuplicateIdenticalCl", post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello" + kHidden)},
        {"ClCommaList", length_post(" 5, 5", "hello" + kHidden)},
        {"ClPlusSign", length_post(" +5", "hello" + kHidden)},
        {"ClMinusSign", length_post(" -5", "hello" + kHidden)},
        {"ClSpaceInside", length_post(" 1 0", "helloworld" + kHidden)},
        {"ClHexPrefix", length_post(" 0x5", "hello" + kHidden)},
        {"ClHexDigits", length_post(" a", "helloworld" + kHidden)},
        {"ClEmpty", length_post("", kHidden)},
        {"ClOverflow", length_post(" 18446744073709551616", "hello" + kHidden)},
        {"ClDecimalPoint", length_post(" 5.0", "hello" + kHidden)},
        // Transfer-Encoding other than exactly "chunked".
        {"TeChunkedIdentity", chunked_post(" chunked, identity", kChunkedHidden)},
        {"TeIdentityChunked", chunked_post(" identity, chunked", kChunkedHidden)},
        {"TeChunkedChunked", chunked_post(" chunked, chunked", kChunkedHidden)},
        {"TeGzipChunked", chunked_post(" gzip, chunked", kChunkedHidden)},
        {"TeXchunked", chunked_post(" xchunked", kChunkedHidden)},
        {"TeChunkedWithParameter", chunked_post(" chunked;q=1", kChunkedHidden)},
        {"TeQuotedChunked", chunked_post(" \"chunked\"", kChunkedHidden)},
        {"TeIdentity", chunked_post(" identity", kHidden)},
        {"TeEmpty", chunked_post("", kHidden)},
        {"TeVerticalTab", chunked_post(" chunked\x0b", kChunkedHidden)},
        {"TeTwoHeaders", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", kChunkedHidden)},
        {"TeOnHttp10", post("Transfer-Encoding: chunked\r\n", kChunkedHidden, "HTTP/1.0")},
        {"TeSpaceBeforeColon", post("Transfer-Encoding : chunked\r\n", kChunkedHidden)},
        {"TeObsFolded", post("Transfer-Encoding:\r\n chunked\r\n", kChunkedHidden)},
        // Chunk sizes.
        {"ChunkSizeOverflow", chunked_post(" chunked", "ffffffffffffffffff\r\nabc\r\n0\r\n\r\n" + kHidden)},
        {"ChunkSizeTwoToThe64", chunked_post(" chunked", "10000000000000000\r\nabc\r\n0\r\n\r\n" + kHidden)},
        {"ChunkSizeNonHex", chunked_post(" chunked", "g\r\nabc\r\n0\r\n\r\n" + kHidden)},
        {"ChunkSizeHexThenGarbage", chunked_post(" chunked", "3z\r\nabc\r\n0\r\n\r\n" + kHidden)},
        {"ChunkSizeNegative", chunked_post(" chunked", "-3\r\nabc\r\n0\r\n\r\n" + kHidden)},
        {"ChunkSizeHexPrefix", chunked_post(" chunked", "0x3\r\nabc\r\n0\r\n\r\n" + kHidden)},
        {"ChunkSizePlusSign", chunked_post(" chunked", "+3\r\nabc\r\n0\r\n\r\n" + kHidden)},
        {"ChunkSizeEmpty", chunked_post(" chunked", "\r\nabc\r\n0\r\n\r\n" + kHidden)},
        {"ChunkLinesWithBareLf", chunked_post(" chunked", "3\nabc\n0\n\n" + kHidden)},
        {"ChunkDataLongerThanSize", chunked_post(" chunked", "3\r\nabcdef\r\n0\r\n\r\n" + kHidden), true},
        {"ChunkSizeNonHexAfterGoodChunk", chunked_post(" chunked", "3\r\nabc\r\nzz\r\n0\r\n\r\n" + kHidden), true},
        // Line endings and bytes in the head.
        {"BareLfEndsRequestLine", "GET / HTTP/1.1\nHost: localhost\r\n\r\n"},
        {"BareLfEndsHeaderLine", "GET / HTTP/1.1\r\nHost: localhost\nX-A: b\r\n\r\n"},
        {"BareLfEndsHead", "GET / HTTP/1.1\r\nHost: localhost\r\n\n"},
        {"BareCrInValue", "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: b\rTransfer-Encoding: chunked\r\n\r\n"},
        {"BareCrBeforeCrlf", "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\r\n\r\n"},
        {"BareCrInRequestLine", "GET /\r HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"NulInValue", with_nul("GET / HTTP/1.1\r\nHost: localhost\r\nX-A: b{NUL}c\r\n\r\n")},
        {"NulInName", with_nul("GET / HTTP/1.1\r\nHost: localhost\r\nX-{NUL}A: b\r\n\r\n")},
        {"NulInTarget", with_nul("GET /a{NUL}b HTTP/1.1\r\nHost: localhost\r\n\r\n")},
        {"NulAfterValue", with_nul("GET / HTTP/1.1\r\nHost: localhost{NUL}\r\n\r\n")},
        {"ObsFoldSpace", "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: one\r\n two\r\n\r\n"},
        {"ObsFoldTab", "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: one\r\n\ttwo\r\n\r\n"},
        {"ObsFoldOfHost", "GET / HTTP/1.1\r\nHost: localhost\r\n evil.example\r\n\r\n"},
        {"SpaceBeforeFirstHeader", "GET / HTTP/1.1\r\n Host: localhost\r\n\r\n"},
        {"HeaderNameNotAToken", "GET / HTTP/1.1\r\nHost: localhost\r\nX(A): b\r\n\r\n"},
        {"HeaderNameEmpty", "GET / HTTP/1.1\r\nHost: localhost\r\n: b\r\n\r\n"},
        {"HeaderLineWithoutColon", "GET / HTTP/1.1\r\nHost: localhost\r\nX-A b\r\n\r\n"},
        {"MissingHost", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n"},
        {"DuplicateHost", "GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n"},
        {"HostWithUserinfo", "GET / HTTP/1.1\r\nHost: localhost@evil.example\r\n\r\n"},
        // Targets that are not origin-form.
        {"AbsoluteFormTarget", "GET http://evil.example/ HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"AbsoluteFormHttpsTarget", "GET https://localhost/admin HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"AuthorityFormConnect", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n"},
        {"AuthorityFormGet", "GET evil.example:80 HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"AsteriskOptions", "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"AsteriskGet", "GET * HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"RelativeTarget", "GET admin HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"QueryOnlyTarget", "GET ?a=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"FragmentInTarget", "GET /a#b HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        // Methods.
        {"LowerCaseMethod", "get / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"MixedCaseMethod", "Get / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"MethodWithParenthesis", "GE(T / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"MethodWithAt", "G@T / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"MethodWithSlash", "GET/ / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"EmptyMethod", " / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        // Versions and the shape of the request line.
        {"Http09Style", "GET /\r\n\r\n"},
        {"Http09StyleNoBlankLine", "GET /\r\n"},
        {"Http09Version", "GET / HTTP/0.9\r\nHost: localhost\r\n\r\n"},
        {"Http20Version", "GET / HTTP/2.0\r\nHost: localhost\r\n\r\n"},
        {"Http12Version", "GET / HTTP/1.2\r\nHost: localhost\r\n\r\n"},
        {"Http110Version", "GET / HTTP/1.10\r\nHost: localhost\r\n\r\n"},
        {"LowerCaseVersion", "GET / http/1.1\r\nHost: localhost\r\n\r\n"},
        {"HttpsVersion", "GET / HTTPS/1.1\r\nHost: localhost\r\n\r\n"},
        {"TwoSpacesBeforeTarget", "GET  / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"TwoSpacesBeforeVersion", "GET /  HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"TabsInRequestLine", "GET\t/\tHTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"TrailingSpaceAfterVersion", "GET / HTTP/1.1 \r\nHost: localhost\r\n\r\n"},
        {"ThreeWordsAndMore", "GET / HTTP/1.1 extra\r\nHost: localhost\r\n\r\n"},
    };
}

class HostileRequestsRejected : public ProxyTest, public ::testing::WithParamInterface<Rejected> {
protected:
    void SetUp() override {
        ProxyTest::SetUp();
        start();
    }
};

TEST_P(HostileRequestsRejected, Gets400AndClosesAndNothingReachesTheApp) {
    const auto& c = GetParam();
    TlsClient client(port(), good_client());
    ASSERT_TRUE(client.connect()) << client.error();
    ASSERT_TRUE(client.send(c.raw + kFollowUp));  // one write: the follow-up is already there
    auto r = client.read_response();
    ASSERT_TRUE(r) << "no response";
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_EQ(r->header("X-Frame-Options"), "DENY");  // certgate's own error, decorated
    EXPECT_TRUE(client.wait_closed()) << "connection left open after a 400";
    EXPECT_FALSE(client.read_response()) << "a second response came back";
    const auto logged = proxy->wait_for_log({"\"status\":400", "\"rule\":\"framing."});
    EXPECT_TRUE(logged) << "no 400 with a framing rule in the log:\n" << joined(proxy->log_lines());

    // The app saw none of it; certgate is still serving.
    auto fresh = https_request(port(), good_client(), get_request("/alive"));
    ASSERT_TRUE(fresh) << "certgate stopped answering";
    EXPECT_EQ(fresh->status, 200);
    ASSERT_TRUE(upstream->wait_for_requests(1));
    const auto seen = upstream->requests();
    for (const auto& s : seen) EXPECT_EQ(s.target, "/alive") << "the app saw:\n" << s.raw_head;
    EXPECT_EQ(seen.size(), 1u);
    if (!c.head_may_reach_app && seen.size() == 1) {
        EXPECT_EQ(upstream->bytes_received(), seen[0].raw_head.size())
            << "bytes of the hostile request reached the app";
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, HostileRequestsRejected, ::testing::ValuesIn(rejected_cases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------
// Shapes SPEC allows: the body arrives at the app re-framed by certgate, intact, and the
// bytes after it are the next request, exactly as the client framed them.

struct Accepted {
    std::string name;
    std::string raw;
    std::string body;  // what the app must receive
    bool chunked;      // certgate re-frames a chunked body as chunked
};

std::ostream& operator<<(std::ostream& os, const Accepted& c) { return os << c.name; }

std::vector<Accepted> accepted_cases() {
    return {
        {"TeChunkedWithSurroundingSpaces", chunked_post("  chunked  ", kChunkedHidden), kHidden, true},
        {"TeChunkedWithSurroundingTabs", chunked_post("\tchunked\t", kChunkedHidden), kHidden, true},
        {"TeUpperCaseChunked", chunked_post(" CHUNKED", kChunkedHidden), kHidden, true},
        {"TeMixedCaseChunked", chunked_post(" Chunked", kChunkedHidden), kHidden, true},
        {"TeInMixedCaseName", post("transfer-ENCODING: chunked\r\n", kChunkedHidden), kHidden, true},
        {"ChunkExtensionsDropped", chunked_post(" chunked", "3;name=value;x\r\nabc\r\n" + chunk(kHidden) + "0;last\r\n\r\n"), "abc" + kHidden, true},
        {"ChunkSizeLeadingZeros", chunked_post(" chunked", "0003\r\nabc\r\n000\r\n\r\n"), "abc", true},
        {"ChunkSizeUpperCaseHex", chunked_post(" chunked", "2A\r\n" + std::string(42, 'q') + "\r\n0\r\n\r\n"), std::string(42, 'q'), true},
        {"TrailersDiscarded", chunked_post(" chunked", chunk(kHidden) + "0\r\nX-Trailer: 1\r\nX-SSL-Client-DN: CN=admin\r\n\r\n"), kHidden, true},
        // Trailers are discarded unread (SPEC), framing fields among them too: they end
        // nothing and frame nothing, and the message ends at the trailer section's end.
        {"ContentLengthTrailerDiscarded", chunked_post(" chunked", chunk(kHidden) + "0\r\nContent-Length: 0\r\n\r\n"), kHidden, true},
        {"ContentLengthTrailersDiscarded", chunked_post(" chunked", chunk(kHidden) + "0\r\nContent-Length: 5\r\nX-Trailer: 1\r\nContent-Length: 7\r\n\r\n"), kHidden, true},
        {"TransferEncodingTrailerDiscarded", chunked_post(" chunked", chunk(kHidden) + "0\r\nTransfer-Encoding: chunked\r\n\r\n"), kHidden, true},
        {"TransferEncodingGzipTrailerDiscarded", chunked_post(" chunked", chunk(kHidden) + "0\r\nX-Trailer: 1\r\nTransfer-Encoding: gzip\r\n\r\n"), kHidden, true},
        {"ConnectionTrailerDiscarded", chunked_post(" chunked", chunk(kHidden) + "0\r\nConnection: close, ,\r\n\r\n"), kHidden, true},
        {"ClWithSurroundingSpaces", length_post("  " + std::to_string(kHidden.size()) + "  ", kHidden), kHidden, false},
        {"ClLeadingZeros", length_post(" 000" + std::to_string(kHidden.size()), kHidden), kHidden, false},
        {"LeadingEmptyLines", "\r\n\r\n" + length_post(cl(kHidden.size()), kHidden), kHidden, false},
    };
}

class HostileRequestsAccepted : public ProxyTest, public ::testing::WithParamInterface<Accepted> {
protected:
    void SetUp() override {
        ProxyTest::SetUp();
        start();
    }
};

TEST_P(HostileRequestsAccepted, BodyArrivesReframedAndIntact) {
    const auto& c = GetParam();
    TlsClient client(port(), good_client());
    ASSERT_TRUE(client.connect()) << client.error();
    ASSERT_TRUE(client.send(c.raw + get_request("/after")));
    for (const char* which : {"the POST", "the pipelined GET"}) {
        auto r = client.read_response();
        ASSERT_TRUE(r) << "no response to " << which;
        EXPECT_EQ(r->status, 200) << which;
    }
    ASSERT_TRUE(upstream->wait_for_requests(2));
    const auto seen = upstream->requests();
    ASSERT_EQ(seen.size(), 2u) << "the app saw a third request: " << seen.back().raw_head;
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].target, "/upload");
    EXPECT_EQ(seen[0].body, c.body);
    EXPECT_EQ(seen[0].chunked, c.chunked);
    // One framing header, certgate's own spelling.
    EXPECT_EQ(count_header(seen[0].headers, "Transfer-Encoding"), c.chunked ? 1u : 0u);
    EXPECT_EQ(count_header(seen[0].headers, "Content-Length"), c.chunked ? 0u : 1u);
    if (c.chunked) {
        EXPECT_EQ(seen[0].header("Transfer-Encoding"), "chunked");
    } else {
        EXPECT_EQ(seen[0].header("Content-Length"), std::to_string(c.body.size()));
    }
    EXPECT_FALSE(seen[0].header("X-Trailer"));
    EXPECT_EQ(seen[1].target, "/after");
    for (const auto& s : seen) EXPECT_NE(s.target, "/hidden");
}

INSTANTIATE_TEST_SUITE_P(Shapes, HostileRequestsAccepted, ::testing::ValuesIn(accepted_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace certgate::testing
