#include "policies/cookies.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace certgate::policies {

namespace {

std::string_view trim_wsp(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

// Where the name=value pair ends: the first ';', or for a DQUOTE-wrapped value the first
// ';' after its closing quote.
std::size_t end_of_pair(std::string_view cookie) {
    auto semicolon = cookie.find(';');
    const auto equals = cookie.find('=');
    if (equals != std::string_view::npos && equals < semicolon) {
        auto value = cookie.find_first_not_of(" \t", equals + 1);
        if (value != std::string_view::npos && cookie[value] == '"') {
            const auto close = cookie.find('"', value + 1);
            if (close != std::string_view::npos) semicolon = cookie.find(';', close + 1);
        }
    }
    return std::min(semicolon, cookie.size());
}

std::string_view same_site_text(config::SameSite same_site) {
    switch (same_site) {
        case config::SameSite::strict:
            return "Strict";
        case config::SameSite::lax:
            return "Lax";
        case config::SameSite::none:
            return "None";
    }
    return "Strict";
}

}  // namespace

std::string rewrite_set_cookie(std::string_view set_cookie, const config::Cookies& cookies) {
    if (trim_wsp(set_cookie).empty()) return std::string(set_cookie);
    const bool set_secure = cookies.secure || cookies.same_site == config::SameSite::none;
    const bool set_same_site = cookies.same_site.has_value();

    const auto pair_end = end_of_pair(set_cookie);
    std::string out(set_cookie.substr(0, pair_end));
    auto rest = set_cookie.substr(pair_end);
    while (!rest.empty()) {
        rest.remove_prefix(1);  // the ';'
        const auto end = std::min(rest.find(';'), rest.size());
        const auto attribute = rest.substr(0, end);
        rest.remove_prefix(end);
        const auto trimmed = trim_wsp(attribute);
        if (trimmed.empty()) continue;
        const auto name = trim_wsp(trimmed.substr(0, trimmed.find('=')));
        // Browsers honour the last SameSite and any Secure (RFC 6265bis 5.6), so an app's
        // leftover attribute next to ours would be at best a duplicate, at worst the winner.
        if ((set_secure && iequals(name, "secure")) || (set_same_site && iequals(name, "samesite")))
            continue;
        out += ';';
        out += attribute;
    }
    // Appended last: browsers split at the first ';' even inside a quoted value, so text
    // like "SameSite=None" kept inside quotes is an attribute to them, and the last one wins.
    if (set_secure) out += "; Secure";
    if (set_same_site) {
        out += "; SameSite=";
        out += same_site_text(*cookies.same_site);
    }
    return out;
}

void rewrite_cookies(HeaderList& response_headers, const config::Cookies& cookies) {
    if (response_headers.count("set-cookie") == 0) return;
    // HeaderList has no in-place update; the fields are copied out, then added back in order.
    std::vector<std::pair<std::string, std::string>> fields;
    fields.reserve(response_headers.size());
    response_headers.for_each([&](std::string_view name, std::string_view value) {
        fields.emplace_back(name, iequals(name, "set-cookie") ? rewrite_set_cookie(value, cookies)
                                                              : std::string(value));
    });
    response_headers.clear();
    for (const auto& [name, value] : fields) response_headers.add(name, value);
}

}  // namespace certgate::policies
