// admin: /healthz, /readyz and /metrics on a plain loopback listener. /metrics is read with
// the Prometheus project's own Python parser, so the text is checked by a real consumer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <map>
#include <sstream>
#include <thread>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

struct PlainResponse {
    int status = 0;
    std::string head;
    std::string body;
};

// One request over plain TCP; the admin listener closes after answering.
PlainResponse plain_request(std::uint16_t port, const std::string& raw) {
    const std::string out = plain_exchange(port, raw, std::chrono::seconds(10));
    PlainResponse r;
    auto end = out.find("\r\n\r\n");
    if (out.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r;
    r.status = std::stoi(out.substr(9, 3));
    r.head = out.substr(0, end + 2);
    r.body = out.substr(end + 4);
    return r;
}

PlainResponse admin_get(std::uint16_t port, const std::string& target,
                        const std::string& method = "GET") {
    return plain_request(port, method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}

// Flattens the families the parser found into "name{label=value,...}" (or "name") -> value,
// labels sorted. Fails (non-zero exit) on text the parser rejects or a family without # TYPE/#
// HELP.
const char* kParse = R"PY(
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    if family.type == "unknown" or not family.documentation:
        sys.exit("no TYPE or HELP for " + family.name)
    for s in family.samples:
        labels = ",".join(k + "=" + v.replace("\n", "\\n") for k, v in sorted(s.labels.items()))
        print("SAMPLE " + s.name + ("{" + labels + "}" if labels else "") + " " + repr(float(s.value)))
)PY";

std::string python() {
    // Debian's interpreter sees the packaged parser even when another python3 is first on PATH.
    return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

using Samples = std::map<std::string, double>;

class AdminTest : public ProxyTest {
protected:
    void start_with_admin(std::string policies = "") {
        admin_port = free_port();
        ConfigParts parts;
        parts.top_level_extra = "admin: \"127.0.0.1:" + std::to_string(admin_port) + "\"\n";
        parts.policies = std::move(policies);
        start(parts);
    }

    // Scrapes /metrics and parses it with prometheus_client; fails the test on bad text.
    Samples scrape() {
        auto r = admin_get(admin_port, "/metrics");
        EXPECT_EQ(r.status, 200) << r.head;
        EXPECT_NE(r.head.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
                  std::string::npos)
            << r.head;
        auto [code, out] = run_command({python(), "-c", kParse}, r.body);
        EXPECT_EQ(code, 0) << out << "\n---\n" << r.body;
        Samples samples;
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("SAMPLE ", 0) != 0) continue;
            auto space = line.rfind(' ');
            samples[line.substr(7, space - 7)] = std::stod(line.substr(space + 1));
        }
        last_text = r.body;
        return samples;
    }

    static double value(const Samples& s, const std::string& key) {
        auto it = s.find(key);
        return it == s.end() ? 0 : it->second;
    }

    // Counters move once a request's log line is written, just after its response: poll.
    Samples wait_for(const std::function<bool(const Samples&)>& done,
                     std::chrono::milliseconds timeout = 5s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        Samples s = scrape();
        while (!done(s) && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
            s = scrape();
        }
        return s;
    }

    // /readyz remembers its answer for about a second: poll until it is no longer 200.
    PlainResponse readyz_once_it_turns() {
        auto deadline = std::chrono::steady_clock::now() + 5s;
        PlainResponse r = admin_get(admin_port, "/readyz");
        while (r.status == 200 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(50ms);
            r = admin_get(admin_port, "/readyz");
        }
        return r;
    }

    std::uint16_t admin_port = 0;
    std::string last_text;
};

const std::string kRequests = "certgate_requests_total";
const std::string kDuration = "certgate_request_duration_seconds";

TEST_F(AdminTest, HealthzAnswersOkAndUnknownPathsAre404) {
    start_with_admin();
    auto ok = admin_get(admin_port, "/healthz");
    EXPECT_EQ(ok.status, 200) << ok.head;
    EXPECT_EQ(ok.body, "ok\n");
    EXPECT_EQ(admin_get(admin_port, "/nope").status, 404);
    EXPECT_EQ(admin_get(admin_port, "/healthz/x").status, 404);
    EXPECT_EQ(admin_get(admin_port, "/metrics?name=x").status, 200);
    EXPECT_EQ(upstream->request_count(), 0u);
}

TEST_F(AdminTest, OtherMethodsAre405AndMalformedRequestsAre400) {
    start_with_admin();
    auto post = plain_request(admin_port,
                              "POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
    EXPECT_EQ(post.status, 405) << post.head;
    EXPECT_NE(post.head.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << post.head;
    auto head = admin_get(admin_port, "/healthz", "HEAD");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.body, "");
    EXPECT_EQ(
        plain_request(admin_port, "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").status,
        400);
    EXPECT_EQ(plain_request(admin_port, "GARBAGE\r\n\r\n").status, 400);
    auto bad_head =  // RFC 9110 9.3.2: no content, whatever the status
        plain_request(admin_port, "HEAD /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    EXPECT_EQ(bad_head.status, 400);
    EXPECT_NE(bad_head.head.find("\r\nContent-Length: 12\r\n"), std::string::npos)
        << bad_head.head;
    EXPECT_EQ(bad_head.body, "");
    auto missing = admin_get(admin_port, "/nope", "HEAD");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.body, "");
    const std::string huge =
        "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
    EXPECT_EQ(plain_request(admin_port, huge).status, 431);
    EXPECT_EQ(admin_get(admin_port, "/healthz").status, 200);  // still up
}

TEST_F(AdminTest, ReadyzIsOkWithTheAppUpAnd503OnceItIsGone) {
    start_with_admin();
    auto ready = admin_get(admin_port, "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.head << ready.body;
    upstream.reset();
    PlainResponse r = readyz_once_it_turns();
    EXPECT_EQ(r.status, 503) << r.head << r.body;
    EXPECT_EQ(r.body.rfind("upstream unreachable: ", 0), 0u) << r.body;
    EXPECT_EQ(admin_get(admin_port, "/healthz").status, 200);  // the process itself is fine
}

TEST_F(AdminTest, ReadyzConnectsToAUnixSocketApp) {
    const std::string path = pki->dir.path() + "/app.sock";
    upstream = std::make_unique<UpstreamServer>(path);
    start_with_admin();
    auto ready = admin_get(admin_port, "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.head << ready.body;
    upstream.reset();  // removes the socket file too
    PlainResponse r = readyz_once_it_turns();
    EXPECT_EQ(r.status, 503) << r.head << r.body;
}

TEST_F(AdminTest, ReadyzTurns503WhileDrainingAndTheRequestInFlightFinishes) {
    start_with_admin();
    upstream->set_handler([](const SeenRequest&, Reply& reply) { reply.delay = 1500ms; });
    TlsClient c(port(), good_client());
    ASSERT_TRUE(c.connect()) << c.error();
    ASSERT_TRUE(c.send(get_request("/slow")));
    ASSERT_TRUE(upstream->wait_for_requests(1));
    proxy->signal(SIGTERM);
    ASSERT_TRUE(proxy->wait_for_log({"\"event\":\"shutdown\"", "draining"}));
    auto r = admin_get(admin_port, "/readyz");
    EXPECT_EQ(r.status, 503) << r.head << r.body;
    EXPECT_EQ(r.body, "shutting down\n");
    EXPECT_EQ(admin_get(admin_port, "/healthz").status, 200);
    auto done = c.read_response();
    ASSERT_TRUE(done);
    EXPECT_EQ(done->status, 200);
    EXPECT_EQ(proxy->wait_exit(8s), std::optional<int>(0));
}

TEST_F(AdminTest, RequestsAreCountedByPolicyAndStatusWithTheirDurations) {
    start_with_admin(kMixedPolicies);
    const auto before = scrape();
    for (int i = 0; i < 3; ++i) {
        auto r = https_request(port(), good_client(), get_request("/x"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }
    auto refused = https_request(port(), ClientOptions{}, get_request("/x"));  // no certificate
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403);

    const std::string ok = kRequests + "{policy=default,status=200}";
    const std::string forbidden = kRequests + "{policy=default,status=403}";
    const std::string count = kDuration + "_count{policy=default}";
    auto after = wait_for([&](const Samples& s) {
        return value(s, ok) - value(before, ok) >= 3 &&
               value(s, forbidden) - value(before, forbidden) >= 1 &&
               value(s, count) - value(before, count) >= 4;
    });
    EXPECT_EQ(value(after, ok) - value(before, ok), 3) << last_text;
    EXPECT_EQ(value(after, forbidden) - value(before, forbidden), 1) << last_text;
    EXPECT_EQ(value(after, count) - value(before, count), 4) << last_text;
    EXPECT_EQ(value(after, kDuration + "_bucket{le=+Inf,policy=default}"), value(after, count));
    EXPECT_LE(value(after, kDuration + "_bucket{le=0.001,policy=default}"),
              value(after, kDuration + "_bucket{le=10,policy=default}"));
    EXPECT_GT(value(after, kDuration + "_sum{policy=default}"), 0);
    EXPECT_EQ(value(after, kRequests + "{policy=public,status=200}"), 0);
    EXPECT_GE(value(after, "certgate_tls_handshakes_total{result=ok}"), 4);
}

TEST_F(AdminTest, FailedHandshakesAreCountedWithTheirVerifyReason) {
    start_with_admin();  // every policy requires a certificate: checked at the handshake
    const auto before = scrape();
    CertSpec spec;
    spec.subject = {{"CN", "stranger"}};
    TlsClient stranger(port(), client_with("stranger", issue(make_ca("someone else's CA"), spec)));
    EXPECT_FALSE(stranger.connect() && stranger.send(get_request("/")) && stranger.read_response());
    TlsClient anonymous(port(), ClientOptions{});
    EXPECT_FALSE(anonymous.connect() && anonymous.send(get_request("/")) &&
                 anonymous.read_response());

    const std::string failed = "certgate_tls_handshakes_total{result=failed}";
    const std::string untrusted =
        "certgate_client_certificate_verify_failures_total{reason=unable "
        "to get local issuer certificate}";
    const std::string missing =
        "certgate_client_certificate_verify_failures_total{reason=no certificate}";
    auto after = wait_for([&](const Samples& s) {
        return value(s, failed) - value(before, failed) >= 2 && value(s, untrusted) >= 1 &&
               value(s, missing) >= 1;
    });
    EXPECT_EQ(value(after, failed) - value(before, failed), 2) << last_text;
    EXPECT_EQ(value(after, untrusted) - value(before, untrusted), 1) << last_text;
    EXPECT_EQ(value(after, missing) - value(before, missing), 1) << last_text;
    EXPECT_EQ(value(after, "certgate_tls_handshakes_total{result=ok}"),
              value(before, "certgate_tls_handshakes_total{result=ok}"));
}

TEST_F(AdminTest, UpstreamConnectErrorsAreCountedOnceTheAppIsGone) {
    start_with_admin();
    auto r = https_request(port(), good_client(), get_request("/"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    upstream.reset();
    const auto before = scrape();
    const std::string connect = "certgate_upstream_errors_total{rule=upstream.connect}";
    EXPECT_EQ(value(before, connect), 0) << last_text;
    for (int i = 0; i < 2; ++i) {
        auto gone = https_request(port(), good_client(), get_request("/"));
        ASSERT_TRUE(gone);
        EXPECT_EQ(gone->status, 502);
    }
    auto after = wait_for([&](const Samples& s) { return value(s, connect) >= 2; });
    EXPECT_EQ(value(after, connect), 2) << last_text;
    EXPECT_EQ(value(after, kRequests + "{policy=default,status=502}"), 2) << last_text;
}

TEST_F(AdminTest, CertificateExpiryGaugesCountDownFromTheSnapshot) {
    start_with_admin();
    const auto s = scrape();
    double server = -1, ca = -1;
    for (const auto& [key, v] : s) {
        if (key.rfind("certgate_certificate_expiry_seconds{role=server,", 0) == 0) server = v;
        if (key.rfind("certgate_certificate_expiry_seconds{role=client_ca,", 0) == 0) ca = v;
    }
    EXPECT_GT(server, 0) << last_text;
    EXPECT_LE(server, 400.0 * 86400) << last_text;
    EXPECT_GT(ca, 0) << last_text;
    bool build_info = false;
    for (const auto& [key, v] : s)
        if (key.rfind("certgate_build_info{", 0) == 0) build_info = v == 1;
    EXPECT_TRUE(build_info) << last_text;
}

TEST_F(AdminTest, GaugesShowOpenConnectionsAndReloadsAreCounted) {
    start_with_admin();
    TlsClient held(port(), good_client());
    ASSERT_TRUE(held.connect()) << held.error();
    ASSERT_TRUE(held.send(get_request("/")));
    ASSERT_TRUE(held.read_response());
    auto open =
        wait_for([&](const Samples& s) { return value(s, "certgate_open_connections") >= 1; });
    EXPECT_GE(value(open, "certgate_open_connections"), 1) << last_text;
    EXPECT_EQ(value(open, "certgate_workers"), 1);
    EXPECT_EQ(value(open, "certgate_scrape_workers_unanswered"), 0);
    EXPECT_EQ(value(open, "certgate_config_reloads_total{result=ok}"), 0);

    proxy->signal(SIGHUP);
    ASSERT_TRUE(proxy->wait_for_log({"\"event\":\"reload\"", "\"result\":\"ok\""}));
    auto reloaded = scrape();
    EXPECT_EQ(value(reloaded, "certgate_config_reloads_total{result=ok}"), 1) << last_text;
    EXPECT_EQ(value(reloaded, "certgate_config_reloads_total{result=failed}"), 0);
}

}  // namespace
}  // namespace certgate::testing
