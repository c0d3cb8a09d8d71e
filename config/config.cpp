#include "config/config.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace certgate::config {
namespace {

std::string join_lines(const std::vector<std::string>& lines) {
    std::string joined;
    for (const std::string& line : lines) {
        if (!joined.empty()) joined += '\n';
        joined += line;
    }
    return joined;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3986 2.3: decoding these never changes what a URI means (6.2.2.2).
bool is_unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

constexpr std::array<bool, 256> path_char_table() {
    std::array<bool, 256> table{};
    for (int c = 0; c < 256; ++c) {
        const auto u = static_cast<unsigned char>(c);
        table[u] = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9');
    }
    for (unsigned char c : std::string_view("-._~!$&'()*+,;=:@")) table[c] = true;
    return table;
}
constexpr auto kPathChars = path_char_table();

NormalizedPath refused(std::string_view problem, std::string_view rule) {
    NormalizedPath r;
    r.problem = problem;
    r.rule = rule;
    return r;
}

// Decodes %XX of unreserved characters and upper-cases the hex of every other escape.
// Encoded '/', '\' and NUL are refused: an app that decodes them after routing would see a
// different path (and different segments) than the policy was chosen for. Anything outside
// pchar is refused rather than passed on: the app, or a proxy behind it, might read it
// differently (raw UTF-8, '\' as '/', '[' as an IPv6 bracket).
std::optional<NormalizedPath> decode_unreserved(std::string_view in, std::string& out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '\\') return refused("backslash in path", "path.backslash");
        if (c == '/' || kPathChars[static_cast<unsigned char>(c)]) {
            out.push_back(c);
            continue;
        }
        if (c != '%') return refused("invalid character in request target", "path.invalid_char");
        const int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
        const int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
        if (hi < 0 || lo < 0) return refused("bad percent-encoding in path", "path.bad_escape");
        const auto v = static_cast<unsigned char>(hi * 16 + lo);
        if (v == '/') return refused("encoded slash in path", "path.encoded_slash");
        if (v == '\\') return refused("encoded backslash in path", "path.encoded_backslash");
        if (v == 0) return refused("encoded NUL in path", "path.encoded_nul");
        if (is_unreserved(v)) {
            out.push_back(static_cast<char>(v));
        } else {
            out.push_back('%');
            out.push_back(kHex[hi]);
            out.push_back(kHex[lo]);
        }
        i += 2;
    }
    return std::nullopt;
}

// RFC 3986 5.2.4 remove_dot_segments, plus merging of empty segments; refuses ".." at
// the root instead of clamping it, since the app or a later proxy might not clamp.
std::optional<NormalizedPath> resolve_segments(std::string_view in, std::string& out) {
    std::vector<std::string_view> stack;
    bool trailing_slash = false;
    std::size_t pos = 1;  // in[0] == '/'
    while (pos <= in.size()) {
        const auto slash = in.find('/', pos);
        const auto end = slash == std::string_view::npos ? in.size() : slash;
        const auto seg = in.substr(pos, end - pos);
        const bool last = end == in.size();
        if (seg == "..") {
            if (stack.empty()) return refused("path climbs above the root", "path.above_root");
            stack.pop_back();
            trailing_slash = true;
        } else if (seg == ".") {
            trailing_slash = true;
        } else if (seg.empty()) {
            trailing_slash = true;  // "//" merges; a final "" is the trailing slash
        } else {
            stack.push_back(seg);
            trailing_slash = false;
        }
        if (last) break;
        pos = end + 1;
    }
    out.clear();
    for (auto seg : stack) {
        out.push_back('/');
        out.append(seg);
    }
    if (out.empty() || trailing_slash) out.push_back('/');
    return std::nullopt;
}

}  // namespace

bool Config::every_policy_requires_certificate() const {
    return std::all_of(policies.begin(), policies.end(), [](const Policy& policy) {
        return policy.client_certificate == CertMode::required;
    });
}

ConfigError::ConfigError(std::vector<std::string> messages)
    : std::runtime_error(join_lines(messages)), messages_(std::move(messages)) {}

bool is_path_char(unsigned char c) { return kPathChars[c]; }

NormalizedPath normalize_path(std::string_view raw_path) {
    if (raw_path.empty() || raw_path.front() != '/')
        return refused("request target is not origin-form", "path.not_origin_form");
    std::string decoded;
    if (auto refusal = decode_unreserved(raw_path, decoded)) return std::move(*refusal);
    NormalizedPath r;
    if (auto refusal = resolve_segments(decoded, r.path)) return std::move(*refusal);
    return r;
}

std::string format_error(const Mark& mark, const std::string& key, const std::string& message) {
    return mark.file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": " +
           key + ": " + message;
}

}  // namespace certgate::config
