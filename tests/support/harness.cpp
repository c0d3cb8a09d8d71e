#include "support/harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>

namespace certgate::testing {

namespace http = boost::beast::http;

namespace {

bool iequal(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

void set_timeouts(int fd, std::chrono::milliseconds t) {
    timeval tv{};
    tv.tv_sec = static_cast<long>(t.count() / 1000);
    tv.tv_usec = static_cast<long>((t.count() % 1000) * 1000);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::string hex(const unsigned char* p, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}

}  // namespace

std::optional<std::string> find_header(const Headers& h, const std::string& name) {
    for (const auto& [k, v] : h)
        if (iequal(k, name)) return v;
    return std::nullopt;
}

std::size_t count_header(const Headers& h, const std::string& name) {
    std::size_t n = 0;
    for (const auto& [k, v] : h)
        if (iequal(k, name)) ++n;
    return n;
}

// ---------------------------------------------------------------------------------------

std::pair<std::string, std::string> Pki::write(const std::string& name,
                                               const TestCert& cert) const {
    return {dir.write(name + ".crt", cert.cert_pem()), dir.write(name + ".key", cert.key_pem())};
}

std::unique_ptr<Pki> make_pki() {
    auto pki = std::make_unique<Pki>();
    pki->ca = make_ca("certgate test CA");
    CertSpec server;
    server.subject = {{"CN", "localhost"}};
    server.san_dns = {"localhost"};
    server.san_ip = {"127.0.0.1"};
    server.eku = Eku::server_auth;
    pki->server = issue(pki->ca, server);
    CertSpec client;
    client.subject = {{"C", "US"}, {"O", "Example Corp"}, {"CN", "billing"}};
    client.san_dns = {"billing.internal"};
    client.san_uri = {"spiffe://example.org/ns/prod/sa/billing"};
    pki->client = issue(pki->ca, client);
    pki->ca_pem = pki->dir.write("ca.pem", pki->ca.cert_pem());
    std::tie(pki->server_crt, pki->server_key) = pki->write("server", pki->server);
    std::tie(pki->client_crt, pki->client_key) = pki->write("client", pki->client);
    return pki;
}

// ---------------------------------------------------------------------------------------

UpstreamServer::UpstreamServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 512) != 0)
        throw std::runtime_error("upstream: cannot listen");
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

UpstreamServer::UpstreamServer(std::string unix_path) : unix_path_(std::move(unix_path)) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, unix_path_.c_str(), sizeof addr.sun_path - 1);
    ::unlink(unix_path_.c_str());
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 512) != 0)
        throw std::runtime_error("upstream: cannot listen on " + unix_path_);
    acceptor_ = std::thread([this] { accept_loop(); });
}

UpstreamServer::~UpstreamServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    {
        std::lock_guard lock(mu_);
        for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

std::string UpstreamServer::url() const {
    return unix_path_.empty() ? "http://127.0.0.1:" + std::to_string(port_) : "unix:" + unix_path_;
}

void UpstreamServer::set_handler(Handler h) {
    std::lock_guard lock(mu_);
    handler_ = std::move(h);
}

std::vector<SeenRequest> UpstreamServer::requests() const {
    std::lock_guard lock(mu_);
    return seen_;
}

std::size_t UpstreamServer::request_count() const {
    std::lock_guard lock(mu_);
    return seen_.size();
}

bool UpstreamServer::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return seen_.size() >= n; });
}

void UpstreamServer::accept_loop() {
    for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (stopping_) return;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;
        }
        ++connections_;
        std::lock_guard lock(mu_);
        open_fds_.push_back(fd);
        workers_.emplace_back([this, fd] { serve(fd); });
    }
}

void UpstreamServer::serve(int fd) {
    if (unix_path_.empty()) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    set_timeouts(fd, 30s);
    bool reset = false;
    std::string in;
    char buf[65536];
    auto fill = [&]() -> bool {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return false;
        bytes_received_ += static_cast<std::uint64_t>(n);
        in.append(buf, static_cast<std::size_t>(n));
        return true;
    };
    for (bool open = true; open && !stopping_;) {
        http::request_parser<http::buffer_body> parser;
        parser.header_limit(1 << 20);
        parser.body_limit(boost::none);
        parser.eager(false);
        SeenRequest seen;
        boost::beast::error_code ec;
        // Head.
        while (!parser.is_header_done()) {
            if (!in.empty()) {
                std::size_t used = parser.put(boost::asio::buffer(in), ec);
                if (ec && ec != http::error::need_more) goto done;
                seen.raw_head += in.substr(0, used);
                in.erase(0, used);
                if (parser.is_header_done()) break;
            }
            if (!fill()) goto done;
        }
        {
            auto& req = parser.get();
            seen.method = std::string(req.method_string());
            seen.target = std::string(req.target());
            seen.version = req.version() == 11 ? "1.1" : "1.0";
            for (const auto& f : req) seen.headers.emplace_back(std::string(f.name_string()),
                                                                std::string(f.value()));
            seen.chunked = parser.chunked();
        }
        {
            EVP_MD_CTX* md = EVP_MD_CTX_new();
            EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
            char body_buf[65536];
            while (!parser.is_done()) {
                parser.get().body().data = body_buf;
                parser.get().body().size = sizeof body_buf;
                std::size_t used = in.empty() ? 0 : parser.put(boost::asio::buffer(in), ec);
                if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
                if (ec) {
                    EVP_MD_CTX_free(md);
                    goto done;
                }
                in.erase(0, used);
                std::size_t got = sizeof body_buf - parser.get().body().size;
                seen.body_bytes += got;
                EVP_DigestUpdate(md, body_buf, got);
                if (seen.body.size() < (1u << 20)) seen.body.append(body_buf, got);
                if (used == 0 && !parser.is_done() && !fill()) {
                    EVP_MD_CTX_free(md);
                    goto done;
                }
            }
            unsigned char digest[32];
            unsigned int dl = 0;
            EVP_DigestFinal_ex(md, digest, &dl);
            EVP_MD_CTX_free(md);
            seen.body_sha256 = hex(digest, dl);
        }
        {
            Reply reply;
            Handler handler;
            {
                std::lock_guard lock(mu_);
                handler = handler_;
            }
            if (handler) handler(seen, reply);
            {
                std::lock_guard lock(mu_);
                seen_.push_back(seen);
            }
            cv_.notify_all();
            if (reply.delay.count() > 0) {
                // The upstream itself is slow (what the test is about), not a synchronisation.
                pollfd p{fd, POLLRDHUP, 0};
                ::poll(&p, 1, static_cast<int>(reply.delay.count()));
            }
            if (reply.raw) {
                const bool half_close = reply.after_raw == Reply::AfterRaw::half_close;
                int on = 1;
                if (half_close) setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
                write_all(fd, *reply.raw);
                if (reply.after_raw == Reply::AfterRaw::keep_open) continue;
                if (half_close) {
                    ::shutdown(fd, SHUT_WR);  // corked: the FIN goes out on the bytes' segment
                    char sink[4096];
                    for (ssize_t n; (n = ::read(fd, sink, sizeof sink)) > 0;)
                        bytes_received_ += static_cast<std::uint64_t>(n);
                    goto done;
                }
                if (reply.after_raw == Reply::AfterRaw::reset) {
                    linger hard{1, 0};
                    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
                    reset = true;
                }
                goto done;
            }
            std::ostringstream head;
            head << "HTTP/1.1 " << reply.status << " "
                 << http::obsolete_reason(static_cast<http::status>(reply.status)) << "\r\n";
            for (const auto& [k, v] : reply.headers) head << k << ": " << v << "\r\n";
            const bool no_body = seen.method == "HEAD" || reply.status == 204 ||
                                 reply.status == 304 || reply.status < 200;
            std::uint64_t length = reply.generated_bytes ? reply.generated_bytes : reply.body.size();
            if (reply.chunked)
                head << "Transfer-Encoding: chunked\r\n";
            else if (!no_body || seen.method == "HEAD")
                head << "Content-Length: " << length << "\r\n";
            if (reply.close) head << "Connection: close\r\n";
            head << "\r\n";
            if (!write_all(fd, head.str())) goto done;
            if (!no_body) {
                std::string block(64 * 1024, 'x');
                std::uint64_t left = length;
                while (left > 0) {
                    std::string_view piece = reply.generated_bytes
                                                 ? std::string_view(block).substr(
                                                       0, std::min<std::uint64_t>(left, block.size()))
                                                 : std::string_view(reply.body);
                    if (reply.chunked) {
                        std::ostringstream ch;
                        ch << std::hex << piece.size() << "\r\n";
                        if (!write_all(fd, ch.str())) goto done;
                    }
                    if (!write_all(fd, piece)) goto done;
                    if (reply.chunked && !write_all(fd, "\r\n")) goto done;
                    left -= piece.size();
                }
                if (reply.chunked && !write_all(fd, "0\r\n\r\n")) goto done;
            }
            if (reply.close || !parser.keep_alive()) open = false;
        }
    }
done:
    if (!reset) ::shutdown(fd, SHUT_RDWR);  // a FIN first would spoil the reset
    std::lock_guard lock(mu_);
    std::erase(open_fds_, fd);
    ::close(fd);
}

// ---------------------------------------------------------------------------------------

namespace {

// A TCP socket bound to 127.0.0.1:port (0: a port the kernel picks), or -1.
int bound_loopback_socket(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
}

}  // namespace

std::uint16_t free_port() {
    // Below the kernel's ephemeral range: a port from that range, free when looked at, can be
    // taken a moment later as the source port of some test's outgoing connection, and
    // certgate would then rightly refuse to start on it.
    int low = 32768;
    if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> low;
    thread_local std::mt19937 pick(std::random_device{}());
    if (low > 12000) {
        std::uniform_int_distribution<int> port(10000, low - 1);
        for (int attempt = 0; attempt < 200; ++attempt) {
            const auto candidate = static_cast<std::uint16_t>(port(pick));
            if (int fd = bound_loopback_socket(candidate); fd >= 0) {
                ::close(fd);
                return candidate;
            }
        }
    }
    int fd = bound_loopback_socket(0);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string make_config(const Pki& pki, const ConfigParts& p) {
    std::ostringstream y;
    y << "listen: \"" << (p.listen.empty() ? "127.0.0.1:" + std::to_string(free_port()) : p.listen)
      << "\"\n"
      << "workers: " << p.workers << "\n"
      << "tls:\n"
      << "  certificate: " << pki.server_crt << "\n"
      << "  private_key: " << pki.server_key << "\n";
    if (p.client_ca) y << "  client_ca: " << pki.ca_pem << "\n";
    y << p.tls_extra << "upstream:\n"
      << "  url: \"" << p.upstream_url << "\"\n"
      << p.upstream_extra << p.top_level_extra << p.policies;
    return y.str();
}

std::string certgate_binary() { return CERTGATE_BINARY; }

ProxyProcess::ProxyProcess(const std::string& yaml, const std::string& dir,
                           std::chrono::milliseconds timeout) {
    static std::atomic<int> counter{0};
    config_path_ = dir + "/certgate-" + std::to_string(++counter) + ".yaml";
    std::ofstream(config_path_) << yaml;
    auto pos = yaml.find("listen: \"");
    if (pos != std::string::npos) {
        auto colon = yaml.find(':', yaml.find(':', pos) + 1);
        port_ = static_cast<std::uint16_t>(std::stoi(yaml.substr(colon + 1)));
    }
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
        ::dup2(pipefd[1], 1);
        ::dup2(pipefd[1], 2);
        std::string bin = certgate_binary();
        ::execl(bin.c_str(), bin.c_str(), "serve", "--config", config_path_.c_str(), nullptr);
        _exit(127);
    }
    ::close(pipefd[1]);
    out_fd_ = pipefd[0];
    reader_ = std::thread([this] { read_output(); });
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] {
        for (const auto& l : lines_)
            if (l.find("\"event\":\"listening\"") != std::string::npos) return true;
        return output_closed_;
    });
    for (const auto& l : lines_)
        if (l.find("\"event\":\"listening\"") != std::string::npos) started_ = true;
}

ProxyProcess::~ProxyProcess() {
    if (!exit_code_) {
        signal(SIGTERM);
        if (!wait_exit(10s)) {
            signal(SIGKILL);
            wait_exit(10s);
        }
    }
    if (reader_.joinable()) reader_.join();
    if (out_fd_ >= 0) ::close(out_fd_);
}

void ProxyProcess::read_output() {
    std::string partial;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(out_fd_, buf, sizeof buf);
        if (n <= 0) break;
        partial.append(buf, static_cast<std::size_t>(n));
        std::size_t nl;
        std::lock_guard lock(mu_);
        while ((nl = partial.find('\n')) != std::string::npos) {
            lines_.push_back(partial.substr(0, nl));
            partial.erase(0, nl + 1);
        }
        cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    if (!partial.empty()) lines_.push_back(partial);
    output_closed_ = true;
    cv_.notify_all();
}

std::vector<std::string> ProxyProcess::log_lines() const {
    std::lock_guard lock(mu_);
    return lines_;
}

std::optional<std::string> ProxyProcess::wait_for_log(const std::vector<std::string>& needles,
                                                      std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    std::optional<std::string> found;
    cv_.wait_for(lock, timeout, [&] {
        for (const auto& l : lines_) {
            bool all = true;
            for (const auto& n : needles) all = all && l.find(n) != std::string::npos;
            if (all) {
                found = l;
                return true;
            }
        }
        return output_closed_;
    });
    return found;
}

std::optional<std::string> ProxyProcess::wait_for_nth_log(const std::vector<std::string>& needles,
                                                          std::size_t nth,
                                                          std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    std::optional<std::string> found;
    cv_.wait_for(lock, timeout, [&] {
        std::size_t seen = 0;
        for (const auto& l : lines_) {
            bool all = true;
            for (const auto& n : needles) all = all && l.find(n) != std::string::npos;
            if (all && ++seen == nth) {
                found = l;
                return true;
            }
        }
        return output_closed_;
    });
    return found;
}

void ProxyProcess::signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> ProxyProcess::wait_exit(std::chrono::milliseconds timeout) {
    if (exit_code_) return exit_code_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
            return exit_code_;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        // Child exit has no pollable fd here; wait for the output pipe to close instead.
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, 20ms, [&] { return output_closed_; });
    }
}

namespace {
long status_field_kib(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    return -1;
}
}  // namespace

long ProxyProcess::rss_kib() const { return status_field_kib(pid_, "VmRSS"); }
long ProxyProcess::peak_rss_kib() const { return status_field_kib(pid_, "VmHWM"); }

std::pair<int, std::string> run_command(const std::vector<std::string>& argv,
                                        const std::string& input,
                                        std::chrono::milliseconds timeout,
                                        const std::map<std::string, std::string>& env) {
    int in_pipe[2], out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) return {-1, ""};
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(in_pipe[0], 0);
        ::dup2(out_pipe[1], 1);
        ::dup2(out_pipe[1], 2);
        for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        _exit(127);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    if (!input.empty()) {
        std::string_view rest = input;
        while (!rest.empty()) {
            ssize_t n = ::write(in_pipe[1], rest.data(), rest.size());
            if (n <= 0) break;
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    ::close(in_pipe[1]);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[8192];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ::kill(pid, SIGKILL);
            break;
        }
        pollfd p{out_pipe[0], POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out_pipe[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), out};
}

// ---------------------------------------------------------------------------------------

TlsClient::TlsClient(std::uint16_t port, ClientOptions options)
    : port_(port), options_(std::move(options)) {}

TlsClient::~TlsClient() {
    if (ssl_) {
        // As browsers and curl do: a session ended without a TLS-level shutdown is marked
        // not resumable by OpenSSL, which would spoil resumption tests.
        SSL_set_quiet_shutdown(ssl_, 1);
        SSL_shutdown(ssl_);
        SSL_free(ssl_);
    }
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
}

bool TlsClient::connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    set_timeouts(fd_, options_.timeout);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        error_ = std::string("connect: ") + std::strerror(errno);
        return false;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    if (options_.max_version) SSL_CTX_set_max_proto_version(ctx_, options_.max_version);
    if (!options_.ciphersuites.empty() &&
        SSL_CTX_set_ciphersuites(ctx_, options_.ciphersuites.c_str()) != 1) {
        error_ = "unknown ciphersuites " + options_.ciphersuites;
        return false;
    }
    if (!options_.groups.empty() && SSL_CTX_set1_groups_list(ctx_, options_.groups.c_str()) != 1) {
        error_ = "unknown groups " + options_.groups;
        return false;
    }
    if (options_.min_version) {
        SSL_CTX_set_security_level(ctx_, 0);
        SSL_CTX_set_min_proto_version(ctx_, options_.min_version);
    }
    if (!options_.cert.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx_, options_.cert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx_, options_.key.c_str(), SSL_FILETYPE_PEM) != 1) {
            error_ = "cannot load client certificate";
            return false;
        }
    }
    ssl_ = SSL_new(ctx_);
    if (options_.before_client_flight) {
        SSL_set_app_data(ssl_, this);
        SSL_set_info_callback(ssl_, [](const SSL* ssl, int where, int) {
            if (!(where & SSL_CB_LOOP)) return;
            auto* self = static_cast<TlsClient*>(SSL_get_app_data(ssl));
            // The first client-write state after the server spoke: its flight (TLS 1.3: up
            // to its Finished) is in, nothing of the client's answer is out.
            const auto state = SSL_get_state(ssl);
            if (state == TLS_ST_CR_SRVR_HELLO) self->server_spoke_ = true;
            const bool client_writes = state == TLS_ST_CW_CHANGE || state == TLS_ST_CW_CERT ||
                                       state == TLS_ST_CW_KEY_EXCH || state == TLS_ST_CW_FINISHED;
            if (client_writes && self->server_spoke_) {
                if (auto hook = std::exchange(self->options_.before_client_flight, nullptr)) hook();
            }
        });
    }
    if (options_.sni) SSL_set_tlsext_host_name(ssl_, options_.sni->c_str());
    if (options_.session) SSL_set_session(ssl_, options_.session);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
        error_ = buf;
        ERR_clear_error();
        return false;
    }
    return true;
}

std::string TlsClient::protocol() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

bool TlsClient::send(std::string_view bytes) {
    while (!bytes.empty()) {
        int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
        if (n <= 0) {
            ERR_clear_error();
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool TlsClient::fill() {
    char buf[65536];
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) {
        ERR_clear_error();
        return false;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
}

std::optional<HttpResponse> TlsClient::read_response(bool head_request) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    parser.header_limit(1 << 20);
    if (head_request) parser.skip(true);
    boost::beast::error_code ec;
    for (;;) {
        if (!buffer_.empty()) {
            std::size_t used = parser.put(boost::asio::buffer(buffer_), ec);
            buffer_.erase(0, used);
            if (ec && ec != http::error::need_more) return std::nullopt;
            if (parser.is_done()) break;
            if (used > 0) continue;
        }
        if (!fill()) {
            if (parser.is_header_done() && parser.need_eof()) {
                parser.put_eof(ec);
                if (!ec) break;
            }
            return std::nullopt;
        }
    }
    HttpResponse r;
    auto msg = parser.release();
    r.status = static_cast<int>(msg.result_int());
    for (const auto& f : msg)
        r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    r.body = std::move(msg.body());
    return r;
}

bool TlsClient::wait_closed(std::chrono::milliseconds timeout) {
    set_timeouts(fd_, timeout);
    char buf[4096];
    for (;;) {
        int n = SSL_read(ssl_, buf, sizeof buf);
        if (n > 0) {
            buffer_.append(buf, static_cast<std::size_t>(n));
            continue;  // bytes after the response: the caller checks buffer via read_response
        }
        int err = SSL_get_error(ssl_, n);
        ERR_clear_error();
        if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL || err == SSL_ERROR_SSL) {
            // SYSCALL with EAGAIN is the receive timeout, not a close.
            if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
            return true;
        }
        return false;
    }
}

std::string plain_exchange(std::uint16_t port, const std::string& raw,
                           std::chrono::milliseconds timeout) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    set_timeouts(fd, timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && write_all(fd, raw)) {
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

std::optional<HttpResponse> https_request(std::uint16_t port, const ClientOptions& options,
                                          const std::string& raw_request) {
    TlsClient client(port, options);
    if (!client.connect() || !client.send(raw_request)) return std::nullopt;
    bool head = raw_request.rfind("HEAD ", 0) == 0;
    return client.read_response(head);
}

std::string get_request(const std::string& path, const std::string& extra_headers) {
    return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n";
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

}  // namespace certgate::testing
