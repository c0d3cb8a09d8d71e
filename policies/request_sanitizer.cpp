#include "policies/request_sanitizer.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <unordered_set>

namespace certgate::policies {

namespace {

// Header names as an app framework sees them: case-folded, and '_' equal to '-' (CGI/WSGI,
// Django's request.META and PHP turn both into HTTP_X_SSL_CLIENT_DN).
char fold(char c) {
    if (c >= 'A' && c <= 'Z') return static_cast<char>(c + 32);
    return c == '_' ? '-' : c;
}

std::string folded(std::string_view name) {
    std::string out(name.size(), '\0');
    std::transform(name.begin(), name.end(), out.begin(), fold);
    return out;
}

// `rule` is already folded.
bool folded_starts_with(std::string_view name, std::string_view rule) {
    if (name.size() < rule.size()) return false;
    for (std::size_t i = 0; i < rule.size(); ++i)
        if (fold(name[i]) != rule[i]) return false;
    return true;
}

bool folded_equals(std::string_view name, std::string_view rule) {
    return name.size() == rule.size() && folded_starts_with(name, rule);
}

void add_unique(std::vector<std::string>& list, std::string_view name) {
    if (name.empty()) return;  // an empty prefix would strip every header, Host included
    auto f = folded(name);
    if (std::find(list.begin(), list.end(), f) == list.end()) list.push_back(std::move(f));
}

std::string_view trim_ows(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

// Sets `name`, also removing its '_' spellings: with allow_underscores_in_headers a client
// could otherwise send X_Real_IP next to certgate's X-Real-IP, and CGI-style apps would
// see both as HTTP_X_REAL_IP.
void set_replacing_variants(HeaderList& headers, std::string_view name, std::string_view value) {
    const auto rule = folded(name);
    headers.remove_if([&](std::string_view n, std::string_view) { return folded_equals(n, rule); });
    headers.add(name, value);
}

}  // namespace

SpoofRules compile_spoof_rules(const config::Identity& identity) {
    SpoofRules rules;
    const auto& h = identity.headers;
    for (const auto* name :
         {&h.verify, &h.subject, &h.issuer, &h.serial, &h.fingerprint, &h.not_before, &h.not_after,
          &h.san_dns, &h.san_uri, &h.certificate, &h.rfc9440_cert, &h.rfc9440_chain})
        if (*name) add_unique(rules.exact, **name);
    for (const auto& name : identity.strip) add_unique(rules.exact, name);
    for (const auto& prefix : identity.strip_prefixes) add_unique(rules.prefixes, prefix);
    rules.allow_underscores = identity.allow_underscores_in_headers;
    return rules;
}

// Case-insensitive hashing for Connection tokens (ASCII, as header names are).
struct TokenHash {
    std::size_t operator()(std::string_view s) const {
        std::size_t h = 14695981039346656037ull;
        for (char c : s) {
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
            h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
        }
        return h;
    }
};
struct TokenEqual {
    bool operator()(std::string_view a, std::string_view b) const { return iequals(a, b); }
};

void strip_hop_by_hop(HeaderList& headers) {
    // RFC 9110 7.6.1. Removing a field only marks it, so the nominated names can stay views
    // into the list. Nearly every request nominates nothing beyond the fixed names
    // ("Connection: keep-alive"), and a few more are compared directly, with no allocation;
    // past that they go into a hash set, so thousands of Connection tokens times thousands
    // of fields cannot stall the worker.
    static constexpr std::array<std::string_view, 6> kHopByHop{
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"};
    const auto fixed = [](std::string_view name) {
        for (auto h : kHopByHop)
            if (iequals(name, h)) return true;
        return false;
    };
    constexpr std::size_t kFew = 8;
    std::array<std::string_view, kFew> few;
    std::size_t n_few = 0;
    std::unordered_set<std::string_view, TokenHash, TokenEqual> many;  // empty: no allocation
    const auto nominate = [&](std::string_view tok) {
        if (!many.empty()) {
            many.insert(tok);
            return;
        }
        for (std::size_t i = 0; i < n_few; ++i)
            if (iequals(few[i], tok)) return;
        if (n_few < kFew) {
            few[n_few++] = tok;
            return;
        }
        many.insert(few.begin(), few.end());
        many.insert(tok);
    };
    headers.for_each([&](std::string_view name, std::string_view value) {
        if (!iequals(name, "connection")) return;
        while (!value.empty()) {
            const auto comma = value.find(',');
            const auto tok = trim_ows(value.substr(0, comma));
            // Host and the framing headers are end-to-end (RFC 9110 7.6.1 forbids nominating
            // them); honouring "Connection: host" would hand the app a request without one.
            if (!tok.empty() && !fixed(tok) && !iequals(tok, "host") &&
                !iequals(tok, "content-length") && !iequals(tok, "transfer-encoding"))
                nominate(tok);
            if (comma == std::string_view::npos) break;
            value.remove_prefix(comma + 1);
        }
    });
    headers.remove_if([&](std::string_view name, std::string_view) {
        if (fixed(name)) return true;
        if (!many.empty()) return many.count(name) > 0;
        for (std::size_t i = 0; i < n_few; ++i)
            if (iequals(few[i], name)) return true;
        return false;
    });
}

std::size_t strip_spoofable(HeaderList& headers, const SpoofRules& rules) {
    return headers.remove_if([&](std::string_view name, std::string_view) {
        if (!rules.allow_underscores && name.find('_') != std::string_view::npos) return true;
        for (const auto& e : rules.exact)
            if (folded_equals(name, e)) return true;
        for (const auto& p : rules.prefixes)
            if (folded_starts_with(name, p)) return true;
        return false;
    });
}

bool is_acceptable_request_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '-';
    });
}

// Apps and frameworks act on more forwarding headers than certgate sets (Django's
// USE_X_FORWARDED_HOST and SECURE_PROXY_SSL_HEADER, Rack's X-Forwarded-Ssl and -Host, Spring's
// X-Forwarded-Prefix): a client-written one passed on would let the client choose them.
std::size_t strip_client_forwarding(HeaderList& headers, std::string_view request_id_header) {
    const auto request_id = folded(request_id_header);
    return headers.remove_if([&](std::string_view name, std::string_view) {
        if (!request_id.empty() && folded_equals(name, request_id)) return false;
        return folded_starts_with(name, "x-forwarded-") || folded_equals(name, "x-real-ip") ||
               folded_equals(name, "forwarded");
    });
}

std::string set_forwarding_headers(HeaderList& headers, const config::Forwarded& forwarded,
                                   std::string_view client_ip,
                                   std::string_view generated_request_id) {
    // append: the client's own chain is read before its headers go (one field, so that apps
    // reading only the first or only the last copy agree).
    std::string chain;
    if (forwarded.x_forwarded_for == config::XffMode::append) {
        headers.for_each([&](std::string_view name, std::string_view value) {
            if (!iequals(name, "x-forwarded-for")) return;
            const auto v = trim_ows(value);
            if (v.empty()) return;
            if (!chain.empty()) chain += ", ";
            chain += v;
        });
        if (!chain.empty()) chain += ", ";
    }
    strip_client_forwarding(headers, forwarded.request_id ? std::string_view(*forwarded.request_id)
                                                          : std::string_view());
    if (forwarded.x_forwarded_for != config::XffMode::off) {
        chain += client_ip;
        headers.add("X-Forwarded-For", chain);
    }
    if (forwarded.x_forwarded_proto) set_replacing_variants(headers, "X-Forwarded-Proto", "https");
    if (forwarded.x_real_ip) set_replacing_variants(headers, "X-Real-IP", client_ip);

    if (!forwarded.request_id) return {};
    const auto& name = *forwarded.request_id;
    const auto rule = folded(name);
    std::size_t copies = 0;
    std::optional<std::string_view> sent;
    headers.for_each([&](std::string_view n, std::string_view v) {
        if (!folded_equals(n, rule)) return;
        ++copies;  // an '_' spelling counts as a copy, but is never the one kept
        sent = iequals(n, name) ? std::optional(v) : std::nullopt;
    });
    if (copies == 1 && sent && is_acceptable_request_id(*sent)) return std::string(*sent);
    set_replacing_variants(headers, name, generated_request_id);
    return std::string(generated_request_id);
}

}  // namespace certgate::policies
