// Counters for /metrics and their Prometheus text rendering (exposition format 0.0.4).
//
// Each Worker owns one WorkerMetrics of plain integers, touched only on its own thread. A
// scrape posts a copy request to every worker's io_context and sums what comes back in time
// (see AdminListener). Per-worker relaxed atomics would let the scraper read without asking,
// but the labelled maps (policy, status, reason) would then need a lock or a fixed layout;
// asking the worker keeps the request path free of both and each worker's copy consistent.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/tls_context.hpp"

namespace certgate::proxy {

// Request duration in seconds, 1 ms to 10 s.
struct LatencyHistogram {
    static constexpr std::array<double, 13> kBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                    0.25,  0.5,    1,     2.5,  5,     10};
    std::array<std::uint64_t, kBounds.size() + 1>
        counts{};  // per bucket, not cumulative; last: +Inf
    double sum = 0;

    void observe(double seconds);
    void merge(const LatencyHistogram& other);
    std::uint64_t count() const;
};

struct PolicyMetrics {
    std::map<int, std::uint64_t> requests_by_status;
    LatencyHistogram duration;
};

// std::less<> lets the request path look names up by string_view without allocating.
struct WorkerMetrics {
    std::map<std::string, PolicyMetrics, std::less<>> policies;
    std::uint64_t handshakes_ok = 0;
    std::uint64_t handshakes_failed = 0;
    std::map<std::string, std::uint64_t, std::less<>> verify_failures;  // by reason
    std::map<std::string, std::uint64_t, std::less<>> upstream_errors;  // by rule, "upstream.*"

    void count_request(std::string_view policy, int status, double seconds);
    void count_handshake(bool ok) { ++(ok ? handshakes_ok : handshakes_failed); }
    void count_verify_failure(std::string_view reason) { ++at(verify_failures, reason); }
    void count_upstream_error(std::string_view rule) { ++at(upstream_errors, rule); }
    void merge(const WorkerMetrics& other);

private:
    static std::uint64_t& at(std::map<std::string, std::uint64_t, std::less<>>& m,
                             std::string_view key);
};

// Everything one scrape shows, gathered by the admin listener.
struct MetricsScrape {
    WorkerMetrics totals;  // summed over the workers that answered
    std::size_t open_connections = 0;
    std::size_t idle_upstream_connections = 0;
    unsigned workers = 0;
    unsigned workers_unanswered = 0;
    std::uint64_t reloads_ok = 0;
    std::uint64_t reloads_failed = 0;
    std::vector<CertificateSummary> certificates;
    std::chrono::system_clock::time_point now;
};

// Pure: the scrape as Prometheus text, every family with # HELP and # TYPE.
std::string render_metrics(const MetricsScrape& scrape);

// A label value escaped for the text format: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);

}  // namespace certgate::proxy
