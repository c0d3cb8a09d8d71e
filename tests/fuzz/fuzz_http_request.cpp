// The request-head path exactly as certgate runs it: scan_request_head (certgate's own
// byte-level checks), Boost.Beast's parser configured like the proxy's, then
// check_request_framing. Invariants for every head that is accepted: one Host, an upper-case
// token method, an origin-form target, no CR/LF/NUL in any name or value, a token for every
// name, and Beast's idea of the body framing (chunked or Content-Length) agreeing with the
// headers certgate judged: the disagreement request smuggling lives in.
#include <boost/asio/buffer.hpp>

#include "proxy/http_parsers.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace certgate;
using namespace certgate::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    constexpr std::size_t kLimit = 12 * 1024;
    // The proxy feeds the scanner in pieces; a split point must not change the verdict.
    const auto whole = policies::scan_request_head(bytes, kLimit);
    const auto half = policies::scan_request_head(bytes.substr(0, size / 2), kLimit);
    if (half.status == policies::HeadScan::Status::need_more) {
        const auto resumed = policies::scan_request_head(bytes, kLimit, half.scanned);
        CERTGATE_FUZZ_CHECK(resumed.status == whole.status, "resumed scan differs");
        if (whole.status == policies::HeadScan::Status::complete)
            CERTGATE_FUZZ_CHECK(resumed.head_end == whole.head_end, "resumed head_end differs");
    }
    if (whole.status != policies::HeadScan::Status::complete) return 0;

    policies::RequestHead head;
    proxy::RequestParser parser(head);
    parser.header_limit(static_cast<std::uint32_t>(kLimit + 1024));
    parser.body_limit(boost::none);
    parser.eager(false);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(bytes.data() + whole.leading_empty_lines,
                                   whole.head_end - whole.leading_empty_lines),
               ec);
    if (ec || !parser.is_header_done()) return 0;
    if (policies::check_request_framing(head)) return 0;

    const std::string text(bytes.substr(0, whole.head_end));
    CERTGATE_FUZZ_CHECK(is_token(head.method), text);
    for (char c : head.method) CERTGATE_FUZZ_CHECK(!(c >= 'a' && c <= 'z'), text);
    CERTGATE_FUZZ_CHECK(!head.target.empty() && head.target.front() == '/', text);
    CERTGATE_FUZZ_CHECK(head.version == 10 || head.version == 11, text);
    CERTGATE_FUZZ_CHECK(head.headers.count("host") == 1, text);
    std::size_t te = 0, cl = 0;
    head.headers.for_each([&](std::string_view name, std::string_view value) {
        CERTGATE_FUZZ_CHECK(is_token(name), text);
        CERTGATE_FUZZ_CHECK(!has_ctl(value), text);
        if (lower(name) == "transfer-encoding") ++te;
        if (lower(name) == "content-length") ++cl;
    });
    CERTGATE_FUZZ_CHECK(!(te && cl) && te <= 1 && cl <= 1, text);
    CERTGATE_FUZZ_CHECK(parser.chunked() == (te == 1), text);
    if (head.version == 10) CERTGATE_FUZZ_CHECK(te == 0, text);
    if (cl) {
        const auto value = *head.headers.get("content-length");
        std::string digits(value);
        while (!digits.empty() && (digits.back() == ' ' || digits.back() == '\t')) digits.pop_back();
        while (!digits.empty() && (digits.front() == ' ' || digits.front() == '\t')) digits.erase(0, 1);
        CERTGATE_FUZZ_CHECK(parser.content_length().has_value(), text);
        CERTGATE_FUZZ_CHECK(std::to_string(*parser.content_length()) ==
                                (digits.find_first_not_of('0') == std::string::npos
                                     ? "0"
                                     : digits.substr(digits.find_first_not_of('0'))),
                            text);
    } else {
        CERTGATE_FUZZ_CHECK(!parser.content_length().has_value(), text);
    }
    return 0;
}
