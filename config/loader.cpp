// The top level of the SPEC schema, parse_config and load_config.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include "config/address_syntax.hpp"
#include "config/config.hpp"
#include "config/policy_schema.hpp"
#include "config/yaml_reader.hpp"

namespace certgate::config {
namespace detail {
namespace {

std::optional<FileRef> read_file_ref(const Field& field) {
    const auto path = field.text();
    if (!path) return std::nullopt;
    if (path->empty()) {
        field.error("a file path is required");
        return std::nullopt;
    }
    return FileRef{*path, field.mark(), field.path()};
}

void read_tls(const Field& field, Tls& tls, bool client_ca_required) {
    const Mapping map(
        field, {"certificate", "private_key", "client_ca", "crl", "verify_depth", "min_version"});
    map.require("certificate");
    map.require("private_key");
    if (client_ca_required) {
        map.require("client_ca", "needed unless every policy has client_certificate: none");
    }
    if (const auto f = map.get("certificate"); f && !f->is_null()) {
        assign(tls.certificate, read_file_ref(*f));
    }
    if (const auto f = map.get("private_key"); f && !f->is_null()) {
        assign(tls.private_key, read_file_ref(*f));
    }
    if (const auto f = map.get("client_ca"); f && !f->is_null()) tls.client_ca = read_file_ref(*f);
    if (const auto f = map.get("crl")) {
        for (const Field& item : f->items().value_or(std::vector<Field>{})) {
            if (auto crl = read_file_ref(item)) tls.crl.push_back(std::move(*crl));
        }
    }
    if (const auto f = map.get("verify_depth")) {
        if (const auto depth = f->integer(1, 10)) tls.verify_depth = static_cast<int>(*depth);
    }
    if (const auto f = map.get("min_version")) {
        assign(tls.min_version, f->choice<TlsVersion>(
                                    {{"1.2", TlsVersion::v1_2}, {"1.3", TlsVersion::v1_3}}, false));
    }
}

void read_upstream(const Field& field, Upstream& upstream) {
    const Mapping map(field, {"url", "connect_timeout", "response_timeout", "max_idle_connections",
                              "idle_timeout"});
    map.require("url");
    if (const auto f = map.get("url"); f && !f->is_null()) {
        if (const auto target = f->parse(parse_upstream_url)) {
            upstream.kind = target->kind;
            upstream.host = target->host;
            upstream.port = target->port;
            upstream.socket_path = target->socket_path;
            upstream.url = f->node().Scalar();
        }
    }
    if (const auto f = map.get("connect_timeout"))
        assign(upstream.connect_timeout, f->duration(false));
    if (const auto f = map.get("response_timeout"))
        assign(upstream.response_timeout, f->duration(false));
    if (const auto f = map.get("idle_timeout")) assign(upstream.idle_timeout, f->duration(false));
    if (const auto f = map.get("max_idle_connections")) {
        if (const auto count = f->integer(0, 100'000)) {
            upstream.max_idle_connections = static_cast<std::size_t>(*count);
        }
    }
}

void read_limits(const Field& field, Limits& limits) {
    const Mapping map(field,
                      {"max_request_header_bytes", "max_request_body_bytes", "header_timeout",
                       "body_idle_timeout", "idle_timeout", "max_connections", "shutdown_timeout"});
    if (const auto f = map.get("max_request_header_bytes")) {
        const auto bytes = f->size();
        if (bytes && (*bytes < 1024 || *bytes > 1024 * 1024)) {
            f->error("must be from 1KiB to 1MiB, found " + quote(f->node().Scalar()));
        } else if (bytes) {
            limits.max_request_header_bytes = static_cast<std::size_t>(*bytes);
        }
    }
    if (const auto f = map.get("max_request_body_bytes"))
        assign(limits.max_request_body_bytes, f->size());
    if (const auto f = map.get("header_timeout")) assign(limits.header_timeout, f->duration(false));
    if (const auto f = map.get("body_idle_timeout"))
        assign(limits.body_idle_timeout, f->duration(false));
    if (const auto f = map.get("idle_timeout")) assign(limits.idle_timeout, f->duration(false));
    // 0s is meaningful here: stop at once, without waiting for requests in flight.
    if (const auto f = map.get("shutdown_timeout"))
        assign(limits.shutdown_timeout, f->duration(true));
    if (const auto f = map.get("max_connections")) {
        if (const auto count = f->integer(1, 1'000'000)) {
            limits.max_connections = static_cast<std::size_t>(*count);
        }
    }
}

void read_identity_headers(const Field& field, IdentityHeaders& headers) {
    using Member = std::optional<std::string> IdentityHeaders::*;
    const std::vector<std::pair<std::string_view, Member>> members = {
        {"verify", &IdentityHeaders::verify},
        {"subject", &IdentityHeaders::subject},
        {"issuer", &IdentityHeaders::issuer},
        {"serial", &IdentityHeaders::serial},
        {"fingerprint", &IdentityHeaders::fingerprint},
        {"not_before", &IdentityHeaders::not_before},
        {"not_after", &IdentityHeaders::not_after},
        {"san_dns", &IdentityHeaders::san_dns},
        {"san_uri", &IdentityHeaders::san_uri},
        {"certificate", &IdentityHeaders::certificate},
        {"rfc9440_cert", &IdentityHeaders::rfc9440_cert},
        {"rfc9440_chain", &IdentityHeaders::rfc9440_chain}};
    std::vector<std::string_view> keys;
    for (const auto& member : members) keys.push_back(member.first);
    const Mapping map(field, keys);
    for (const auto& [key, member] : members) {
        if (const auto f = map.get(key)) {
            headers.*member = f->is_null() ? std::nullopt : f->parse(parse_header_name);
        }
    }
    // Two fields under one header name would send the app an ambiguous identity.
    for (std::size_t i = 0; i < members.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            const auto& later = headers.*members[i].second;
            const auto& earlier = headers.*members[j].second;
            if (!later || !earlier || !iequals(*later, *earlier)) continue;
            // Report it where the operator wrote a name, naming the field it collides with.
            const bool later_configured = map.get(members[i].first).has_value();
            const auto& at = later_configured ? members[i] : members[j];
            const auto& other = later_configured ? members[j] : members[i];
            map.get_or_null(at.first).error(quote(*later) +
                                            " is already used for identity.headers." +
                                            std::string(other.first));
        }
    }
}

void read_identity(const Field& field, Identity& identity) {
    const Mapping map(field,
                      {"headers", "strip_prefixes", "strip", "allow_underscores_in_headers"});
    read_identity_headers(map.get_or_null("headers"), identity.headers);
    if (const auto f = map.get("strip_prefixes")) {
        assign(identity.strip_prefixes, f->strings(parse_header_name_prefix));
    }
    if (const auto f = map.get("strip")) assign(identity.strip, f->strings(parse_header_name));
    if (const auto f = map.get("allow_underscores_in_headers")) {
        assign(identity.allow_underscores_in_headers, f->boolean());
    }
}

void read_forwarded(const Field& field, Forwarded& forwarded) {
    const Mapping map(field, {"x_forwarded_for", "x_forwarded_proto", "x_real_ip", "request_id"});
    if (const auto f = map.get("x_forwarded_for")) {
        assign(forwarded.x_forwarded_for, f->choice<XffMode>({{"replace", XffMode::replace},
                                                              {"append", XffMode::append},
                                                              {"off", XffMode::off}},
                                                             false));
    }
    if (const auto f = map.get("x_forwarded_proto"))
        assign(forwarded.x_forwarded_proto, f->boolean());
    if (const auto f = map.get("x_real_ip")) assign(forwarded.x_real_ip, f->boolean());
    if (const auto f = map.get("request_id")) {
        forwarded.request_id = f->is_null() ? std::nullopt : f->parse(parse_header_name);
    }
}

std::optional<unsigned> read_workers(const Field& field) {
    const auto text = field.text();
    if (!text) return std::nullopt;
    if (*text == "auto") return 0U;
    unsigned count = 0;
    const char* end = text->data() + text->size();
    const auto [stop, status] = std::from_chars(text->data(), end, count);
    if (text->empty() || status != std::errc{} || stop != end || count < 1 || count > 256) {
        field.error("expected \"auto\" or an integer from 1 to 256, found " + quote(*text));
        return std::nullopt;
    }
    return count;
}

std::optional<Endpoint> read_optional_endpoint(const Field& field) {
    if (field.is_null()) return std::nullopt;
    return field.parse(parse_endpoint);
}

// Two of certgate's listeners on one address would fail at start (admin) or, worse, share it:
// the proxy's and the redirect's sockets use SO_REUSEPORT, and the kernel would hand TLS
// clients to the redirect and plain HTTP ones to the TLS listener.
void refuse_shared_addresses(const Mapping& top, const Config& config) {
    std::vector<std::pair<std::string_view, const Endpoint*>> taken;
    if (config.listen.port != 0) taken.emplace_back("listen", &config.listen);  // or its default
    const auto check = [&](std::string_view key, const std::optional<Endpoint>& endpoint) {
        const auto field = top.get(key);
        if (!field || !endpoint) return;
        for (const auto& [other, at] : taken) {
            if (endpoints_overlap(*endpoint, *at)) {
                field->error(quote(endpoint->text) + " is also where " + std::string(other) +
                             " listens (" + quote(at->text) +
                             "): each listener needs an address of its own");
                return;
            }
        }
        taken.emplace_back(key, &*endpoint);
    };
    check("redirect_http", config.redirect_http);
    check("admin", config.admin);
}

void read_config(const Field& root, Config& config) {
    if (!root.is_null() && !root.node().IsMap()) {
        root.error("expected a mapping of configuration keys, found " +
                   std::string(root.node().IsSequence() ? "a list" : "a single value"));
        return;
    }
    const Mapping top(root, {"listen", "tls", "redirect_http", "admin", "upstream", "workers",
                             "limits", "identity", "forwarded", "policies"});
    // Policies first: whether tls.client_ca is required depends on them.
    if (const auto f = top.get("policies")) read_policies(*f, config.policies);
    const bool client_ca_required = std::any_of(
        config.policies.begin(), config.policies.end(),
        [](const Policy& policy) { return policy.client_certificate != CertMode::none; });
    if (const auto f = top.get("listen")) assign(config.listen, f->parse(parse_endpoint));
    read_tls(top.get_or_null("tls"), config.tls, client_ca_required);
    if (const auto f = top.get("redirect_http")) config.redirect_http = read_optional_endpoint(*f);
    if (const auto f = top.get("admin")) config.admin = read_optional_endpoint(*f);
    read_upstream(top.get_or_null("upstream"), config.upstream);
    if (const auto f = top.get("workers")) assign(config.workers, read_workers(*f));
    read_limits(top.get_or_null("limits"), config.limits);
    read_identity(top.get_or_null("identity"), config.identity);
    read_forwarded(top.get_or_null("forwarded"), config.forwarded);
    refuse_shared_addresses(top, config);
}

// Counts the documents of a YAML stream without building them. yaml-cpp 0.7's LoadAll can
// loop forever, allocating, on invalid input such as ",`": its parser reports an empty
// document again and again without consuming a token (yaml-cpp issue 1040, fixed upstream
// after 0.7). A document that starts where the previous one started made no progress.
class DocumentScan final : public YAML::EventHandler {
public:
    void OnDocumentStart(const YAML::Mark& mark) override {
        start = mark;
        content.reset();
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { saw(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        saw(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        saw(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        saw(mark);
    }
    void OnMapEnd() override {}

    YAML::Mark start;
    std::optional<YAML::Mark> content;  // where the document's first node is, if not null

private:
    void saw(const YAML::Mark& mark) {
        if (!content) content = mark;
    }
};

// Throws YAML::Exception on invalid YAML; reports every non-empty document after the first.
void check_single_document(const std::string& yaml_text, Diagnostics& diagnostics,
                           const Mark& start) {
    std::istringstream in(yaml_text);
    YAML::Parser parser(in);
    DocumentScan scan;
    std::optional<int> previous_start;
    for (std::size_t index = 0; parser.HandleNextDocument(scan); ++index) {
        if (previous_start && *previous_start == scan.start.pos)
            throw YAML::ParserException(scan.start, "not valid YAML");
        previous_start = scan.start.pos;
        // A stray "---" would otherwise silently drop everything after it.
        if (index > 0 && scan.content)
            diagnostics.report(diagnostics.locate(*scan.content, start), "",
                               "only one YAML document is allowed");
    }
}

Config parse_document(const std::string& yaml_text, const std::string& display_name) {
    const Mark start{display_name, 1, 1};
    Diagnostics diagnostics(display_name);
    YAML::Node root;
    try {
        check_single_document(yaml_text, diagnostics, start);
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& error) {
        throw ConfigError({format_error(diagnostics.locate(error.mark, start), "", error.msg)});
    }
    Config config;
    config.source = display_name;
    read_config(Field(root, "", start, diagnostics), config);
    if (!diagnostics.empty()) throw ConfigError(diagnostics.messages());
    return config;
}

}  // namespace

}  // namespace detail

Config parse_config(const std::string& yaml_text, const std::string& display_name) {
    return detail::parse_document(yaml_text, display_name);
}

Config load_config(const std::string& path) {
    // The whole file is at fault, not a key: its first position and no key path.
    const auto unreadable = [&](int error) {
        return ConfigError({path + ":1:1: cannot read file: " + std::string(std::strerror(error))});
    };
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                               &std::fclose);
    if (!file) throw unreadable(errno);
    std::string text;
    char buffer[16 * 1024];
    std::size_t count = 0;
    while ((count = std::fread(buffer, 1, sizeof buffer, file.get())) > 0)
        text.append(buffer, count);
    if (std::ferror(file.get())) throw unreadable(errno);
    return parse_config(text, path);
}

}  // namespace certgate::config
