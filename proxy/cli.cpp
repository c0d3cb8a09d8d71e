#include "proxy/cli.hpp"

#include <openssl/crypto.h>

#include <boost/program_options.hpp>
#include <boost/version.hpp>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "proxy/access_log.hpp"
#include "proxy/dev_pki.hpp"
#include "proxy/key_decoding.hpp"
#include "proxy/server.hpp"
#include "proxy/snapshot.hpp"

namespace certgate::proxy {
namespace {

namespace po = boost::program_options;

constexpr const char* kUsage =
    "usage: certgate <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve    run the proxy in the foreground, logging JSON lines to stdout\n"
    "  check    validate the configuration and every file it names, print a summary\n"
    "  version  print the certgate, OpenSSL and Boost versions\n"
    "  dev-pki  write a development CA, server and client certificate (never for production)\n"
    "\n"
    "Run 'certgate <command> --help' for the options of a command.\n";

const char* kDefaultConfig = "/etc/certgate/certgate.yaml";

std::string default_config_path() {
    const char* env = std::getenv("CERTGATE_CONFIG");
    return env && *env ? env : kDefaultConfig;
}

const char* mode_name(config::CertMode m) {
    switch (m) {
        case config::CertMode::required:
            return "required";
        case config::CertMode::optional:
            return "optional";
        case config::CertMode::none:
            return "none";
    }
    return "?";
}

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

void print_summary(const Snapshot& s, std::ostream& out) {
    const auto& c = s.config;
    out << "config:    " << c.source << "\n"
        << "listen:    " << c.listen.text << " (TLS "
        << (c.tls.min_version == config::TlsVersion::v1_3 ? "1.3" : "1.2+") << ")\n"
        << "client certificates: "
        << (s.handshake_requires_certificate ? "required at the TLS handshake"
                                             : "requested at the handshake, judged per request")
        << "\n"
        << "redirect:  " << (c.redirect_http ? c.redirect_http->text + " (plain HTTP, 308 to https)" : "off") << "\n"
        << "admin:     " << (c.admin ? c.admin->text + " (/healthz /readyz /metrics)" : "off") << "\n"
        << "upstream:  " << c.upstream.url << "\n"
        << "workers:   "
        << (c.workers ? std::to_string(c.workers)
                      : "auto (" + std::to_string(std::thread::hardware_concurrency()) + ")")
        << "\n"
        << "policies:\n";
    for (std::size_t i = 0; i < c.policies.size(); ++i) {
        const auto& p = c.policies[i];
        out << "  " << p.name << ": paths " << join(p.paths, ", ") << "; client_certificate "
            << mode_name(p.client_certificate) << "; " << s.response_rules[i].frame_ancestors
            << "; X-Frame-Options " << s.response_rules[i].x_frame_options.value_or("off");
        if (!p.allow.empty())
            out << "; allow " << p.allow.subjects.size() << " subjects, " << p.allow.san_dns.size()
                << " san_dns, " << p.allow.san_uri.size() << " san_uri, "
                << p.allow.fingerprints.size() << " fingerprints";
        if (p.csrf)
            out << "; csrf (" << p.csrf->trusted_origins.size() << " trusted origins"
                << (p.csrf->allow_missing_origin ? ", missing origin allowed)" : ")");
        if (p.cookies) out << "; cookies hardened";
        out << "\n";
    }
    out << "certificates:\n";
    for (const auto& cert : s.tls.certificates)
        out << "  " << cert.role << ": " << cert.subject << " (expires " << cert.not_after << ")\n";
    auto warnings = snapshot_warnings(s);
    if (!warnings.empty()) {
        out << "warnings:\n";
        for (const auto& w : warnings) out << "  - " << w << "\n";
    }
}

int usage_error(const std::string& message) {
    std::cerr << "certgate: " << message << "\n\n" << kUsage;
    return 2;
}

std::string unexpected_argument(const std::string& argument) {
    return "unexpected argument \"" + argument + "\"";
}

}  // namespace

int run_cli(int argc, char** argv) {
    if (argc < 2) return usage_error("missing command");
    std::string command = argv[1];
    if (command == "--help" || command == "-h" || command == "help") {
        if (argc > 2) return usage_error(unexpected_argument(argv[2]));
        std::cout << kUsage;
        return 0;
    }
    if (command == "dev-pki") return run_dev_pki(argc - 1, argv + 1);
    if (command != "serve" && command != "check" && command != "version")
        return usage_error("unknown command \"" + command + "\"");

    po::options_description options("options");
    options.add_options()("help,h", "show this help");
    if (command != "version")
        options.add_options()("config,c", po::value<std::string>()->value_name("FILE"),
                              "configuration file (default: $CERTGATE_CONFIG, then "
                              "/etc/certgate/certgate.yaml)");
    po::variables_map vm;
    try {
        const auto parsed = po::command_line_parser(argc - 1, argv + 1).options(options).run();
        // No command takes a positional argument; Boost would drop one without a word, and a
        // stray "check other.yaml" would then validate a different file than the one named.
        const auto extra = po::collect_unrecognized(parsed.options, po::include_positional);
        if (!extra.empty()) return usage_error(unexpected_argument(extra.front()));
        po::store(parsed, vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return usage_error(e.what());
    }
    if (vm.count("help")) {
        std::cout << "usage: certgate " << command
                  << (command == "version" ? "" : " [--config FILE]") << "\n\n"
                  << options;
        return 0;
    }
    if (command == "version") {
        std::cout << "certgate " << CERTGATE_VERSION << "\n"
                  << OpenSSL_version(OPENSSL_VERSION) << "\n"
                  << "Boost " << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "."
                  << BOOST_VERSION % 100 << "\n";
        return 0;
    }
    const std::string path =
        vm.count("config") ? vm["config"].as<std::string>() : default_config_path();
    // Before any certificate is parsed; `check` parses them the way `serve` does.
    install_ec_key_engine();
    std::shared_ptr<const Snapshot> snapshot;
    try {
        snapshot = load_snapshot(path);
    } catch (const config::ConfigError& e) {
        for (const auto& m : e.messages()) {
            std::cerr << m << "\n";
            if (command == "serve") process_log().event("error", "config_error", {{"message", m}});
        }
        if (command == "check") std::cerr << "configuration is NOT usable\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << path << ": " << e.what() << "\n";
        if (command == "serve")
            process_log().event("error", "config_error", {{"message", path + ": " + e.what()}});
        return 1;
    }
    if (command == "check") {
        print_summary(*snapshot, std::cout);
        std::cout << "configuration is usable\n";
        return 0;
    }
    Server server(path, snapshot);
    return server.run();
}

}  // namespace certgate::proxy
