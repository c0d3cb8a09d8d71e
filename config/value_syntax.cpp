#include "config/value_syntax.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

namespace certgate::config::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Leading decimal digits of `text` as a number; nullopt when there are none or too many.
std::optional<std::uint64_t> leading_number(std::string_view text, std::size_t& digits) {
    digits = 0;
    while (digits < text.size() && is_digit(text[digits])) ++digits;
    std::uint64_t value = 0;
    if (digits == 0 || digits > 18) return std::nullopt;
    std::from_chars(text.data(), text.data() + digits, value);
    return value;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string quote(std::string_view text) {
    constexpr std::size_t shown = 80;
    std::string out = "\"";
    for (const char c : text.substr(0, shown)) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            char escaped[5];
            std::snprintf(escaped, sizeof escaped, "\\x%02X", byte);
            out += escaped;
        } else {
            out += c;
        }
    }
    if (text.size() > shown) out += "...";
    return out + "\"";
}

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool iequals(std::string_view a, std::string_view b) { return ascii_lower(a) == ascii_lower(b); }

bool has_control_char(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return (byte < 0x20 && c != '\t') || byte == 0x7f;
    });
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string_view>& candidates) {
    const std::string lowered = ascii_lower(word);
    std::optional<std::string> best;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    for (const std::string_view candidate : candidates) {
        const std::size_t distance = edit_distance(lowered, candidate);
        const bool close = distance <= 2 || distance * 2 < candidate.size();
        if (close && distance < best_distance && distance < candidate.size()) {
            best = std::string(candidate);
            best_distance = distance;
        }
    }
    return best;
}

Parsed<Duration> parse_duration(std::string_view text) {
    const Invalid invalid{quote(text) +
                          " is not a valid duration: use an integer with a unit (ms, s, m or h), "
                          "e.g. \"10s\""};
    std::size_t digits = 0;
    const auto number = leading_number(text, digits);
    const std::string_view unit = text.substr(digits);
    std::uint64_t unit_ms = 0;
    if (unit == "ms") unit_ms = 1;
    if (unit == "s") unit_ms = 1000;
    if (unit == "m") unit_ms = 60'000;
    if (unit == "h") unit_ms = 3'600'000;
    if (digits == 0 || unit_ms == 0) return invalid;
    constexpr std::uint64_t longest_ms = 365ULL * 24 * 3'600'000;
    if (!number || *number > longest_ms / unit_ms) {
        return Invalid{quote(text) + " is too long (at most 8760h)"};
    }
    return Duration{static_cast<Duration::rep>(*number * unit_ms)};
}

Parsed<std::uint64_t> parse_size(std::string_view text) {
    std::size_t digits = 0;
    const auto number = leading_number(text, digits);
    const std::string_view unit = text.substr(digits);
    std::uint64_t multiplier = 0;
    if (unit.empty()) multiplier = 1;
    if (unit == "KiB") multiplier = 1024;
    if (unit == "MiB") multiplier = 1024 * 1024;
    if (digits == 0 || multiplier == 0) {
        return Invalid{quote(text) +
                       " is not a valid size: use a number of bytes, or an integer with KiB or MiB "
                       "(e.g. \"12KiB\")"};
    }
    if (!number || *number > std::numeric_limits<std::uint64_t>::max() / multiplier) {
        return Invalid{quote(text) + " is too large"};
    }
    return *number * multiplier;
}

bool is_token(std::string_view text) {
    constexpr std::string_view symbols = "!#$%&'*+-.^_`|~";
    return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
        return is_alpha(c) || is_digit(c) || symbols.find(c) != std::string_view::npos;
    });
}

Parsed<std::string> parse_header_name(std::string_view text) {
    if (!is_token(text))
        return Invalid{quote(text) + " is not a valid header name (RFC 9110 token)"};
    return std::string(text);
}

Parsed<std::string> parse_header_name_prefix(std::string_view text) {
    if (!is_token(text)) {
        return Invalid{quote(text) + " is not a valid header name prefix (RFC 9110 token)"};
    }
    return std::string(text);
}

Parsed<std::string> parse_header_value(std::string_view text) {
    if (has_control_char(text)) {
        return Invalid{quote(text) +
                       " is not a valid header value: no CR, LF, NUL or other control "
                       "characters"};
    }
    return std::string(text);
}

Parsed<std::string> parse_fingerprint(std::string_view text) {
    std::string hex;
    for (const char c : text) {
        if (c != ':') hex += c;
    }
    if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), is_hex)) {
        return Invalid{quote(text) +
                       " is not a valid SHA-256 fingerprint (64 hex digits, colons allowed)"};
    }
    return ascii_lower(hex);
}

Parsed<std::string> parse_uri_pattern(std::string_view text) {
    const std::size_t colon = text.find(':');
    const bool has_scheme =
        colon != std::string_view::npos && colon > 0 && is_alpha(text.front()) &&
        std::all_of(text.begin(), text.begin() + static_cast<long>(colon), [](char c) {
            return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
        });
    if (!has_scheme || has_control_char(text) || text.find(' ') != std::string_view::npos) {
        return Invalid{quote(text) + " is not a valid URI pattern"};
    }
    return std::string(text);
}

Parsed<std::string> parse_subject(std::string_view text) {
    if (text.find('=') == std::string_view::npos || has_control_char(text)) {
        return Invalid{
            quote(text) +
            " is not a valid subject: use an RFC 4514 string such as \"CN=billing,O=Example\""};
    }
    return std::string(text);
}

Parsed<std::string> parse_path_prefix(std::string_view text) {
    if (!text.starts_with('/')) {
        return Invalid{quote(text) + " is not a valid path prefix: it must start with \"/\""};
    }
    if (has_control_char(text) || text.find_first_of(" \t?#") != std::string_view::npos) {
        return Invalid{
            quote(text) +
            " is not a valid path prefix: no spaces, control characters, \"?\" or \"#\""};
    }
    return std::string(text);
}

}  // namespace certgate::config::detail
