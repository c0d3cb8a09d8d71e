#include "config/policy_schema.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "config/address_syntax.hpp"

namespace certgate::config::detail {
namespace {

bool is_empty_list(const Field& field) {
    return field.is_null() || (field.node().IsSequence() && field.node().size() == 0);
}

void read_allow(const Field& field, AllowList& allow) {
    const Mapping map(field, {"subjects", "san_dns", "san_uri", "fingerprints"});
    if (const auto f = map.get("subjects")) assign(allow.subjects, f->strings(parse_subject));
    if (const auto f = map.get("san_dns")) assign(allow.san_dns, f->strings(parse_dns_pattern));
    if (const auto f = map.get("san_uri")) assign(allow.san_uri, f->strings(parse_uri_pattern));
    if (const auto f = map.get("fingerprints")) {
        assign(allow.fingerprints, f->strings(parse_fingerprint));
    }
}

void read_frame_ancestors(const Field& field, std::vector<std::string>& sources) {
    if (is_empty_list(field)) {
        field.error("must list at least one source (\"'none'\" forbids all framing)");
        return;
    }
    const auto items = field.items();
    if (!items) return;
    std::vector<std::string> read;
    bool all_valid = true;
    for (const Field& item : *items) {
        const auto source = item.parse(parse_frame_ancestor);
        all_valid = all_valid && source.has_value();
        if (!source) continue;
        // CSP ignores 'none' next to other sources; mixing them means the intent is unclear.
        if (*source == "'none'" && items->size() > 1) {
            item.error("'none' must be the only source");
            all_valid = false;
        }
        read.push_back(*source);
    }
    if (all_valid) sources = std::move(read);
}

// Framing and connection headers: setting them on a response would corrupt its framing.
bool is_framing_header(std::string_view name) {
    constexpr std::array<std::string_view, 8> names = {"content-length",   "transfer-encoding",
                                                       "connection",       "keep-alive",
                                                       "proxy-connection", "te",
                                                       "trailer",          "upgrade"};
    const std::string lowered = ascii_lower(name);
    return std::find(names.begin(), names.end(), lowered) != names.end();
}

void read_response_headers(const Field& field,
                           std::vector<std::pair<std::string, std::string>>& headers) {
    const Mapping map = Mapping::free_form(field);
    std::vector<std::pair<std::string, std::string>> read;
    for (const auto& [key, value] : map.entries()) {
        auto name = key.parse(parse_header_name);
        auto text = value.parse(parse_header_value);
        if (!name) continue;
        const auto same = std::find_if(read.begin(), read.end(), [&](const auto& header) {
            return iequals(header.first, *name);
        });
        if (is_framing_header(*name)) {
            key.error(quote(*name) + " is managed by certgate and cannot be set");
        } else if (same != read.end()) {
            key.error("header " + quote(*name) + " is already set as " + quote(same->first) +
                      " (header names are case-insensitive)");
        } else if (text) {
            read.emplace_back(std::move(*name), std::move(*text));
        }
    }
    headers = std::move(read);
}

Csrf read_csrf(const Field& field) {
    const Mapping map(field, {"trusted_origins", "allow_missing_origin"});
    Csrf csrf;
    if (const auto f = map.get("trusted_origins"))
        assign(csrf.trusted_origins, f->strings(parse_origin));
    if (const auto f = map.get("allow_missing_origin"))
        assign(csrf.allow_missing_origin, f->boolean());
    return csrf;
}

Cookies read_cookies(const Field& field) {
    const Mapping map(field, {"secure", "same_site"});
    Cookies cookies;
    if (const auto f = map.get("secure")) assign(cookies.secure, f->boolean());
    const auto same_site = map.get("same_site");
    if (same_site && !same_site->is_null()) {
        cookies.same_site = same_site->choice<SameSite>(
            {{"Strict", SameSite::strict}, {"Lax", SameSite::lax}, {"None", SameSite::none}}, true);
        // Browsers drop a SameSite=None cookie that is not also Secure.
        if (cookies.same_site == SameSite::none && !cookies.secure) {
            same_site->error("SameSite=None requires secure: true");
        }
    }
    return cookies;
}

std::optional<std::string> read_hsts(const Field& field) {
    const auto value = field.text();
    if (!value) return std::nullopt;
    if (value->empty()) {
        field.error("must not be empty (null: do not send the header)");
    } else if (has_control_char(*value)) {
        field.error(quote(*value) +
                    " is not a valid header value: no CR, LF, NUL or other control "
                    "characters");
    }
    return value;
}

// SPEC "Routing": prefixes are matched against the normalized request path, so each is
// normalized the same way at load ("/x//y" governs "/x/y"). A prefix that normalization
// refuses could never match a request (such a request gets 400): an error, not a dead rule.
Parsed<std::string> parse_policy_path(std::string_view text) {
    const auto syntax = parse_path_prefix(text);
    if (!syntax.ok()) return Invalid{syntax.error()};
    auto normalized = normalize_path(text);
    if (normalized.ok()) return std::move(normalized.path);
    const std::string why =
        normalized.rule == "path.invalid_char"
            ? "a character outside RFC 3986 path characters (percent-encode it)"
            : std::string(normalized.problem);
    return Invalid{quote(text) + " is not a valid path prefix: " + why +
                   " (a request with such a path gets 400, so the prefix could never match)"};
}

// `names` holds the name and key path of every policy read so far.
Policy read_policy(const Field& item, std::vector<std::pair<std::string, std::string>>& names) {
    const Mapping map(
        item, {"name", "paths", "client_certificate", "allow", "frame_ancestors", "x_frame_options",
               "csp_mode", "hsts", "response_headers", "csrf", "cookies"});
    Policy policy;
    map.require("name");
    if (const auto f = map.get("name"); f && !f->is_null()) {
        const auto name = f->text();
        const auto same = std::find_if(names.begin(), names.end(), [&](const auto& entry) {
            return name && entry.first == *name;
        });
        if (name && (name->empty() || has_control_char(*name))) {
            f->error(quote(*name) + " is not a valid policy name");
        } else if (name && same != names.end()) {
            f->error("policy name " + quote(*name) + " is already used by " + same->second);
        } else if (name) {
            policy.name = *name;
            names.emplace_back(*name, item.path());
        }
    }
    if (const auto f = map.get("paths")) {
        if (is_empty_list(*f)) {
            f->error("must list at least one path prefix");
        } else {
            assign(policy.paths, f->strings(parse_policy_path));
        }
    }
    if (const auto f = map.get("client_certificate")) {
        assign(policy.client_certificate, f->choice<CertMode>({{"required", CertMode::required},
                                                               {"optional", CertMode::optional},
                                                               {"none", CertMode::none}},
                                                              false));
    }
    read_allow(map.get_or_null("allow"), policy.allow);
    if (const auto f = map.get("frame_ancestors")) read_frame_ancestors(*f, policy.frame_ancestors);
    if (const auto f = map.get("x_frame_options")) {
        assign(policy.x_frame_options,
               f->choice<FrameOptions>({{"auto", FrameOptions::automatic},
                                        {"DENY", FrameOptions::deny},
                                        {"SAMEORIGIN", FrameOptions::sameorigin},
                                        {"off", FrameOptions::off}},
                                       true));
    }
    if (const auto f = map.get("csp_mode")) {
        assign(policy.csp_mode, f->choice<CspMode>({{"merge", CspMode::merge},
                                                    {"override", CspMode::override_app},
                                                    {"if_missing", CspMode::if_missing}},
                                                   false));
    }
    if (const auto f = map.get("hsts")) {
        policy.hsts = f->is_null() ? std::nullopt : read_hsts(*f);
    }
    if (const auto f = map.get("response_headers"))
        read_response_headers(*f, policy.response_headers);
    if (const auto f = map.get("csrf"); f && !f->is_null()) policy.csrf = read_csrf(*f);
    if (const auto f = map.get("cookies"); f && !f->is_null()) policy.cookies = read_cookies(*f);
    return policy;
}

}  // namespace

void read_policies(const Field& field, std::vector<Policy>& policies) {
    if (is_empty_list(field)) {
        field.error("must list at least one policy (without the key, one default policy applies)");
        return;
    }
    const auto items = field.items();
    if (!items) return;
    std::vector<std::pair<std::string, std::string>> names;
    std::vector<Policy> read;
    for (const Field& item : *items) read.push_back(read_policy(item, names));
    policies = std::move(read);
}

}  // namespace certgate::config::detail
