// CSP merging and the other response headers. Invariants, per csp_mode: merge leaves no
// frame-ancestors directive but certgate's in any policy of any CSP header and at least one
// of certgate's; override leaves exactly certgate's header; if_missing adds one only when
// the app sent none. X-Frame-Options is always exactly the policy's; Report-Only headers are
// never touched.
#include "policies/response_decorator.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace certgate;
using namespace certgate::fuzz;

namespace {

bool is_csp_space(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view v) {
    while (!v.empty() && is_csp_space(v.front())) v.remove_prefix(1);
    while (!v.empty() && is_csp_space(v.back())) v.remove_suffix(1);
    return v;
}

// Every frame-ancestors directive in `csp` (each policy of a comma-joined value), as written.
std::vector<std::string> frame_ancestors_directives(std::string_view csp) {
    std::vector<std::string> out;
    for (auto policy : split(csp, ','))
        for (auto directive : split(policy, ';')) {
            directive = trim(directive);
            auto name_end = std::size_t{0};
            while (name_end < directive.size() && !is_csp_space(directive[name_end])) ++name_end;
            if (lower(directive.substr(0, name_end)) == "frame-ancestors")
                out.emplace_back(directive);
        }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto flags = take_byte(in);
    config::Policy policy;
    policy.csp_mode = static_cast<config::CspMode>(flags % 3);
    policy.frame_ancestors = (flags & 4) ? std::vector<std::string>{"'self'", "https://a.example"}
                                         : std::vector<std::string>{"'none'"};
    policy.x_frame_options = static_cast<config::FrameOptions>((flags >> 3) % 4);
    const auto rules = policies::compile_response_rules(policy);

    // Lines: "C<value>" a CSP header, "R<value>" Report-Only, "X<value>" X-Frame-Options,
    // anything else a header "name:value". Values never hold CR or LF (the parser refuses).
    policies::HeaderList headers;
    std::vector<std::string> app_csp, report_only;
    for (auto line : split(in, '\n')) {
        if (line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) continue;
        const auto kind = take_byte(line);
        if (kind == 'C') {
            headers.add("Content-Security-Policy", line);
            app_csp.emplace_back(line);
        } else if (kind == 'R') {
            headers.add("content-security-policy-report-only", line);
            report_only.emplace_back(line);
        } else if (kind == 'X') {
            headers.add("X-Frame-Options", line);
        } else {
            const auto colon = line.find(':');
            const auto name = line.substr(0, colon);
            const auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
            headers.add(name, value);
            if (lower(name) == "content-security-policy") app_csp.emplace_back(value);
            if (lower(name) == "content-security-policy-report-only") report_only.emplace_back(value);
        }
    }
    policies::decorate_response(headers, rules);

    std::vector<std::string> csp, ro;
    headers.for_each([&](std::string_view name, std::string_view value) {
        if (lower(name) == "content-security-policy") csp.emplace_back(value);
        if (lower(name) == "content-security-policy-report-only") ro.emplace_back(value);
    });
    CERTGATE_FUZZ_CHECK(ro == report_only, "report-only changed");
    switch (policy.csp_mode) {
        case config::CspMode::override_app:
            CERTGATE_FUZZ_CHECK(csp.size() == 1 && csp[0] == rules.frame_ancestors, "override");
            break;
        case config::CspMode::if_missing:
            if (app_csp.empty())
                CERTGATE_FUZZ_CHECK(csp.size() == 1 && csp[0] == rules.frame_ancestors, "if_missing");
            else
                CERTGATE_FUZZ_CHECK(csp == app_csp, "if_missing changed the app's CSP");
            break;
        case config::CspMode::merge: {
            CERTGATE_FUZZ_CHECK(csp.size() == std::max<std::size_t>(app_csp.size(), 1), "merge count");
            std::size_t ours = 0;
            for (const auto& value : csp)
                for (const auto& d : frame_ancestors_directives(value)) {
                    CERTGATE_FUZZ_CHECK(d == rules.frame_ancestors, value);
                    ++ours;
                }
            CERTGATE_FUZZ_CHECK(ours >= 1, "merge lost frame-ancestors");
            break;
        }
    }
    if (rules.x_frame_options)
        CERTGATE_FUZZ_CHECK(headers.count("x-frame-options") == 1 &&
                                headers.get("x-frame-options") == *rules.x_frame_options,
                            "x-frame-options");
    else
        CERTGATE_FUZZ_CHECK(headers.count("x-frame-options") == 0, "x-frame-options off");
    CERTGATE_FUZZ_CHECK(headers.count("strict-transport-security") == 1, "hsts");
    return 0;
}
