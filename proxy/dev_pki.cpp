#include "proxy/dev_pki.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string_view>

namespace certgate::proxy {
namespace {

namespace po = boost::program_options;

template <class T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

[[noreturn]] void openssl_failed(const std::string& what) {
    char buf[256] = "";
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    throw std::runtime_error(what + ": " + buf);
}

void check(int ok, const char* what) {
    if (ok <= 0) openssl_failed(what);
}

struct Issued {
    KeyPtr key;
    CertPtr cert;
};

enum class Role { ca, server, client };

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) openssl_failed(std::string("extension ") + OBJ_nid2sn(nid));
    const int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    check(ok, "X509_add_ext");
}

bool is_ip(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// DNS names as RFC 1123 labels (a leading "*." allowed), or IP addresses.
bool is_valid_host(const std::string& host) {
    if (host.empty() || host.size() > 253) return false;
    if (is_ip(host)) return true;
    std::string_view rest = host;
    if (rest.starts_with("*.")) rest.remove_prefix(2);
    for (char c : rest)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
    return !rest.empty() && rest.front() != '.' && rest.back() != '.';
}

void add_san(X509* cert, const std::vector<std::string>& dns, const std::vector<std::string>& ips,
             const std::string& uri) {
    NamesPtr names(sk_GENERAL_NAME_new_null());
    auto push = [&](int type, ASN1_STRING* value) {
        GENERAL_NAME* name = GENERAL_NAME_new();
        if (!name || !value) openssl_failed("subjectAltName");
        GENERAL_NAME_set0_value(name, type, value);
        sk_GENERAL_NAME_push(names.get(), name);
    };
    auto ia5 = [](const std::string& s) {
        ASN1_IA5STRING* v = ASN1_IA5STRING_new();
        if (v) ASN1_STRING_set(v, s.data(), static_cast<int>(s.size()));
        return v;
    };
    for (const auto& d : dns) push(GEN_DNS, ia5(d));
    for (const auto& ip : ips) push(GEN_IPADD, a2i_IPADDRESS(ip.c_str()));
    if (!uri.empty()) push(GEN_URI, ia5(uri));
    check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT),
          "subjectAltName");
}

Issued make_cert(Role role, const std::vector<std::pair<std::string, std::string>>& subject,
                 const Issued* issuer, const DevPkiOptions& options) {
    Issued out;
    out.key.reset(EVP_EC_gen("prime256v1"));
    if (!out.key) openssl_failed("EC key generation");
    out.cert.reset(X509_new());
    X509* cert = out.cert.get();
    check(X509_set_version(cert, X509_VERSION_3), "X509_set_version");

    // 127-bit random serial: positive and unique enough that browsers never see a reuse.
    BnPtr serial(BN_new());
    check(BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
    check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) != nullptr,
          "serial number");
    // Back-dated an hour so that a clock a little behind still accepts a fresh certificate.
    check(X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != nullptr, "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * options.days) != nullptr, "notAfter");

    X509_NAME* name = X509_get_subject_name(cert);
    for (const auto& [field, value] : subject)
        check(X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                                         -1, 0),
              "subject");
    X509* signer = issuer ? issuer->cert.get() : cert;
    check(X509_set_issuer_name(cert, X509_get_subject_name(signer)), "issuer");
    check(X509_set_pubkey(cert, out.key.get()), "X509_set_pubkey");

    add_ext(cert, signer, NID_subject_key_identifier, "hash");
    add_ext(cert, signer, NID_authority_key_identifier, "keyid:always");
    switch (role) {
        case Role::ca:
            add_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
            add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
            break;
        case Role::server: {
            add_ext(cert, signer, NID_basic_constraints, "critical,CA:FALSE");
            add_ext(cert, signer, NID_key_usage, "critical,digitalSignature");
            add_ext(cert, signer, NID_ext_key_usage, "serverAuth");
            std::vector<std::string> dns{"localhost"}, ips{"127.0.0.1", "::1"};
            for (const auto& h : options.hosts) (is_ip(h) ? ips : dns).push_back(h);
            add_san(cert, dns, ips, "");
            break;
        }
        case Role::client:
            add_ext(cert, signer, NID_basic_constraints, "critical,CA:FALSE");
            add_ext(cert, signer, NID_key_usage, "critical,digitalSignature");
            add_ext(cert, signer, NID_ext_key_usage, "clientAuth");
            add_san(cert, {}, {}, "spiffe://demo.local/sa/client");
            break;
    }
    const EVP_PKEY* signing_key = issuer ? issuer->key.get() : out.key.get();
    check(X509_sign(cert, const_cast<EVP_PKEY*>(signing_key), EVP_sha256()), "X509_sign");
    return out;
}

std::string to_pem(const X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_X509(bio.get(), const_cast<X509*>(cert)), "PEM_write_bio_X509");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

std::string to_pem(const EVP_PKEY* key) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
          "PEM_write_bio_PrivateKey");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

// Creates the file with `mode` from the start (a key is never readable by others, not even
// for a moment); with !force an existing file is an error (O_EXCL), never overwritten.
void write_file(const std::filesystem::path& path, const std::string& content, mode_t mode,
                bool force) {
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL);
    const int fd = ::open(path.c_str(), flags, mode);
    if (fd < 0) throw std::runtime_error(path.string() + ": " + std::strerror(errno));
    bool ok = ::fchmod(fd, mode) == 0;
    std::string_view rest = content;
    while (ok && !rest.empty()) {
        const ssize_t n = ::write(fd, rest.data(), rest.size());
        ok = n > 0;
        if (ok) rest.remove_prefix(static_cast<std::size_t>(n));
    }
    const int saved = errno;
    if (::close(fd) != 0 || !ok)
        throw std::runtime_error(path.string() + ": " + std::strerror(ok ? errno : saved));
}

}  // namespace

const std::vector<std::string>& dev_pki_files() {
    static const std::vector<std::string> files{"ca.crt",     "ca.key",     "server.crt",
                                                "server.key", "client.crt", "client.key"};
    return files;
}

void write_dev_pki(const DevPkiOptions& options) {
    namespace fs = std::filesystem;
    const fs::path dir = options.out_dir;
    for (const auto& host : options.hosts)
        if (!is_valid_host(host))
            throw std::runtime_error("--host \"" + host + "\" is not a DNS name or IP address");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error(dir.string() + ": " + ec.message());
    if (!options.force)
        for (const auto& f : dev_pki_files())
            if (fs::exists(fs::symlink_status(dir / f)))
                throw std::runtime_error((dir / f).string() +
                                         " already exists (use --force to replace the set)");

    const Issued ca = make_cert(
        Role::ca, {{"O", "certgate development"}, {"CN", "certgate dev CA"}}, nullptr, options);
    const Issued server = make_cert(Role::server, {{"CN", "localhost"}}, &ca, options);
    const Issued client =
        make_cert(Role::client, {{"O", "certgate demo"}, {"CN", "demo-client"}}, &ca, options);
    const std::pair<const char*, const Issued*> sets[] = {
        {"ca", &ca}, {"server", &server}, {"client", &client}};
    for (const auto& [stem, issued] : sets) {
        write_file(dir / (std::string(stem) + ".crt"), to_pem(issued->cert.get()), 0644,
                   options.force);
        write_file(dir / (std::string(stem) + ".key"), to_pem(issued->key.get()), 0600,
                   options.force);
    }
}

int run_dev_pki(int argc, char** argv) {
    po::options_description desc("options");
    DevPkiOptions options;
    desc.add_options()("help,h", "show this help")(
        "out,o", po::value<std::string>(&options.out_dir)->value_name("DIR"),
        "directory to write into (created if missing); required")(
        "host", po::value<std::vector<std::string>>(&options.hosts)->value_name("NAME"),
        "another DNS name or IP address for the server certificate (repeatable)")(
        "days", po::value<int>(&options.days)->value_name("N")->default_value(90),
        "validity of every certificate, in days")(
        "force", po::bool_switch(&options.force),
        "replace existing files (without it, an existing file is an error and nothing is "
        "written)");
    const auto usage = [&](std::ostream& out) {
        out << "usage: certgate dev-pki --out DIR [--host NAME]... [--days N] [--force]\n\n"
               "Writes a development CA (ca.crt, ca.key), a server certificate for localhost,\n"
               "127.0.0.1 and ::1 (server.crt, server.key) and a client certificate with\n"
               "clientAuth, CN=demo-client (client.crt, client.key): ECDSA P-256, keys 0600.\n"
               "Refuses to overwrite existing files unless --force. Not for production.\n\n"
            << desc;
    };
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "certgate dev-pki: " << e.what() << "\n\n";
        usage(std::cerr);
        return 2;
    }
    if (vm.count("help")) {
        usage(std::cout);
        return 0;
    }
    if (options.out_dir.empty() || options.days < 1 || options.days > 3650) {
        std::cerr << "certgate dev-pki: "
                  << (options.out_dir.empty() ? "--out DIR is required" : "--days must be 1-3650")
                  << "\n\n";
        usage(std::cerr);
        return 2;
    }
    try {
        write_dev_pki(options);
    } catch (const std::exception& e) {
        std::cerr << "certgate dev-pki: " << e.what() << "\n";
        return 1;
    }
    std::cout << "development PKI written to " << options.out_dir << " (valid " << options.days
              << " days):\n"
              << "  ca.crt ca.key          CA: trust it as tls.client_ca and in your client\n"
              << "  server.crt server.key  tls.certificate / tls.private_key\n"
              << "  client.crt client.key  curl --cert client.crt --key client.key --cacert "
                 "ca.crt ...\n";
    return 0;
}

}  // namespace certgate::proxy
