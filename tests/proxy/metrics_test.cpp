// The /metrics text renderer and the per-worker counters it sums, without sockets.
#include "proxy/metrics.hpp"

#include <gtest/gtest.h>

namespace certgate::proxy {
namespace {

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(MetricsRendering, LabelValuesEscapeBackslashQuoteAndNewline) {
    EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    EXPECT_EQ(escape_label_value("CN=x,O=Acme"), "CN=x,O=Acme");
}

TEST(MetricsRendering, EveryFamilyHasHelpAndTypeBeforeItsSamples) {
    MetricsScrape s;
    s.totals.count_request("default", 200, 0.003);
    const std::string text = render_metrics(s);
    for (const char* family :
         {"certgate_requests_total", "certgate_request_duration_seconds",
          "certgate_tls_handshakes_total", "certgate_client_certificate_verify_failures_total",
          "certgate_upstream_errors_total", "certgate_upstream_idle_connections",
          "certgate_open_connections", "certgate_config_reloads_total",
          "certgate_certificate_expiry_seconds", "certgate_build_info"}) {
        const auto help = text.find(std::string("# HELP ") + family + " ");
        const auto type = text.find(std::string("# TYPE ") + family + " ");
        ASSERT_NE(help, std::string::npos) << family;
        ASSERT_NE(type, std::string::npos) << family;
        EXPECT_LT(help, type) << family;
    }
    EXPECT_TRUE(has_line(text, "# TYPE certgate_request_duration_seconds histogram"));
    EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsRendering, HistogramBucketsAreCumulativeWithSumAndCount) {
    MetricsScrape s;
    s.totals.count_request("api", 200, 0.0005);  // <= 1 ms
    s.totals.count_request("api", 200, 0.001);   // exactly on a bound: that bucket
    s.totals.count_request("api", 500, 0.2);
    s.totals.count_request("api", 200, 30);  // beyond 10 s: +Inf only
    const std::string text = render_metrics(s);
    EXPECT_TRUE(
        has_line(text, "certgate_request_duration_seconds_bucket{policy=\"api\",le=\"0.001\"} 2"));
    EXPECT_TRUE(
        has_line(text, "certgate_request_duration_seconds_bucket{policy=\"api\",le=\"0.1\"} 2"));
    EXPECT_TRUE(
        has_line(text, "certgate_request_duration_seconds_bucket{policy=\"api\",le=\"0.25\"} 3"));
    EXPECT_TRUE(
        has_line(text, "certgate_request_duration_seconds_bucket{policy=\"api\",le=\"10\"} 3"));
    EXPECT_TRUE(
        has_line(text, "certgate_request_duration_seconds_bucket{policy=\"api\",le=\"+Inf\"} 4"));
    EXPECT_TRUE(has_line(text, "certgate_request_duration_seconds_count{policy=\"api\"} 4"));
    EXPECT_NE(text.find("\ncertgate_request_duration_seconds_sum{policy=\"api\"} 30.20"),
              std::string::npos);
    EXPECT_TRUE(has_line(text, "certgate_requests_total{policy=\"api\",status=\"200\"} 3"));
    EXPECT_TRUE(has_line(text, "certgate_requests_total{policy=\"api\",status=\"500\"} 1"));
}

TEST(MetricsRendering, WorkersAreSummed) {
    WorkerMetrics a, b;
    a.count_request("p", 200, 0.01);
    b.count_request("p", 200, 0.02);
    b.count_request("q", 404, 0.02);
    a.count_handshake(true);
    b.count_handshake(false);
    a.count_verify_failure("certificate has expired");
    b.count_verify_failure("certificate has expired");
    b.count_upstream_error("upstream.connect");
    MetricsScrape s;
    s.totals.merge(a);
    s.totals.merge(b);
    const std::string text = render_metrics(s);
    EXPECT_TRUE(has_line(text, "certgate_requests_total{policy=\"p\",status=\"200\"} 2"));
    EXPECT_TRUE(has_line(text, "certgate_requests_total{policy=\"q\",status=\"404\"} 1"));
    EXPECT_TRUE(has_line(text, "certgate_tls_handshakes_total{result=\"ok\"} 1"));
    EXPECT_TRUE(has_line(text, "certgate_tls_handshakes_total{result=\"failed\"} 1"));
    EXPECT_TRUE(has_line(
        text,
        "certgate_client_certificate_verify_failures_total{reason=\"certificate has expired\"} 2"));
    EXPECT_TRUE(has_line(text, "certgate_upstream_errors_total{rule=\"upstream.connect\"} 1"));
}

TEST(MetricsRendering, CertificateExpiryIsSecondsFromNowWithEscapedSubject) {
    MetricsScrape s;
    s.now = std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000));
    CertificateSummary server{"server", "CN=a \"b\"\\c", "", s.now + std::chrono::hours(24)};
    CertificateSummary ca{"client CA", "CN=old", "", s.now - std::chrono::seconds(90)};
    s.certificates = {server, ca};
    const std::string text = render_metrics(s);
    EXPECT_TRUE(has_line(text,
                         "certgate_certificate_expiry_seconds{role=\"server\",subject=\"CN=a "
                         "\\\"b\\\"\\\\c\"} 86400"));
    EXPECT_TRUE(has_line(
        text, "certgate_certificate_expiry_seconds{role=\"client_ca\",subject=\"CN=old\"} -90"));
}

TEST(MetricsRendering, ReloadsAndGaugesAreShown) {
    MetricsScrape s;
    s.reloads_ok = 2;
    s.reloads_failed = 1;
    s.open_connections = 7;
    s.idle_upstream_connections = 3;
    s.workers = 4;
    s.workers_unanswered = 1;
    const std::string text = render_metrics(s);
    EXPECT_TRUE(has_line(text, "certgate_config_reloads_total{result=\"ok\"} 2"));
    EXPECT_TRUE(has_line(text, "certgate_config_reloads_total{result=\"failed\"} 1"));
    EXPECT_TRUE(has_line(text, "certgate_open_connections 7"));
    EXPECT_TRUE(has_line(text, "certgate_upstream_idle_connections 3"));
    EXPECT_TRUE(has_line(text, "certgate_workers 4"));
    EXPECT_TRUE(has_line(text, "certgate_scrape_workers_unanswered 1"));
}

}  // namespace
}  // namespace certgate::proxy
