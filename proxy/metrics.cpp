#include "proxy/metrics.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <boost/version.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <utility>

namespace certgate::proxy {

void LatencyHistogram::observe(double seconds) {
    auto bucket = std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin();
    ++counts[static_cast<std::size_t>(bucket)];
    sum += seconds;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
    sum += other.sum;
}

std::uint64_t LatencyHistogram::count() const {
    std::uint64_t n = 0;
    for (auto c : counts) n += c;
    return n;
}

std::uint64_t& WorkerMetrics::at(std::map<std::string, std::uint64_t, std::less<>>& m,
                                 std::string_view key) {
    auto it = m.find(key);
    if (it == m.end()) it = m.emplace(std::string(key), 0).first;
    return it->second;
}

void WorkerMetrics::count_request(std::string_view policy, int status, double seconds) {
    auto it = policies.find(policy);
    if (it == policies.end()) it = policies.emplace(std::string(policy), PolicyMetrics{}).first;
    ++it->second.requests_by_status[status];
    it->second.duration.observe(seconds);
}

void WorkerMetrics::merge(const WorkerMetrics& other) {
    for (const auto& [name, theirs] : other.policies) {
        auto& mine = policies[name];
        for (const auto& [status, n] : theirs.requests_by_status)
            mine.requests_by_status[status] += n;
        mine.duration.merge(theirs.duration);
    }
    handshakes_ok += other.handshakes_ok;
    handshakes_failed += other.handshakes_failed;
    for (const auto& [reason, n] : other.verify_failures) verify_failures[reason] += n;
    for (const auto& [rule, n] : other.upstream_errors) upstream_errors[rule] += n;
}

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

namespace {

// Shortest text that reads back as the same double; the format's own spellings otherwise.
std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, end);
}

class Writer {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;  // constants below: no backslash or newline to escape
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    // labels: name/value pairs, values escaped here.
    void sample(std::string_view name,
                std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                std::string_view value) {
        out_ += name;
        if (labels.size() > 0) {
            out_ += '{';
            bool first = true;
            for (const auto& [label, text] : labels) {
                if (!first) out_ += ',';
                first = false;
                out_ += label;
                out_ += "=\"";
                out_ += escape_label_value(text);
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

void render_requests(Writer& w, const WorkerMetrics& m) {
    w.family("certgate_requests_total", "counter",
             "Requests answered, by policy and status (status 0: the client left before any "
             "response).");
    for (const auto& [policy, p] : m.policies)
        for (const auto& [status, n] : p.requests_by_status)
            w.sample("certgate_requests_total",
                     {{"policy", policy}, {"status", std::to_string(status)}}, std::to_string(n));

    w.family("certgate_request_duration_seconds", "histogram",
             "Time from the start of a request to the end of its response, by policy.");
    for (const auto& [policy, p] : m.policies) {
        std::uint64_t cumulative = 0;
        const auto& h = p.duration;
        for (std::size_t i = 0; i < h.counts.size(); ++i) {
            cumulative += h.counts[i];
            std::string le = i < h.kBounds.size() ? number(h.kBounds[i]) : "+Inf";
            w.sample("certgate_request_duration_seconds_bucket", {{"policy", policy}, {"le", le}},
                     std::to_string(cumulative));
        }
        w.sample("certgate_request_duration_seconds_sum", {{"policy", policy}}, number(h.sum));
        w.sample("certgate_request_duration_seconds_count", {{"policy", policy}},
                 std::to_string(cumulative));
    }
}

void render_tls(Writer& w, const WorkerMetrics& m) {
    w.family("certgate_tls_handshakes_total", "counter", "TLS handshakes with clients, by result.");
    w.sample("certgate_tls_handshakes_total", {{"result", "ok"}}, std::to_string(m.handshakes_ok));
    w.sample("certgate_tls_handshakes_total", {{"result", "failed"}},
             std::to_string(m.handshakes_failed));

    w.family("certgate_client_certificate_verify_failures_total", "counter",
             "Client certificates that failed verification on a full handshake, by OpenSSL's "
             "reason (\"no certificate\": none sent where one is required).");
    for (const auto& [reason, n] : m.verify_failures)
        w.sample("certgate_client_certificate_verify_failures_total", {{"reason", reason}},
                 std::to_string(n));
}

void render_upstream(Writer& w, const MetricsScrape& s) {
    // Rule codes as in the request log: upstream.connect, upstream.connect_timeout,
    // upstream.write, upstream.write_timeout, upstream.response, upstream.response_timeout.
    w.family("certgate_upstream_errors_total", "counter",
             "Requests answered 502 or 504 because of the app, by the rule in the request log.");
    for (const auto& [rule, n] : s.totals.upstream_errors)
        w.sample("certgate_upstream_errors_total", {{"rule", rule}}, std::to_string(n));

    w.family("certgate_upstream_idle_connections", "gauge",
             "Keep-alive connections to the app waiting in the pools.");
    w.sample("certgate_upstream_idle_connections", {}, std::to_string(s.idle_upstream_connections));
}

void render_process(Writer& w, const MetricsScrape& s) {
    w.family("certgate_open_connections", "gauge", "Client connections open now.");
    w.sample("certgate_open_connections", {}, std::to_string(s.open_connections));

    w.family("certgate_config_reloads_total", "counter", "Configuration reloads, by result.");
    w.sample("certgate_config_reloads_total", {{"result", "ok"}}, std::to_string(s.reloads_ok));
    w.sample("certgate_config_reloads_total", {{"result", "failed"}},
             std::to_string(s.reloads_failed));

    w.family("certgate_certificate_expiry_seconds", "gauge",
             "Seconds until each configured certificate expires (negative: expired).");
    for (const auto& cert : s.certificates) {
        std::string role = cert.role;  // "server", "client CA" -> "client_ca"
        for (char& c : role)
            c = c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto left = std::chrono::duration<double>(cert.expires - s.now).count();
        w.sample("certgate_certificate_expiry_seconds", {{"role", role}, {"subject", cert.subject}},
                 number(std::floor(left)));
    }

    w.family("certgate_workers", "gauge", "Worker threads.");
    w.sample("certgate_workers", {}, std::to_string(s.workers));
    w.family("certgate_scrape_workers_unanswered", "gauge",
             "Workers too busy to report in time for this scrape; their counters are missing.");
    w.sample("certgate_scrape_workers_unanswered", {}, std::to_string(s.workers_unanswered));

    w.family("certgate_build_info", "gauge", "Always 1; the labels say what is running.");
    const std::string boost = std::to_string(BOOST_VERSION / 100000) + "." +
                              std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                              std::to_string(BOOST_VERSION % 100);
    w.sample("certgate_build_info",
             {{"version", CERTGATE_VERSION},
              {"openssl", OpenSSL_version(OPENSSL_VERSION)},
              {"boost", boost}},
             "1");
}

}  // namespace

std::string render_metrics(const MetricsScrape& scrape) {
    Writer w;
    render_requests(w, scrape.totals);
    render_tls(w, scrape.totals);
    render_upstream(w, scrape);
    render_process(w, scrape);
    return w.take();
}

}  // namespace certgate::proxy
