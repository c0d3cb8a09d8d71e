// `certgate dev-pki --out DIR`: the files it writes chain, carry the right names and key
// usages (checked by the openssl CLI and OpenSSL's API), keep keys private, are never
// overwritten by accident, and serve real mTLS through certgate to curl.
#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "proxy/proxy_fixture.hpp"

namespace certgate::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::shared_ptr<X509> load_cert(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return nullptr;
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    return {x, X509_free};
}

std::shared_ptr<EVP_PKEY> load_key(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return nullptr;
    EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    return {k, EVP_PKEY_free};
}

// Every SAN of `cert` as "DNS:x", "IP:x" or "URI:x".
std::vector<std::string> sans(X509* cert) {
    std::vector<std::string> out;
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
        if (n->type == GEN_DNS || n->type == GEN_URI) {
            const auto* s = n->type == GEN_DNS ? n->d.dNSName : n->d.uniformResourceIdentifier;
            out.push_back((n->type == GEN_DNS ? "DNS:" : "URI:") +
                          std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                      static_cast<std::size_t>(ASN1_STRING_length(s))));
        } else if (n->type == GEN_IPADD) {
            const int len = ASN1_STRING_length(n->d.iPAddress);
            char ip[INET6_ADDRSTRLEN] = "?";
            ::inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(n->d.iPAddress), ip,
                        sizeof ip);
            out.push_back(std::string("IP:") + ip);
        }
    }
    GENERAL_NAMES_free(names);
    return out;
}

std::string subject_of(X509* cert) {
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return s;
}

class DevPkiTest : public ::testing::Test {
protected:
    std::string out() const { return dir.path() + "/pki"; }
    std::string file(const std::string& name) const { return out() + "/" + name; }
    static std::pair<int, std::string> certgate(std::vector<std::string> args) {
        args.insert(args.begin(), certgate_binary());
        return run_command(args);
    }
    static std::pair<int, std::string> openssl_verify(const std::string& ca,
                                                      std::vector<std::string> args) {
        args.insert(args.begin(), {"openssl", "verify", "-CAfile", ca});
        return run_command(args);
    }
    void generate(std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"dev-pki", "--out", out()};
        args.insert(args.end(), extra.begin(), extra.end());
        auto [code, text] = certgate(args);
        ASSERT_EQ(code, 0) << text;
    }
    TempDir dir;
};

TEST_F(DevPkiTest, WritesTheSixFilesWithPrivateKeys) {
    generate();
    for (const std::string stem : {"ca", "server", "client"}) {
        struct stat st {};
        ASSERT_EQ(::stat(file(stem + ".key").c_str(), &st), 0) << stem;
        EXPECT_EQ(st.st_mode & 0777, 0600u) << stem << ".key";
        ASSERT_EQ(::stat(file(stem + ".crt").c_str(), &st), 0) << stem;
        EXPECT_EQ(st.st_mode & 0077, 0044u) << stem << ".crt is readable by others";
        auto cert = load_cert(file(stem + ".crt"));
        auto key = load_key(file(stem + ".key"));
        ASSERT_TRUE(cert && key) << stem;
        EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1) << stem;
        char group[64] = "";
        EVP_PKEY_get_group_name(key.get(), group, sizeof group, nullptr);
        EXPECT_STREQ(group, "prime256v1") << stem;
    }
}

TEST_F(DevPkiTest, OpensslVerifiesEachCertificateForItsOwnPurposeOnly) {
    generate();
    const auto ca = file("ca.crt");
    auto [server_ok, s1] = openssl_verify(
        ca, {"-purpose", "sslserver", "-verify_hostname", "localhost", file("server.crt")});
    EXPECT_EQ(server_ok, 0) << s1;
    auto [ip_ok, s2] = openssl_verify(
        ca, {"-purpose", "sslserver", "-verify_ip", "127.0.0.1", file("server.crt")});
    EXPECT_EQ(ip_ok, 0) << s2;
    auto [client_ok, s3] = openssl_verify(ca, {"-purpose", "sslclient", file("client.crt")});
    EXPECT_EQ(client_ok, 0) << s3;
    // The EKUs keep the roles apart: a client certificate cannot serve, nor the server's log in.
    auto [client_as_server, s4] = openssl_verify(ca, {"-purpose", "sslserver", file("client.crt")});
    EXPECT_NE(client_as_server, 0) << s4;
    auto [server_as_client, s5] = openssl_verify(ca, {"-purpose", "sslclient", file("server.crt")});
    EXPECT_NE(server_as_client, 0) << s5;
    auto [wrong_host, s6] = openssl_verify(
        ca, {"-purpose", "sslserver", "-verify_hostname", "example.com", file("server.crt")});
    EXPECT_NE(wrong_host, 0) << s6;
}

TEST_F(DevPkiTest, NamesAndUsagesAreWhatScriptsExpect) {
    generate({"--host", "certgate.internal", "--host", "10.1.2.3"});
    auto ca = load_cert(file("ca.crt"));
    auto server = load_cert(file("server.crt"));
    auto client = load_cert(file("client.crt"));
    ASSERT_TRUE(ca && server && client);
    EXPECT_EQ(X509_check_ca(ca.get()), 1);
    EXPECT_EQ(X509_check_ca(server.get()), 0);
    EXPECT_EQ(X509_check_ca(client.get()), 0);
    const auto server_sans = sans(server.get());
    for (const std::string want :
         {"DNS:localhost", "DNS:certgate.internal", "IP:127.0.0.1", "IP:::1", "IP:10.1.2.3"})
        EXPECT_NE(std::find(server_sans.begin(), server_sans.end(), want), server_sans.end())
            << want;
    EXPECT_EQ(sans(client.get()), std::vector<std::string>{"URI:spiffe://demo.local/sa/client"});
    EXPECT_EQ(subject_of(client.get()), "CN=demo-client,O=certgate demo");
    EXPECT_TRUE(X509_get_extended_key_usage(server.get()) & XKU_SSL_SERVER);
    EXPECT_FALSE(X509_get_extended_key_usage(server.get()) & XKU_SSL_CLIENT);
    EXPECT_TRUE(X509_get_extended_key_usage(client.get()) & XKU_SSL_CLIENT);
    EXPECT_FALSE(X509_get_extended_key_usage(client.get()) & XKU_SSL_SERVER);
}

TEST_F(DevPkiTest, RefusesToOverwriteUnlessForced) {
    generate();
    const auto before = slurp(file("ca.key"));
    auto [code, text] = certgate({"dev-pki", "--out", out()});
    EXPECT_EQ(code, 1) << text;
    EXPECT_TRUE(contains(text, "already exists")) << text;
    EXPECT_TRUE(contains(text, "--force")) << text;
    EXPECT_EQ(slurp(file("ca.key")), before);

    // Even one leftover file stops the whole set from being written.
    std::filesystem::remove(file("ca.key"));
    std::filesystem::remove(file("ca.crt"));
    auto [partial, text2] = certgate({"dev-pki", "--out", out()});
    EXPECT_EQ(partial, 1) << text2;
    EXPECT_FALSE(std::filesystem::exists(file("ca.key")));

    generate({"--force"});
    EXPECT_NE(slurp(file("server.key")), "");
    struct stat st {};
    ASSERT_EQ(::stat(file("server.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto [verify, vtext] = openssl_verify(file("ca.crt"), {file("client.crt")});
    EXPECT_EQ(verify, 0) << vtext;
}

TEST_F(DevPkiTest, UsageErrorsAndHelp) {
    auto [missing, t1] = certgate({"dev-pki"});
    EXPECT_EQ(missing, 2) << t1;
    auto [bad_host, t2] = certgate({"dev-pki", "--out", out(), "--host", "a,DNS:evil"});
    EXPECT_EQ(bad_host, 1) << t2;
    EXPECT_FALSE(std::filesystem::exists(file("ca.crt")));
    auto [help, t3] = certgate({"dev-pki", "--help"});
    EXPECT_EQ(help, 0);
    EXPECT_TRUE(contains(t3, "--force")) << t3;
    auto [top, t4] = certgate({"--help"});
    EXPECT_TRUE(contains(t4, "dev-pki")) << t4;
}

// The generated set works end to end: certgate check accepts it, and curl, verifying the
// server against ca.crt by host name, gets through with client.crt and not without.
TEST_F(DevPkiTest, ServesRealMutualTlsToCurl) {
    generate();
    UpstreamServer upstream;
    const auto port = free_port();
    const std::string yaml = "listen: \"127.0.0.1:" + std::to_string(port) +
                             "\"\nworkers: 1\ntls:\n  certificate: " + file("server.crt") +
                             "\n  private_key: " + file("server.key") +
                             "\n  client_ca: " + file("ca.crt") + "\nupstream:\n  url: \"" +
                             upstream.url() + "\"\n";
    const auto config = dir.write("certgate.yaml", yaml);
    auto [check, ctext] = certgate({"check", "--config", config});
    EXPECT_EQ(check, 0) << ctext;
    EXPECT_FALSE(contains(ctext, "warnings:")) << ctext;

    ProxyProcess proxy(yaml, dir.path());
    ASSERT_TRUE(proxy.started()) << joined(proxy.log_lines());
    const std::string url = "https://localhost:" + std::to_string(port) + "/who";
    auto [code, body] = run_command({"curl", "-sS", "--max-time", "10", "--cacert", file("ca.crt"),
                                     "--cert", file("client.crt"), "--key", file("client.key"),
                                     "-o", "/dev/null", "-w", "%{http_code}", url});
    EXPECT_EQ(code, 0) << body;
    EXPECT_EQ(body, "200");
    ASSERT_TRUE(upstream.wait_for_requests(1));
    EXPECT_EQ(upstream.requests()[0].header("X-SSL-Client-DN").value_or(""),
              "CN=demo-client,O=certgate demo");

    auto [refused, rtext] = run_command(
        {"curl", "-sS", "--max-time", "10", "--cacert", file("ca.crt"), "-o", "/dev/null", url});
    EXPECT_NE(refused, 0) << rtext;
    EXPECT_EQ(upstream.request_count(), 1u);
}

}  // namespace
}  // namespace certgate::testing
