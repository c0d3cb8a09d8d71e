// Issue 4, request side: identity spoofing in bulk. For every identity header certgate is
// configured to send (the certificate and RFC 9440 ones included) and every `strip` entry,
// generated spellings (case, '_' for '-', mixed, duplicates, prefix plus any suffix, named in
// Connection, odd values, in chunked trailers) are sent with and without a certificate; the
// app must see exactly one copy of each identity header, with certgate's value, and nothing
// else that a framework could read as one (SPEC "Request sanitizing" steps 2-4).
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

constexpr const char* kRealDn = "CN=billing,O=Example Corp,C=US";
constexpr const char* kPrefix = "x-ssl-client-";

const std::vector<std::string> kIdentityNames = {
    "X-SSL-Client-Verify",     "X-SSL-Client-DN",         "X-SSL-Client-Issuer-DN",
    "X-SSL-Client-Serial",     "X-SSL-Client-Fingerprint", "X-SSL-Client-Not-Before",
    "X-SSL-Client-Not-After",  "X-SSL-Client-SAN-DNS",    "X-SSL-Client-SAN-URI",
    "X-SSL-Client-Cert",       "Client-Cert",             "Client-Cert-Chain"};
const std::vector<std::string> kStripNames = {"X-Forwarded-Client-Cert", "Client-Cert",
                                              "Client-Cert-Chain", "X-Client-Cert",
                                              "SSL-Client-Cert"};
const std::vector<std::string> kForwardingNames = {"X-Forwarded-For", "X-Forwarded-Proto",
                                                   "X-Real-IP", "X-Request-Id"};

const char* kIdentityConfig =
    "identity:\n"
    "  headers:\n"
    "    certificate: X-SSL-Client-Cert\n"
    "    rfc9440_cert: Client-Cert\n"
    "    rfc9440_chain: Client-Cert-Chain\n";

// A header name as CGI/WSGI frameworks read it: lower case, '_' as '-'.
std::string folded(const std::string& name) {
    std::string out;
    for (char c : name) out += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::vector<std::string> all_spoofable_names() {
    std::vector<std::string> out = kIdentityNames;
    for (const auto& n : kStripNames)
        if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    return out;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
std::string alternating_case(std::string s) {
    for (std::size_t i = 0; i < s.size(); ++i)
        s[i] = static_cast<char>(i % 2 ? std::tolower(static_cast<unsigned char>(s[i]))
                                       : std::toupper(static_cast<unsigned char>(s[i])));
    return s;
}
std::string underscores(std::string s) {
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}
std::string mixed_separators(std::string s) {  // every other '-' becomes '_'
    bool flip = true;
    for (auto& c : s)
        if (c == '-') {
            if (flip) c = '_';
            flip = !flip;
        }
    return s;
}

using Field = std::pair<std::string, std::string>;
using Variant = std::function<std::vector<Field>(const std::string& name, const std::string& tag)>;

// Each variant turns one name into the header fields a spoofing client sends; values carry
// "spoof" and the variant's tag, so a leak names itself.
const std::vector<std::pair<std::string, Variant>>& variants() {
    static const std::vector<std::pair<std::string, Variant>> v = {
        {"exact", [](const auto& n, const auto& t) { return std::vector<Field>{{n, t}}; }},
        {"lower", [](const auto& n, const auto& t) { return std::vector<Field>{{lower(n), t}}; }},
        {"upper", [](const auto& n, const auto& t) { return std::vector<Field>{{upper(n), t}}; }},
        {"alternating_case",
         [](const auto& n, const auto& t) { return std::vector<Field>{{alternating_case(n), t}}; }},
        {"underscores",
         [](const auto& n, const auto& t) { return std::vector<Field>{{underscores(n), t}}; }},
        {"lower_underscores",
         [](const auto& n, const auto& t) { return std::vector<Field>{{lower(underscores(n)), t}}; }},
        {"mixed_separators",
         [](const auto& n, const auto& t) { return std::vector<Field>{{mixed_separators(n), t}}; }},
        {"duplicated",
         [](const auto& n, const auto& t) {
             return std::vector<Field>{{n, t + "-1"}, {n, t + "-2"}, {lower(n), t + "-3"}};
         }},
        {"prefix_with_suffix",
         [](const auto& n, const auto& t) {
             return std::vector<Field>{{"X-SSL-Client-" + n, t},
                                       {"x-ssl-client-" + lower(n) + "-extra", t},
                                       {"X_SSL_Client_" + underscores(n) + "2", t}};
         }},
        {"whitespace_value",
         [](const auto& n, const auto& t) {
             return std::vector<Field>{{n, "  \t" + t + " \t "}, {lower(n), "\t" + t}};
         }},
        {"empty_value",
         [](const auto& n, const auto&) { return std::vector<Field>{{n, ""}, {underscores(n), ""}}; }},
    };
    return v;
}

// What certgate itself sends: configured name (exact spelling) -> value.
using Identity = std::map<std::string, std::string>;

std::string sha256_hex(const std::string& bytes) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

class HostileSpoofing : public ProxyTest {
protected:
    void start_with(const std::string& identity_extra = "") {
        ConfigParts parts;
        parts.top_level_extra = kIdentityConfig + identity_extra;
        parts.policies = kMixedPolicies;  // /opt: optional, so no certificate is possible too
        start(parts);
    }
    ClientOptions with_cert() const { return good_client(); }
    static ClientOptions without_cert() { return {}; }

    // Sends `raw`, expects 200, returns what the app saw.
    SeenRequest exchange(const ClientOptions& client, const std::string& raw) {
        const auto before = upstream->request_count();
        auto r = https_request(port(), client, raw);
        EXPECT_TRUE(r) << "no response to:\n" << raw;
        if (r) {
            EXPECT_EQ(r->status, 200) << r->body;
        }
        EXPECT_TRUE(upstream->wait_for_requests(before + 1));
        auto seen = upstream->requests();
        return seen.size() > before ? seen[before] : SeenRequest{};
    }

    // certgate's identity headers on a request without any spoofing, checked against the
    // certificate where the value is known independently.
    Identity baseline(const ClientOptions& client) {
        auto seen = exchange(client, get_request("/opt/baseline"));
        Identity id;
        for (const auto& name : kIdentityNames) {
            EXPECT_LE(count_header(seen.headers, name), 1u) << name;
            if (auto v = seen.header(name)) id[name] = *v;
        }
        if (client.cert.empty()) {
            EXPECT_EQ(id, (Identity{{"X-SSL-Client-Verify", "NONE"}}));
        } else {
            EXPECT_EQ(id["X-SSL-Client-Verify"], "SUCCESS");
            EXPECT_EQ(id["X-SSL-Client-DN"], kRealDn);
            EXPECT_EQ(id["X-SSL-Client-Issuer-DN"], "CN=certgate test CA");
            EXPECT_EQ(id["X-SSL-Client-Fingerprint"], sha256_hex(pki->client.der()));
            EXPECT_EQ(id["X-SSL-Client-SAN-DNS"], "billing.internal");
            EXPECT_EQ(id["X-SSL-Client-SAN-URI"], "spiffe://example.org/ns/prod/sa/billing");
            EXPECT_TRUE(id.count("X-SSL-Client-Cert"));
            EXPECT_TRUE(id.count("Client-Cert"));
        }
        return id;
    }

    // The app saw exactly certgate's identity, once per header, and no field that a framework
    // could take for an identity header or one on the strip list.
    static void expect_only_certgates_identity(const SeenRequest& seen, const Identity& expected) {
        std::map<std::string, std::string> folded_identity, folded_strip;
        for (const auto& n : kIdentityNames) folded_identity[folded(n)] = n;
        for (const auto& n : kStripNames) folded_strip[folded(n)] = n;
        for (const auto& [name, value] : seen.headers) {
            EXPECT_EQ(value.find("spoof"), std::string::npos)
                << "a client value reached the app: " << name << ": " << value;
            const auto f = folded(name);
            if (auto it = folded_identity.find(f); it != folded_identity.end()) {
                EXPECT_EQ(name, it->second) << "a client spelling of an identity header";
                EXPECT_TRUE(expected.count(it->second)) << "identity header certgate does not send: " << name;
            } else {
                EXPECT_NE(f.rfind(kPrefix, 0), 0u) << "a header with the identity prefix: " << name;
                EXPECT_FALSE(folded_strip.count(f)) << "a header on the strip list: " << name;
            }
        }
        for (const auto& [name, value] : expected) {
            EXPECT_EQ(count_header(seen.headers, name), 1u) << name;
            EXPECT_EQ(seen.header(name), value) << name;
        }
    }

    static std::string lines(const std::vector<Field>& fields) {
        std::string out;
        for (const auto& [n, v] : fields) out += n + ": " + v + "\r\n";
        return out;
    }
    // The fields variant `tag` generates for every spoofable name.
    static std::vector<Field> fields_for(const std::string& tag, const Variant& make) {
        std::vector<Field> out;
        for (const auto& name : all_spoofable_names())
            for (auto& f : make(name, "spoof-" + tag + "-" + name)) out.push_back(std::move(f));
        return out;
    }
};

TEST_F(HostileSpoofing, GeneratedVariantsNeverReachTheApp) {
    start_with();
    for (const auto& client : {with_cert(), without_cert()}) {
        const char* who = client.cert.empty() ? "without a certificate" : "with a certificate";
        SCOPED_TRACE(who);
        const auto expected = baseline(client);
        for (const auto& [tag, make] : variants()) {
            SCOPED_TRACE("variant " + tag);
            auto seen = exchange(client, get_request("/opt/" + tag, lines(fields_for(tag, make))));
            expect_only_certgates_identity(seen, expected);
            for (const auto& [name, value] : seen.headers)
                EXPECT_EQ(name.find('_'), std::string::npos) << "underscore header passed: " << name;
        }
    }
}

TEST_F(HostileSpoofing, IdentityHeadersNamedInConnectionArriveOnceWithCertgatesValue) {
    start_with();
    for (const auto& client : {with_cert(), without_cert()}) {
        SCOPED_TRACE(client.cert.empty() ? "without a certificate" : "with a certificate");
        const auto expected = baseline(client);
        std::string connection = "Connection: keep-alive";
        std::vector<Field> fields;
        for (const auto& name : all_spoofable_names()) {
            connection += ", " + name;
            fields.emplace_back(name, "spoof-connection");
        }
        for (const auto& name : kForwardingNames) connection += ", " + lower(name);
        fields.emplace_back("X-Forwarded-For", "10.6.6.6");
        fields.emplace_back("X-Real-IP", "10.6.6.6");
        fields.emplace_back("X-Forwarded-Proto", "http");
        fields.emplace_back("X-Request-Id", "client-chosen-id");
        auto seen = exchange(client, get_request("/opt/connection", connection + "\r\n" + lines(fields)));
        expect_only_certgates_identity(seen, expected);
        EXPECT_FALSE(seen.header("Connection"));
        EXPECT_EQ(count_header(seen.headers, "X-Forwarded-For"), 1u);
        EXPECT_EQ(seen.header("X-Forwarded-For"), "127.0.0.1");
        EXPECT_EQ(count_header(seen.headers, "X-Real-IP"), 1u);
        EXPECT_EQ(seen.header("X-Real-IP"), "127.0.0.1");
        EXPECT_EQ(count_header(seen.headers, "X-Forwarded-Proto"), 1u);
        EXPECT_EQ(seen.header("X-Forwarded-Proto"), "https");
        EXPECT_EQ(count_header(seen.headers, "X-Request-Id"), 1u);
    }
}

TEST_F(HostileSpoofing, IdentityHeadersInChunkedTrailersAreDiscarded) {
    start_with();
    for (const auto& client : {with_cert(), without_cert()}) {
        SCOPED_TRACE(client.cert.empty() ? "without a certificate" : "with a certificate");
        const auto expected = baseline(client);
        // A few variants only: certgate bounds the trailer section (16 KiB).
        std::vector<Field> trailers;
        for (const auto& [tag, make] : variants()) {
            if (tag != "exact" && tag != "lower_underscores" && tag != "duplicated" &&
                tag != "prefix_with_suffix")
                continue;
            for (auto& f : fields_for("trailer-" + tag, make)) trailers.push_back(std::move(f));
        }
        const std::string raw =
            "POST /opt/trailers HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
            "Trailer: X-SSL-Client-DN\r\n\r\n"
            "5\r\nhello\r\n0\r\n" + lines(trailers) + "\r\n";
        auto seen = exchange(client, raw);
        EXPECT_EQ(seen.body, "hello");
        expect_only_certgates_identity(seen, expected);
        EXPECT_EQ(seen.raw_head.find("spoof"), std::string::npos) << seen.raw_head;
    }
}

// Django, PHP and every CGI/WSGI app read X_SSL_CLIENT_VERIFY as X-SSL-Client-Verify: with
// underscores allowed, such a spelling must still not arrive beside certgate's own header,
// nor beside the forwarding headers certgate sets.
TEST_F(HostileSpoofing, UnderscoreSpellingsDoNotSurviveWhenUnderscoresAreAllowed) {
    start_with("  allow_underscores_in_headers: true\n");
    for (const auto& client : {with_cert(), without_cert()}) {
        SCOPED_TRACE(client.cert.empty() ? "without a certificate" : "with a certificate");
        const auto expected = baseline(client);
        std::vector<Field> fields;
        for (const auto& name : all_spoofable_names()) {
            fields.emplace_back(underscores(name), "spoof-underscore");
            fields.emplace_back(upper(underscores(name)), "spoof-upper-underscore");
            fields.emplace_back(mixed_separators(name), "spoof-mixed");
        }
        for (const auto& name : kForwardingNames) {
            fields.emplace_back(underscores(name), "spoof-fwd");
            fields.emplace_back(upper(underscores(name)), "spoof-fwd-upper");
            fields.emplace_back(mixed_separators(name), "spoof-fwd-mixed");
        }
        fields.emplace_back("X_SSL_Client_Role", "spoof-prefix");
        fields.emplace_back("My_Own_Header", "kept");  // proves underscores are allowed here
        auto seen = exchange(client, get_request("/opt/underscores", lines(fields)));
        expect_only_certgates_identity(seen, expected);
        EXPECT_EQ(seen.header("My_Own_Header"), "kept");
        for (const auto& name : kForwardingNames) {
            std::size_t copies = 0;
            for (const auto& [n, v] : seen.headers)
                if (folded(n) == folded(name)) {
                    ++copies;
                    EXPECT_EQ(n, name) << "a client spelling of " << name << " survived";
                }
            EXPECT_EQ(copies, 1u) << name;
        }
        EXPECT_EQ(seen.header("X-Forwarded-For"), "127.0.0.1");
        EXPECT_EQ(seen.header("X-Real-IP"), "127.0.0.1");
        EXPECT_EQ(seen.header("X-Forwarded-Proto"), "https");
    }
}

}  // namespace
}  // namespace certgate::testing
