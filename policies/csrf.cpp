#include "policies/csrf.hpp"

#include <algorithm>
#include <charconv>

namespace certgate::policies {

namespace {

constexpr const char* kRefusedReason = "origin not allowed";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim_ows(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

// "https://" or "http://", any case; the rest of `url` after it.
std::optional<std::pair<std::string, std::string_view>> split_scheme(std::string_view url) {
    for (std::string_view scheme : {"https", "http"}) {
        if (url.size() > scheme.size() + 3 && istarts_with(url, scheme) &&
            url.substr(scheme.size(), 3) == "://")
            return std::pair{std::string(scheme), url.substr(scheme.size() + 3)};
    }
    return std::nullopt;
}

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '.' || c == '_';
}

bool is_ipv6_char(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || c == ':' || c == '.'; }

// "host[:port]" -> "host" or "host:port", lower-cased, `default_port` dropped.
std::optional<std::string> normalize_authority(std::string_view authority,
                                               std::string_view default_port) {
    std::string host;
    std::string_view rest;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        for (char c : authority.substr(1, close - 1)) host += lower(c);
        if (host.find(':') == std::string::npos ||
            !std::all_of(host.begin(), host.end(), is_ipv6_char))
            return std::nullopt;
        host = "[" + host + "]";
        rest = authority.substr(close + 1);
    } else {
        const auto colon = std::min(authority.find(':'), authority.size());
        for (char c : authority.substr(0, colon)) host += lower(c);
        if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_char))
            return std::nullopt;
        rest = authority.substr(colon);
    }
    if (rest.empty()) return host;
    const auto digits = rest.substr(1);
    if (rest.front() != ':' || digits.empty() || digits.size() > 5 ||
        !std::all_of(digits.begin(), digits.end(), is_digit))
        return std::nullopt;
    unsigned port = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (port < 1 || port > 65535) return std::nullopt;
    if (std::to_string(port) == default_port) return host;
    return host + ":" + std::to_string(port);
}

// `url` must start with an http(s) scheme. Returns the normalized origin and what follows
// the authority (path, query, fragment).
std::optional<std::pair<std::string, std::string_view>> split_origin(std::string_view url) {
    const auto scheme = split_scheme(url);
    if (!scheme) return std::nullopt;
    const auto rest = scheme->second;
    const auto end = std::min(rest.find_first_of("/?#"), rest.size());
    const auto authority = rest.substr(0, end);
    // "https://trusted.example@evil.example" names evil.example; never read it as trusted.
    if (authority.find('@') != std::string_view::npos) return std::nullopt;
    const auto host = normalize_authority(authority, scheme->first == "https" ? "443" : "80");
    if (!host) return std::nullopt;
    return std::pair{scheme->first + "://" + *host, rest.substr(end)};
}

Refusal refuse(const char* rule) { return Refusal{403, kRefusedReason, rule}; }

bool is_allowed(const config::Csrf& csrf, const HeaderList& headers,
                const std::optional<std::string>& origin) {
    if (!origin) return false;
    const auto& trusted = csrf.trusted_origins;
    if (std::find(trusted.begin(), trusted.end(), *origin) != trusted.end()) return true;
    // A same-origin page: the browser sent Host for the very URL the page lives at.
    const auto host = headers.get("host");
    return host && normalize_origin("https://" + std::string(trim_ows(*host))) == *origin;
}

}  // namespace

std::optional<std::string> normalize_origin(std::string_view origin) {
    const auto split = split_origin(origin);
    if (!split || (!split->second.empty() && split->second != "/")) return std::nullopt;
    return split->first;
}

std::optional<std::string> referer_origin(std::string_view referer) {
    const auto split = split_origin(referer);
    if (!split) return std::nullopt;
    return split->first;
}

std::optional<Refusal> check_csrf(const config::Csrf& csrf, std::string_view method,
                                  const HeaderList& headers) {
    // Methods that must not change state (RFC 9110 9.2.1); a simple cross-site form can
    // only send GET or POST anyway.
    if (method == "GET" || method == "HEAD" || method == "OPTIONS") return std::nullopt;
    // Two copies are never sent by a browser; picking either one could be picking the forgery.
    if (const auto n = headers.count("origin"); n > 0) {
        if (n > 1) return refuse("csrf.origin_mismatch");
        const auto origin = trim_ows(*headers.get("origin"));
        // Sandboxed frames, data: URLs and some redirects send "null": any site can cause it.
        if (iequals(origin, "null")) return refuse("csrf.origin_null");
        if (is_allowed(csrf, headers, normalize_origin(origin))) return std::nullopt;
        return refuse("csrf.origin_mismatch");
    }
    if (const auto n = headers.count("sec-fetch-site"); n > 0) {
        const auto site = trim_ows(*headers.get("sec-fetch-site"));
        // "same-site" is refused too: a sibling subdomain may be a different, weaker app.
        if (n == 1 && (site == "same-origin" || site == "none")) return std::nullopt;
        return refuse("csrf.sec_fetch_site");
    }
    if (const auto n = headers.count("referer"); n > 0) {
        if (n == 1 && is_allowed(csrf, headers, referer_origin(trim_ows(*headers.get("referer")))))
            return std::nullopt;
        return refuse("csrf.referer_mismatch");
    }
    // Current browsers send Origin on every such request; a request with none of the three
    // comes from a machine client (or a very old browser told to hide its Referer).
    if (csrf.allow_missing_origin) return std::nullopt;
    return refuse("csrf.missing_origin");
}

}  // namespace certgate::policies
