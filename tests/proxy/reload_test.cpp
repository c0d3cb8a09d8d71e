// SPEC "Signals" (SIGHUP and file changes reload; an invalid set keeps the old one; new
// connections get the new set, open ones move at their next request) and "TLS and client
// certificates" (after a client_ca/CRL change: no resumption, open connections re-judged),
// plus expiry warnings in the log.
#include <openssl/evp.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

namespace fs = std::filesystem;
constexpr auto kReloadWait = 15s;  // generous: a loaded 2-core machine
const std::string kReload = "\"event\":\"reload\"";
const std::string kOk = "\"result\":\"ok\"";
const std::string kFailed = "\"result\":\"failed\"";
const std::string kBySignal = "\"trigger\":\"signal\"";
const std::string kByFile = "\"trigger\":\"file\"";

std::string fingerprint(X509* cert) {
    unsigned char* der = nullptr;
    const int size = cert ? i2d_X509(cert, &der) : 0;
    if (size <= 0) return "none";
    std::string out =
        sha256_hex(std::string_view(reinterpret_cast<char*>(der), static_cast<std::size_t>(size)));
    OPENSSL_free(der);
    return out;
}

// As an operator's tooling would: write aside, then rename over (readers never see half).
void write_atomically(const std::string& path, const std::string& content) {
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp) << content;
    ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << path;
}

void write_in_place(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::trunc) << content;
}

TestCert server_cert(long valid_seconds = 30L * 86400) {
    CertSpec spec;
    spec.subject = {{"CN", "localhost"}};
    spec.san_dns = {"localhost"};
    spec.san_ip = {"127.0.0.1"};
    spec.eku = Eku::server_auth;
    spec.not_after_offset_seconds = valid_seconds;
    return make_self_signed(spec);  // clients here do not verify the server
}

class ReloadTest : public ProxyTest {
protected:
    void SetUp() override {
        ProxyTest::SetUp();
        parts.listen = "127.0.0.1:" + std::to_string(free_port());  // the same across rewrites
        parts.upstream_url = upstream->url();
    }
    // The config for `parts`, with the server certificate and key at other paths if given.
    std::string yaml(const std::string& crt = "", const std::string& key = "") const {
        std::string y = make_config(*pki, parts);
        if (!crt.empty()) y.replace(y.find(pki->server_crt), pki->server_crt.size(), crt);
        if (!key.empty()) y.replace(y.find(pki->server_key), pki->server_key.size(), key);
        return y;
    }
    void start_yaml(const std::string& text) {
        proxy = std::make_unique<ProxyProcess>(text, pki->dir.path());
        ASSERT_TRUE(proxy->started()) << joined(proxy->log_lines());
    }
    // Rewrites the running config, sends SIGHUP and waits for that (n-th) signal reload.
    std::optional<std::string> reload_by_signal(const std::string& text, const std::string& result,
                                                std::size_t nth = 1) {
        write_atomically(proxy->config_path(), text);
        proxy->signal(SIGHUP);
        return proxy->wait_for_nth_log({kReload, kBySignal, result}, nth, kReloadWait);
    }
    std::string served_fingerprint() const {
        TlsClient c(port(), good_client());
        if (!c.connect()) return "handshake failed: " + c.error();
        return fingerprint(SSL_get0_peer_certificate(c.ssl()));
    }
    std::string logs() const { return joined(proxy->log_lines()); }

    ConfigParts parts;
};

// ---- SIGHUP

TEST_F(ReloadTest, SighupServesTheNewServerCertificateToNewConnections) {
    start_yaml(yaml());
    ASSERT_EQ(served_fingerprint(), fingerprint(pki->server.x509()));
    const TestCert next = server_cert();
    auto [crt, key] = pki->write("server-next", next);
    ASSERT_TRUE(reload_by_signal(yaml(crt, key), kOk)) << logs();
    EXPECT_EQ(served_fingerprint(), fingerprint(next.x509()));
    auto r = https_request(port(), good_client(), get_request("/after"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(ReloadTest, SighupWithConfigSyntaxErrorKeepsTheOldConfigServing) {
    start_yaml(yaml());
    TlsClient open(port(), good_client());
    ASSERT_TRUE(open.connect()) << open.error();
    auto line = reload_by_signal("listen: [\"127.0.0.1:1\"\ntls: {\n", kFailed);
    ASSERT_TRUE(line) << logs();
    EXPECT_NE(line->find(proxy->config_path() + ":"), std::string::npos) << *line;
    EXPECT_NE(line->find("\"error\":"), std::string::npos) << *line;
    EXPECT_NE(line->find("\"level\":\"error\""), std::string::npos) << *line;
    EXPECT_EQ(served_fingerprint(), fingerprint(pki->server.x509()));
    auto r = https_request(port(), good_client(), get_request("/still"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(open.send(get_request("/open")));
    auto o = open.read_response();
    ASSERT_TRUE(o);
    EXPECT_EQ(o->status, 200);
}

TEST_F(ReloadTest, SighupWithKeyNotMatchingCertificateKeepsTheOldSetServing) {
    start_yaml(yaml());
    auto [other_crt, other_key] = pki->write("other", server_cert());
    auto line = reload_by_signal(yaml("", other_key), kFailed);
    ASSERT_TRUE(line) << logs();
    EXPECT_NE(line->find("private key does not match"), std::string::npos) << *line;
    EXPECT_EQ(served_fingerprint(), fingerprint(pki->server.x509()));
    auto r = https_request(port(), good_client(), get_request("/still"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(ReloadTest, ListenChangeKeepsTheRunningListenerAndSaysARestartIsNeeded) {
    start_yaml(yaml());
    const std::uint16_t running = port();
    parts.listen = "127.0.0.1:" + std::to_string(free_port());
    ASSERT_TRUE(reload_by_signal(yaml(), kOk)) << logs();
    EXPECT_TRUE(proxy->wait_for_log({"\"event\":\"restart_needed\"", "\"settings\":\"listen\""}))
        << logs();
    auto r = https_request(running, good_client(), get_request("/still"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

// A client thread keeps requesting, on fresh and keep-alive connections, while certgate
// reloads ten times; each reload also replaces the upstream pool (idle_timeout changes).
TEST_F(ReloadTest, TenReloadsUnderSteadyTrafficFailNoRequest) {
    upstream->set_handler([](const SeenRequest&, Reply& reply) { reply.delay = 2ms; });
    start_yaml(yaml());
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> answered{0};
    std::mutex mu;
    std::vector<std::string> failures;
    auto fail = [&](const std::string& what) {
        std::lock_guard lock(mu);
        if (failures.size() < 20) failures.push_back(what);
    };
    std::thread traffic([&] {
        for (int round = 0; !stop; ++round) {
            TlsClient c(port(), good_client());
            if (!c.connect()) {
                fail("handshake: " + c.error());
                continue;
            }
            const int requests = round % 2 ? 1 : 5;  // a fresh connection, or keep-alive
            for (int i = 0; i < requests && !stop; ++i) {
                auto r = c.send(get_request("/loop")) ? c.read_response() : std::nullopt;
                if (!r) {
                    fail("no response, request " + std::to_string(i) + " on its connection");
                    break;
                }
                if (r->status != 200) fail("status " + std::to_string(r->status) + ": " + r->body);
                ++answered;
            }
        }
    });
    for (std::size_t n = 1; n <= 10; ++n) {
        // Traffic between every two reloads, so that each one lands amid requests.
        EXPECT_TRUE(upstream->wait_for_requests(upstream->request_count() + 3, kReloadWait));
        parts.upstream_extra = n % 2 ? "  idle_timeout: 2s\n" : "  idle_timeout: 1s\n";
        EXPECT_TRUE(reload_by_signal(yaml(), kOk, n)) << "reload " << n << "\n" << logs();
    }
    EXPECT_TRUE(upstream->wait_for_requests(upstream->request_count() + 3, kReloadWait));
    stop = true;
    traffic.join();
    std::lock_guard lock(mu);
    EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
    EXPECT_GE(answered.load(), 30u);
}

// ---- file changes, no signal

TEST_F(ReloadTest, CertificateRewrittenInPlaceIsServedWithoutSignal) {
    start_yaml(yaml());
    const TestCert next = server_cert();
    write_in_place(pki->server_crt, next.cert_pem());
    write_in_place(pki->server_key, next.key_pem());
    auto line = proxy->wait_for_log({kReload, kByFile, kOk}, kReloadWait);
    ASSERT_TRUE(line) << logs();
    EXPECT_NE(line->find("\"path\":\"" + pki->dir.path() + "/server."), std::string::npos) << *line;
    EXPECT_EQ(served_fingerprint(), fingerprint(next.x509()));
}

TEST_F(ReloadTest, CertificateReplacedByRenameIsServedWithoutSignal) {
    start_yaml(yaml());
    const TestCert next = server_cert();
    write_atomically(pki->server_crt, next.cert_pem());
    write_atomically(pki->server_key, next.key_pem());
    ASSERT_TRUE(proxy->wait_for_log({kReload, kByFile, kOk}, kReloadWait)) << logs();
    EXPECT_EQ(served_fingerprint(), fingerprint(next.x509()));
}

// A mounted Secret: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>; an update writes a
// new timestamped directory and renames a new `..data` link over the old one.
TEST_F(ReloadTest, KubernetesSecretDataSymlinkSwapIsServedWithoutSignal) {
    TempDir secret;
    const fs::path dir = secret.path();
    auto write_version = [&](const std::string& name, const TestCert& cert) {
        fs::create_directory(dir / name);
        std::ofstream(dir / name / "tls.crt") << cert.cert_pem();
        std::ofstream(dir / name / "tls.key") << cert.key_pem();
    };
    write_version("..2026_12_01_00_00_00.1", pki->server);
    fs::create_directory_symlink("..2026_12_01_00_00_00.1", dir / "..data");
    fs::create_symlink("..data/tls.crt", dir / "tls.crt");
    fs::create_symlink("..data/tls.key", dir / "tls.key");
    start_yaml(yaml((dir / "tls.crt").string(), (dir / "tls.key").string()));
    ASSERT_EQ(served_fingerprint(), fingerprint(pki->server.x509()));

    const TestCert next = server_cert();
    write_version("..2026_12_01_00_05_00.2", next);
    fs::create_directory_symlink("..2026_12_01_00_05_00.2", dir / "..data_tmp");
    fs::rename(dir / "..data_tmp", dir / "..data");  // rename(2): atomic
    ASSERT_TRUE(proxy->wait_for_log({kReload, kByFile, kOk}, kReloadWait)) << logs();
    EXPECT_EQ(served_fingerprint(), fingerprint(next.x509()));
    // Then the kubelet removes the old version: nothing the new set needs.
    fs::remove_all(dir / "..2026_12_01_00_00_00.1");
    auto r = https_request(port(), good_client(), get_request("/after"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

// ---- client trust changes

TEST_F(ReloadTest, OpenConnectionIsRejudgedWhenClientCaNoLongerTrustsItsCertificate) {
    start_yaml(yaml());
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/before")));
    auto before = c.read_response();
    ASSERT_TRUE(before);
    ASSERT_EQ(before->status, 200);

    write_atomically(pki->ca_pem, make_ca("another CA").cert_pem());  // no signal: a file change
    ASSERT_TRUE(proxy->wait_for_log({kReload, kOk}, kReloadWait)) << logs();
    const std::string why =
        X509_verify_cert_error_string(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    ASSERT_TRUE(c.send(get_request("/after")));
    auto after = c.read_response();
    ASSERT_TRUE(after);
    EXPECT_EQ(after->status, 403);
    EXPECT_EQ(after->body, "client certificate rejected: " + why + "\n");
    EXPECT_TRUE(c.wait_closed());
    EXPECT_TRUE(proxy->wait_for_log({"\"path\":\"/after\"", "\"rule\":\"verify: " + why + "\""}))
        << logs();
    EXPECT_FALSE(https_request(port(), good_client(), get_request("/new")));
    EXPECT_EQ(upstream->request_count(), 1u);
}

TEST_F(ReloadTest, OpenConnectionIsRejudgedWhenCrlRevokesItsCertificate) {
    const std::string crl = pki->dir.write("crl.pem", make_crl_pem(pki->ca, {}));
    parts.tls_extra = "  crl: [\"" + crl + "\"]\n";
    start_yaml(yaml());
    CertSpec other_spec;
    other_spec.subject = {{"CN", "other"}};
    const ClientOptions other = client_with("other", issue(pki->ca, other_spec));
    TlsClient revoked(port(), good_client()), kept(port(), other);
    for (TlsClient* c : {&revoked, &kept}) {
        ASSERT_TRUE(c->connect()) << c->error();
        ASSERT_TRUE(c->send(get_request("/before")));
        auto r = c->read_response();
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200);
    }

    std::ofstream(crl) << make_crl_pem(pki->ca, {&pki->client});
    proxy->signal(SIGHUP);
    ASSERT_TRUE(proxy->wait_for_log({kReload, kBySignal, kOk}, kReloadWait)) << logs();
    ASSERT_TRUE(revoked.send(get_request("/after")));
    auto r = revoked.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    EXPECT_EQ(r->body, "client certificate rejected: " +
                           std::string(X509_verify_cert_error_string(X509_V_ERR_CERT_REVOKED)) +
                           "\n");
    EXPECT_TRUE(revoked.wait_closed());
    ASSERT_TRUE(kept.send(get_request("/after")));  // the other certificate still verifies
    auto k = kept.read_response();
    ASSERT_TRUE(k);
    EXPECT_EQ(k->status, 200);
    EXPECT_FALSE(https_request(port(), good_client(), get_request("/new")));
}

// Two sessions from before: the first resumes (control), the second is offered after the CA
// bundle changed and must get a full handshake.
TEST_F(ReloadTest, SessionFromBeforeClientCaChangeIsNotResumed) {
    start_yaml(yaml());
    auto session_of_a_connection = [&](std::unique_ptr<TlsClient>& keep) -> SSL_SESSION* {
        keep = std::make_unique<TlsClient>(port(), good_client());
        if (!keep->connect() || !keep->send(get_request("/first"))) return nullptr;
        if (!keep->read_response()) return nullptr;  // the session ticket came before it
        return SSL_get1_session(keep->ssl());
    };
    std::unique_ptr<TlsClient> first, second;
    SSL_SESSION* control = session_of_a_connection(first);
    SSL_SESSION* offered = session_of_a_connection(second);
    ASSERT_TRUE(control && offered);
    ClientOptions resume = good_client();
    resume.session = control;
    TlsClient resumed(port(), resume);
    EXPECT_TRUE(resumed.connect()) << resumed.error();
    EXPECT_TRUE(SSL_session_reused(resumed.ssl())) << "control: no resumption even without reload";
    SSL_SESSION_free(control);

    // Still trusts the client's CA: only resumption is under test, not verification.
    write_atomically(pki->ca_pem, pki->ca.cert_pem() + make_ca("added CA").cert_pem());
    proxy->signal(SIGHUP);
    ASSERT_TRUE(proxy->wait_for_log({kReload, kBySignal, kOk}, kReloadWait)) << logs();
    resume.session = offered;
    TlsClient after(port(), resume);
    const bool connected = after.connect();
    SSL_SESSION_free(offered);
    ASSERT_TRUE(connected) << after.error();
    EXPECT_FALSE(SSL_session_reused(after.ssl())) << "a session from before the CA change resumed";
    ASSERT_TRUE(after.send(get_request("/after")));
    auto r = after.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

// ---- upstream

TEST_F(ReloadTest, UpstreamUrlChangeSendsRequestsToTheNewApp) {
    start_yaml(yaml());
    UpstreamServer next;
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/old")));
    ASSERT_TRUE(c.read_response());
    ASSERT_EQ(upstream->request_count(), 1u);

    parts.upstream_url = next.url();
    ASSERT_TRUE(reload_by_signal(yaml(), kOk)) << logs();
    ASSERT_TRUE(c.send(get_request("/open-connection")));  // moves at its next request
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    auto n = https_request(port(), good_client(), get_request("/new-connection"));
    ASSERT_TRUE(n);
    EXPECT_EQ(n->status, 200);
    EXPECT_EQ(upstream->request_count(), 1u);
    ASSERT_EQ(next.request_count(), 2u);
    EXPECT_EQ(next.requests()[0].target, "/open-connection");
}

// ---- expiry warnings

TEST_F(ReloadTest, ServerCertificateExpiringWithin30DaysIsWarnedAtStartAndAfterReload) {
    const TestCert soon = server_cert(10L * 86400);
    auto [crt, key] = pki->write("soon", soon);
    start_yaml(yaml(crt, key));
    const std::vector<std::string> warning{
        "\"level\":\"warning\"", "\"event\":\"certificate_expiring\"",
        "\"role\":\"server\"",   "\"subject\":\"CN=localhost\"",
        "\"not_after\":\"20",    "\"days_left\":\"9\""};
    ASSERT_TRUE(proxy->wait_for_log(warning)) << logs();
    EXPECT_FALSE(proxy->wait_for_log({"certificate_expiring", "\"role\":\"client CA\""}, 0ms))
        << "the test CA is valid for a year";
    proxy->signal(SIGHUP);
    EXPECT_TRUE(proxy->wait_for_nth_log(warning, 2, kReloadWait)) << logs();
}

}  // namespace
}  // namespace certgate::testing
