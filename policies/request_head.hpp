// Request framing checks (SPEC "Request sanitizing" step 1). Boost.Beast's parser accepts
// several smuggling shapes, so certgate checks the raw header bytes and the parsed head itself.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "policies/header_list.hpp"
#include "policies/refusal.hpp"

namespace certgate::policies {

struct HeadScan {
    enum class Status { need_more, complete, malformed, too_large } status = Status::need_more;
    std::size_t leading_empty_lines = 0;  // bytes of CRLFs before the request line, to discard
    std::size_t head_end = 0;             // offset just past the blank line ending the head
    std::size_t scanned = 0;              // resume offset for the next call (need_more)
    std::string rule;                     // for malformed: "framing.bare_lf", "framing.nul", ...
};

// Scans raw bytes of a request head (from the start of `bytes`), starting again at
// `resume_from` (the previous call's `scanned`). Rejects NUL, a CR not followed by LF,
// a LF not preceded by CR, and obs-fold (a field line starting with SP or HT).
// too_large when no complete head fits in `max_head_bytes` (leading CRLFs not counted).
HeadScan scan_request_head(std::string_view bytes, std::size_t max_head_bytes,
                           std::size_t resume_from = 0);

struct RequestHead {
    std::string method;
    std::string target;
    unsigned version = 11;  // 10 or 11
    HeaderList headers;
    void clear() {
        method.clear();
        target.clear();
        version = 11;
        headers.clear();
    }
};

// Checks a parsed head: method is an upper-case token; every header name is an RFC 9110
// token; no CR/LF/NUL in values; exactly one Host; not both Content-Length and
// Transfer-Encoding; at most one Content-Length, plain digits; Transfer-Encoding exactly
// "chunked" (case-insensitive, surrounding spaces allowed) and never on HTTP/1.0; the target
// is origin-form. Returns a 400 refusal naming the rule, or nothing.
std::optional<Refusal> check_request_framing(const RequestHead& head);

// True when this request must be the last on its connection (Connection: close among its
// tokens, any case; HTTP/1.0 without keep-alive).
bool is_last_request(const RequestHead& head);

}  // namespace certgate::policies
