#include "policies/response_decorator.hpp"

#include <algorithm>

namespace certgate::policies {

namespace {

constexpr std::string_view kCsp = "Content-Security-Policy";

// CSP3 2.2.1: directives are split on ';', policies of a header on ','; whitespace is
// ASCII whitespace.
bool is_csp_space(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\n'; }

std::string_view trim_right_csp(std::string_view v) {
    while (!v.empty() && is_csp_space(v.back())) v.remove_suffix(1);
    return v;
}

// Adds `directive` to the last policy of a header value, keeping what is there.
std::string append_directive(std::string_view csp, std::string_view directive) {
    const auto kept = trim_right_csp(csp);
    std::string out(kept);
    if (kept.empty() || kept.back() == ',') {
        if (!kept.empty()) out += ' ';
    } else if (kept.back() == ';') {
        out += ' ';
    } else {
        out += "; ";
    }
    out += directive;
    return out;
}

}  // namespace

ResponseRules compile_response_rules(const config::Policy& policy) {
    ResponseRules rules;
    rules.csp_mode = policy.csp_mode;
    rules.frame_ancestors = "frame-ancestors";
    bool self = false;
    for (const auto& source : policy.frame_ancestors) {
        rules.frame_ancestors += ' ';
        rules.frame_ancestors += source;
        if (iequals(source, "'self'")) self = true;
    }
    // An empty source list already means 'none' (CSP3 6.4.2); say so explicitly.
    if (policy.frame_ancestors.empty()) rules.frame_ancestors += " 'none'";

    switch (policy.x_frame_options) {
        case config::FrameOptions::automatic:
            // Browsers without CSP support get the closest safe answer XFO can express.
            rules.x_frame_options = self ? "SAMEORIGIN" : "DENY";
            break;
        case config::FrameOptions::deny:
            rules.x_frame_options = "DENY";
            break;
        case config::FrameOptions::sameorigin:
            rules.x_frame_options = "SAMEORIGIN";
            break;
        case config::FrameOptions::off:
            break;
    }
    rules.hsts = policy.hsts;
    rules.response_headers = policy.response_headers;
    return rules;
}

std::pair<std::string, bool> replace_frame_ancestors(std::string_view csp,
                                                     std::string_view directive) {
    std::string out;
    out.reserve(csp.size() + directive.size());
    bool found = false;
    std::size_t pos = 0;
    while (pos <= csp.size()) {
        const auto end = std::min(csp.find_first_of(";,", pos), csp.size());
        const auto seg = csp.substr(pos, end - pos);
        std::size_t b = 0;
        while (b < seg.size() && is_csp_space(seg[b])) ++b;
        std::size_t name_end = b;
        while (name_end < seg.size() && !is_csp_space(seg[name_end])) ++name_end;
        if (iequals(seg.substr(b, name_end - b), "frame-ancestors")) {
            // Every occurrence: browsers use the first, other tools may read another.
            const auto content_end = trim_right_csp(seg).size();
            out.append(seg.substr(0, b));
            out.append(directive);
            out.append(seg.substr(content_end));
            found = true;
        } else {
            out.append(seg);
        }
        if (end == csp.size()) break;
        out.push_back(csp[end]);
        pos = end + 1;
    }
    return {std::move(out), found};
}

void decorate_response(HeaderList& headers, const ResponseRules& rules) {
    // Configured extra headers go first, so that they can never undo the anti-framing
    // headers below (a response_headers CSP is merged like the app's).
    for (const auto& [name, value] : rules.response_headers) headers.set(name, value);

    switch (rules.csp_mode) {
        case config::CspMode::merge: {
            std::vector<std::string> values;
            headers.for_each([&](std::string_view name, std::string_view value) {
                if (iequals(name, kCsp)) values.emplace_back(value);
            });
            if (values.empty()) {
                headers.add(kCsp, rules.frame_ancestors);
                break;
            }
            bool any = false;
            for (auto& v : values) {
                auto [merged, found] = replace_frame_ancestors(v, rules.frame_ancestors);
                v = std::move(merged);
                any = any || found;
            }
            if (!any) values.front() = append_directive(values.front(), rules.frame_ancestors);
            // Re-added at the end: only the order among fields of one name carries meaning
            // (RFC 9110 5.3), and that order is kept.
            headers.remove(kCsp);
            for (const auto& v : values) headers.add(kCsp, v);
            break;
        }
        case config::CspMode::override_app:
            headers.set(kCsp, rules.frame_ancestors);
            break;
        case config::CspMode::if_missing:
            if (headers.count(kCsp) == 0) headers.add(kCsp, rules.frame_ancestors);
            break;
    }

    if (rules.x_frame_options)
        headers.set("X-Frame-Options", *rules.x_frame_options);
    else
        headers.remove("X-Frame-Options");
    if (rules.hsts) headers.set("Strict-Transport-Security", *rules.hsts);
}

}  // namespace certgate::policies
