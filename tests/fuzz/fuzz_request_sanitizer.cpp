// The request sanitizer and identity-header writer, fed any header list a client could send.
// Invariants: no hop-by-hop header and nothing named in Connection survives (unless certgate
// wrote it itself), no spoofable name survives, each identity and forwarding header appears
// exactly once (or not at all, as the mode says), and no value certgate wrote holds CR, LF
// or NUL.
#include <algorithm>
#include <set>

#include "policies/client_identity.hpp"
#include "policies/request_sanitizer.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace certgate;
using namespace certgate::fuzz;

namespace {

std::string spoof_key(std::string_view name) {
    std::string key = lower(name);
    std::replace(key.begin(), key.end(), '_', '-');
    return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto flags = take_byte(in);
    const auto mode = static_cast<config::CertMode>(flags % 3);
    const auto status = static_cast<policies::ClientIdentity::Status>((flags / 3) % 3);

    config::Identity identity;
    identity.allow_underscores_in_headers = (flags & 0x40) != 0;
    identity.headers.certificate = "X-SSL-Client-Cert";
    identity.headers.rfc9440_cert = "Client-Cert";
    identity.headers.rfc9440_chain = "Client-Cert-Chain";
    config::Forwarded forwarded;
    forwarded.x_forwarded_for = (flags & 0x80) ? config::XffMode::append : config::XffMode::replace;
    const auto rules = policies::compile_spoof_rules(identity);

    policies::ClientIdentity id;
    id.status = status;
    if (status != policies::ClientIdentity::Status::none) {
        id.subject = "CN=fuzz";
        id.issuer = "CN=fuzz CA";
        id.serial = "1F";
        id.fingerprint = std::string(64, 'a');
        id.not_before = "2026-01-01T00:00:00Z";
        id.not_after = "2027-01-01T00:00:00Z";
        id.pem_urlencoded = "-----BEGIN%20CERTIFICATE-----";
        id.rfc9440_cert = ":AAAA:";
    }
    if (status == policies::ClientIdentity::Status::failed) id.failure_reason = "certificate has expired";

    // Lines "name:value"; lines starting with \x01 or \x02 are SAN DNS / URI values as a
    // certificate could carry them (any bytes).
    policies::HeaderList headers;
    std::set<std::string> connection_named;
    for (auto line : split(in, '\n')) {
        if (!line.empty() && line.front() == '\x01') {
            id.san_dns.emplace_back(line.substr(1));
            continue;
        }
        if (!line.empty() && line.front() == '\x02') {
            id.san_uri.emplace_back(line.substr(1));
            continue;
        }
        // The head scanner refuses CR and NUL anywhere in a head before this code runs.
        if (line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) continue;
        const auto colon = line.find(':');
        const auto name = line.substr(0, colon);
        const auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
        if (!is_token(name)) continue;  // the parser refuses a name that is not a token
        headers.add(name, value);
        if (lower(name) == "connection")
            for (auto token : split(value, ',')) {
                while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
                while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
                if (!token.empty()) connection_named.insert(lower(token));
            }
    }

    policies::strip_hop_by_hop(headers);
    policies::strip_spoofable(headers, rules);
    const auto request_id =
        policies::set_forwarding_headers(headers, forwarded, "127.0.0.1", "0123456789abcdef");
    const bool refused = mode == config::CertMode::required &&
                         status != policies::ClientIdentity::Status::verified;
    if (!refused) policies::write_identity_headers(headers, identity.headers, mode, id);

    // What certgate itself writes, and how many of each.
    const auto& h = identity.headers;
    const bool full = !refused && mode != config::CertMode::none &&
                      status == policies::ClientIdentity::Status::verified;
    std::vector<std::pair<std::string, std::size_t>> own = {
        {"x-forwarded-proto", 1}, {"x-real-ip", 1}, {"x-request-id", 1},
        {lower(*h.verify), refused ? 0u : 1u}};
    for (const auto* name : {&h.subject, &h.issuer, &h.serial, &h.fingerprint, &h.not_before,
                             &h.not_after, &h.certificate, &h.rfc9440_cert})
        own.emplace_back(lower(**name), full ? 1u : 0u);
    std::set<std::string> own_names;
    for (const auto& [name, n] : own) own_names.insert(name);
    own_names.insert("x-forwarded-for");
    for (const auto* name : {&h.san_dns, &h.san_uri, &h.rfc9440_chain}) own_names.insert(lower(**name));

    for (const auto& [name, expected] : own) {
        const auto n = headers.count(name);
        CERTGATE_FUZZ_CHECK(n == expected, name + " count " + std::to_string(n));
    }
    // SAN lists and the chain are sent only when there is something to say; never twice.
    for (const auto* name : {&h.san_dns, &h.san_uri, &h.rfc9440_chain})
        CERTGATE_FUZZ_CHECK(headers.count(**name) <= (full ? 1u : 0u), **name);
    if (forwarded.x_forwarded_for == config::XffMode::replace)
        CERTGATE_FUZZ_CHECK(headers.get("x-forwarded-for") == "127.0.0.1", "x-forwarded-for");
    CERTGATE_FUZZ_CHECK(policies::is_acceptable_request_id(request_id), request_id);

    static const std::set<std::string> kHopByHop = {"connection", "keep-alive", "proxy-connection",
                                                    "te",         "trailer",    "upgrade"};
    headers.for_each([&](std::string_view name, std::string_view value) {
        const auto key = spoof_key(name);
        const bool ours = own_names.count(lower(name)) != 0;
        CERTGATE_FUZZ_CHECK(!kHopByHop.count(lower(name)), std::string(name));
        CERTGATE_FUZZ_CHECK(ours || !connection_named.count(lower(name)), std::string(name));
        const bool exact = std::find(rules.exact.begin(), rules.exact.end(), key) != rules.exact.end();
        const bool prefixed = std::any_of(rules.prefixes.begin(), rules.prefixes.end(),
                                          [&](const std::string& p) { return key.starts_with(p); });
        CERTGATE_FUZZ_CHECK(ours || !(exact || prefixed), std::string(name));
        // Django, Rails and others read "_" as "-": a client's X_Forwarded_Proto must not
        // survive beside certgate's X-Forwarded-Proto.
        bool twin = false;
        for (const auto& o : own_names) twin = twin || (!ours && spoof_key(o) == key);
        CERTGATE_FUZZ_CHECK(!twin, std::string(name));
        if (!identity.allow_underscores_in_headers)
            CERTGATE_FUZZ_CHECK(name.find('_') == std::string_view::npos, std::string(name));
        if (ours) CERTGATE_FUZZ_CHECK(!has_ctl(value), std::string(name) + ": " + std::string(value));
    });
    return 0;
}
