#include "policies/allow_list.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "policies/header_list.hpp"

namespace certgate::policies {

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (;;) {
        const auto at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return parts;
        text.remove_prefix(at + 1);
    }
}

bool is_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool is_scheme(std::string_view s) {
    const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    return !s.empty() && alpha(s.front()) && std::all_of(s.begin(), s.end(), [&](char c) {
        return alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    });
}

struct UriParts {
    std::string_view scheme;
    bool has_authority = false;
    std::string_view authority;
    std::string_view path;
    std::string_view tail;  // the path and anything after it (query, fragment)
};

std::optional<UriParts> split_uri(std::string_view uri) {
    const auto colon = uri.find(':');
    if (colon == std::string_view::npos || !is_scheme(uri.substr(0, colon))) return std::nullopt;
    UriParts parts;
    parts.scheme = uri.substr(0, colon);
    auto rest = uri.substr(colon + 1);
    if (rest.starts_with("//")) {
        rest.remove_prefix(2);
        const auto end = std::min(rest.find_first_of("/?#"), rest.size());
        parts.has_authority = true;
        parts.authority = rest.substr(0, end);
        rest.remove_prefix(end);
    }
    parts.tail = rest;
    parts.path = rest.substr(0, rest.find_first_of("?#"));
    return parts;
}

std::vector<std::string_view> path_segments(std::string_view path) {
    if (path.empty()) return {};
    if (path.front() == '/') path.remove_prefix(1);
    return split(path, '/');
}

bool is_wildcard(std::string_view segment) { return segment == "*" || segment == "**"; }

// Shapes that an app or a later parser could resolve to another identity than the one the
// pattern saw: "/ns/prod/sa/x/../../../dev", "%2F", "\", "//" merged away, "?", "#".
bool is_ambiguous(const UriParts& uri, const std::vector<std::string_view>& segments) {
    if (uri.tail.size() != uri.path.size()) return true;
    const auto odd = [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return c == '%' || c == '\\' || byte <= 0x20 || byte == 0x7f;
    };
    if (std::any_of(uri.authority.begin(), uri.authority.end(), odd) ||
        std::any_of(uri.path.begin(), uri.path.end(), odd))
        return true;
    return std::any_of(segments.begin(), segments.end(),
                       [](std::string_view s) { return s.empty() || s == "." || s == ".."; });
}

// Whole-pattern glob over segments, bottom-up so that several "**" cannot go exponential.
bool segments_match(const std::vector<std::string_view>& pattern,
                    const std::vector<std::string_view>& uri) {
    const auto n = uri.size();
    std::vector<char> next(n + 1, 0), cur(n + 1, 0);
    next[n] = 1;
    for (auto i = pattern.size(); i-- > 0;) {
        const auto p = pattern[i];
        for (auto j = n + 1; j-- > 0;) {
            const bool more = j < n;
            if (p == "**") {
                cur[j] = next[j] || (more && cur[j + 1]);
            } else if (p == "*") {
                cur[j] = more && !uri[j].empty() && next[j + 1];
            } else {
                cur[j] = more && uri[j] == p && next[j + 1];
            }
        }
        std::swap(next, cur);
    }
    return next[0] != 0;
}

bool any_of_list(const std::vector<std::string>& list, auto&& pred) {
    return std::any_of(list.begin(), list.end(), pred);
}

bool identity_matches(const config::AllowList& allow, const ClientIdentity& id) {
    const auto equals_subject = [&](const std::string& s) {
        return !id.subject.empty() && s == id.subject;
    };
    const auto matches_dns = [&](const std::string& pattern) {
        return any_of_list(id.san_dns,
                           [&](const std::string& n) { return dns_pattern_matches(pattern, n); });
    };
    const auto matches_uri = [&](const std::string& pattern) {
        return any_of_list(id.san_uri,
                           [&](const std::string& u) { return uri_pattern_matches(pattern, u); });
    };
    const auto equals_fingerprint = [&](const std::string& f) {
        return !id.fingerprint.empty() && iequals(f, id.fingerprint);
    };
    return any_of_list(allow.subjects, equals_subject) || any_of_list(allow.san_dns, matches_dns) ||
           any_of_list(allow.san_uri, matches_uri) ||
           any_of_list(allow.fingerprints, equals_fingerprint);
}

std::string rule_for(const config::AllowList& allow) {
    std::string rule = "allow.";
    const auto add = [&](const std::vector<std::string>& list, const char* name) {
        if (list.empty()) return;
        if (rule.back() != '.') rule += ',';
        rule += name;
    };
    add(allow.subjects, "subjects");
    add(allow.san_dns, "san_dns");
    add(allow.san_uri, "san_uri");
    add(allow.fingerprints, "fingerprints");
    return rule;
}

}  // namespace

bool dns_pattern_matches(std::string_view pattern, std::string_view name) {
    const auto want = split(pattern, '.');
    const auto have = split(name, '.');
    if (want.size() != have.size()) return false;
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (want[i].empty() || have[i].empty()) return false;
        if (want[i] == "*") {
            if (!std::all_of(have[i].begin(), have[i].end(), is_label_char)) return false;
        } else if (want[i].find('*') != std::string_view::npos || !iequals(want[i], have[i])) {
            return false;
        }
    }
    return true;
}

bool uri_pattern_matches(std::string_view pattern, std::string_view uri) {
    const auto want = split_uri(pattern);
    const auto have = split_uri(uri);
    if (!want || !have) return false;
    if (!iequals(want->scheme, have->scheme) || want->has_authority != have->has_authority ||
        !iequals(want->authority, have->authority))
        return false;
    const auto want_segments = path_segments(want->path);
    if (std::none_of(want_segments.begin(), want_segments.end(), is_wildcard))
        return want->tail == have->tail;
    if (want->tail.size() != want->path.size()) return false;  // "?" in a wildcard pattern
    const auto have_segments = path_segments(have->path);
    if (is_ambiguous(*have, have_segments)) return false;
    return segments_match(want_segments, have_segments);
}

bool allow_list_applies(const config::AllowList& allow, config::CertMode mode,
                        const ClientIdentity& id) {
    if (allow.empty()) return false;
    switch (mode) {
        case config::CertMode::required:
            return true;
        case config::CertMode::optional:
            return id.status != ClientIdentity::Status::none;
        case config::CertMode::none:
            return false;
    }
    return false;
}

std::optional<Refusal> check_allow_list(const config::AllowList& allow, const ClientIdentity& id) {
    if (allow.empty()) return std::nullopt;
    // The fields of a failed certificate are whatever its (untrusted) issuer wrote.
    if (id.status == ClientIdentity::Status::verified && identity_matches(allow, id))
        return std::nullopt;
    return Refusal{403, "client identity not allowed", rule_for(allow)};
}

}  // namespace certgate::policies
