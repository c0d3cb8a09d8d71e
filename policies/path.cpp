#include "policies/path.hpp"

#include "policies/header_list.hpp"

namespace certgate::policies {

namespace {

PathResult refuse(std::string_view what, std::string_view rule) {
    PathResult r;
    r.refusal = Refusal{400, "bad request: " + std::string(what), std::string(rule)};
    return r;
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 3.4: query = *( pchar / "/" / "?" ). Passed on as sent, so it must be one that
// every reader parses alike: no raw bytes >= 0x80, no '[' '{' '|' '^' '"' '<' '\', no bad '%'.
std::optional<PathResult> check_query(std::string_view query) {
    for (std::size_t i = 0; i < query.size(); ++i) {
        const char c = query[i];
        if (c == '/' || c == '?' || config::is_path_char(static_cast<unsigned char>(c))) continue;
        if (c != '%') return refuse("invalid character in request target", "path.invalid_char");
        if (i + 2 >= query.size() || !is_hex(query[i + 1]) || !is_hex(query[i + 2]))
            return refuse("bad percent-encoding in query", "path.bad_escape");
        i += 2;
    }
    return std::nullopt;
}

}  // namespace

PathResult normalize_target(std::string_view target) {
    if (target.empty() || target.front() != '/')
        return refuse("request target is not origin-form", "path.not_origin_form");

    const auto q = target.find('?');
    auto normalized = config::normalize_path(target.substr(0, q));
    if (!normalized.ok()) return refuse(normalized.problem, normalized.rule);
    const auto query = q == std::string_view::npos ? std::string_view() : target.substr(q);
    if (auto refusal = check_query(query.empty() ? query : query.substr(1)))
        return std::move(*refusal);

    PathResult r;
    r.target = NormalizedTarget{std::move(normalized.path), std::string(query)};
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
