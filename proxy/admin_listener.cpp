#include "proxy/admin_listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/status.hpp>
#include <optional>

#include "policies/response_decorator.hpp"
#include "proxy/access_log.hpp"
#include "proxy/http_writer.hpp"
#include "proxy/plain_http.hpp"
#include "proxy/worker.hpp"

namespace certgate::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);
// A worker that cannot copy its counters within this is left out of the scrape.
constexpr std::chrono::milliseconds kGatherTimeout{1000};
// Admin connections beyond this are closed at once: the port must not become a way to
// exhaust descriptors.
constexpr std::size_t kMaxConnections = 64;
constexpr std::string_view kPlainText = "text/plain; charset=utf-8";
constexpr std::string_view kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";

struct WorkerSample {
    WorkerMetrics counters;
    std::size_t open_connections = 0;
    std::size_t idle_upstream_connections = 0;
};

// One scrape's answers, filled in on the admin thread as the workers' replies arrive.
struct Gathering {
    Gathering(net::io_context& ioc, std::size_t workers)
        : samples(workers), pending(workers), all_in(ioc) {}
    std::vector<std::optional<WorkerSample>> samples;
    std::size_t pending;
    net::steady_timer all_in;  // cancelled when the last reply arrives
};

std::string response(int status, std::string_view content_type, std::string_view body,
                     bool head_only, const Snapshot& snap, std::string_view allow = {}) {
    ResponseHead head;
    head.status = status;
    head.headers.add("Content-Type", content_type);
    head.headers.add("Cache-Control", "no-store");
    if (!allow.empty()) head.headers.add("Allow", allow);
    policies::decorate_response(head.headers, snap.fallback_rules);
    std::string out;
    serialize_response_head(out, head, http::obsolete_reason(static_cast<http::status>(status)),
                            BodyFraming::length, body.size(), true, false);
    if (!head_only) out += body;
    return out;
}

}  // namespace

std::unique_ptr<AdminListener> AdminListener::open(
    const config::Endpoint& endpoint, const std::vector<std::unique_ptr<Worker>>& workers,
    const ServerStatus& status) {
    std::vector<Worker*> raw;
    for (const auto& w : workers) raw.push_back(w.get());
    try {
        auto listener = std::make_unique<AdminListener>(endpoint, std::move(raw), status);
        process_log().event("info", "admin_listening", {{"address", endpoint.text}});
        return listener;
    } catch (const std::exception& e) {
        process_log().event(
            "error", "listen_failed",
            {{"address", endpoint.text}, {"listener", "admin"}, {"error", e.what()}});
        return nullptr;
    }
}

AdminListener::AdminListener(const config::Endpoint& endpoint, std::vector<Worker*> workers,
                             const ServerStatus& status)
    : ioc_(std::make_unique<net::io_context>(1)), workers_(std::move(workers)), status_(status) {
    net::ip::tcp::endpoint ep(net::ip::make_address(endpoint.host), endpoint.port);
    acceptor_.emplace(*ioc_);
    acceptor_->open(ep.protocol());
    acceptor_->set_option(net::socket_base::reuse_address(true));
    if (ep.address().is_v6()) acceptor_->set_option(net::ip::v6_only(false));
    acceptor_->bind(ep);
    acceptor_->listen(net::socket_base::max_listen_connections);
    probe_.emplace(*ioc_);
}

AdminListener::~AdminListener() {
    stop();
    acceptor_.reset();
    probe_.reset();
    ioc_.reset();  // destroys unfinished connections while connections_ is still alive
}

void AdminListener::start() {
    net::co_spawn(*ioc_, accept_loop(), net::detached);
    thread_ = std::thread([this] { ioc_->run(); });
}

void AdminListener::stop() {
    ioc_->stop();
    if (thread_.joinable()) thread_.join();
}

net::awaitable<void> AdminListener::accept_loop() {
    for (;;) {
        auto [ec, socket] = co_await acceptor_->async_accept(nothrow);
        if (ec) {
            if (!acceptor_->is_open() || ec == net::error::operation_aborted) co_return;
            continue;
        }
        if (connections_ >= kMaxConnections) continue;  // the socket closes as it goes
        net::co_spawn(*ioc_, serve(beast::tcp_stream(std::move(socket))), net::detached);
    }
}

net::awaitable<void> AdminListener::serve(beast::tcp_stream stream) {
    ++connections_;
    struct Release {
        std::size_t& n;
        ~Release() { --n; }
    } release{connections_};
    const ServerStatus::View view = status_.view();
    const Snapshot& snap = *view.snapshot;
    beast::flat_buffer in;
    policies::RequestHead head;
    stream.expires_after(snap.config.limits.header_timeout);
    const int refusal = co_await read_plain_head(stream, in, head, snap);
    if (refusal < 0) co_return;
    std::string out;
    if (refusal > 0) {
        const std::string body =
            std::string(http::obsolete_reason(static_cast<http::status>(refusal))) + "\n";
        out = response(refusal, kPlainText, body, head.method == "HEAD", snap);
    } else {
        out = co_await answer(head, view);
    }
    co_await write_and_close(stream, out, snap.config.limits.body_idle_timeout);
}

net::awaitable<std::string> AdminListener::answer(const policies::RequestHead& head,
                                                  const ServerStatus::View& view) {
    const Snapshot& snap = *view.snapshot;
    const std::string_view target = head.target;
    const std::string_view path = target.substr(0, target.find('?'));
    const bool head_only = head.method == "HEAD";
    if (path != "/healthz" && path != "/readyz" && path != "/metrics")
        co_return response(404, kPlainText, "not found\n", head_only, snap);
    if (head.method != "GET" && !head_only)
        co_return response(405, kPlainText, "method not allowed\n", false, snap, "GET, HEAD");

    if (path == "/healthz") co_return response(200, kPlainText, "ok\n", head_only, snap);
    if (path == "/readyz") {
        // Draining: tell the load balancer to stop sending before the listener goes away.
        if (view.draining) co_return response(503, kPlainText, "shutting down\n", head_only, snap);
        const std::string failure = co_await probe_->check(snap.config.upstream);
        if (!failure.empty()) {
            const std::string body = "upstream unreachable: " + failure + "\n";
            co_return response(503, kPlainText, body, head_only, snap);
        }
        co_return response(200, kPlainText, "ready\n", head_only, snap);
    }
    const MetricsScrape scrape = co_await gather(view);
    co_return response(200, kPrometheusText, render_metrics(scrape), head_only, snap);
}

// Each worker copies its own counters on its own thread and posts the copy back here; the
// request path never waits for, or shares anything with, a scrape.
net::awaitable<MetricsScrape> AdminListener::gather(const ServerStatus::View& view) {
    auto gathering = std::make_shared<Gathering>(*ioc_, workers_.size());
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        Worker* worker = workers_[i];
        net::post(worker->io(), [worker, gathering, i] {
            WorkerSample sample{worker->metrics(), worker->open_sessions(),
                                worker->pool().idle_count()};
            net::post(gathering->all_in.get_executor(),
                      [gathering, i, sample = std::move(sample)]() mutable {
                          gathering->samples[i] = std::move(sample);
                          if (--gathering->pending == 0) gathering->all_in.cancel();
                      });
        });
    }
    if (gathering->pending > 0) {
        gathering->all_in.expires_after(kGatherTimeout);
        co_await gathering->all_in.async_wait(nothrow);
    }
    MetricsScrape scrape;
    scrape.workers = static_cast<unsigned>(workers_.size());
    for (const auto& sample : gathering->samples) {
        if (!sample) {
            ++scrape.workers_unanswered;
            continue;
        }
        scrape.totals.merge(sample->counters);
        scrape.open_connections += sample->open_connections;
        scrape.idle_upstream_connections += sample->idle_upstream_connections;
    }
    scrape.reloads_ok = view.reloads_ok;
    scrape.reloads_failed = view.reloads_failed;
    scrape.certificates = view.snapshot->tls.certificates;
    scrape.now = std::chrono::system_clock::now();
    co_return scrape;
}

}  // namespace certgate::proxy
