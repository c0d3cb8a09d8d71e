// The syntax of single configuration values (durations, sizes, addresses, origins, header
// names), as pure functions over text: no YAML, no locations. The schema adds those.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace certgate::config::detail {

// Why a value was refused, phrased for the operator (the caller adds file:line:col and key).
struct Invalid {
    std::string message;
};

// A parsed value, or why the text is not one.
template <typename T>
class Parsed {
public:
    Parsed(T value) : value_(std::move(value)) {}
    Parsed(Invalid invalid) : error_(std::move(invalid.message)) {}

    bool ok() const { return value_.has_value(); }
    const T& value() const { return *value_; }
    const std::string& error() const { return error_; }

private:
    std::optional<T> value_;
    std::string error_;
};

// `"text"`, with quotes, backslashes and control characters escaped so that a message
// never carries a raw line break into a log; long values are shortened.
std::string quote(std::string_view text);

std::string ascii_lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
bool has_control_char(std::string_view text);

// The candidate closest to `word` when it is close enough to be a likely typo.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string_view>& candidates);

// "500ms", "10s", "5m", "1h".
Parsed<Duration> parse_duration(std::string_view text);

// "16384", "12KiB", "1MiB".
Parsed<std::uint64_t> parse_size(std::string_view text);

// RFC 9110 token (tchar: "!#$%&'*+-.^_`|~", digits, letters); not empty.
bool is_token(std::string_view text);

Parsed<std::string> parse_header_name(std::string_view text);
Parsed<std::string> parse_header_name_prefix(std::string_view text);
Parsed<std::string> parse_header_value(std::string_view text);

// SHA-256 as 64 hex digits, colons allowed; returned lower-case without colons.
Parsed<std::string> parse_fingerprint(std::string_view text);

// A URI with optional "*" / "**" segments: "spiffe://example.org/ns/prod/sa/*".
Parsed<std::string> parse_uri_pattern(std::string_view text);

// An RFC 4514 distinguished name as written, e.g. "CN=billing,O=Example Corp,C=US".
Parsed<std::string> parse_subject(std::string_view text);

// A policy path prefix: starts with "/", no query, fragment, spaces or control characters.
Parsed<std::string> parse_path_prefix(std::string_view text);

}  // namespace certgate::config::detail
