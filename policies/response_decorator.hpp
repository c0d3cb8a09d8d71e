// Security headers on every response (SPEC "Responses"): compiled once per policy at load
// into a small rule set, applied by one function to the app's responses and certgate's own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "policies/header_list.hpp"

namespace certgate::policies {

struct ResponseRules {
    config::CspMode csp_mode = config::CspMode::merge;
    std::string frame_ancestors;                 // "frame-ancestors 'none'"
    std::optional<std::string> x_frame_options;  // nullopt: remove the app's (off)
    std::optional<std::string> hsts;             // nullopt: pass the app's through
    std::vector<std::pair<std::string, std::string>> response_headers;
};
ResponseRules compile_response_rules(const config::Policy& policy);

// CSP merge of one header value: replaces every frame-ancestors directive in each policy
// of a comma-joined value (any case). Returns the new value and whether one was found.
std::pair<std::string, bool> replace_frame_ancestors(std::string_view csp,
                                                     std::string_view directive);

// Applies the rules to a response's header fields (CSP, X-Frame-Options, HSTS,
// response_headers). Content-Security-Policy-Report-Only is left alone.
void decorate_response(HeaderList& headers, const ResponseRules& rules);

}  // namespace certgate::policies
