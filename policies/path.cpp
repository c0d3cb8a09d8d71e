#include "policies/path.hpp"

#include "policies/header_list.hpp"

namespace certgate::policies {

namespace {

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

PathResult refuse(const char* what, const char* rule) {
    PathResult r;
    r.refusal = Refusal{400, std::string("bad request: ") + what, rule};
    return r;
}

// Decodes %XX of unreserved characters and upper-cases the hex of every other escape.
// Encoded '/', '\' and NUL are refused: an app that decodes them after routing would see a
// different path (and different segments) than the policy was chosen for.
std::optional<PathResult> decode_unreserved(std::string_view in, std::string& out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '\\') return refuse("backslash in path", "path.backslash");
        if (c != '%') {
            out.push_back(c);
            continue;
        }
        const int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
        const int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
        if (hi < 0 || lo < 0) return refuse("bad percent-encoding in path", "path.bad_escape");
        const auto v = static_cast<unsigned char>(hi * 16 + lo);
        if (v == '/') return refuse("encoded slash in path", "path.encoded_slash");
        if (v == '\\') return refuse("encoded backslash in path", "path.encoded_backslash");
        if (v == 0) return refuse("encoded NUL in path", "path.encoded_nul");
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
std::optional<PathResult> resolve_segments(std::string_view in, std::string& out) {
    std::vector<std::string_view> stack;
    bool trailing_slash = false;
    std::size_t pos = 1;  // in[0] == '/'
    while (pos <= in.size()) {
        const auto slash = in.find('/', pos);
        const auto end = slash == std::string_view::npos ? in.size() : slash;
        const auto seg = in.substr(pos, end - pos);
        const bool last = end == in.size();
        if (seg == "..") {
            if (stack.empty()) return refuse("path climbs above the root", "path.above_root");
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

PathResult normalize_target(std::string_view target) {
    if (target.empty() || target.front() != '/')
        return refuse("request target is not origin-form", "path.not_origin_form");
    for (unsigned char c : target)
        if (c <= 0x20 || c == 0x7F || c == '#')
            return refuse("invalid character in request target", "path.invalid_char");

    const auto q = target.find('?');
    const auto raw_path = target.substr(0, q);

    std::string decoded;
    if (auto refusal = decode_unreserved(raw_path, decoded)) return std::move(*refusal);
    std::string path;
    if (auto refusal = resolve_segments(decoded, path)) return std::move(*refusal);

    PathResult r;
    r.target = NormalizedTarget{std::move(path), q == std::string_view::npos
                                                     ? std::string()
                                                     : std::string(target.substr(q))};
    return r;
}

bool path_matches(std::string_view prefix, std::string_view path) {
    if (prefix.empty() || !istarts_with(path, prefix)) return false;
    if (prefix.back() == '/' || path.size() == prefix.size()) return true;
    // "/api" covers "/api/x" but not "/apix": a prefix stops at a segment boundary.
    return path[prefix.size()] == '/';
}

std::optional<std::size_t> route(const std::vector<config::Policy>& policies,
                                 std::string_view normalized_path) {
    for (std::size_t i = 0; i < policies.size(); ++i)
        for (const auto& prefix : policies[i].paths)
            if (path_matches(prefix, normalized_path)) return i;
    return std::nullopt;
}

}  // namespace certgate::policies
