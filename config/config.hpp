// Typed, validated certgate configuration. Built once at load (or reload) from YAML;
// the data path only ever sees these immutable structs, never YAML.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certgate::config {

using Duration = std::chrono::milliseconds;

// Where a value came from in the YAML file (1-based), so that errors found after
// parsing (unreadable certificate, key mismatch) can still name file:line:col.
struct Mark {
    std::string file;
    int line = 0;
    int column = 0;
};

// A file path taken from the config, with the position of its value.
struct FileRef {
    std::string path;
    Mark mark;
    std::string key;  // key path, e.g. "tls.certificate"
};

struct Endpoint {
    std::string host;  // "0.0.0.0", "::", "127.0.0.1" (brackets removed)
    std::uint16_t port = 0;
    std::string text;  // as written, e.g. "[::]:8443"
};

enum class TlsVersion { v1_2, v1_3 };

struct Tls {
    FileRef certificate;
    FileRef private_key;
    std::optional<FileRef> client_ca;
    std::vector<FileRef> crl;
    int verify_depth = 3;
    TlsVersion min_version = TlsVersion::v1_2;
};

struct Upstream {
    enum class Kind { tcp, unix_socket };
    Kind kind = Kind::tcp;
    std::string host = "127.0.0.1";  // tcp
    std::uint16_t port = 8000;       // tcp
    std::string socket_path;         // unix_socket
    std::string url = "http://127.0.0.1:8000";
    Duration connect_timeout{5000};
    Duration response_timeout{60000};
    std::size_t max_idle_connections = 64;
    Duration idle_timeout{1000};
    bool operator==(const Upstream&) const = default;  // a reload replaces the pool when unequal
};

struct Limits {
    std::size_t max_request_header_bytes = 12 * 1024;
    std::uint64_t max_request_body_bytes = 0;  // 0 = unlimited
    Duration header_timeout{10000};
    Duration body_idle_timeout{30000};
    Duration idle_timeout{60000};
    std::size_t max_connections = 10000;
    Duration shutdown_timeout{30000};
};

// Header name sent to the app for each identity field; nullopt = not sent.
struct IdentityHeaders {
    std::optional<std::string> verify = "X-SSL-Client-Verify";
    std::optional<std::string> subject = "X-SSL-Client-DN";
    std::optional<std::string> issuer = "X-SSL-Client-Issuer-DN";
    std::optional<std::string> serial = "X-SSL-Client-Serial";
    std::optional<std::string> fingerprint = "X-SSL-Client-Fingerprint";
    std::optional<std::string> not_before = "X-SSL-Client-Not-Before";
    std::optional<std::string> not_after = "X-SSL-Client-Not-After";
    std::optional<std::string> san_dns = "X-SSL-Client-SAN-DNS";
    std::optional<std::string> san_uri = "X-SSL-Client-SAN-URI";
    std::optional<std::string> certificate;
    std::optional<std::string> rfc9440_cert;
    std::optional<std::string> rfc9440_chain;
};

struct Identity {
    IdentityHeaders headers;
    std::vector<std::string> strip_prefixes{"X-SSL-Client-"};
    std::vector<std::string> strip{"X-Forwarded-Client-Cert", "Client-Cert", "Client-Cert-Chain",
                                   "X-Client-Cert", "SSL-Client-Cert"};
    bool allow_underscores_in_headers = false;
};

enum class XffMode { replace, append, off };

struct Forwarded {
    XffMode x_forwarded_for = XffMode::replace;
    bool x_forwarded_proto = true;
    bool x_real_ip = true;
    std::optional<std::string> request_id = "X-Request-Id";
};

enum class CertMode { required, optional, none };
enum class FrameOptions { automatic, deny, sameorigin, off };
enum class CspMode { merge, override_app, if_missing };
enum class SameSite { strict, lax, none };

struct AllowList {
    std::vector<std::string> subjects;
    std::vector<std::string> san_dns;
    std::vector<std::string> san_uri;
    std::vector<std::string> fingerprints;  // lower-case hex, no colons (normalized at load)
    bool empty() const {
        return subjects.empty() && san_dns.empty() && san_uri.empty() && fingerprints.empty();
    }
};

struct Csrf {
    std::vector<std::string> trusted_origins;
    bool allow_missing_origin = false;
};

struct Cookies {
    bool secure = true;
    std::optional<SameSite> same_site;
};

struct Policy {
    std::string name = "default";
    std::vector<std::string> paths{"/"};
    CertMode client_certificate = CertMode::required;
    AllowList allow;
    std::vector<std::string> frame_ancestors{"'none'"};
    FrameOptions x_frame_options = FrameOptions::automatic;
    CspMode csp_mode = CspMode::merge;
    std::optional<std::string> hsts = "max-age=31536000; includeSubDomains";
    std::vector<std::pair<std::string, std::string>> response_headers;  // in YAML order
    std::optional<Csrf> csrf;
    std::optional<Cookies> cookies;
};

struct Config {
    std::string source;  // path of the YAML file
    Endpoint listen{"0.0.0.0", 8443, "0.0.0.0:8443"};
    Tls tls;
    std::optional<Endpoint> redirect_http;
    std::optional<Endpoint> admin;
    Upstream upstream;
    unsigned workers = 0;  // 0 = auto (number of cores)
    Limits limits;
    Identity identity;
    Forwarded forwarded;
    std::vector<Policy> policies{Policy{}};

    // True when every policy has client_certificate: required (handshake-level enforcement).
    bool every_policy_requires_certificate() const;
};

// SPEC "Routing": a path (a request target's part before '?') in the form policies match on:
// percent-encoded unreserved characters decoded, other escapes with upper-case hex, "." and
// ".." resolved, repeated '/' merged. Request targets (policies/path.cpp) and configured
// prefixes (at load) both go through it, so a prefix is always written in a form a request
// path can take. Refused: not starting with '/', a character outside RFC 3986 pchar and '/',
// a bad escape, a raw '\', an encoded '/', '\' or NUL, climbing above the root.
struct NormalizedPath {
    std::string path;           // set when ok()
    std::string_view problem;   // why it was refused, e.g. "encoded slash in path"
    std::string_view rule;      // stable code, e.g. "path.encoded_slash"; empty when ok()
    bool ok() const { return rule.empty(); }
};
NormalizedPath normalize_path(std::string_view raw_path);

// RFC 3986 3.3 pchar (unreserved, sub-delims, ':', '@'; '%' escapes are checked apart).
bool is_path_char(unsigned char c);

// One or more configuration errors, each already formatted as
// "file:line:col: key.path: message". what() joins them with newlines.
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<std::string> messages);
    const std::vector<std::string>& messages() const { return messages_; }

private:
    std::vector<std::string> messages_;
};

// "file:line:col: key: message"
std::string format_error(const Mark& mark, const std::string& key, const std::string& message);

// Parses and validates the YAML schema (no file other than the YAML is opened).
// Throws ConfigError listing every problem found.
Config parse_config(const std::string& yaml_text, const std::string& display_name);

// Reads `path` and calls parse_config. Throws ConfigError (unreadable file: "path:0:0: ...").
Config load_config(const std::string& path);

}  // namespace certgate::config
